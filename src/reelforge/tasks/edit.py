"""Editorial tasks: timelines from shots or clips, and script-ordered rough cuts with take selection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import opentimelineio as otio

    from reelforge.compute.context import AssetInput
    from reelforge.editorial.cutsubs import CutLine
    from reelforge.editorial.roughcut import Clip

Format = Literal["otio", "edl", "xml", "fcpxml"]
ALL_FORMATS: list[Format] = ["otio", "edl", "xml", "fcpxml"]


def _stem(name: str) -> str:
    return Path(name).with_suffix("").name or "timeline"


def _clip_of(ctx: TaskContext, a: AssetInput) -> Clip:
    """A video asset as a rough-cut/timeline clip: headers probed, metadata overrides applied
    (``timecode``/``start_tc``, ``reel``)."""
    from reelforge.editorial.roughcut import Clip
    from reelforge.editorial.timeline import probe_clip

    if a.kind != "video":
        raise InvalidInput(f"asset {a.id} ({a.name}) is {a.kind}, not a video clip")
    src = probe_clip(a.path, ctx.limits)
    meta = dict(a.meta or {})
    tc = meta.get("timecode") or meta.get("start_tc")
    if isinstance(tc, str) and tc.strip():
        src.start_tc, src.drop_frame = tc.strip(), (";" in tc) or None
    if isinstance(meta.get("reel"), str) and meta["reel"].strip():
        src.reel = meta["reel"].strip()
    return Clip(key=a.id, name=Path(a.name).name, media=a.name, path=a.path, source=src, meta=meta,
                tags=list(a.tags or []))


def _save_timeline(ctx: TaskContext, tl: otio.schema.Timeline, stem: str, formats: list[Format],
                   meta: dict[str, Any], done: int = 0, total: int | None = None) -> dict[str, str]:
    """Write the timeline in each format and store it; returns ``{format: asset id}``. Every
    file is written before any is stored, so a format that cannot be written stores nothing."""
    from reelforge.editorial.timeline import WRITERS

    fmts = list(dict.fromkeys(formats))
    total = total or done + len(fmts)
    texts = {fmt: WRITERS[f".{fmt}"](tl) for fmt in fmts}
    out: dict[str, str] = {}
    for i, fmt in enumerate(fmts):
        ctx.check_cancelled()
        a = ctx.save_asset(texts[fmt].encode("utf-8"), f"timelines/{stem}.{fmt}", tags=["timeline", fmt],
                           meta={**meta, "format": fmt})
        out[fmt] = a.id
        ctx.progress(done + i + 1, total, f"stored {fmt}")
    return out


# -- assemble --------------------------------------------------------------------------------------
class AssembleParams(Params):
    shots: str | None = Field(None, description="shot list asset (video.shots JSON): one clip per shot of its video")
    clips: list[str] = Field(default_factory=list, description="or: video assets laid end to end in this order")
    name: str | None = Field(None, description="timeline name (default: the video's or first clip's name)")
    start_tc: str = Field("01:00:00:00", pattern=r"^\d{2}:\d{2}:\d{2}[:;]\d{2}$",
                          description="record timecode of the timeline's first frame")
    formats: list[Format] = Field(default_factory=lambda: list(ALL_FORMATS), min_length=1,
                                  description="files to write: otio, edl (CMX 3600), xml (FCP 7), fcpxml")
    audio: bool = Field(True, description="add an A1 track with the clips' sound")

    @model_validator(mode="after")
    def _one_source(self) -> AssembleParams:
        if (self.shots is None) == (not self.clips):
            raise ValueError("give either a shot list or a list of clips")
        return self


@task(
    "edit.assemble",
    params=AssembleParams,
    inputs={"shots": "asset", "clips": "assets"},
    outputs=("asset:otio", "asset:edl", "asset:xml", "asset:fcpxml"),
    description="An OpenTimelineIO timeline from a shot list or clips, as .otio, CMX 3600 EDL, FCP 7 XML and FCPXML",
)
def assemble_task(ctx: TaskContext, p: AssembleParams) -> None:
    from reelforge.editorial.timeline import ClipSpec, timeline_from_clips, timeline_from_shots

    if p.shots:
        doc = ctx.asset(p.shots)
        if doc.kind != "document" or not doc.name.lower().endswith(".json"):
            raise InvalidInput(f"asset {doc.id} ({doc.name}) is not a shot list (a JSON document from video.shots)")
        try:
            shotlist = json.loads(doc.path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"{doc.name}: not a shot list ({exc})") from None
        if not isinstance(shotlist, dict) or not isinstance(shotlist.get("source"), str):
            raise InvalidInput(f"{doc.name}: not a shot list (no source video)")
        try:
            video = _clip_of(ctx, ctx.asset(shotlist["source"]))
        except NotFound:
            raise InvalidInput(f"{doc.name}: its video {shotlist['source']} is not in this project") from None
        tl = timeline_from_shots(shotlist, video.media, name=p.name or _stem(video.name), reel=video.source.reel,
                                 start_tc=p.start_tc, source_tc=video.source.start_tc,
                                 has_audio=video.source.has_audio and p.audio)
        stem, meta = _stem(video.name), {"source": video.key, "shots": doc.id}
    else:
        clips = []
        for i, ref in enumerate(p.clips):
            clips.append(_clip_of(ctx, ctx.asset(ref)))
            ctx.progress(i + 1, len(p.clips) + len(p.formats), "reading clips")
        specs = [ClipSpec(name=_stem(c.name), media=c.media, rate=c.source.rate, media_frames=c.source.frames,
                          start_tc=c.source.start_tc, drop_frame=c.source.drop_frame, reel=c.source.reel,
                          has_audio=c.source.has_audio, metadata={"clip": c.key}) for c in clips]
        tl = timeline_from_clips(p.name or _stem(clips[0].name), specs, start_tc=p.start_tc, audio=p.audio)
        stem, meta = (p.name and _stem(p.name)) or f"assembly_{ctx.job_id}", {"clips": [c.key for c in clips]}
    out = _save_timeline(ctx, tl, stem, p.formats, meta, len(p.clips), len(p.clips) + len(p.formats))
    picture = [c for t in tl.tracks if t.kind == "Video" for c in t.find_clips()]
    ctx.result.update({**out, "clips": len(picture), "duration_frames": int(tl.duration().value),
        # OTIO metadata are C++ containers: plain values for the job's result
        "rate": [int(x) for x in tl.metadata["reelforge"]["rate"]], "start_tc": str(tl.metadata["reelforge"]["start_tc"])})


# -- rough cut -------------------------------------------------------------------------------------
class RoughCutParams(Params):
    screenplay: str = Field(description="screenplay asset whose scene order the cut follows")
    clips: list[str] = Field(default_factory=list, description="video clips (slated by name, metadata or tags)")
    tag: str | None = Field(None, description="or also: every video asset with this tag")
    dataset: str | None = Field(None, description="or also: every video of this dataset")
    name: str | None = Field(None, description="timeline name (default: the screenplay's title)")
    start_tc: str = Field("01:00:00:00", pattern=r"^\d{2}:\d{2}:\d{2}[:;]\d{2}$",
                          description="record timecode of the cut's first frame")
    formats: list[Format] = Field(default_factory=lambda: list(ALL_FORMATS), min_length=1,
                                  description="timeline files to write: otio, edl, xml, fcpxml")
    dialogue: bool = Field(True, description="score dialogue coverage by aligning the scene's lines to each take")
    samples: int = Field(8, ge=1, le=200, description="frames sampled per take for focus and exposure")
    subtitles: bool = Field(True, description="also write SRT and WebVTT subtitles of the cut: each chosen take's "
                            "dialogue aligned to its audio, placed at the take's position in the cut")

    @model_validator(mode="after")
    def _some_clips(self) -> RoughCutParams:
        if not self.clips and not self.tag and not self.dataset:
            raise ValueError("give clips, a tag or a dataset")
        return self


@task(
    "edit.roughcut",
    params=RoughCutParams,
    inputs={"screenplay": "asset", "clips": "assets", "dataset": "dataset"},
    outputs=("asset:otio", "asset:edl", "asset:xml", "asset:fcpxml", "asset:json", "asset:md", "asset:srt",
             "asset:vtt"),
    resources=Resources(cpus=1),
    description="Slated clips cut in script order, one take per set-up (circled, else scored), with a report",
)
def roughcut_task(ctx: TaskContext, p: RoughCutParams) -> None:
    from reelforge.editorial.roughcut import SceneRef, plan_roughcut, report_markdown, roughcut_timeline
    from reelforge.editorial.takes import TakeMeasures, measure_take
    from reelforge.tasks.script import load_screenplay

    sp_asset = ctx.asset(p.screenplay)
    if sp_asset.kind != "screenplay":
        raise InvalidInput(f"asset {sp_asset.id} ({sp_asset.name}) is {sp_asset.kind}, not a screenplay")
    sp = load_screenplay(sp_asset.path, sp_asset.name)
    refs: list[str] = list(p.clips)
    if p.tag:
        refs += [a.id for a in ctx.find_assets(kind="video", tags=[p.tag])]
    if p.dataset:
        refs += [it.asset.id for it in ctx.dataset(p.dataset).items if it.asset.kind == "video"]
    refs = list(dict.fromkeys(refs))
    if not refs:
        raise InvalidInput("no video clips to cut (the tag or dataset selects none)")
    clips: list[Clip] = []
    for ref in refs:
        clips.append(_clip_of(ctx, ctx.asset(ref)))
    limits = ctx.limits
    language = sp.language

    def measure(clip: Clip, scene: SceneRef) -> TakeMeasures:
        return measure_take(clip.path, limits=limits, samples=p.samples, frames=clip.source.frames,
                            sample_rate=clip.source.sample_rate, lines=scene.dialogue if p.dialogue else (),
                            language=language)

    steps = {"measured": 0, "total": len(p.formats) + 2}

    def progress(done: int, total: int, message: str) -> None:
        steps["measured"], steps["total"] = done, total + len(p.formats) + 2
        ctx.progress(done, steps["total"], message)

    try:
        rc = plan_roughcut(sp, clips, measure=measure, title=p.name, progress=progress, should_stop=ctx.should_stop)
    except InterruptedError:
        ctx.check_cancelled()
        raise
    tl = roughcut_timeline(rc, start_tc=p.start_tc)
    stem = _stem(p.name or sp_asset.name) + ".roughcut"
    meta = {"screenplay": sp_asset.id, "clips": len(clips)}
    out = _save_timeline(ctx, tl, stem, p.formats, meta, steps["measured"], steps["total"])
    report = rc.to_dict()
    report["timeline"] = {fmt: aid for fmt, aid in out.items()}
    subs: dict[str, Any] = {}
    if p.subtitles:
        subs = _cut_subtitles(ctx, tl, sp, {c.key: c for c in clips}, stem, meta)
        if subs:
            report["subtitles"] = {"unaligned": subs.pop("unaligned"), "events": subs["subtitle_events"],
                                   "violations": subs.pop("violation_list")}
    j = ctx.save_asset(json.dumps(report, indent=2, ensure_ascii=False).encode(), f"roughcuts/{stem}.json",
                       tags=["roughcut", "report"], meta=meta)
    md = ctx.save_asset(report_markdown(rc).encode(), f"roughcuts/{stem}.md", tags=["roughcut", "report"], meta=meta)
    ctx.progress(steps["total"], steps["total"], "done")
    ctx.result.update({
        **out, "report": j.id, "report_md": md.id, "scenes": len(rc.scenes), "covered": len(rc.covered),
        "uncovered": [s.number for s in rc.uncovered], "unmatched": [c.name for c, _ in rc.unmatched],
        "cut": [s.chosen.clip.name for s in rc.setups], **subs,
    })


def _cut_subtitles(ctx: TaskContext, tl: otio.schema.Timeline, sp: Any, clips: dict[str, Clip], stem: str,
                   meta: dict[str, Any]) -> dict[str, Any]:
    """Align each chosen take's scene dialogue to its sound, place it on the cut and save SRT and
    WebVTT; returns the result entries (empty when espeak-ng is missing: subtitles are optional)."""
    from reelforge.editorial.align import AlignmentError
    from reelforge.editorial.cutsubs import align_take, cut_placements, cut_points, cut_turns, scene_dialogue
    from reelforge.editorial.speech import espeak_available
    from reelforge.editorial.subtitles import check_rules, rules_for, segment, subtitles_text
    from reelforge.errors import MediaError
    from reelforge.media import load_audio

    if not espeak_available():
        ctx.log("espeak-ng is not installed: no subtitles for the rough cut", level="warning")
        return {}
    sr = 16000
    placements = cut_placements(tl)
    dialogue = scene_dialogue(sp)
    language = sp.language
    placed: list[CutLine] = []
    unaligned: list[dict[str, Any]] = []
    for pl in placements:
        ctx.check_cancelled()
        lines = dialogue.get(pl.scene_index, []) if pl.scene_index is not None else []
        clip = clips.get(pl.clip)
        if not lines or clip is None:
            continue
        try:
            audio, _ = load_audio(clip.path, ctx.limits, sample_rate=sr)
            got, missing = align_take(audio, sr, pl, lines, language=language, should_stop=ctx.should_stop)
        except (MediaError, AlignmentError) as err:  # a take without usable sound: its lines go unsubtitled
            got, missing = [], [{"clip": pl.clip, "name": pl.name, "line": k, "text": t, "speaker": spk,
                                 "reason": str(err)} for k, (t, spk) in enumerate(lines)]
        except InterruptedError:
            ctx.check_cancelled()
            raise
        placed += got
        unaligned += missing
        ctx.log(f"subtitles: {pl.name}: {len(got)} of {len(lines)} lines aligned")
    rate = tl.metadata["reelforge"]["rate"]
    rules = rules_for(language, float(rate[0]) / float(rate[1]))
    cuts = cut_points(placements)
    events = segment(cut_turns(placed), rules, cuts)
    violations = check_rules(events, rules, cuts)
    smeta = {**meta, "language": language, "shot_changes": len(cuts)}
    ids: dict[str, str | None] = {"srt": None, "vtt": None}
    if events:
        ids = {fmt: ctx.save_asset(subtitles_text(events, fmt).encode("utf-8"), f"roughcuts/{stem}.{fmt}",
                                   tags=["roughcut", "subtitles"], meta=smeta).id for fmt in ("srt", "vtt")}
    else:  # as subtitles.align: no empty subtitle files
        ctx.log("no dialogue line aligned to the chosen takes: no subtitle files written", level="warning")
    return {**ids, "subtitle_events": len(events), "subtitle_violations": len(violations),
            "unaligned": unaligned, "violation_list": [v.to_dict() for v in violations]}
