"""Subtitle tasks: screenplay dialogue aligned to a recording, and speech recognised, to SRT and WebVTT."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

    from reelforge.editorial.subtitles import SubtitleEvent, SubtitleRules, Turn


def _stem(name: str) -> str:
    return Path(name).with_suffix("").as_posix()


def _media_audio(ctx: TaskContext, ref: str) -> tuple[Any, np.ndarray]:
    """The first audio stream of an audio or video asset, 16 kHz mono (MediaError names what is wrong)."""
    from reelforge.media import load_audio

    a = ctx.asset(ref)
    if a.kind not in ("audio", "video"):
        raise InvalidInput(f"asset {a.id} ({a.name}) is {a.kind}; subtitles need an audio or video asset")
    ctx.progress(0, 1, "decoding audio")
    samples, _ = load_audio(a.path, ctx.limits, sample_rate=16000)
    return a, samples


def _shot_changes(ctx: TaskContext, ref: str | None) -> tuple[list[float], float | None, str | None]:
    if not ref:
        return [], None, None
    from reelforge.editorial.subtitles import SubtitleError, shot_changes_from_shots

    s = ctx.asset(ref)
    if s.kind != "document" or not s.name.lower().endswith(".json"):
        raise InvalidInput(f"asset {s.id} ({s.name}) is not a shot list JSON")
    try:
        doc = json.loads(s.path.read_text(encoding="utf-8"))
        cuts, fps = shot_changes_from_shots(doc)
    except (ValueError, SubtitleError) as err:
        raise InvalidInput(f"{s.name}: {err}") from None
    return cuts, fps, s.id


def _rules(language: str, fps: float | None, media: Any, shots_fps: float | None) -> SubtitleRules:
    from reelforge.editorial.subtitles import SubtitleError, rules_for

    rate = fps or shots_fps or (media.info.get("fps") if media.kind == "video" else None) or 25.0
    try:
        return rules_for(language, float(rate))
    except SubtitleError as err:
        raise InvalidInput(str(err)) from None


def _save_subtitles(ctx: TaskContext, events: list[SubtitleEvent], stem: str, meta: dict) -> dict[str, str]:
    from reelforge.editorial.subtitles import subtitles_text

    out = {}
    for fmt in ("srt", "vtt"):
        a = ctx.save_asset(subtitles_text(events, fmt).encode("utf-8"), f"subtitles/{stem}.{fmt}",
                           tags=["subtitles"], meta=meta)
        out[fmt] = a.id
    return out


def _make_events(turns: list[Turn], rules: SubtitleRules, cuts: list[float]) -> tuple[list[SubtitleEvent], list]:
    from reelforge.editorial.subtitles import check_rules, segment

    events = segment(turns, rules, cuts)
    return events, check_rules(events, rules, cuts)


# -- align -----------------------------------------------------------------------------------------
class AlignParams(Params):
    media: str = Field(description="video or audio asset with the dialogue")
    screenplay: str = Field(description="screenplay asset whose dialogue is spoken in the recording")
    scenes: list[str] = Field(default_factory=list, description="only the dialogue of these scene numbers "
                              "(default: the whole screenplay)")
    shots: str | None = Field(None, description="shot list JSON asset (video.shots): no subtitle runs across a cut")
    language: str = Field("auto", description="en, zh (Mandarin), or auto: zh when the dialogue has Chinese characters")
    voice: str | None = Field(None, description="espeak-ng voice for the reference speech (default: by language)")
    fps: float | None = Field(None, gt=0, le=240, description="frame rate for the 2-frame gap rule "
                              "(default: the shot list's, else the video's, else 25)")
    min_confidence: float = Field(0.5, ge=0, le=1, description="lines whose match is below this are reported "
                                  "unaligned and get no subtitles")


@task(
    "subtitles.align",
    params=AlignParams,
    inputs={"media": "asset", "screenplay": "asset", "shots": "asset"},
    outputs=("asset:srt", "asset:vtt", "asset:json"),
    resources=Resources(cpus=2),
    description="Align a screenplay's dialogue to a recording (espeak-ng + DTW): SRT, WebVTT and a report "
                "of unaligned lines",
)
def align_task(ctx: TaskContext, p: AlignParams) -> None:
    from reelforge.editorial.align import AlignmentError, align_lines
    from reelforge.editorial.speech import is_cjk
    from reelforge.editorial.subtitles import TimedWord, Turn
    from reelforge.tasks.script import load_screenplay

    sp_asset = ctx.asset(p.screenplay)
    if sp_asset.kind != "screenplay":
        raise InvalidInput(f"asset {sp_asset.id} ({sp_asset.name}) is {sp_asset.kind}, not a screenplay")
    sp = load_screenplay(sp_asset.path, sp_asset.name)
    dialogue = sp.dialogue_lines()
    if p.scenes:
        numbers = {sc.index: sc.number for sc in sp.scenes()}
        wanted = {s.strip() for s in p.scenes}
        known = set(numbers.values())
        missing = sorted(wanted - known)
        if missing:
            raise InvalidInput(f"scene(s) {', '.join(missing)} not in {sp_asset.name} "
                               f"(it has {', '.join(sorted(n for n in known if n)) or 'no numbered scenes'})")
        dialogue = [d for d in dialogue if numbers.get(d.scene_index) in wanted]
    if not dialogue:
        raise InvalidInput(f"{sp_asset.name} has no dialogue to align" + (" in those scenes" if p.scenes else ""))
    cuts, shots_fps, shots_id = _shot_changes(ctx, p.shots)
    media, samples = _media_audio(ctx, p.media)
    texts = [d.text for d in dialogue]
    language = p.language
    if language == "auto":
        language = "zh" if any(is_cjk(t) for t in texts) else "en"
    rules = _rules(language, p.fps, media, shots_fps)
    ctx.log(f"aligning {len(texts)} lines to {len(samples) / 16000:.1f} s of audio ({language})")
    try:
        result = align_lines(
            samples, 16000, texts, language=language, voice=p.voice, speakers=[d.character for d in dialogue],
            min_confidence=p.min_confidence, should_stop=ctx.should_stop,
            progress=lambda d, t, m: ctx.progress(d, t, m),
        )
    except AlignmentError as err:
        raise InvalidInput(str(err)) from None
    except InterruptedError:
        ctx.check_cancelled()
        raise
    turns = [Turn([TimedWord(w, a, b) for w, a, b in ln.words], ln.speaker, ln.index)
             for ln in result.lines if ln.aligned]
    events, violations = _make_events(turns, rules, cuts)
    stem = _stem(media.name)
    report = {
        "media": media.id, "screenplay": sp_asset.id, "scenes": p.scenes, "shots": shots_id,
        "shot_changes": cuts, "rules": rules.to_dict(),
        "alignment": result.to_dict(),
        "script_lines": [{"index": i, "character": d.character, "scene_index": d.scene_index, "source_line": d.line}
                         for i, d in enumerate(dialogue)],
        "events": [e.to_dict() for e in events],
        "violations": [v.to_dict() for v in violations],
    }
    meta = {"media": media.id, "screenplay": sp_asset.id, "language": language}
    saved: dict[str, str] = {}
    if events:
        saved = _save_subtitles(ctx, events, stem, meta)
    else:
        ctx.log("no line could be aligned: no subtitle files written, see the report", level="warning")
    rep = ctx.save_asset(json.dumps(report, indent=2, ensure_ascii=False).encode("utf-8"),
                         f"subtitles/{stem}.alignment.json", tags=["alignment"], meta=meta)
    ctx.progress(1, 1, "done")
    ctx.result.update({
        "srt": saved.get("srt"), "vtt": saved.get("vtt"), "report": rep.id, "language": language,
        "lines": len(result.lines), "aligned": len(result.lines) - len(result.unaligned),
        "unaligned": result.unaligned, "coverage": round(result.coverage, 4), "events": len(events),
        "violations": len(violations), "note": result.note,
    })


# -- transcribe ------------------------------------------------------------------------------------
class TranscribeParams(Params):
    media: str = Field(description="video or audio asset (English speech)")
    shots: str | None = Field(None, description="shot list JSON asset (video.shots): no subtitle runs across a cut")
    fps: float | None = Field(None, gt=0, le=240, description="frame rate for the 2-frame gap rule "
                              "(default: the shot list's, else the video's, else 25)")
    max_pause: float = Field(0.7, ge=0.1, le=10, description="a pause longer than this (seconds) starts a new "
                             "subtitle turn")


@task(
    "subtitles.transcribe",
    params=TranscribeParams,
    inputs={"media": "asset", "shots": "asset"},
    outputs=("asset:srt", "asset:vtt", "asset:json"),
    resources=Resources(cpus=1),
    description="Recognise English speech with PocketSphinx (offline): SRT, WebVTT and the words with times",
)
def transcribe_task(ctx: TaskContext, p: TranscribeParams) -> None:
    from reelforge.editorial.asr import TranscriptionError, transcribe
    from reelforge.editorial.subtitles import TimedWord, turns_from_words

    cuts, shots_fps, shots_id = _shot_changes(ctx, p.shots)
    media, samples = _media_audio(ctx, p.media)
    rules = _rules("en", p.fps, media, shots_fps)
    try:
        tr = transcribe(samples, 16000, should_stop=ctx.should_stop, progress=lambda d, t, m: ctx.progress(d, t, m))
    except TranscriptionError as err:
        raise InvalidInput(str(err)) from None
    except InterruptedError:
        ctx.check_cancelled()
        raise
    turns = turns_from_words([TimedWord(w.text, w.start, w.end) for w in tr.words], max_pause=p.max_pause)
    events, violations = _make_events(turns, rules, cuts)
    stem = _stem(media.name)
    meta = {"media": media.id, "engine": "pocketsphinx"}
    saved: dict[str, str] = {}
    if events:
        saved = _save_subtitles(ctx, events, f"{stem}.asr", meta)
    else:
        ctx.log(f"no words recognised ({tr.note or 'nothing decoded'}): no subtitle files written", level="warning")
    doc = {**tr.to_dict(), "media": media.id, "shots": shots_id, "rules": rules.to_dict(),
           "events": [e.to_dict() for e in events], "violations": [v.to_dict() for v in violations]}
    words = ctx.save_asset(json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8"),
                           f"subtitles/{stem}.words.json", tags=["transcript"], meta=meta)
    ctx.progress(1, 1, "done")
    ctx.result.update({"srt": saved.get("srt"), "vtt": saved.get("vtt"), "words": words.id,
                       "word_count": len(tr.words), "events": len(events), "violations": len(violations),
                       "text": tr.text[:500], "note": tr.note})
