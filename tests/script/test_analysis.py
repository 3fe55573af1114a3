from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from reelforge.errors import Cancelled, InvalidInput
from reelforge.script.analysis import Analysis, analyze, smooth
from reelforge.script.fountain import parse_fountain
from reelforge.script.io import load_sample


@pytest.fixture(scope="module")
def sample_analysis() -> Analysis:
    return analyze(load_sample())


def test_character_stats(sample_analysis: Analysis) -> None:
    a = sample_analysis
    assert [c.name for c in a.characters][:2] == ["MARGOT", "THEO"]  # sorted by lines
    margot = a.character("MARGOT")
    assert margot.scenes == [0, 1, 2, 3, 4, 5, 6, 8, 9, 10]  # everywhere but Main Street
    assert (margot.first_scene, margot.last_scene) == (0, 10)
    desmond = a.character("DESMOND")
    assert desmond.scenes == [1, 3, 8]
    assert desmond.sentiment < -0.3  # the villain never says a kind word
    henry = a.character("HENRY")
    assert henry.lines == 2 and henry.scenes == [5, 9] and henry.sentiment > 0.5
    mail = a.character("MAIL CARRIER")
    assert mail.lines == 1 and mail.first_scene == mail.last_scene == 7
    bd = {s.index: s.eighths for s in a.breakdown.scenes}
    assert desmond.eighths == bd[1] + bd[3] + bd[8]
    assert margot.eighths == sum(bd[i] for i in margot.scenes)
    assert sum(c.lines for c in a.characters) == sum(u.kind == "dialogue" for u in a.units)
    with pytest.raises(InvalidInput):
        a.character("NOBODY")


def test_network_and_centrality(sample_analysis: Analysis) -> None:
    a = sample_analysis
    assert a.most_central() == "MARGOT"
    assert a.most_central("weighted_degree") == "MARGOT"
    assert a.most_central("betweenness") == "MARGOT"
    cen = a.centrality
    assert cen["MARGOT"]["eigenvector"] > cen["DESMOND"]["eigenvector"] > cen["MAIL CARRIER"]["eigenvector"]
    edges = {(e.a, e.b): e for e in a.edges}
    assert edges[("DESMOND", "MARGOT")].cooccurrence == 3
    assert ("LENA", "MARGOT") in edges and edges[("LENA", "MARGOT")].cooccurrence == 3
    assert ("MAIL CARRIER", "MARGOT") not in edges  # never in a scene together
    theo_margot = edges[("MARGOT", "THEO")]
    assert theo_margot.exchanges == theo_margot.a_to_b + theo_margot.b_to_a > 0


def test_conflict_found_with_evidence(sample_analysis: Analysis) -> None:
    a = sample_analysis
    top = a.conflicts[0]
    assert {top.a, top.b} == {"DESMOND", "MARGOT"}
    assert top.scenes == [1, 3, 8]  # sustained across three scenes
    assert top.exchanges >= 10 and top.score < -0.4
    assert all({e.first.character, e.reply.character} == {"DESMOND", "MARGOT"} for e in top.evidence)
    assert all(e.score < 0 for e in top.evidence)
    assert any("vulture" in e.first.text or "vulture" in e.reply.text for e in top.evidence)
    # Everyone who loves Margot is not in conflict with her; every conflict involves Desmond.
    assert all("DESMOND" in (c.a, c.b) for c in a.conflicts)
    assert all("LENA" not in (c.a, c.b) and "THEO" not in (c.a, c.b) for c in a.conflicts)


def test_arc_and_turning_point(sample_analysis: Analysis) -> None:
    a = sample_analysis
    s = a.scene_sentiment
    assert len(s) == len(a.scene_arc) == 11
    assert np.mean(s[:5]) < -0.2 < 0.2 < np.mean(s[5:])  # a grim first half, a warm second half
    assert a.scene_arc[0] < 0 < a.scene_arc[6]
    assert a.params["smoothing"].startswith("savgol")
    top = max(a.turning_points, key=lambda t: abs(t.delta))
    assert (top.scene_index, top.scene_number, top.direction) == (5, "6", "up")
    assert top.heading == "INT. PALLADIUM CINEMA - BASEMENT - NIGHT"
    assert top.before < 0 < top.after
    assert any(u.character == "HENRY" for u in top.evidence)
    assert all(u.scene_index == 5 and u.compound > 0 for u in top.evidence)
    # Character arcs: Margot rises from despair to joy.
    arc = a.character_arcs["MARGOT"]
    assert [p["scene_index"] for p in arc] == a.character("MARGOT").scenes
    assert arc[0]["smoothed"] < 0 < arc[-1]["smoothed"]


def test_to_dict_is_json_safe(sample_analysis: Analysis) -> None:
    d = json.loads(json.dumps(sample_analysis.to_dict()))
    assert d["sentiment_model"] == "vader"
    assert d["conflicts"][0]["evidence"][0]["first"]["text"]
    assert d["breakdown"]["scenes"][0]["pages"]


def _hash_embedder(texts: list[str]) -> np.ndarray:
    """A real (if simple) embedding: hashed bag of words, 64 dims."""
    out = np.zeros((len(texts), 64))
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, zlib.crc32(w.encode()) % 64] += 1.0
    return out


def test_embedder_scene_shift_and_callbacks() -> None:
    sp = load_sample()
    calls: list[tuple[int, int, str]] = []
    a = analyze(sp, embedder=_hash_embedder, progress=lambda d, t, m: calls.append((d, t, m)))
    assert a.scene_shift is not None and a.scene_shift[0] is None
    assert all(0.0 <= x <= 1.0 for x in a.scene_shift[1:])
    assert calls and calls[-1] == (1, 1, "analysis done")
    assert any(m == "scoring sentiment" for _, _, m in calls)
    with pytest.raises(InvalidInput):
        analyze(sp, embedder=lambda texts: np.zeros((1, 3)))


def test_should_stop_cancels() -> None:
    with pytest.raises(Cancelled):
        analyze(load_sample(), should_stop=lambda: True)
    with pytest.raises(InvalidInput):
        analyze("not a screenplay")  # type: ignore[arg-type]


def test_small_script_uses_rolling_mean_and_no_edges() -> None:
    sp = parse_fountain(
        "INT. A - DAY\n\nSOLO\nI love this wonderful day.\n\nEXT. B - NIGHT\n\nSOLO\nI hate this.\n"
    )
    a = analyze(sp)
    assert a.params["smoothing"] == "rolling_mean(width=3)"
    assert a.edges == [] and a.conflicts == []
    assert a.centrality["SOLO"]["eigenvector"] is None
    assert a.scene_sentiment[0] > 0 > a.scene_sentiment[1]
    assert a.turning_points[0].direction == "down"


def test_smooth_helper() -> None:
    values = [-1.0] * 5 + [1.0] * 5
    out, method = smooth(values)
    assert method.startswith("savgol") and len(out) == 10
    assert out[0] < 0 < out[-1] and all(-1.0 <= v <= 1.0 for v in out)


def test_chinese_sample_uses_snownlp() -> None:
    pytest.importorskip("snownlp")
    a = analyze(load_sample("chinese_sample.txt"))
    assert a.sentiment_model == "snownlp"
    assert len(a.scene_sentiment) == 4
    assert a.scene_sentiment[1] < 0 < a.scene_sentiment[2]  # the landlord's visit vs. the discovery
    assert a.conflicts and {a.conflicts[0].a, a.conflicts[0].b} == {"老周", "钱老板"}
    assert a.most_central() in ("老周", "小林")
    assert max(a.turning_points, key=lambda t: abs(t.delta)).direction == "up"
