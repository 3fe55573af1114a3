"""Audio tasks: loudness (BS.1770 / EBU R128), normalisation to a target, silence and dead air."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field

from reelforge.compute.context import AssetInput, TaskContext
from reelforge.compute.registry import Params, task
from reelforge.errors import InvalidInput


def _sound_input(ctx: TaskContext, ref: str) -> AssetInput:
    a = ctx.asset(ref)
    if a.kind not in ("audio", "video"):
        raise InvalidInput(f"asset {a.id} ({a.name}) is {a.kind}; loudness and silence need audio or video")
    return a


def _stem(name: str) -> str:
    return Path(name).with_suffix("").as_posix()


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False).encode()


# -- loudness --------------------------------------------------------------------------------------
class LoudnessParams(Params):
    asset: str = Field(description="audio asset, or a video asset (its first audio stream is measured)")
    target: float = Field(-23.0, ge=-70, le=-1, description="target drawn on the plot, LUFS (-23 broadcast, "
                          "-16 web)")
    plot: bool = Field(True, description="also store a PNG of the short-term loudness over time")


@task(
    "audio.loudness",
    params=LoudnessParams,
    inputs={"asset": "asset"},
    outputs=("asset:json", "asset:image"),
    description="Integrated, short-term and momentary loudness, loudness range and true peak "
    "(ITU-R BS.1770-4 / EBU R128) as JSON, with a plot",
)
def loudness(ctx: TaskContext, p: LoudnessParams) -> None:
    from reelforge.editorial.loudness import measure, plot_loudness, read_audio

    src = _sound_input(ctx, p.asset)
    ctx.progress(0, 3, "decoding audio")
    audio = read_audio(src.path, ctx.limits)
    audio.name = Path(src.name).name
    ctx.progress(1, 3, "measuring")
    report = measure(audio)
    ctx.check_cancelled()
    stem = _stem(src.name)
    doc = ctx.save_asset(_json({**report.to_dict(), "source": src.id}), f"loudness/{stem}.loudness.json",
                         tags=["loudness"], meta={"source": src.id})
    ctx.result.update({"report": doc.id, **report.summary(), "duration": round(report.duration, 3)})
    if p.plot:
        ctx.progress(2, 3, "plotting")
        png = ctx.save_image(plot_loudness(report, target=p.target), f"loudness/{stem}.loudness.png",
                             source_type="algorithmicMedia", tags=["loudness", "plot"], meta={"source": src.id})
        ctx.result["plot"] = png.id
    for note in report.notes:
        ctx.log(note)
    ctx.progress(3, 3, "done")


# -- normalisation ---------------------------------------------------------------------------------
class NormalizeParams(Params):
    asset: str = Field(description="audio or video asset to normalise")
    target: float = Field(-23.0, ge=-70, le=-1, description="integrated loudness to reach, LUFS (-23 broadcast, "
                          "-16 web)")
    ceiling: float = Field(-1.0, ge=-20, le=0, description="true-peak ceiling, dBTP")
    limit: bool = Field(False, description="reach the target with a true-peak limiter when plain gain would "
                        "cross the ceiling (otherwise the gain stops at the ceiling and the result says so)")


@task(
    "audio.normalize",
    params=NormalizeParams,
    inputs={"asset": "asset"},
    outputs=("asset:audio", "asset:video"),
    description="A new asset normalised to a loudness target under a true-peak ceiling: 24-bit WAV for "
    "audio; for video, the picture copied untouched and the new audio muxed in (AAC in MP4/MOV, else FLAC "
    "in Matroska)",
)
def normalize(ctx: TaskContext, p: NormalizeParams) -> None:
    from reelforge.editorial.loudness import (
        measure_file,
        normalize,
        read_audio,
        remux_suffix,
        replace_audio,
        write_wav,
    )

    src = _sound_input(ctx, p.asset)
    ctx.progress(0, 4, "decoding audio")
    audio = read_audio(src.path, ctx.limits)
    audio.name = Path(src.name).name
    ctx.progress(1, 4, "measuring and applying gain")
    out_audio, result = normalize(audio, target=p.target, ceiling=p.ceiling, limit=p.limit)
    ctx.check_cancelled()
    ctx.progress(2, 4, "writing")
    stem = _stem(src.name)
    tag = f"{p.target:g}LUFS"
    extra: dict[str, Any] = {}
    if src.kind == "video":
        suffix = remux_suffix(src.name)
        dst = ctx.workdir / f"normalized{suffix}"
        extra = replace_audio(src.path, out_audio, dst, ctx.limits)
    else:
        suffix = ".wav"
        dst = ctx.workdir / "normalized.wav"
        write_wav(out_audio, dst)
    # What a listener gets is the written file (AAC changes peaks a little): measure that.
    written = measure_file(dst, ctx.limits)
    info = {**result.to_dict(), "written": written.summary(), **extra}
    info["reached"] = written.integrated is not None and abs(written.integrated - p.target) <= 0.1
    ctx.progress(3, 4, "storing")
    out = ctx.save_asset(dst, f"normalized/{stem}.{tag}{suffix}", tags=["normalized"],
                         meta={"normalized_from": src.id, "loudness": info})
    if info["reached"]:
        ctx.log(result.message)
    else:  # shown by the CLI as it follows the job
        ctx.log(f"{result.message}; the file measures {written.integrated:.2f} LUFS", "warning")
    ctx.result.update({"asset": out.id, "source": src.id, "gain_db": round(result.gain_db, 3),
                       "reached": info["reached"], "limited": result.limited, "message": result.message,
                       "integrated_lufs": written.summary()["integrated_lufs"],
                       "true_peak_dbtp": written.summary()["true_peak_dbtp"],
                       "before_lufs": result.before["integrated_lufs"], "kind": src.kind})
    ctx.progress(4, 4, "done")


# -- silence ---------------------------------------------------------------------------------------
class SilenceTaskParams(Params):
    asset: str = Field(description="audio or video asset to scan")
    relative_db: float = Field(35.0, gt=0, le=120, description="quiet means this many dB under the programme "
                               "level...")
    floor_db: float = Field(-70.0, ge=-150, lt=0, description="...or under this absolute level (dBFS RMS)")
    noise_margin_db: float = Field(6.0, ge=0, le=40, description="the threshold stays this far over the room "
                                   "tone (at most 15 dB under the programme)")
    hysteresis_db: float = Field(6.0, ge=0, le=40, description="a silence ends only this far above the threshold")
    min_silence: float = Field(0.3, ge=0.01, le=60, description="seconds: shorter pauses are not reported")
    min_sound: float = Field(0.05, ge=0, le=5, description="seconds: shorter sounds do not split a silence")
    dead_air: float = Field(2.0, ge=0.01, le=3600, description="seconds: silences this long are dead air")
    head_pad: float = Field(0.25, ge=0, le=10, description="seconds of silence kept before the first sound")
    tail_pad: float = Field(0.5, ge=0, le=10, description="seconds of silence kept after the last sound")
    max_pause: float = Field(1.0, ge=0, le=60, description="inner pauses longer than this are tightened")
    keep_pause: float = Field(0.6, ge=0, le=60, description="seconds a tightened pause keeps")


@task(
    "audio.silence",
    params=SilenceTaskParams,
    inputs={"asset": "asset"},
    outputs=("asset:json",),
    description="Silences and dead air (RMS against the programme level and a floor, with hysteresis) and "
    "the cuts they suggest: trimmed heads and tails, tightened pauses, frame-aligned for video",
)
def silence(ctx: TaskContext, p: SilenceTaskParams) -> None:
    from reelforge.editorial.silence import CutParams, SilenceParams, analyse
    from reelforge.media import load_audio

    src = _sound_input(ctx, p.asset)
    try:
        params = SilenceParams(relative_db=p.relative_db, floor_db=p.floor_db, hysteresis_db=p.hysteresis_db,
                               noise_margin_db=p.noise_margin_db,
                               min_silence=p.min_silence, min_sound=p.min_sound, dead_air=p.dead_air)
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    fps = src.info.get("fps") if src.kind == "video" else None
    cuts = CutParams(head_pad=p.head_pad, tail_pad=p.tail_pad, max_pause=max(p.max_pause, p.keep_pause),
                     keep_pause=p.keep_pause, fps=float(fps) if fps else None)
    ctx.progress(0, 2, "decoding audio")
    samples, rate = load_audio(src.path, ctx.limits, sample_rate=16000)
    ctx.progress(1, 2, "finding silences")
    report = analyse(samples, rate, params, cuts)
    data = {**report.to_dict(), "source": src.id, "source_name": src.name, "fps": cuts.fps}
    doc = ctx.save_asset(_json(data), f"silence/{_stem(src.name)}.silence.json", tags=["silence"],
                         meta={"source": src.id})
    ctx.result.update({
        "report": doc.id, "regions": len(report.regions), "dead_air": sum(r.dead_air for r in report.regions),
        "silence_seconds": data["silence_seconds"], "suggestions": len(report.cuts),
        "removed_seconds": data["removed_seconds"], "duration": data["duration"], "silent": report.silent,
    })
    ctx.progress(2, 2, "done")
