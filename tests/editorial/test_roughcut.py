"""Rough cuts from real slated dailies: script order, take choice explained, coverage, bad input.

The dailies are tiny real QuickTime files (96x64 H.264, PCM speech from espeak-ng speaking the
scene's lines): a blurred take, a take with clipped sound, a take with blown-out picture and
half the dialogue, and the one good take; a circled soft take against a sharp one.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import opentimelineio as otio
import pytest

from reelforge.editorial.roughcut import (
    Clip,
    RoughCutError,
    SceneRef,
    match_scene,
    plan_roughcut,
    report_markdown,
    roughcut_timeline,
    screenplay_scenes,
    validate_cut,
)
from reelforge.editorial.slates import Slate
from reelforge.editorial.takes import TakeMeasures, choose_take, level_score, score_takes
from reelforge.editorial.timeline import probe_clip, read_timeline, to_edl, to_fcp_xml
from reelforge.script.fountain import parse_fountain
from tests.editorial.clipmaker import make_clip, speak

SCRIPT = """Title: Night Shift

INT. KITCHEN - NIGHT #1#

Margot waits at the table.

MARGOT
Where were you last night?

DESMOND
I waited for hours.

EXT. ROOF - NIGHT #2#

Rain on the tar paper.

INT. STAIRWELL - DAY #3A#

DESMOND
Keep walking.
"""
KITCHEN = ["Where were you last night?", "I waited for hours."]


@pytest.fixture(scope="module")
def screenplay():  # type: ignore[no-untyped-def]
    return parse_fountain(SCRIPT)


@pytest.fixture(scope="module")
def dailies(tmp_path_factory: pytest.TempPathFactory) -> list[Clip]:
    d = tmp_path_factory.mktemp("dailies")
    both, first, stairs = speak(" ".join(KITCHEN)), speak(KITCHEN[0]), speak("Keep walking.")
    made = [
        make_clip(d / "1A_T01.mov", seconds=3.2, blur=3, speech=both),  # soft focus
        make_clip(d / "1A_T02.mov", seconds=3.2, speech=both),  # the good one
        make_clip(d / "1A_T03.mov", seconds=3.2, speech=both, level=6.0),  # sound clipped
        make_clip(d / "1A_T04.mov", seconds=3.2, speech=first, gain=2.6),  # blown out, half the lines
        make_clip(d / "1B-1.mov", seconds=2.0, seed=1, speech=first),  # sharp...
        make_clip(d / "1B-2_C.mov", seconds=2.0, seed=1, blur=3, speech=first),  # ...but this one is circled
        make_clip(d / "sc3a tk1.mov", seconds=1.5, seed=2, speech=stairs),
        make_clip(d / "A001_C003.mov", seconds=1.0, seed=3),  # no slate
        make_clip(d / "14_T2.mov", seconds=1.0, seed=4),  # no scene 14
        make_clip(d / "2_T1_T2.mov", seconds=1.0, seed=5),  # two takes: ambiguous
    ]
    clips = [Clip(key=p.name, name=p.name, media=p.name, path=p, source=probe_clip(p)) for p in made]
    random.Random(7).shuffle(clips)  # the order clips arrive in says nothing
    return clips


@pytest.fixture(scope="module")
def cut(screenplay, dailies):  # type: ignore[no-untyped-def]
    return plan_roughcut(screenplay, dailies)


def test_rough_cut_follows_the_script_and_explains_each_take(cut, screenplay) -> None:  # type: ignore[no-untyped-def]
    assert [(s.scene.number, s.label, s.chosen.clip.name) for s in cut.setups] == [
        ("1", "A", "1A_T02.mov"), ("1", "B", "1B-2_C.mov"), ("3A", "", "sc3a tk1.mov")]
    a, b, c = (s.decision for s in cut.setups)
    # set-up 1A: every weak take is weak where it should be, and the winner is strong everywhere
    scores = {s.key: s for s in a.scores}
    comp = {k: {c.name: c.score for c in v.components} for k, v in scores.items()}
    assert set(comp["1A_T02.mov"]) == {"focus", "exposure", "audio_clipping", "level", "dialogue"}
    assert all(v >= 0.9 for v in comp["1A_T02.mov"].values()), comp["1A_T02.mov"]
    assert comp["1A_T01.mov"]["focus"] < 0.2
    assert comp["1A_T03.mov"]["audio_clipping"] < 0.2 and comp["1A_T03.mov"]["level"] < 0.8
    assert comp["1A_T04.mov"]["exposure"] < 0.2 and comp["1A_T04.mov"]["dialogue"] == 0.5
    assert comp["1A_T01.mov"]["dialogue"] == comp["1A_T02.mov"]["dialogue"] == 1.0
    assert a.rule == "score" and a.why.startswith("take 2 scored")
    assert max(scores.values(), key=lambda s: s.total).key == "1A_T02.mov"
    # set-up 1B: the circled take wins although the other is sharper, and the report says so
    assert b.rule == "circled" and "take 2 is circled" in b.why and "take 1 scored higher" in b.why
    assert c.rule == "only take"
    assert [s.number for s in cut.uncovered] == ["2"]
    reasons = {clip.name: why for clip, why in cut.unmatched}
    assert set(reasons) == {"A001_C003.mov", "14_T2.mov", "2_T1_T2.mov"}
    assert "no recognisable slate" in reasons["A001_C003.mov"]
    assert "scene 14 is not in the screenplay" in reasons["14_T2.mov"]
    assert "ambiguous" in reasons["2_T1_T2.mov"]


def test_the_timeline_and_its_edl_and_xml_hold_the_cut(cut, screenplay) -> None:  # type: ignore[no-untyped-def]
    tl = roughcut_timeline(cut)
    v1, unmatched = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video]
    assert [c.name for c in v1.find_clips()] == ["1A_T02", "1B-2_C", "sc3a tk1"]
    assert [[m.name for m in c.markers] for c in v1.find_clips()] == [
        ["1. INT. KITCHEN - NIGHT"], [], ["3A. INT. STAIRWELL - DAY"]]
    assert unmatched.name == "UNMATCHED" and len(unmatched.find_clips()) == 3
    assert validate_cut(tl, screenplay, expect_scenes=["1", "3A"]) == []
    edl = to_edl(tl)
    back = read_timeline(edl, "edl", v1.find_clips()[0].source_range.duration.rate)
    assert validate_cut(back, screenplay, expect_scenes=["1", "3A"]) == []  # from names and LOC markers alone
    assert validate_cut(read_timeline(to_fcp_xml(tl), "xml"), screenplay, expect_scenes=["1", "3A"]) == []


def test_the_validator_rejects_wrong_cuts(cut, screenplay) -> None:  # type: ignore[no-untyped-def]
    tl = roughcut_timeline(cut)
    v1 = tl.tracks[0]
    clips = list(v1)

    def variant(items: list) -> otio.schema.Timeline:  # type: ignore[type-arg]
        t = otio.schema.Timeline(name="variant")
        track = otio.schema.Track(name="V1")
        for it in items:
            track.append(it.clone())
        t.tracks.append(track)
        return t

    shuffled = variant(clips[::-1])
    assert any("out of script order" in p for p in validate_cut(shuffled, screenplay))
    twice = variant([clips[0], clips[0], clips[1], clips[2]])
    assert any("a second take of scene 1 set-up A" in p for p in validate_cut(twice, screenplay))
    short = variant(clips[:2])
    assert validate_cut(short, screenplay) == []
    assert validate_cut(short, screenplay, expect_scenes=["1", "3A"]) == [
        "scene 3A has coverage but is not in the cut"]
    for stray in tl.tracks[1].find_clips():  # an unmatched clip on the cut track
        problems = validate_cut(variant([*clips, stray]), screenplay)
        assert len(problems) == 1 and problems[0].startswith(stray.name), problems
    bare = [c.clone() for c in clips]
    bare[0].markers.clear()
    assert validate_cut(variant(bare), screenplay) == ["1A_T02: scene 1 starts here without its heading marker"]


def test_the_report_shows_every_component_and_reason(cut) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(cut.to_dict()))
    assert data["summary"] == {"scenes": 3, "covered": 2, "setups": 3, "takes": 7, "unmatched": 3}
    assert [s["number"] for s in data["uncovered_scenes"]] == ["2"]
    setup_a = data["scenes"][0]["setups"][0]
    assert setup_a["chosen_name"] == "1A_T02.mov" and setup_a["why"]
    assert all(len(t["components"]) == 5 and t["measures"]["focus"] > 0 for t in setup_a["takes"])
    md = report_markdown(cut)
    for text in ("## Scenes without coverage", "2. EXT. ROOF - NIGHT", "## Unmatched clips", "A001_C003.mov",
                 "### 1. INT. KITCHEN - NIGHT", "**1A_T02.mov**", "dialogue coverage", "1 of 2 dialogue lines aligned",
                 "circled wins over the score"):
        assert text in md, text


def test_scene_numbers_explicit_positional_and_us_setups() -> None:
    sp = parse_fountain("INT. A - DAY\n\nOne.\n\nINT. B - DAY\n\nTwo.\n\nINT. C - DAY #3A#\n\nThree.\n")
    scenes = screenplay_scenes(sp)
    assert [s.number for s in scenes] == ["1", "2", "3A"]
    assert match_scene(Slate("2B"), scenes) == (scenes[1], "B")  # scene 2, set-up B
    assert match_scene(Slate("3A"), scenes) == (scenes[2], "")  # the screenplay's own 3A
    assert match_scene(Slate("02"), scenes)[0] is scenes[1]
    with pytest.raises(LookupError, match="scene 3 is not"):
        match_scene(Slate("3"), scenes)
    with pytest.raises(LookupError):
        match_scene(Slate("12A"), scenes)


def test_bad_input(screenplay, dailies) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RoughCutError, match="no scenes"):
        plan_roughcut(parse_fountain("Title: Empty\n\nJust some action, no headings.\n"), dailies)
    with pytest.raises(RoughCutError, match="no clips"):
        plan_roughcut(screenplay, [])
    strays = [c for c in dailies if c.name in ("A001_C003.mov", "14_T2.mov")]
    rc = plan_roughcut(screenplay, strays)  # nothing matches: a report, then a clear refusal to cut
    assert len(rc.unmatched) == 2 and not rc.setups
    with pytest.raises(RoughCutError, match="no clip matched"):
        roughcut_timeline(rc)


def _m(**kw: object) -> TakeMeasures:
    return replace(TakeMeasures(), **kw)


def test_scores_are_explained_and_rules_hold() -> None:
    clean = dict(focus=100.0, exposure_clipped=0.0, has_audio=True, rms_dbfs=-20.0, peak_dbfs=-6.0, audio_clipped=0.0)
    takes = [("t1", 1, False, _m(**{**clean, "focus": 30.0})), ("t2", 2, False, _m(**clean)),
             ("t3", 3, False, _m(**{**clean, "audio_clipped": 0.01, "peak_dbfs": 0.0}))]
    d = choose_take(score_takes(takes))
    assert d.chosen == "t2" and d.rule == "score"
    assert "audio clipping +" in d.why and "take 3" in d.why  # the runner-up and what decided it
    # nothing has sound: the audio components are left out and the weights rescaled
    quiet = score_takes([("a", 1, False, _m(focus=10.0, exposure_clipped=0.0)),
                         ("b", 2, False, _m(focus=20.0, exposure_clipped=0.0))])
    assert [c.name for c in quiet[0].components] == ["focus", "exposure"]
    assert abs(sum(c.weight for c in quiet[0].components) - 1.0) < 1e-9
    # a take without the sound its siblings have scores zero there
    mixed = score_takes([("a", 1, False, _m(**clean)), ("b", 2, False, _m(focus=100.0, exposure_clipped=0.0))])
    assert mixed[1].component("level").score == 0.0 and mixed[0].total > mixed[1].total
    # a tie goes to the later take; circled beats a better score
    tie = choose_take(score_takes([("a", 1, False, _m(**clean)), ("b", 2, False, _m(**clean))]))
    assert tie.chosen == "b" and "tie" in tie.why
    circ = choose_take(score_takes([("a", 1, True, _m(**{**clean, "focus": 10.0})), ("b", 2, False, _m(**clean))]))
    assert circ.chosen == "a" and circ.rule == "circled"
    two = choose_take(score_takes([("a", 1, True, _m(**{**clean, "focus": 10.0})), ("b", 2, True, _m(**clean)),
                                   ("c", 3, False, _m(**clean))]))
    assert two.chosen == "b" and "best of 2 circled" in two.why
    assert level_score(-20) == 1.0 and level_score(-60) == 0.0 and level_score(0) == 0.0 and 0 < level_score(-45) < 1


def test_a_scene_ref_prints_its_heading() -> None:
    s = SceneRef(0, "12A", "INT. HOUSE - DAY", 3)
    assert s.title == "12A. INT. HOUSE - DAY" and s.to_dict()["dialogue_lines"] == 0


def test_dailies_are_real_files(dailies) -> None:  # type: ignore[no-untyped-def]
    assert all(Path(c.path).stat().st_size > 1000 and c.source.frames >= 24 for c in dailies)
