"""Script-ordered rough cuts: slated clips matched to the screenplay's scenes, one take per set-up.

1. Each clip's slate comes from its metadata, tags or name (``slates.clip_slate``). A slate's
   scene is looked up among the screenplay's scene numbers — explicit (``#12A#`` in Fountain) or
   positional — first as written, then, in the US convention, ``12A`` as scene 12 set-up A.
2. Takes are grouped by set-up (scene + set-up letter + shot). A set-up with several takes keeps
   one (``takes.choose_take``: circled first, else the explained score).
3. The chosen takes are laid end to end in script order on ``V1`` (set-ups in natural order
   within a scene), with the scene heading as a marker on each scene's first clip; clips with
   no usable slate go end to end on their own track, ``UNMATCHED``.
4. The report lists scenes with no coverage, unmatched clips with the reason, and per set-up
   every take's components and why the chosen one won.

``validate_cut`` checks a timeline — ours, or one read back from an EDL/XML — against the
screenplay: script order, one take per set-up, only matched clips on the cut track, markers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelforge.editorial.slates import Slate, SlateError, clip_slate, normalise_scene, parse_slate
from reelforge.editorial.takes import LABELS, WEIGHTS, Decision, TakeMeasures, choose_take, score_takes
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    import opentimelineio as otio

    from reelforge.editorial.timeline import ClipSource
    from reelforge.script.model import Screenplay


class RoughCutError(InvalidInput, ValueError):
    """A rough cut that cannot be made (a screenplay with no scenes, no clips)."""


@dataclass
class Clip:
    """A clip offered to the rough cut: its id (asset id or path), file name, timeline media
    reference, local file, annotations and what its headers say (``timeline.probe_clip``)."""

    key: str
    name: str
    media: str
    path: Path
    source: ClipSource
    meta: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


@dataclass
class SceneRef:
    index: int  # position in Screenplay.scenes()
    number: str
    heading: str
    line: int
    dialogue: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.number}. {self.heading}"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "number": self.number, "heading": self.heading, "line": self.line,
                "dialogue_lines": len(self.dialogue)}


def screenplay_scenes(sp: Screenplay) -> list[SceneRef]:
    """The screenplay's scenes with a heading (a prologue has no number to slate), each with
    its dialogue lines in order. Raises ``RoughCutError`` when there are none."""
    by_scene: dict[int, list[str]] = {}
    for d in sp.dialogue_lines():
        by_scene.setdefault(d.scene_index, []).append(d.text)
    scenes = [SceneRef(sc.index, normalise_scene(sc.number), sc.heading_text, sc.line, by_scene.get(sc.index, []))
              for sc in sp.scenes() if sc.heading is not None]
    if not scenes:
        raise RoughCutError("the screenplay has no scenes (no scene headings such as INT. HOUSE - DAY)")
    return scenes


def match_scene(slate: Slate, scenes: Sequence[SceneRef]) -> tuple[SceneRef, str]:
    """(scene, set-up letters the scene number carried) for a slate, or ``LookupError`` with the reason.

    ``12A`` is the screenplay's scene 12A when it has one, else scene 12, set-up A.
    """
    by_number: dict[str, SceneRef] = {}
    for s in scenes:
        by_number.setdefault(s.number, s)  # a repeated number: the first scene has it
    wanted = normalise_scene(slate.scene)
    if wanted in by_number:
        return by_number[wanted], ""
    m = re.fullmatch(r"(\d+)([A-Z]+)", wanted)
    if m and m[1] in by_number:
        return by_number[m[1]], m[2]
    raise LookupError(f"scene {wanted} is not in the screenplay")


def _natural(text: str) -> tuple[Any, ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|[A-Z]+", text.upper()))


@dataclass
class Take:
    clip: Clip
    slate: Slate
    measures: TakeMeasures | None = None


@dataclass
class Setup:
    scene: SceneRef
    label: str  # "", "A", "SH2", "A SH2"
    takes: list[Take]
    decision: Decision | None = None

    @property
    def chosen(self) -> Take:
        assert self.decision is not None
        return next(t for t in self.takes if t.clip.key == self.decision.chosen)

    def to_dict(self) -> dict[str, Any]:
        scores = {s.key: s for s in (self.decision.scores if self.decision else [])}
        return {
            "scene": self.scene.number, "setup": self.label,
            "chosen": self.decision.chosen if self.decision else None,
            "chosen_name": self.chosen.clip.name if self.decision else None,
            "rule": self.decision.rule if self.decision else None,
            "why": self.decision.why if self.decision else None,
            "takes": [{
                "clip": t.clip.key, "name": t.clip.name, "slate": t.slate.to_dict(),
                "chosen": bool(self.decision and t.clip.key == self.decision.chosen),
                "total": round(scores[t.clip.key].total, 4) if t.clip.key in scores else None,
                "components": [c.to_dict() for c in scores[t.clip.key].components] if t.clip.key in scores else [],
                "measures": t.measures.to_dict() if t.measures else None,
            } for t in self.takes],
        }


@dataclass
class RoughCut:
    title: str
    scenes: list[SceneRef]
    setups: list[Setup]
    unmatched: list[tuple[Clip, str]]
    notes: list[str] = field(default_factory=list)

    @property
    def covered(self) -> list[SceneRef]:
        seen = {s.scene.index for s in self.setups}
        return [s for s in self.scenes if s.index in seen]

    @property
    def uncovered(self) -> list[SceneRef]:
        seen = {s.scene.index for s in self.setups}
        return [s for s in self.scenes if s.index not in seen]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1, "title": self.title, "weights": WEIGHTS,
            "summary": {"scenes": len(self.scenes), "covered": len(self.covered), "setups": len(self.setups),
                        "takes": sum(len(s.takes) for s in self.setups), "unmatched": len(self.unmatched)},
            "cut": [{"scene": s.scene.number, "heading": s.scene.heading, "setup": s.label,
                     "clip": s.chosen.clip.key, "name": s.chosen.clip.name} for s in self.setups],
            "uncovered_scenes": [s.to_dict() for s in self.uncovered],
            "unmatched_clips": [{"clip": c.key, "name": c.name, "reason": r} for c, r in self.unmatched],
            "scenes": [{**sc.to_dict(), "setups": [s.to_dict() for s in self.setups if s.scene.index == sc.index]}
                       for sc in self.scenes],
            "notes": self.notes,
        }


MeasureFn = Callable[[Clip, SceneRef], TakeMeasures]


def plan_roughcut(
    sp: Screenplay,
    clips: Sequence[Clip],
    *,
    measure: MeasureFn | None = None,
    title: str | None = None,
    weights: dict[str, float] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RoughCut:
    """Match ``clips`` to ``sp``'s scenes and choose one take per set-up.

    ``measure(clip, scene)`` measures a take (default: ``takes.measure_take`` with the scene's
    dialogue); it runs only for set-ups with more than one take.
    """
    scenes = screenplay_scenes(sp)
    if not clips:
        raise RoughCutError("no clips to cut")
    unmatched: list[tuple[Clip, str]] = []
    groups: dict[tuple[int, str], list[Take]] = {}
    notes: list[str] = []
    for clip in clips:
        try:
            slate = clip_slate(clip.name, clip.meta, clip.tags)
        except SlateError as err:
            unmatched.append((clip, f"ambiguous slate: {err}"))
            continue
        if slate is None:
            unmatched.append((clip, "no recognisable slate in the name, metadata or tags"))
            continue
        try:
            scene, letters = match_scene(slate, scenes)
        except LookupError as err:
            unmatched.append((clip, str(err)))
            continue
        label = " ".join(p for p in (letters, f"SH{slate.shot}" if slate.shot else "") if p)
        groups.setdefault((scene.index, label), []).append(Take(clip, slate))
    by_index = {s.index: s for s in scenes}
    order = sorted(groups, key=lambda k: (k[0], _natural(k[1])))
    setups = [Setup(by_index[i], label, sorted(groups[(i, label)], key=lambda t: (t.slate.take or 0, t.clip.name)))
              for i, label in order]
    for s in setups:
        takes = [t.slate.take for t in s.takes if t.slate.take is not None]
        dupes = sorted({n for n in takes if takes.count(n) > 1})
        if dupes:
            notes.append(f"scene {s.scene.number} set-up {s.label or '-'}: more than one clip slated take "
                         f"{', '.join(map(str, dupes))}")
    if measure is None:
        measure = _default_measure(sp.language)
    todo = [t for s in setups if len(s.takes) > 1 for t in s.takes]
    done = 0
    for s in setups:
        if len(s.takes) > 1:
            for t in s.takes:
                if should_stop is not None and should_stop():
                    raise InterruptedError("rough cut stopped")
                t.measures = measure(t.clip, s.scene)
                done += 1
                if progress is not None:
                    progress(done, len(todo), f"measured {t.clip.name}")
        scores = score_takes([(t.clip.key, t.slate.take, t.slate.circled, t.measures or TakeMeasures())
                              for t in s.takes], weights) if len(s.takes) > 1 else \
            score_takes([(s.takes[0].clip.key, s.takes[0].slate.take, s.takes[0].slate.circled, TakeMeasures())])
        s.decision = choose_take(scores)
    return RoughCut(title or sp.title or "Rough cut", scenes, setups, unmatched, notes)


def _default_measure(language: str) -> MeasureFn:
    from reelforge.editorial.takes import measure_take

    def run(clip: Clip, scene: SceneRef) -> TakeMeasures:
        return measure_take(clip.path, frames=clip.source.frames, sample_rate=clip.source.sample_rate,
                            lines=scene.dialogue, language=language)

    return run


# -- the timeline ----------------------------------------------------------------------------------
def _timeline_name(take: Take) -> str:
    """The clip's name on the timeline: its file name when that carries the slate, else the
    slate written out first, so a cut read back from an EDL still says which take it is."""
    stem = Path(take.clip.name).stem
    try:
        named = parse_slate(take.clip.name)
    except SlateError:
        named = None
    s = take.slate
    if named is not None and (named.scene, named.shot, named.take) == (s.scene, s.shot, s.take):
        return stem
    shot = f"_SH{s.shot}" if s.shot else ""
    take_part = f"_T{s.take:02d}" if s.take is not None else ""
    return f"S{s.scene}{shot}{take_part} {stem}"


def roughcut_timeline(rc: RoughCut, *, start_tc: str = "01:00:00:00", audio: bool = True) -> otio.schema.Timeline:
    """V1: the chosen takes in script order with scene markers; V2 ``UNMATCHED``: the rest."""
    from reelforge.editorial.timeline import ClipSpec, Marker, TimelineError, TrackSpec, build_timeline

    if not rc.setups:
        why = "; ".join(f"{c.name}: {r}" for c, r in rc.unmatched[:3])
        more = f" and {len(rc.unmatched) - 3} more" if len(rc.unmatched) > 3 else ""
        raise RoughCutError(f"no clip matched a scene of the screenplay, nothing to cut ({why}{more})")
    rate = rc.setups[0].chosen.clip.source.rate
    mixed = [s.chosen.clip.name for s in rc.setups if s.chosen.clip.source.rate != rate]
    if mixed:
        others = ", ".join(f"{s.chosen.clip.name} at {float(s.chosen.clip.source.rate):.3f} fps"
                           for s in rc.setups if s.chosen.clip.source.rate != rate)
        raise TimelineError(f"the chosen takes mix frame rates ({rc.setups[0].chosen.clip.name} at "
                            f"{float(rate):.3f} fps; {others}): conform them to one rate first")
    cut: list[ClipSpec | int] = []
    seen: set[int] = set()
    for s in rc.setups:
        t = s.chosen
        markers = []
        if s.scene.index not in seen:
            seen.add(s.scene.index)
            markers.append(Marker(s.scene.title, note=f"scene {s.scene.number}, line {s.scene.line}"))
        cut.append(_spec(t, markers, {
            "scene": s.scene.number, "scene_index": s.scene.index, "setup": s.label, "take": t.slate.take,
            "circled": t.slate.circled, "clip": t.clip.key, "rule": s.decision.rule if s.decision else None,
        }))
    spare: list[ClipSpec | int] = []
    for clip, reason in rc.unmatched:
        if clip.source.rate != rate:
            rc.notes.append(f"{clip.name}: {float(clip.source.rate):.3f} fps, left off the {float(rate):.3f} fps "
                            "timeline's UNMATCHED track")
            continue
        spare.append(ClipSpec(name=Path(clip.name).stem, media=clip.media, rate=clip.source.rate,
                              media_frames=clip.source.frames, start_tc=clip.source.start_tc,
                              drop_frame=clip.source.drop_frame, reel=clip.source.reel,
                              has_audio=clip.source.has_audio, metadata={"clip": clip.key, "unmatched": reason}))
    tracks = [TrackSpec("V1", cut)] + ([TrackSpec("UNMATCHED", spare)] if spare else [])
    return build_timeline(rc.title, tracks, start_tc=start_tc, audio=audio,
                          metadata={"kind": "roughcut", "scenes": len(rc.scenes), "covered": len(rc.covered)})


def _spec(t: Take, markers: list[Any], meta: dict[str, Any]) -> Any:
    from reelforge.editorial.timeline import ClipSpec

    src = t.clip.source
    return ClipSpec(name=_timeline_name(t), media=t.clip.media, rate=src.rate, media_frames=src.frames,
                    start_tc=src.start_tc, drop_frame=src.drop_frame, reel=src.reel, has_audio=src.has_audio,
                    markers=markers, metadata=meta)


# -- checking a cut --------------------------------------------------------------------------------
def validate_cut(tl: otio.schema.Timeline, sp: Screenplay, *, expect_scenes: Sequence[str] | None = None,
                 check_markers: bool = True) -> list[str]:
    """Problems of a rough cut's first video track against the screenplay (empty: it holds).

    Each clip's scene comes from its metadata when the timeline kept it, else from its name's
    slate (as in a cut read back from an EDL). Checked: every clip is of a scene of the
    screenplay; scenes come in script order, each in one block; no set-up appears twice (one
    take each); with ``expect_scenes``, each of those scenes is in the cut; with
    ``check_markers``, each scene's first clip carries a marker naming the scene.
    """
    import opentimelineio as otio

    scenes = screenplay_scenes(sp)
    video = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video]
    if not video:
        return ["the timeline has no video track"]
    problems: list[str] = []
    last = -1
    last_number = ""
    done: set[int] = set()
    setups: set[tuple[int, str]] = set()
    for clip in video[0].find_clips():
        meta = clip.metadata.get("reelforge") or {}
        try:
            if meta.get("scene") is not None:
                slate = Slate(normalise_scene(str(meta["scene"])), None, meta.get("take"))
                scene = next(s for s in scenes if s.index == meta.get("scene_index")) \
                    if meta.get("scene_index") is not None else match_scene(slate, scenes)[0]
                label = str(meta.get("setup") or "")
            else:
                slate = parse_slate(clip.name)
                if slate is None:
                    problems.append(f"{clip.name}: no slate, yet on the cut track")
                    continue
                scene, letters = match_scene(slate, scenes)
                label = " ".join(p for p in (letters, f"SH{slate.shot}" if slate.shot else "") if p)
        except (SlateError, LookupError, StopIteration) as err:
            problems.append(f"{clip.name}: {err or 'scene not in the screenplay'}")
            continue
        if scene.index < last:
            problems.append(f"{clip.name}: scene {scene.number} comes after scene {last_number}, out of script order")
        if (scene.index, label) in setups:
            problems.append(f"{clip.name}: a second take of scene {scene.number} set-up {label or '-'}")
        setups.add((scene.index, label))
        if check_markers and scene.index not in done:
            names = [m.name for m in clip.markers]
            if not any(re.match(rf"{re.escape(scene.number)}\b", n.strip(), re.I) for n in names):
                problems.append(f"{clip.name}: scene {scene.number} starts here without its heading marker")
        done.add(scene.index)
        if scene.index > last:
            last, last_number = scene.index, scene.number
    if expect_scenes is not None:
        present = {s.number for s in scenes if s.index in done}
        for number in expect_scenes:
            if normalise_scene(number) not in present:
                problems.append(f"scene {number} has coverage but is not in the cut")
    return problems


# -- the report ------------------------------------------------------------------------------------
def report_markdown(rc: RoughCut) -> str:
    """The rough cut's report for people: coverage, unmatched clips, and per set-up every take's
    components and the reason for the choice."""
    d = rc.to_dict()["summary"]
    esc = _md
    out = [f"# Rough cut: {esc(rc.title)}", "",
           f"{d['scenes']} scenes, {d['covered']} with coverage; {d['setups']} set-ups from {d['takes']} takes; "
           f"{d['unmatched']} unmatched clip{'' if d['unmatched'] == 1 else 's'}.", "",
           "Weights: " + ", ".join(f"{LABELS[k]} {w:.2f}" for k, w in WEIGHTS.items()) +
           " (circled takes are chosen first; components no take has are left out and the rest rescaled).", ""]
    out += ["## Scenes without coverage", ""]
    out += [f"- {esc(s.title)}" for s in rc.uncovered] or ["None: every scene has at least one take."]
    out += ["", "## Unmatched clips", ""]
    if rc.unmatched:
        out += ["| clip | reason |", "|---|---|"] + [f"| {esc(c.name)} | {esc(r)} |" for c, r in rc.unmatched]
    else:
        out.append("None.")
    out += ["", "## The cut, in script order", ""]
    for sc in rc.scenes:
        mine = [s for s in rc.setups if s.scene.index == sc.index]
        if not mine:
            continue
        out += [f"### {esc(sc.title)}", ""]
        for s in mine:
            assert s.decision is not None
            out += [f"**Set-up {esc(s.label) or '(single)'}**: {len(s.takes)} take(s); chosen "
                    f"**{esc(s.chosen.clip.name)}** ({s.decision.rule}): {esc(s.decision.why)}.", ""]
            scores = {x.key: x for x in s.decision.scores}
            names = [c.name for c in s.decision.scores[0].components]
            if names and len(s.takes) > 1:
                out.append("| take | circled | " + " | ".join(LABELS[n] for n in names) + " | total |")
                out.append("|---" * (len(names) + 3) + "|")
                for t in s.takes:
                    ts = scores[t.clip.key]
                    mark = " ✔" if t.clip.key == s.decision.chosen else ""
                    cells = []
                    for n in names:
                        c = ts.component(n)
                        cells.append(f"{c.score:.2f} ({esc(c.note)})" if c else "-")
                    out.append(f"| {esc(t.clip.name)}{mark} | {'yes' if t.slate.circled else ''} | "
                               + " | ".join(cells) + f" | {ts.total:.2f} |")
                out.append("")
    if rc.notes:
        out += ["## Notes", ""] + [f"- {esc(n)}" for n in rc.notes]
    return "\n".join(out).rstrip() + "\n"


def _md(text: str) -> str:
    """Text safe in a Markdown table cell and inert as HTML."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")
