"""Screenplay analysis: character stats, interaction network, sentiment arcs, conflicts, turning points.

Method notes (kept here because the numbers are only meaningful with them):

* **Units.** Sentiment is scored per *unit*: each speech turn (``Screenplay.dialogue_lines()``) and each
  action paragraph. English uses VADER's compound score; ``language="zh"`` uses SnowNLP's positive
  probability mapped to ``2p - 1``. Both lie in [-1, 1]. A unit longer than ``SENTIMENT_CHUNK_CHARS``
  is scored in pieces of at most that length (cut at whitespace) and its score is the
  length-weighted mean of theirs (VADER is quadratic in the words of one text).
* **Limits.** ``analyze`` checks ``ScriptLimits`` (scenes, elements, text, speaking characters)
  before any work and raises ``LimitExceeded`` for a screenplay over them.
* **Scene sentiment** is the mean over a scene's units (0.0 for a scene with none).
* **Arcs.** The script arc smooths scene sentiment over scene index with a Savitzky-Golay filter
  (polyorder 2, window = the odd number nearest n/3, at least 5) when there are at least 7 scenes,
  otherwise with a centred rolling mean of width 3 (shrinking at the ends). Character arcs use the
  centred rolling mean of width 3 over the scenes the character speaks in.
* **Turning points.** At every scene boundary i the score is ``mean(s[i:i+w]) - mean(s[i-w:i])`` with
  w = 2: the change of the rolling-mean sentiment across the boundary, which peaks on the scene where
  the mood actually flips (a centred smoother would smear the peak over neighbours). The largest
  absolute changes (at least ``min_turn_delta``, at least w scenes apart) are reported with the units
  of that scene that pull hardest in the direction of the change.
* **Conflicts.** An exchange is a turn by A directly followed by a turn by B (B != A) in the same
  scene; its score is the mean of both turns. A pair is in conflict when it has at least
  ``min_exchanges`` exchanges (both directions pooled) and their mean is below ``conflict_threshold``.
* **Network.** Nodes are speaking characters. Edge ``cooccurrence`` = scenes where both speak;
  ``exchanges`` = adjacent-turn count (both directions). Centrality: degree (unweighted, normalised),
  weighted degree (sum of co-occurrence), betweenness with distance ``1 / cooccurrence``, eigenvector
  on co-occurrence weights (None when it does not converge or the graph has no edges).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from reelforge.errors import Cancelled, InvalidInput

from .breakdown import Breakdown, breakdown
from .limits import DEFAULT_LIMITS, ScriptLimits
from .model import DialogueLine, Screenplay, strip_emphasis

__all__ = [
    "SENTIMENT_CHUNK_CHARS",
    "Analysis",
    "CharacterStats",
    "Conflict",
    "Edge",
    "Exchange",
    "TurningPoint",
    "Unit",
    "analyze",
    "sentiment_scorer",
    "smooth",
]

Embedder = Callable[[list[str]], Any]
Progress = Callable[[int, int, str], None]

#: Longest text handed to the sentiment model in one call (see the module notes).
SENTIMENT_CHUNK_CHARS = 2_000


@dataclass
class Unit:
    """A scored piece of text: a speech turn (``character`` set) or an action paragraph."""

    scene_index: int
    line: int
    kind: str  # "dialogue" | "action"
    text: str
    compound: float
    character: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CharacterStats:
    name: str
    lines: int
    words: int
    scenes: list[int]
    first_scene: int
    first_line: int
    last_scene: int
    last_line: int
    eighths: int
    sentiment: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Edge:
    a: str
    b: str
    cooccurrence: int
    exchanges: int
    a_to_b: int
    b_to_a: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Exchange:
    """A's turn and B's reply: the evidence behind a conflict."""

    scene_index: int
    first: Unit
    reply: Unit

    @property
    def score(self) -> float:
        return (self.first.compound + self.reply.compound) / 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "scene_index": self.scene_index,
            "score": round(self.score, 4),
            "first": self.first.to_dict(),
            "reply": self.reply.to_dict(),
        }


@dataclass
class Conflict:
    a: str
    b: str
    score: float
    exchanges: int
    scenes: list[int]
    evidence: list[Exchange]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "score": round(self.score, 4),
            "exchanges": self.exchanges,
            "scenes": self.scenes,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass
class TurningPoint:
    scene_index: int
    scene_number: str
    heading: str
    delta: float
    before: float
    after: float
    direction: str  # "up" | "down"
    evidence: list[Unit]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evidence"] = [u.to_dict() for u in self.evidence]
        return d


@dataclass
class Analysis:
    title: str | None
    language: str
    sentiment_model: str
    scene_numbers: list[str]
    scene_headings: list[str]
    characters: list[CharacterStats]
    edges: list[Edge]
    centrality: dict[str, dict[str, float | None]]
    units: list[Unit]
    scene_sentiment: list[float]
    scene_arc: list[float]
    character_arcs: dict[str, list[dict[str, float]]]
    conflicts: list[Conflict]
    turning_points: list[TurningPoint]
    breakdown: Breakdown
    scene_shift: list[float | None] | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def character(self, name: str) -> CharacterStats:
        for c in self.characters:
            if c.name == name:
                return c
        raise InvalidInput(f"no character named {name!r}")

    def most_central(self, measure: str = "eigenvector") -> str | None:
        """Top character by ``measure`` (falls back to weighted degree where undefined)."""
        if not self.centrality:
            return None

        def key(n: str) -> tuple[float, float]:
            c = self.centrality[n]
            v = c.get(measure)
            return (v if v is not None else -1.0, c.get("weighted_degree") or 0.0)

        return max(self.centrality, key=key)

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(
            {
                "title": self.title,
                "language": self.language,
                "sentiment_model": self.sentiment_model,
                "scene_numbers": self.scene_numbers,
                "scene_headings": self.scene_headings,
                "characters": [c.to_dict() for c in self.characters],
                "edges": [e.to_dict() for e in self.edges],
                "centrality": self.centrality,
                "units": [u.to_dict() for u in self.units],
                "scene_sentiment": self.scene_sentiment,
                "scene_arc": self.scene_arc,
                "character_arcs": self.character_arcs,
                "conflicts": [c.to_dict() for c in self.conflicts],
                "turning_points": [t.to_dict() for t in self.turning_points],
                "breakdown": self.breakdown.to_dict(),
                "scene_shift": self.scene_shift,
                "params": self.params,
            }
        )


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return round(f, 6) if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


# ---------------------------------------------------------------------------------------------------
# Sentiment and smoothing
# ---------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def sentiment_scorer(language: str) -> tuple[str, Callable[[str], float]]:
    """Return (model name, scorer) for a language: VADER for English, SnowNLP for Chinese (cached:
    SnowNLP takes seconds to load its model)."""
    if language.lower().startswith("zh"):
        from snownlp import SnowNLP

        def zh(text: str) -> float:
            t = text.strip()
            if not t:
                return 0.0
            return float(2.0 * SnowNLP(t).sentiments - 1.0)

        return "snownlp", zh
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()

    def en(text: str) -> float:
        t = text.strip()
        return float(analyzer.polarity_scores(t)["compound"]) if t else 0.0

    return "vader", en


def _rolling(values: Sequence[float], width: int = 3) -> list[float]:
    n = len(values)
    half = width // 2
    return [float(np.mean(values[max(0, i - half) : min(n, i + half + 1)])) for i in range(n)]


def smooth(values: Sequence[float]) -> tuple[list[float], str]:
    """Smooth a per-scene series (see module notes); returns the series and the method used."""
    n = len(values)
    if n >= 7:
        from scipy.signal import savgol_filter

        window = max(5, round(n / 3))
        if window % 2 == 0:
            window += 1
        window = min(window, n if n % 2 else n - 1)
        out = savgol_filter(np.asarray(values, dtype=float), window_length=window, polyorder=2, mode="interp")
        return [float(np.clip(v, -1.0, 1.0)) for v in out], f"savgol(window={window},polyorder=2)"
    return _rolling(values, 3), "rolling_mean(width=3)"


# ---------------------------------------------------------------------------------------------------
# The analysis
# ---------------------------------------------------------------------------------------------------


def _chunks(text: str, size: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``size`` characters, at the last whitespace when there is one."""
    out: list[str] = []
    start, n = 0, len(text)
    while n - start > size:
        cut = text.rfind(" ", start + 1, start + size + 1)
        if cut <= start:
            cut = start + size
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return [p for p in (piece.strip() for piece in out) if p]


def _score_text(score: Callable[[str], float], text: str) -> float:
    if len(text) <= SENTIMENT_CHUNK_CHARS:
        return score(text)
    pieces = _chunks(text, SENTIMENT_CHUNK_CHARS)
    total = sum(len(p) for p in pieces)
    return sum(score(p) * len(p) for p in pieces) / total if total else 0.0


def _check_stop(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("screenplay analysis cancelled")


def _units(
    sp: Screenplay,
    turns: list[DialogueLine],
    score: Callable[[str], float],
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
) -> list[Unit]:
    raw: list[tuple[int, int, str, str, str | None]] = []
    for t in turns:
        raw.append((t.scene_index, t.line, "dialogue", t.text, t.character))
    for sc in sp.scenes():
        for el in sc.elements:
            if el.type == "action":
                text = " ".join(strip_emphasis(el.text).split())
                if text:
                    raw.append((sc.index, el.line, "action", text, None))
    raw.sort(key=lambda r: (r[0], r[1]))
    units: list[Unit] = []
    total = len(raw)
    step = max(1, total // 20)
    for k, (si, line, kind, text, who) in enumerate(raw):
        if k % 50 == 0:
            _check_stop(should_stop)
        units.append(Unit(si, line, kind, text, round(_score_text(score, text), 4), who))
        if progress is not None and (k % step == 0 or k == total - 1):
            progress(k + 1, total, "scoring sentiment")
    return units


def _network(
    names: list[str], scene_speakers: dict[int, list[str]], turns: list[DialogueLine]
) -> tuple[nx.Graph, dict[tuple[str, str], list[tuple[DialogueLine, DialogueLine]]]]:
    g = nx.Graph()
    g.add_nodes_from(names)
    # Co-occurrence is counted in a plain dict first (the pairs are quadratic in a scene's cast, so
    # each one should cost a dict update, not graph calls); edges are then added in first-seen order
    # and orientation, which keeps the graph, and so its centralities, exactly as before.
    co: dict[tuple[str, str], list[Any]] = {}
    for speakers in scene_speakers.values():
        for i, a in enumerate(speakers):
            for b in itertools.islice(speakers, i + 1, None):
                key = (a, b) if a < b else (b, a)
                rec = co.get(key)
                if rec is None:
                    co[key] = [a, b, 1]
                else:
                    rec[2] += 1
    for a, b, count in co.values():
        g.add_edge(a, b, cooccurrence=count, exchanges=0, directed={})
    pairs: dict[tuple[str, str], list[tuple[DialogueLine, DialogueLine]]] = defaultdict(list)
    for prev, cur in itertools.pairwise(turns):
        if prev.scene_index != cur.scene_index or prev.character == cur.character:
            continue
        a, b = prev.character, cur.character
        pairs[tuple(sorted((a, b)))].append((prev, cur))  # type: ignore[index]
        if not g.has_edge(a, b):
            g.add_edge(a, b, cooccurrence=0, exchanges=0, directed={})
        g[a][b]["exchanges"] += 1
        d = g[a][b]["directed"]
        d[(a, b)] = d.get((a, b), 0) + 1
    for _a, _b, data in g.edges(data=True):
        data["distance"] = 1.0 / max(data["cooccurrence"], 1)
    return g, pairs


def _centrality(g: nx.Graph) -> dict[str, dict[str, float | None]]:
    if g.number_of_nodes() == 0:
        return {}
    degree = nx.degree_centrality(g) if g.number_of_nodes() > 1 else {n: 0.0 for n in g}
    strength = dict(g.degree(weight="cooccurrence"))
    between = nx.betweenness_centrality(g, weight="distance", normalized=True)
    eigen: dict[str, float] | None = None
    if g.number_of_edges() > 0 and any(d["cooccurrence"] > 0 for _a, _b, d in g.edges(data=True)):
        try:
            eigen = nx.eigenvector_centrality(g, weight="cooccurrence", max_iter=2000, tol=1e-8)
        except (nx.PowerIterationFailedConvergence, nx.NetworkXException):
            eigen = None
    return {
        n: {
            "degree": float(degree.get(n, 0.0)),
            "weighted_degree": float(strength.get(n, 0)),
            "betweenness": float(between.get(n, 0.0)),
            "eigenvector": float(eigen[n]) if eigen is not None else None,
        }
        for n in g.nodes
    }


def _turning_points(
    scene_values: list[float],
    units: list[Unit],
    numbers: list[str],
    headings: list[str],
    *,
    window: int,
    min_delta: float,
    max_points: int,
) -> list[TurningPoint]:
    n = len(scene_values)
    cands: list[tuple[float, int, float, float]] = []
    for i in range(1, n):
        before = float(np.mean(scene_values[max(0, i - window) : i]))
        after = float(np.mean(scene_values[i : i + window]))
        cands.append((after - before, i, before, after))
    cands.sort(key=lambda c: (-abs(c[0]), c[1]))
    chosen: list[tuple[float, int, float, float]] = []
    for c in cands:
        if abs(c[0]) < min_delta or len(chosen) >= max_points:
            break
        if all(abs(c[1] - o[1]) >= window for o in chosen):
            chosen.append(c)
    out: list[TurningPoint] = []
    for delta, i, before, after in sorted(chosen, key=lambda c: c[1]):
        sign = 1.0 if delta > 0 else -1.0
        scene_units = [u for u in units if u.scene_index == i and u.compound * sign > 0]
        scene_units.sort(key=lambda u: -u.compound * sign)
        out.append(
            TurningPoint(
                i,
                numbers[i],
                headings[i],
                round(delta, 4),
                round(before, 4),
                round(after, 4),
                "up" if delta > 0 else "down",
                scene_units[:3],
            )
        )
    return out


def analyze(
    sp: Screenplay,
    *,
    embedder: Embedder | None = None,
    conflict_threshold: float = -0.3,
    min_exchanges: int = 3,
    turn_window: int = 2,
    min_turn_delta: float = 0.2,
    max_turning_points: int = 3,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    limits: ScriptLimits | None = None,
) -> Analysis:
    """Analyse a screenplay. ``embedder(texts) -> (n, d) array`` adds ``scene_shift`` (1 - cosine
    similarity of each scene's text to the previous scene's), a topic-change signal. ``limits``
    (default ``DEFAULT_LIMITS``) is checked first: ``LimitExceeded`` for an oversized screenplay."""
    if not isinstance(sp, Screenplay):
        raise InvalidInput(f"analyze() needs a Screenplay, got {type(sp).__name__}")
    limits = limits or DEFAULT_LIMITS
    limits.check(sp, speakers=True)  # before loading models or doing any work
    model_name, score = sentiment_scorer(sp.language)
    scenes = sp.scenes()
    bd = breakdown(sp, limits=limits)
    n_scenes = len(scenes)
    numbers = [s.number for s in scenes]
    headings = [s.heading_text for s in scenes]
    turns = sp.dialogue_lines()
    units = _units(sp, turns, score, progress, should_stop)
    _check_stop(should_stop)

    # Characters.
    names = sp.characters()
    cue_lines: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for sc in scenes:
        for el in sc.elements:
            if el.type == "character" and el.name:
                cue_lines[el.name].append((sc.index, el.line))
    scene_speakers: dict[int, list[str]] = {sc.index: sc.speakers() for sc in scenes}
    by_char_units: dict[str, list[Unit]] = defaultdict(list)
    for u in units:
        if u.character is not None:
            by_char_units[u.character].append(u)
    eighths = {s.index: s.eighths for s in bd.scenes}
    stats: list[CharacterStats] = []
    for name in names:
        cu = by_char_units.get(name, [])
        in_scenes = sorted({si for si, _ in cue_lines[name]})
        first, last = cue_lines[name][0], cue_lines[name][-1]
        stats.append(
            CharacterStats(
                name=name,
                lines=len(cu),
                words=sum(len(u.text.split()) for u in cu),
                scenes=in_scenes,
                first_scene=first[0],
                first_line=first[1],
                last_scene=last[0],
                last_line=last[1],
                eighths=sum(eighths.get(si, 0) for si in in_scenes),
                sentiment=round(float(np.mean([u.compound for u in cu])), 4) if cu else 0.0,
            )
        )
    stats.sort(key=lambda c: (-c.lines, -c.words, c.name))

    # Network.
    g, pairs = _network(names, scene_speakers, turns)
    edges = []
    for a, b, d in g.edges(data=True):
        a2, b2 = sorted((a, b))
        edges.append(
            Edge(
                a2,
                b2,
                d["cooccurrence"],
                d["exchanges"],
                d["directed"].get((a2, b2), 0),
                d["directed"].get((b2, a2), 0),
            )
        )
    edges.sort(key=lambda e: (-e.cooccurrence, -e.exchanges, e.a, e.b))
    centrality = _centrality(g)
    _check_stop(should_stop)

    # Sentiment per scene and arcs.
    per_scene: dict[int, list[float]] = defaultdict(list)
    for u in units:
        per_scene[u.scene_index].append(u.compound)
    scene_sent = [
        round(float(np.mean(per_scene[i])), 4) if per_scene.get(i) else 0.0 for i in range(n_scenes)
    ]
    arc, method = smooth(scene_sent) if n_scenes else ([], "none")
    char_arcs: dict[str, list[dict[str, float]]] = {}
    for name in names:
        by_scene: dict[int, list[float]] = defaultdict(list)
        for u in by_char_units.get(name, []):
            by_scene[u.scene_index].append(u.compound)
        xs = sorted(by_scene)
        vals = [float(np.mean(by_scene[x])) for x in xs]
        sm = _rolling(vals, 3) if vals else []
        char_arcs[name] = [
            {"scene_index": x, "value": round(v, 4), "smoothed": round(s, 4)}
            for x, v, s in zip(xs, vals, sm, strict=True)
        ]

    # Conflicts.
    unit_by_turn = {(u.scene_index, u.line, u.character): u for u in units if u.kind == "dialogue"}
    conflicts: list[Conflict] = []
    for (a, b), exch in pairs.items():
        evidence = [
            Exchange(
                p.scene_index,
                unit_by_turn[(p.scene_index, p.line, p.character)],
                unit_by_turn[(c.scene_index, c.line, c.character)],
            )
            for p, c in exch
        ]
        if len(evidence) < min_exchanges:
            continue
        mean = float(np.mean([e.score for e in evidence]))
        if mean < conflict_threshold:
            evidence.sort(key=lambda e: e.score)
            conflicts.append(
                Conflict(
                    a,
                    b,
                    round(mean, 4),
                    len(evidence),
                    sorted({e.scene_index for e in evidence}),
                    evidence[:6],
                )
            )
    conflicts.sort(key=lambda c: (c.score, -c.exchanges))

    turning = _turning_points(
        scene_sent,
        units,
        numbers,
        headings,
        window=turn_window,
        min_delta=min_turn_delta,
        max_points=max_turning_points,
    )

    shift: list[float | None] | None = None
    if embedder is not None:
        _check_stop(should_stop)
        scene_texts: dict[int, list[str]] = defaultdict(list)  # grouped once, not scenes x units
        for u in units:
            scene_texts[u.scene_index].append(u.text)
        texts = [" ".join(scene_texts.get(i, ())) or headings[i] for i in range(n_scenes)]
        emb = np.asarray(embedder(texts), dtype=float)
        if emb.ndim != 2 or emb.shape[0] != n_scenes:
            raise InvalidInput(f"embedder returned shape {emb.shape}, expected ({n_scenes}, d)")
        norm = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        shift = [None] + [round(float(1.0 - norm[i] @ norm[i - 1]), 4) for i in range(1, n_scenes)]

    if progress is not None:
        progress(1, 1, "analysis done")
    return Analysis(
        title=sp.title,
        language=sp.language,
        sentiment_model=model_name,
        scene_numbers=numbers,
        scene_headings=headings,
        characters=stats,
        edges=edges,
        centrality=centrality,
        units=units,
        scene_sentiment=scene_sent,
        scene_arc=[round(v, 4) for v in arc],
        character_arcs=char_arcs,
        conflicts=conflicts,
        turning_points=turning,
        breakdown=bd,
        scene_shift=shift,
        params={
            "smoothing": method,
            "character_smoothing": "rolling_mean(width=3)",
            "conflict_threshold": conflict_threshold,
            "min_exchanges": min_exchanges,
            "turn_window": turn_window,
            "min_turn_delta": min_turn_delta,
        },
    )
