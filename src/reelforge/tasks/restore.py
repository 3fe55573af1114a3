"""restoration tasks: restore.train (U-Net restorer or pix2pix) and restore.apply (images, video)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

    from reelforge.compute.context import DatasetInputItem

PAIR_LABELS = ("input", "target")


def _stem(name: str) -> str:
    return Path(name).with_suffix("").name


def _decode(ctx: TaskContext, items: list[DatasetInputItem]) -> list[np.ndarray]:
    import numpy as np

    from reelforge.media import load_image

    out = []
    for i, it in enumerate(items):
        ctx.check_cancelled()
        out.append(np.asarray(load_image(it.path, ctx.limits, mode="RGB")))
        ctx.progress(0, 0, f"decoding images {i + 1}/{len(items)}")
    return out


def _pairs(ref: str, items: list[DatasetInputItem]) -> tuple[list[DatasetInputItem], list[DatasetInputItem]]:
    """(inputs, targets) matched by file name stem; every image must be labelled input or target."""
    by_label: dict[str, dict[str, DatasetInputItem]] = {"input": {}, "target": {}}
    for it in items:
        if it.label not in PAIR_LABELS:
            raise InvalidInput(f"pix2pix needs every image of {ref} labelled input or target "
                               f"({it.asset.name} is labelled {it.label!r})")
        by_label[it.label][_stem(it.asset.name)] = it
    names = sorted(set(by_label["input"]) & set(by_label["target"]))
    if not names:
        raise InvalidInput(f"{ref} has no input/target pair with matching file names")
    return [by_label["input"][n] for n in names], [by_label["target"][n] for n in names]


# -- train -----------------------------------------------------------------------------------------
class TrainParams(Params):
    dataset: str = Field(description="dataset of images (NAME, NAME@N or id). Restorer: clean frames (any "
                         "labels), damaged synthetically while training. pix2pix: pairs, each image labelled "
                         "'input' or 'target', an input and its target sharing a file name (folders and "
                         "suffix ignored: sketch/shot01.png + render/shot01.jpg)")
    name: str = Field("restorer", description="registry name of the trained model")
    mode: Literal["auto", "restore", "pix2pix"] = Field(
        "auto", description="auto: pix2pix when every image is labelled input or target, else restore")
    split: Literal["train", "all"] = Field("train", description="train on the train split (val/test images "
                                           "score the model), or on every item")
    steps: int = Field(600, ge=1, le=1_000_000, description="training steps, one batch each")
    batch_size: int = Field(8, ge=1, le=256, description="crops per step")
    crop: int = Field(64, ge=16, le=1024, description="side of the training crops in pixels")
    base_channels: int = Field(16, ge=4, le=128, description="U-Net width at full resolution")
    depth: int = Field(3, ge=1, le=6, description="U-Net downsamplings")
    temporal: bool = Field(True, description="restorer: also look at the two flow-aligned neighbouring "
                           "frames of a video (stills are restored alone either way)")
    damage: Literal["light", "medium", "heavy"] = Field("medium", description="synthetic damage while "
                                                        "training a restorer")
    lr: float | None = Field(None, gt=0, le=1, description="learning rate (default: 2e-3 restorer, 2e-4 pix2pix)")
    l1_weight: float = Field(100.0, ge=0, description="pix2pix: weight of the L1 loss next to the GAN loss")
    checkpoint_every: int = Field(100, ge=1, description="save a resumable checkpoint every this many steps")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads (results reproduce at equal threads)")


@task(
    "restore.train",
    params=TrainParams,
    inputs={"dataset": "dataset"},
    outputs=("model:restore",),
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    resumable=True,
    description="Train a film restorer (U-Net) on clean frames with synthetic dust, hair, scratches, grain, "
                "blur and compression, or a pix2pix translator on input/target pairs",
)
def train(ctx: TaskContext, p: TrainParams) -> None:
    from reelforge.vision.restore.degrade import Damage
    from reelforge.vision.restore.train import (
        TrainConfig,
        evaluate_pix2pix,
        evaluate_restorer,
        train_pix2pix,
        train_restorer,
    )
    from reelforge.vision.restore.unet import UNetConfig

    threads = ctx.set_threads(p.threads)
    ds = ctx.dataset(p.dataset)
    items = ds.items if p.split == "all" else ds.split("train")
    images = [it for it in items if it.asset.kind == "image"]
    if not images:
        raise InvalidInput(f"dataset {ds.version.ref} has no images in split {p.split!r}")
    mode = p.mode
    if mode == "auto":
        mode = "pix2pix" if all(it.label in PAIR_LABELS for it in images) else "restore"
    held = [it for it in ds.items if it.split in ("val", "test") and it.asset.kind == "image"] \
        if p.split == "train" else []
    cfg = TrainConfig(steps=p.steps, batch_size=p.batch_size, crop=p.crop,
                      lr=p.lr or (2e-3 if mode == "restore" else 2e-4), l1_weight=p.l1_weight,
                      damage=Damage.preset(p.damage))
    hooks: dict[str, Any] = dict(seed=ctx.seed, device=ctx.device, should_stop=ctx.should_stop,
                                 checkpoint=ctx.checkpoint, checkpoint_every=p.checkpoint_every,
                                 state=ctx.restore(), on_metric=ctx.metric,
                                 progress=lambda d, t, m: ctx.progress(d, t, m))
    if mode == "pix2pix":
        inputs, targets = _pairs(ds.version.ref, images)
        xs, ys = _decode(ctx, inputs), _decode(ctx, targets)
        ucfg = UNetConfig(base_channels=p.base_channels, depth=p.depth, residual=False, mask_head=False)
        model = train_pix2pix(xs, ys, cfg, ucfg, **hooks)
        metrics: dict[str, Any] = {"pairs": len(xs)}
        if held:
            hx, hy = _pairs(ds.version.ref, held)
            metrics.update(evaluate_pix2pix(model, _decode(ctx, hx), _decode(ctx, hy)))
    else:
        frames = _decode(ctx, images)
        ucfg = UNetConfig(in_channels=9 if p.temporal else 3, base_channels=p.base_channels, depth=p.depth)
        model = train_restorer(frames, cfg, ucfg, **hooks)
        metrics = {"images": len(frames)}
        if held:
            metrics.update(evaluate_restorer(model, _decode(ctx, held), seed=ctx.seed, damage=cfg.damage))
    ctx.check_cancelled()
    for key, value in metrics.items():
        ctx.metric(f"heldout/{key}", float(value), p.steps)
    if "psnr_gain" in metrics:
        ctx.log(f"held-out frames: PSNR {metrics['psnr_damaged']:.2f} dB damaged -> "
                f"{metrics['psnr_restored']:.2f} dB restored")
    out = model.save(ctx.workdir / "model")
    saved = ctx.save_model(
        p.name, {f.name: f for f in out.iterdir() if f.is_file()}, kind="restore",
        config={"mode": mode, "unet": ucfg.to_dict(), "train": cfg.to_dict(), "dataset": ds.id,
                "split": p.split, "threads": threads, "temporal": model.temporal},
        metrics=metrics,
    )
    ctx.result.update({"model": saved.id, "mode": mode, "steps": p.steps, "metrics": metrics})


# -- apply -----------------------------------------------------------------------------------------
class ApplyParams(Params):
    asset: str = Field(description="image or video asset to restore")
    model: str | None = Field(None, description="restore model (NAME, NAME@N or id) from restore.train; "
                              "none: classical restoration (defect detection, inpainting, temporal filling)")
    temporal: bool = Field(True, description="video: use the neighbouring frames (needs 3 frames or more)")
    deflicker: bool = Field(True, description="video: match each frame's brightness to a smoothed reference")
    deflicker_window: int = Field(9, ge=1, le=301, description="deflicker: frames in the smoothing window")
    detector: Literal["auto", "spatial", "temporal", "learned", "all"] = Field(
        "auto", description="defect detector: auto (video: temporal outliers + scratches; still: spatial; "
        "with a model: its mask head), or a choice / all of them")
    masks: bool = Field(False, description="also save the defect mask (PNG for an image, MP4 for a video)")
    max_frames: int | None = Field(None, ge=1, le=1_000_000, description="video: restore at most this many "
                                   "frames from the start")


def _load_model(ctx: TaskContext, ref: str) -> tuple[Any, Any]:
    from reelforge.vision.restore.train import TrainedRestorer

    m = ctx.model(ref)
    if m.model.kind != "restore":
        raise InvalidInput(f"model {m.model.ref} is a {m.model.kind}, not a restore model")
    return m, TrainedRestorer.load(m.dir, device=ctx.device)


def _mask_image(mask: np.ndarray) -> Any:
    import numpy as np
    from PIL import Image

    return Image.fromarray(mask.astype(np.uint8) * 255)


@task(
    "restore.apply",
    params=ApplyParams,
    inputs={"asset": "asset", "model": "model"},
    outputs=("asset:image", "asset:video"),
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    description="Restore a damaged image or film clip: dust, hair and scratches removed, grain reduced, "
                "flicker evened out (classical, or with a trained restorer); optional defect masks",
)
def apply(ctx: TaskContext, p: ApplyParams) -> None:
    import numpy as np

    from reelforge.vision.restore.pipeline import RestoreSettings, restore_frames, restore_still

    src = ctx.asset(p.asset)
    if src.kind not in ("image", "video"):
        raise InvalidInput(f"asset {src.id} ({src.name}) is {src.kind}, not an image or a video")
    ctx.set_threads()
    m = model = None
    if p.model:
        m, model = _load_model(ctx, p.model)
    settings = RestoreSettings(temporal=p.temporal, deflicker=p.deflicker, deflicker_window=p.deflicker_window,
                               detector=p.detector)
    stem = _stem(src.name)
    meta: dict[str, Any] = {"source": src.id, "model": m.id if m else None,
                            "method": ("pix2pix" if model.kind == "pix2pix" else "restorer") if model else "classical"}
    if src.kind == "image":
        from reelforge.media import load_image

        frame = np.asarray(load_image(src.path, ctx.limits, mode="RGB"))
        out, mask = restore_still(frame, model, settings)
        a = ctx.save_image(_pil(out), f"restored/{stem}.png", tags=["restored"],
                           meta={**meta, "defect_pixels": int(mask.sum())})
        ctx.result.update({"image": a.id, "defect_fraction": round(float(mask.mean()), 6)})
        if p.masks:
            ctx.result["mask"] = ctx.save_image(_mask_image(mask), f"restored/{stem}.mask.png",
                                                tags=["restored", "mask"], meta=meta).id
        return
    _video(ctx, p, src, model, settings, meta, restore_frames)


def _pil(frame: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(frame)


def _video(ctx: TaskContext, p: ApplyParams, src: Any, model: Any, settings: Any, meta: dict[str, Any],
           restore_frames: Any) -> None:
    import dataclasses

    import numpy as np

    from reelforge.media import add_source_audio, iter_frames, write_video

    if model is not None and model.kind == "pix2pix" and (settings.temporal or settings.deflicker):
        ctx.log("a pix2pix model translates each frame on its own: temporal filtering and deflicker are off")
        settings = dataclasses.replace(settings, temporal=False, deflicker=False)
    fps = float(src.info.get("fps") or 24.0)
    total = int(src.info.get("frames") or 0)
    if p.max_frames:
        total = min(total, p.max_frames) if total else p.max_frames

    def frames() -> Any:
        return iter_frames(src.path, ctx.limits, max_frames=p.max_frames)

    packed: list[np.ndarray] = []
    shape: list[tuple[int, int]] = []

    def restored() -> Any:
        for out, mask in restore_frames(frames(), model=model, settings=settings,
                                        stats_frames=frames() if settings.deflicker else None, total=total,
                                        progress=lambda d, t, msg: ctx.progress(d, t, msg),
                                        should_stop=ctx.should_stop):
            if p.masks:  # one bit a pixel until the mask video is written
                packed.append(np.packbits(mask))
                shape[:] = [mask.shape]
            yield out

    stem = _stem(src.name)
    mp4 = ctx.workdir / "restored.mp4"
    n = write_video(restored(), mp4, fps=fps)
    ctx.check_cancelled()
    has_audio = add_source_audio(mp4, src.path, limits=ctx.limits)  # the film's sound, in sync
    mask_path = None
    if p.masks and packed:
        h, w = shape[0]
        mask_path = ctx.workdir / "mask.mp4"
        write_video((np.repeat((np.unpackbits(b)[: h * w].reshape(h, w) * 255)[..., None], 3, 2) for b in packed),
                    mask_path, fps=fps)
    info = {**meta, "frames": n, "fps": fps, "temporal": settings.temporal, "deflicker": settings.deflicker,
            "audio": has_audio}
    ctx.result["video"] = ctx.save_asset(mp4, f"restored/{stem}.mp4", tags=["restored"], meta=info).id
    ctx.result["frames"] = n
    if mask_path is not None:
        ctx.result["mask"] = ctx.save_asset(mask_path, f"restored/{stem}.mask.mp4", tags=["restored", "mask"],
                                            meta=info).id
