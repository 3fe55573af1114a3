"""video tasks: shot detection (shot list JSON, keyframes, contact sheet)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput


class ShotsParams(Params):
    video: str = Field(description="video asset to split into shots")
    detector: Literal["auto", "content", "transnet", "both"] = Field(
        "auto", description="auto: content + TransNetV2 when installed, else content; content: colour "
        "histograms and luma (fast); transnet: the TransNetV2 network; both: the two combined")
    threshold: float = Field(3.0, ge=1.0, le=50.0, description="content detector: a cut's frame difference "
                             "over the median of the frames around it (adaptive threshold)")
    min_score: float = Field(0.3, ge=0.0, le=3.0, description="content detector: smallest frame difference "
                             "that can be a cut (0..3: colour 0..1 plus twice the luma change)")
    transnet_threshold: float = Field(0.5, gt=0.0, lt=1.0, description="TransNetV2: transition probability "
                                      "that counts")
    gradual: bool = Field(True, description="find dissolves and fades")
    flash_frames: int = Field(2, ge=0, le=5, description="a flash up to this many frames long is not a cut "
                              "(0: no flash suppression)")
    min_shot_frames: int = Field(6, ge=1, le=100_000, description="a shot shorter than this many frames "
                                 "joins the shot before it")
    drop_frame: bool | None = Field(None, description="drop-frame timecode (default: yes at 29.97 and "
                                    "59.94 fps, no otherwise)")
    keyframes: bool = Field(True, description="save each shot's middle frame (the nearest one that is "
                            "not a flash) as an image asset")
    keyframe_height: int = Field(216, ge=32, le=1080, description="keyframe height in pixels (never "
                                 "more than the video's)")
    contact_sheet: bool = Field(True, description="save a contact sheet of the keyframes with timecodes")
    cell: int = Field(200, ge=64, le=1024, description="contact sheet cell size in pixels")
    max_sheet_shots: int = Field(300, ge=1, le=5000, description="at most this many shots on the contact "
                                 "sheet (the first ones)")


@task(
    "video.shots",
    params=ShotsParams,
    inputs={"video": "asset"},
    outputs=("asset:json", "asset:image"),
    resources=Resources(cpus=2, gpus=1, memory_gb=2),
    description="Shot list of a video (cuts, dissolves, fades; flashes ignored) with timecodes, "
                "keyframes and a contact sheet",
)
def shots(ctx: TaskContext, p: ShotsParams) -> None:
    from reelforge.video.content import ContentSettings
    from reelforge.video.decode import read_frames_at
    from reelforge.video.sheet import shot_sheet
    from reelforge.video.shots import ShotSettings, detect_shots, resolve_detector

    src = ctx.asset(p.video)
    if src.kind != "video":
        raise InvalidInput(f"asset {src.id} ({src.name}) is {src.kind}, not a video")
    used = resolve_detector(p.detector)
    if "transnet" in used:
        ctx.set_threads()
    settings = ShotSettings(
        detector=p.detector,
        content=ContentSettings(threshold=p.threshold, min_score=p.min_score, flash_frames=p.flash_frames,
                                gradual=p.gradual),
        transnet_threshold=p.transnet_threshold, min_shot_frames=p.min_shot_frames, device=ctx.device,
        drop_frame=p.drop_frame,
    )
    ctx.log(f"detectors: {', '.join(used)} on {ctx.device}")
    result = detect_shots(
        src.path, settings, ctx.limits,
        progress=lambda d, t, m: ctx.progress(d, t, m), should_stop=ctx.should_stop,
    )
    ctx.check_cancelled()
    sl = result.shot_list
    if sl.vfr:
        d = result.times.frame_durations
        ctx.log(f"variable frame rate: frame durations {d['min'] * 1000:.1f}-{d['max'] * 1000:.1f} ms; "
                f"times come from each frame's time stamp, timecodes at {float(sl.fps):.3f} fps",
                level="warning")
    if result.merged_short:
        ctx.log(f"{result.merged_short} boundary(ies) dropped: shots under {p.min_shot_frames} frames")
    stem = Path(src.name).with_suffix("").as_posix()
    data = sl.to_dict(source=src.id)
    counts = sl.counts()
    doc = ctx.save_asset(json.dumps(data, indent=2).encode(), f"shots/{stem}.json", tags=["shot-list"],
                         meta={"video": src.id, **counts, "fps": float(sl.fps)})
    ctx.result.update({"shot_list": doc.id, **counts, "fps": round(float(sl.fps), 6), "frames": sl.frames,
                       "vfr": sl.vfr, "drop_frame": sl.drop_frame, "detectors": used})
    if not (p.keyframes or p.contact_sheet):
        return
    pts = result.keyframe_pts()
    if any(x < 0 for x in pts):
        ctx.log("the video has no frame time stamps: no keyframes", level="warning")
        return
    wanted = pts if p.keyframes else pts[: p.max_sheet_shots]
    ctx.progress(0, len(wanted), "keyframes")
    frames = read_frames_at(src.path, wanted, height=p.keyframe_height, limits=ctx.limits,
                            should_stop=ctx.should_stop)
    keyframes = {}
    keyframe_ids: list[str] = []
    for shot, at, frame in zip(sl.shots, pts, sl.keyframes(), strict=True):
        ctx.check_cancelled()
        image = frames.get(at)
        if image is None:
            ctx.log(f"shot {shot.index + 1}: its keyframe could not be read back", level="warning")
            continue
        keyframes[shot.index] = image
        if p.keyframes:
            a = ctx.save_image(image, f"shots/{stem}/shot_{shot.index + 1:04d}.png", tags=["keyframe"],
                               meta={"video": src.id, "shot": shot.index, "frame": frame,
                                     "start_tc": shot.start_tc, "end_tc": shot.end_tc})
            keyframe_ids.append(a.id)
            ctx.progress(len(keyframe_ids), len(sl.shots), "keyframes")
    if p.keyframes:
        ctx.result["keyframes"] = keyframe_ids
    if p.contact_sheet and keyframes:
        sheet = shot_sheet(sl, keyframes, name=Path(src.name).name, cell=p.cell, max_shots=p.max_sheet_shots)
        out = ctx.save_image(sheet, f"shots/{stem}.contact_sheet.png", source_type="composite",
                             tags=["contact-sheet", "shots"], meta={"video": src.id, "shot_list": doc.id})
        ctx.result["contact_sheet"] = out.id
