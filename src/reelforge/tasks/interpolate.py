"""frame interpolation tasks: video.interpolate and video.train_interpolator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

Preset = Literal["ultrafast", "fast", "medium"]


def _video(ctx: TaskContext, ref: str) -> Any:
    src = ctx.asset(ref)
    if src.kind != "video":
        raise InvalidInput(f"asset {src.id} ({src.name}) is {src.kind}, not a video")
    return src


def _mapper(ctx: TaskContext, workers: int) -> Any:
    return lambda fn, items: ctx.map(fn, items, workers=workers)


# -- interpolate -----------------------------------------------------------------------------------
class InterpolateParams(Params):
    video: str = Field(description="video asset to retime")
    mode: Literal["fps", "slowmo"] = Field("fps", description="fps: convert to the target frame rate over the "
                                           "same duration; slowmo: add frames so the video plays factor times "
                                           "slower at its own rate")
    fps: float | None = Field(None, gt=0, le=240, description="target frame rate (mode fps), e.g. 30, 50, 60, "
                              "29.97")
    factor: int = Field(2, ge=2, le=16, description="slow-motion factor (mode slowmo): factor - 1 new frames "
                        "between each pair")
    model: str | None = Field(None, description="interpolator model from video.train_interpolator that refines "
                              "each new frame (NAME, NAME@N or id; none: flow and occlusion-aware blending only)")
    preset: Preset = Field("medium", description="optical flow (DIS) preset: ultrafast, fast or medium "
                           "(slower, better)")
    crf: int = Field(18, ge=0, le=51, description="H.264 quality of the output (lower is better)")

    @model_validator(mode="after")
    def _target(self) -> InterpolateParams:
        if self.mode == "fps" and self.fps is None:
            raise ValueError("mode fps needs a target fps")
        return self


@task(
    "video.interpolate",
    params=InterpolateParams,
    inputs={"video": "asset", "model": "model"},
    outputs=("asset:video",),
    resources=Resources(cpus=2, gpus=1, memory_gb=2),
    description="Frame-rate conversion or slow motion by optical-flow frame interpolation (occlusion-aware, "
                "optionally refined by a trained network); scene cuts repeat frames instead",
)
def interpolate(ctx: TaskContext, p: InterpolateParams) -> None:
    from reelforge.video.interpolate import InterpSettings, retime

    src = _video(ctx, p.video)
    refiner_dir: str | None = None
    model_id = None
    if p.model:
        m = ctx.model(p.model)
        if m.model.kind != "interpolator":
            raise InvalidInput(f"model {m.model.ref} is a {m.model.kind}, not an interpolator")
        refiner_dir, model_id = str(m.dir), m.id
    settings = InterpSettings(preset=p.preset)
    # One GPU: a single process drives it; on CPU the chunks of frame pairs spread over the job's processes.
    workers = 1 if (refiner_dir and ctx.device == "cuda") else ctx.threads
    out = ctx.workdir / "retimed.mp4"
    result = retime(src.path, out, mode=p.mode, fps=p.fps, factor=p.factor, settings=settings,
                    refiner_dir=refiner_dir, device=ctx.device, limits=ctx.limits, mapper=_mapper(ctx, workers),
                    crf=p.crf, progress=lambda d, t, m: ctx.progress(d, t, m), should_stop=ctx.should_stop)
    ctx.check_cancelled()
    has_audio = False
    if p.mode == "fps":  # same length: the film's sound fits (slow motion has none)
        from reelforge.media import add_source_audio

        has_audio = add_source_audio(out, src.path, limits=ctx.limits)
    if result.cuts:
        ctx.log(f"{len(result.cuts)} scene cut(s) at input frame(s) {result.cuts[:20]}: frames repeated there")
    tag = f"{float(result.fps_out):g}fps" if p.mode == "fps" else f"slowmo{p.factor}x"
    stem = Path(src.name).with_suffix("").as_posix()
    meta = {"video": src.id, "mode": p.mode, "factor": p.factor if p.mode == "slowmo" else None,
            "model": model_id, "preset": p.preset, "audio": has_audio, **result.to_dict()}
    asset = ctx.save_asset(out, f"interpolated/{stem}.{tag}.mp4", tags=["interpolated", p.mode], meta=meta)
    ctx.result.update({"video": asset.id, **result.to_dict()})


# -- train -----------------------------------------------------------------------------------------
class TrainInterpolatorParams(Params):
    videos: list[str] = Field(default_factory=list, description="video assets to learn from (frame triplets)")
    dataset: str | None = Field(None, description="or: a dataset of videos (NAME, NAME@N or id); its val/test "
                                "videos are held out for the metrics")
    name: str = Field("interpolator", description="registry name of the trained model")
    steps: int = Field(300, ge=1, le=1_000_000, description="training steps, one batch of crops each")
    batch_size: int = Field(8, ge=1, le=256, description="crops per step")
    crop: int = Field(64, ge=16, le=512, description="side of the square training crops in pixels")
    lr: float = Field(1e-3, gt=0, le=1, description="peak learning rate (warm-up, then cosine decay)")
    width: int = Field(24, ge=4, le=256, description="channels of the refinement network")
    max_side: int = Field(256, ge=32, le=4096, description="frames are scaled down to this longest side "
                          "(the network is convolutional: it runs at any size later)")
    max_frames: int = Field(240, ge=3, le=100_000, description="frames read from each video (its start)")
    max_triplets: int = Field(400, ge=1, le=100_000, description="training triplets at most, spread evenly "
                              "over the videos")
    preset: Preset = Field("medium", description="optical flow (DIS) preset the model is trained and used with")
    checkpoint_every: int = Field(100, ge=1, description="save a resumable checkpoint every this many steps")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads for torch")

    @model_validator(mode="after")
    def _one_source(self) -> TrainInterpolatorParams:
        if (self.dataset is None) == (not self.videos):
            raise ValueError("give either video assets or a dataset of videos")
        return self


def _frames(ctx: TaskContext, path: Path, p: TrainInterpolatorParams) -> list[np.ndarray]:
    import cv2

    from reelforge.video.interpolate import read_video

    frames, _, _ = read_video(path, ctx.limits, max_frames=p.max_frames, should_stop=ctx.should_stop)
    if len(frames) < 3:
        raise InvalidInput(f"{path.name}: a training video needs at least 3 frames, it has {len(frames)}")
    h, w = frames[0].shape[:2]
    scale = min(1.0, p.max_side / max(h, w))
    if scale < 1.0:
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    return frames


def _common_size(clips: list[list[Any]]) -> list[list[Any]]:
    """Centre-crop every clip to the smallest height and width among them (triplets are stacked)."""
    h = min(c[0].shape[0] for c in clips)
    w = min(c[0].shape[1] for c in clips)
    out = []
    for c in clips:
        y, x = (c[0].shape[0] - h) // 2, (c[0].shape[1] - w) // 2
        out.append([f[y:y + h, x:x + w] for f in c])
    return out


@task(
    "video.train_interpolator",
    params=TrainInterpolatorParams,
    inputs={"videos": "assets", "dataset": "dataset"},
    outputs=("model:interpolator",),
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    resumable=True,
    description="Train the interpolation refinement network on frame triplets of the studio's own footage "
                "(predict each middle frame from its neighbours; resumable)",
)
def train_interpolator(ctx: TaskContext, p: TrainInterpolatorParams) -> None:
    from reelforge.video.interpolate import InterpSettings
    from reelforge.video.refine import RefineConfig, train_refiner
    from reelforge.video.triplets import collect_triplets, triplet_chunk, triplet_items

    threads = ctx.set_threads(p.threads)
    held: list[Any] = []
    if p.dataset:
        ds = ctx.dataset(p.dataset)
        items = [it for it in ds.items if it.asset.kind == "video"]
        if not items:
            raise InvalidInput(f"dataset {ds.version.ref} has no videos")
        train_paths = [it.path for it in items if it.split not in ("val", "test")] or [it.path for it in items]
        held = [it.path for it in items if it.split in ("val", "test") and it.path not in train_paths]
        sources = [ds.id]
    else:
        srcs = [_video(ctx, ref) for ref in p.videos]
        train_paths, sources = [s.path for s in srcs], [s.id for s in srcs]
    clips = _common_size([_frames(ctx, path, p) for path in [*train_paths, *held]])
    train_clips, held_clips = clips[:len(train_paths)], clips[len(train_paths):]
    settings = InterpSettings(preset=p.preset)
    ctx.progress(0, p.steps, "interpolating training triplets")
    work = triplet_items(train_clips, settings, max_triplets=p.max_triplets)
    triplets = collect_triplets(ctx.map(triplet_chunk, work, progress_message="interpolating training triplets"))
    if triplets.skipped_cuts:
        ctx.log(f"{triplets.skipped_cuts} triplet(s) across a scene cut skipped")
    ctx.log(f"{len(triplets)} triplets at {triplets.inputs.shape[-1]}x{triplets.inputs.shape[-2]}, "
            f"{threads} threads, device {ctx.device}")
    state = ctx.restore()
    refiner = train_refiner(
        triplets, RefineConfig(width=p.width), settings=settings, steps=p.steps, batch_size=p.batch_size,
        crop=p.crop, lr=p.lr, seed=ctx.seed, device=ctx.device, progress=lambda d, t, m: ctx.progress(d, t, m),
        on_metric=ctx.metric, should_stop=ctx.should_stop, checkpoint=ctx.checkpoint,
        checkpoint_every=p.checkpoint_every, state=state,
    )
    ctx.check_cancelled()
    metrics: dict[str, Any] = {f"train_{k}": v for k, v in refiner.evaluate(triplets).items()}
    if held_clips:
        held_t = collect_triplets(ctx.map(triplet_chunk, triplet_items(held_clips, settings,
                                                                       max_triplets=p.max_triplets)))
        metrics.update({f"heldout_{k}": v for k, v in refiner.evaluate(held_t).items()})
    refiner.metrics = metrics
    out = refiner.save(ctx.workdir / "model")
    model = ctx.save_model(
        p.name, {f.name: f for f in out.iterdir() if f.is_file()}, kind="interpolator",
        config={"refine": refiner.config.to_dict(), "interp": settings.to_dict(), "sources": sources,
                "steps": p.steps, "threads": threads, "frame_size": list(triplets.inputs.shape[-2:])},
        metrics=metrics,
    )
    ctx.result.update({"model": model.id, "triplets": len(triplets), "skipped_cuts": triplets.skipped_cuts,
                       "metrics": metrics})
