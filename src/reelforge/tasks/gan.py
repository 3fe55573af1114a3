"""Generative imagery tasks: train GANs on a dataset, sample, walk the latent space, evaluate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from reelforge.compute.context import DatasetInput, TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

GENERATED = "trainedAlgorithmicMedia"


def _threads(ctx: TaskContext, threads: int | None) -> int:
    return ctx.set_threads(threads)


def _load_images(ctx: TaskContext, items: list[Any], progress_from: int = 0) -> list[Any]:
    """Decode dataset images (safely, with the studio's limits) as uint8 RGB arrays."""
    import numpy as np

    from reelforge.media import load_image

    out = []
    for i, it in enumerate(items):
        ctx.check_cancelled()
        out.append(np.asarray(load_image(it.path, ctx.limits, mode="RGB")))
        if i % 50 == 0:
            ctx.progress(progress_from, 0, f"decoding images {i + 1}/{len(items)}")
    return out


def _dataset_images(ctx: TaskContext, ds: DatasetInput, split: str) -> list[Any]:
    items = ds.items if split == "all" else ds.split(split)
    images = [it for it in items if it.asset.kind == "image"]
    if not items:
        raise InvalidInput(f"dataset {ds.version.ref} has no items in split {split!r}")
    if not images:
        raise InvalidInput(f"dataset {ds.version.ref} has no images (it holds {items[0].asset.kind} assets)")
    return images


def _square(img: np.ndarray, res: int) -> np.ndarray:
    """Centre square crop resized to res×res (how real images are compared with samples)."""
    import numpy as np
    from PIL import Image

    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return np.asarray(Image.fromarray(img[y : y + s, x : x + s]).resize((res, res), Image.Resampling.LANCZOS))


def _text_embedder() -> Any:
    """The sentence embedder text-conditioned GANs are trained and prompted with; its .dim is text_dim."""
    from reelforge.training.embed import MiniLMEmbedder

    return MiniLMEmbedder()


def _embed(texts: list[str]) -> np.ndarray:
    return _text_embedder().embed(texts)


# -- train -----------------------------------------------------------------------------------------
class TrainParams(Params):
    dataset: str = Field(description="dataset of images (NAME, NAME@N or id)")
    name: str = Field("gan", description="registry name of the trained model")
    split: Literal["train", "all"] = Field("train", description="train on the train split, or on every item")
    resolution: Literal[32, 64, 128] = Field(64, description="side of the generated images in pixels")
    preset: Literal["auto", "none", "manual", "stationary", "object", "dcgan"] = Field(
        "auto", description="auto: architecture, width, batch, steps and augmentation chosen from the data, "
        "resolution and device (stationary: star fields, textures; object: one centred subject; dcgan: the "
        "old configuration, for comparison; none: no preset). Parameters given explicitly override it")
    steps: int | None = Field(None, ge=1, le=10_000_000, description="training steps, one batch each "
                              "(default: from the preset)")
    batch_size: int | None = Field(None, ge=2, le=1024, description="images per training step (default: preset)")
    base_channels: int | None = Field(None, ge=4, le=1024, description="width of the networks at full "
                                      "resolution (default: preset)")
    z_dim: int | None = Field(None, ge=2, le=1024, description="size of the latent noise vector (default: preset)")
    loss: Literal["hinge", "ns"] | None = Field(None, description="adversarial loss: hinge or non-saturating")
    r1_gamma: float | None = Field(None, ge=0, description="R1 gradient penalty weight on real images "
                                   "(default: 0.0002·resolution²/batch; 0: off)")
    ema_decay: float | None = Field(None, ge=0, lt=1, description="decay of the generator's moving average, "
                                    "fixed (default: a half-life of 5% of the images seen so far)")
    diffaug: str | None = Field(None, description="DiffAugment policy, e.g. color,translation,cutout; none to "
                                "disable (default: preset)")
    ada: bool | None = Field(None, description="adapt the augmentation probability to D's overfitting "
                             "(StyleGAN2-ADA; default: on, except in the dcgan preset)")
    lr_g: float | None = Field(None, gt=0, le=1, description="generator learning rate (default 2e-4)")
    lr_d: float | None = Field(None, gt=0, le=1, description="discriminator learning rate (default: the preset's; 2e-4, or 4e-4 for stationary data at 32 px)")
    conditioning: Literal["auto", "none", "class", "text"] = Field(
        "auto", description="auto: class labels when the dataset has them, else captions, else none"
    )
    random_crop: bool = Field(True, description="augment with random crops before resizing")
    hflip: bool = Field(True, description="augment with horizontal flips")
    crop_size: int | None = Field(None, ge=8, description="crop side before resizing (None: see AugmentConfig)")
    crops_from_large: bool = Field(False, description="train on native-scale random crops of large images")
    sample_every: int = Field(500, ge=1, description="save a grid of samples every this many steps")
    health: bool = Field(True, description="at each sample grid, run the health checks against the dataset's "
                         "held-out images (val and test splits), and warn when the generator collapses")
    stop_on_collapse: bool = Field(False, description="stop training when the health checks see collapse")
    checkpoint_every: int = Field(200, ge=1, description="save a resumable checkpoint every this many steps")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads (results reproduce at equal threads)")
    compile: bool = Field(False, description="torch.compile the networks (slower start, faster steps)")

    def explicit_config(self) -> dict[str, Any]:
        """GANConfig fields the caller set (they override the preset)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in ("batch_size", "base_channels", "z_dim", "loss",
                                                            "r1_gamma", "diffaug", "lr_g", "lr_d", "steps")}
        if self.ema_decay is not None:  # a fixed decay replaces the half-life schedule
            out.update(ema_decay=self.ema_decay, ema_rampup=0.0)
        if self.ada is not None:
            out["ada_target"] = 0.6 if self.ada else 0.0
        if self.diffaug is not None and not self.diffaug.strip():
            out["diffaug"] = "none"
        return out


# The parameters of gan.train before presets existed: what preset "none" trains with.
_MANUAL_DEFAULTS: dict[str, Any] = {"steps": 2000, "batch_size": 32, "base_channels": 32, "z_dim": 128}


@task(
    "gan.train",
    params=TrainParams,
    inputs={"dataset": "dataset"},
    outputs=("model:gan", "asset:image"),
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    resumable=True,
    description="Train a GAN image generator on a dataset's images, the architecture and run picked by a "
                "preset from the data (resumable, with sample grids and health checks)",
)
def train(ctx: TaskContext, p: TrainParams) -> None:
    import numpy as np

    from reelforge.vision.gan import (
        AugmentConfig,
        GANConfig,
        GANModel,
        GANTrainer,
        collapse_detected,
        save_gan,
    )
    from reelforge.vision.gan.presets import choose_preset, is_grey, stationarity

    threads = _threads(ctx, p.threads)
    ds = ctx.dataset(p.dataset)
    items = _dataset_images(ctx, ds, p.split)
    labels = [it.label for it in items]
    captions = [it.caption for it in items]
    mode = p.conditioning
    if mode == "auto":
        mode = "class" if all(labels) else "text" if all(captions) else "none"
    class_names: list[str] = []
    label_ids = text = None
    if mode == "class":
        if not all(labels):
            raise InvalidInput(f"class conditioning needs a label on every image of {ds.version.ref}")
        class_names = sorted(set(labels))  # type: ignore[arg-type]
        if len(class_names) < 2:
            raise InvalidInput("class conditioning needs at least two labels")
        label_ids = np.array([class_names.index(lab) for lab in labels], dtype=np.int64)
    elif mode == "text":
        if not all(captions):
            raise InvalidInput(f"text conditioning needs a caption on every image of {ds.version.ref}")
    arrays = _load_images(ctx, items)
    preset = choose_preset(p.preset, n_images=len(arrays), resolution=p.resolution, device=str(ctx.device),
                           stationarity_score=stationarity(arrays) if p.preset == "auto" else None,
                           grey=is_grey(arrays))
    explicit = p.explicit_config()
    if preset.name == "none":
        explicit = {**_MANUAL_DEFAULTS, **{k: v for k, v in explicit.items() if v is not None}}
    fields, steps = preset.apply(explicit)
    assert steps is not None
    try:
        config = GANConfig(**{**fields, "resolution": p.resolution, "num_classes": len(class_names),
                              "text_dim": _text_embedder().dim if mode == "text" else 0})
    except TypeError as exc:
        raise InvalidInput(f"GAN config: {exc}") from exc
    ctx.log(preset.summary())
    same = len({a.shape for a in arrays}) == 1
    source: Any = np.stack(arrays) if same and not p.crops_from_large else arrays
    if mode == "text":
        ctx.progress(0, steps, "embedding captions")
        text = _embed([c or "" for c in captions])
    heldout = None
    if p.health:
        held_items = [it for it in ds.items if it.split in ("val", "test") and it.asset.kind == "image"]
        if len(held_items) >= 8:
            heldout = [_square(a, p.resolution) for a in _load_images(ctx, held_items)]
            if p.split == "all":
                ctx.log(f"health checks against {len(heldout)} val/test images, which split=all also trains on: "
                        "the memorisation check cannot see copies")
        else:
            ctx.log("health checks skipped: the dataset has fewer than 8 val/test images")
    augment = AugmentConfig(random_crop=p.random_crop, hflip=p.hflip, crop_size=p.crop_size)
    trainer = GANTrainer(config, source, labels=label_ids, text_embeddings=text, seed=ctx.seed,
                         device=ctx.device, augment=augment, compile=p.compile, heldout=heldout)
    state = ctx.restore()
    if state is not None:
        trainer.load_state_dict(state)
        ctx.log(f"resumed at step {trainer.step}")
    ctx.log(f"{len(items)} images, {mode} conditioning, {p.resolution}px, {threads} threads, device {ctx.device}")
    last: dict[str, float] = {}

    def on_metric(name: str, value: float, step: int) -> None:
        last[name] = value
        ctx.metric(name, value, step)

    def progress(done: int, total: int, _msg: str) -> None:
        losses = " ".join(f"{k} {last[k]:.3f}" for k in ("loss_d", "loss_g") if k in last)
        ctx.progress(done, total, f"step {done} {losses}".strip())

    def on_sample(step: int, grid: Any) -> None:
        ctx.save_image(grid, f"training/{p.name}/{ctx.job_id}/step_{step:07d}.png", source_type=GENERATED,
                       record={"step": step, "kind": "training-sample-grid"}, tags=["training-sample"])

    health: dict[str, Any] = {}

    def on_health(step: int, report: Any) -> None:
        health.update(step=step, passed=report.passed, checks=report.to_dict())
        verdict = "healthy" if report.passed else f"failing {', '.join(report.failed)}"
        ctx.log(f"health at step {step}: {verdict}")
        if collapse_detected(report) and step >= collapse_after:
            ctx.log(f"warning: the generator looks collapsed at step {step} "
                    f"({'stopping' if p.stop_on_collapse else 'training on'})", level="warning")

    collapse_after = max(p.sample_every, steps // 3)  # a fresh G looks collapsed too: judge after a warm-up
    result = trainer.train(
        steps, progress=progress, on_metric=on_metric, should_stop=ctx.should_stop,
        on_sample=on_sample, sample_every=p.sample_every, checkpoint=ctx.checkpoint,
        checkpoint_every=p.checkpoint_every, on_health=on_health, stop_on_collapse=p.stop_on_collapse,
        collapse_after=collapse_after,
    )
    if result.stopped and not result.collapsed:
        ctx.check_cancelled()
    out = ctx.workdir / "model"
    save_gan(out, GANModel.from_trainer(trainer, include_training_nets=True))
    model = ctx.save_model(
        p.name, {f.name: f for f in out.iterdir() if f.is_file()}, kind="gan",
        config={"gan": config.to_dict(), "class_names": class_names, "conditioning": mode,
                "dataset": ds.id, "steps": trainer.step, "threads": threads, "preset": preset.to_dict()},
        metrics={**result.metrics, "images": len(items)},
    )
    ctx.result.update({"model": model.id, "steps": trainer.step, "conditioning": mode,
                       "metrics": result.metrics, "preset": {**preset.to_dict(), "summary": preset.summary()},
                       "health": health or None, "collapsed": result.collapsed})


# -- shared loading --------------------------------------------------------------------------------
def _gan(ctx: TaskContext, ref: str) -> tuple[Any, Any]:
    from reelforge.vision.gan import load_gan

    m = ctx.model(ref)
    if m.model.kind != "gan":
        raise InvalidInput(f"model {m.model.ref} is a {m.model.kind}, not a gan")
    return m, load_gan(m.dir, device=ctx.device)


def _conditioning(m: Any, gan: Any, class_name: str | None, prompt: str | None, n: int) -> tuple[Any, Any]:
    import numpy as np

    names: list[str] = m.model.config.get("class_names") or []
    class_ids = text = None
    if gan.config.num_classes:
        if class_name is None:
            class_ids = np.arange(n) % gan.config.num_classes
        elif class_name not in names:
            raise InvalidInput(f"model {m.model.ref} has no class {class_name!r} (classes: {', '.join(names)})")
        else:
            class_ids = np.full(n, names.index(class_name))
    elif class_name is not None:
        raise InvalidInput(f"model {m.model.ref} is not class-conditional")
    if gan.config.text_dim:
        if not prompt:
            raise InvalidInput(f"model {m.model.ref} is text-conditioned: give a prompt")
        text = _embed([prompt])[0]
    elif prompt:
        raise InvalidInput(f"model {m.model.ref} is not text-conditioned")
    return class_ids, text


# -- sample ----------------------------------------------------------------------------------------
class SampleParams(Params):
    model: str = Field(description="GAN model (NAME, NAME@N or id)")
    n: int = Field(16, ge=1, le=2000, description="number of images to generate")
    truncation: float | None = Field(None, gt=0, le=10, description="truncation trick threshold (None: off)")
    class_name: str | None = Field(None, description="class to generate (class-conditional models)")
    prompt: str | None = Field(None, max_length=1000, description="text prompt (text-conditioned models)")
    sheet: bool = Field(True, description="also save a contact sheet of the samples")


@task(
    "gan.sample",
    params=SampleParams,
    inputs={"model": "model"},
    outputs=("asset:image",),
    resources=Resources(cpus=1, gpus=1),
    description="Generate N images from a GAN; each PNG records model, seed, latent and params",
)
def sample(ctx: TaskContext, p: SampleParams) -> None:
    from PIL import Image

    from reelforge.media import contact_sheet

    _threads(ctx, None)
    m, gan = _gan(ctx, p.model)
    class_ids, text = _conditioning(m, gan, p.class_name, p.prompt, p.n)
    names: list[str] = m.model.config.get("class_names") or []
    images, latents = gan.generate(p.n, seed=ctx.seed, truncation=p.truncation, class_ids=class_ids,
                                   text_embeddings=text)
    ids, cells = [], []
    for i, (img, z) in enumerate(zip(images, latents, strict=True)):
        ctx.check_cancelled()
        cls = names[int(class_ids[i])] if class_ids is not None else None
        record = {"model": m.id, "model_ref": m.model.ref, "latent_seed": ctx.seed + i, "index": i,
                  "truncation": p.truncation, "class_name": cls, "prompt": p.prompt,
                  "latent": [round(float(v), 7) for v in z]}
        pil = Image.fromarray(img)
        a = ctx.save_image(pil, f"generated/{m.model.name}/{ctx.job_id}/{i:04d}.png", source_type=GENERATED,
                           record=record, tags=["generated"])
        ids.append(a.id)
        cells.append((pil, cls or f"seed {ctx.seed + i}"))
        ctx.progress(i + 1, p.n, "saving samples")
    ctx.result["samples"] = ids
    if p.sheet:
        # Small models are shown enlarged by a whole factor (pixels kept sharp) to fill a 128 px cell;
        # the saved PNGs stay at the model's resolution.
        res = gan.config.resolution
        k = max(1, 128 // res)
        if k > 1:
            cells = [(im.resize((im.width * k, im.height * k), Image.Resampling.NEAREST), label) for im, label in cells]
        sheet = contact_sheet(cells, cell=max(64, res * k), title=f"{m.model.ref} seed {ctx.seed}")
        ctx.result["contact_sheet"] = ctx.save_image(
            sheet, f"generated/{m.model.name}/{ctx.job_id}/sheet.png", source_type=GENERATED,
            record={"model": m.id, "samples": ids}, tags=["contact-sheet", "generated"]).id


# -- latent walk -----------------------------------------------------------------------------------
class WalkParams(Params):
    model: str = Field(description="GAN model (NAME, NAME@N or id)")
    seeds: list[int] = Field(default_factory=list, description="keyframe seeds (default: 4 from the job seed)")
    fps: float = Field(24.0, gt=0, le=120, description="frames per second")
    duration: float = Field(6.0, gt=0, le=600, description="seconds")
    truncation: float | None = Field(None, gt=0, le=10, description="truncation trick threshold (None: off)")
    loop: bool = Field(True, description="end where it starts, so the video loops seamlessly")
    size: int = Field(256, ge=16, le=2048, description="output frame size in pixels")
    class_name: str | None = Field(None, description="class to walk through (class-conditional models)")
    prompt: str | None = Field(None, description="text prompt (text-conditioned models)")
    gif: bool = Field(True, description="also save an animated GIF next to the video")

    @model_validator(mode="after")
    def _enough_seeds(self) -> WalkParams:
        if self.seeds and len(self.seeds) < 2:
            raise ValueError("a latent walk needs at least two seeds")
        return self


@task(
    "gan.walk",
    params=WalkParams,
    inputs={"model": "model"},
    outputs=("asset:video", "asset:image"),
    resources=Resources(cpus=1, gpus=1),
    description="A latent-walk video (MP4, and GIF) slerping between seeds",
)
def walk(ctx: TaskContext, p: WalkParams) -> None:
    import numpy as np
    from PIL import Image

    from reelforge.media import write_gif, write_video

    _threads(ctx, None)
    m, gan = _gan(ctx, p.model)
    class_ids, text = _conditioning(m, gan, p.class_name, p.prompt, 1)
    seeds = p.seeds or [ctx.seed + i for i in range(4)]
    segments = len(seeds) if p.loop else len(seeds) - 1
    total = max(segments, round(p.fps * p.duration))
    per_segment = max(1, total // segments)
    frames = []
    size = p.size - p.size % 2  # H.264 wants even dimensions
    for i, f in enumerate(gan.latent_walk(seeds, per_segment, truncation=p.truncation, loop=p.loop,
                                          class_id=None if class_ids is None else int(class_ids[0]),
                                          text_embedding=text)):
        ctx.check_cancelled()
        frames.append(np.asarray(Image.fromarray(f).resize((size, size), Image.Resampling.BICUBIC)))
        ctx.progress(i + 1, per_segment * segments, "rendering frames")
    mp4 = ctx.workdir / "walk.mp4"
    write_video(iter(frames), mp4, fps=p.fps)
    meta = {"model": m.id, "seeds": seeds, "fps": p.fps, "frames": len(frames), "truncation": p.truncation}
    base = f"walks/{m.model.name}/{ctx.job_id}"
    ctx.result["video"] = ctx.save_asset(mp4, f"{base}.mp4", tags=["latent-walk", "generated"], meta=meta,
                                         source_type=GENERATED).id
    if p.gif:
        gif = ctx.workdir / "walk.gif"
        write_gif(iter(frames), gif, fps=min(p.fps, 50))
        ctx.result["gif"] = ctx.save_asset(gif, f"{base}.gif", tags=["latent-walk", "generated"], meta=meta,
                                           source_type=GENERATED).id


# -- evaluate --------------------------------------------------------------------------------------
class EvaluateParams(Params):
    model: str = Field(description="GAN model to evaluate")
    dataset: str = Field(description="real images to compare with")
    split: Literal["train", "val", "test", "all"] = Field("all", description="which split of the dataset to compare with")
    n: int = Field(256, ge=8, le=20_000, description="number of generated samples")
    metrics: list[str] | None = Field(None, max_length=32, description="metric names from the metric registry "
                                      "(default: every metric this run has the inputs for)")
    # Switches kept from before the registry: False drops that metric from the default list.
    swd: bool = Field(True, description="False leaves swd out of the default metrics")
    kid_random: bool = Field(True, description="False leaves kid_random (KID, random-network features) out")
    classifier_accuracy: bool = Field(True, description="False leaves classifier_accuracy (class-conditional "
                                      "models on labelled data) out")
    classifier_epochs: int = Field(8, ge=1, le=1000, description="training epochs of the judge classifier")
    inception_weights: str | None = Field(None, description="local .safetensors InceptionV3: enables the fid "
                                          "metric (FID and KID on Inception features)")
    inception_arch: Literal["inception_v3", "inception_v3_fid"] = Field(
        "inception_v3", description="architecture of the --inception-weights file"
    )
    truncation: float | None = Field(None, gt=0, le=10, description="truncation trick threshold (None: off)")
    health: bool = Field(True, description="also run the health checks (diversity, near-duplicates, spectra, "
                         "position lock, colour, SWD, memorisation) against the dataset's held-out images")

    def switched_off(self) -> set[str]:
        return {name for name, on in (("swd", self.swd), ("kid_random", self.kid_random),
                                      ("classifier_accuracy", self.classifier_accuracy)) if not on}

    @model_validator(mode="after")
    def _no_contradiction(self) -> EvaluateParams:
        clash = sorted(set(self.metrics or ()) & self.switched_off())
        if clash:
            raise ValueError(f"{', '.join(clash)} both requested in metrics and switched off")
        return self


@task(
    "gan.evaluate",
    params=EvaluateParams,
    inputs={"model": "model", "dataset": "dataset"},
    outputs=("asset:json",),
    resources=Resources(cpus=2, gpus=1),
    description="Image-quality metrics from the metric registry: SWD, KID (random features), per-class "
                "accuracy of a judge classifier, FID/KID with a local Inception file; and a verdict per "
                "health check against held-out real images",
)
def evaluate(ctx: TaskContext, p: EvaluateParams) -> None:
    import numpy as np

    from reelforge.vision.metrics import MetricInputs, Need, select_metrics

    _threads(ctx, None)
    m, gan = _gan(ctx, p.model)
    names: list[str] = m.model.config.get("class_names") or []
    # What this run can provide: class labels (and a judge trained on them) only for class-conditional
    # models, Inception features only from a local file. Chosen before any image work so bad names fail fast.
    available = {Need.REAL, Need.FAKE}
    if names:
        available |= {Need.LABELS, Need.JUDGE}
    if p.inception_weights:
        available.add(Need.WEIGHTS)
    chosen = select_metrics(p.metrics, available)
    if p.metrics is None:
        chosen = [metric for metric in chosen if metric.name not in p.switched_off()]
    ds = ctx.dataset(p.dataset)
    items = _dataset_images(ctx, ds, p.split)
    res = gan.config.resolution
    real = np.stack([_square(a, res) for a in _load_images(ctx, items)])
    class_ids = np.arange(p.n) % len(names) if names else None
    text = None
    if gan.config.text_dim:
        captions = [it.caption or "" for it in items]
        text = _embed([captions[i % len(captions)] for i in range(p.n)])
    fake, _ = gan.generate(p.n, seed=ctx.seed, truncation=p.truncation, class_ids=class_ids, text_embeddings=text)
    inputs = MetricInputs(real=real, fake=fake, labels=class_ids, seed=ctx.seed, device=ctx.device,
                          should_stop=ctx.should_stop, weights=Path(p.inception_weights) if p.inception_weights else None,
                          weights_arch=p.inception_arch)
    if any(Need.JUDGE in metric.needs for metric in chosen):
        ctx.progress(0, len(chosen), "training the judge classifier on real images")
        inputs.judge = _judge(items, names, real, p.classifier_epochs, ctx.seed, ctx.should_stop)
    report: dict[str, Any] = {"model": m.id, "dataset": ds.id, "split": p.split, "n_real": len(real),
                              "n_fake": p.n, "resolution": res, "seed": ctx.seed,
                              "metrics": [metric.name for metric in chosen]}
    sections: dict[str, Any] = {}
    for i, metric in enumerate(chosen):
        ctx.progress(i, len(chosen), metric.description)
        result = metric.compute(inputs)
        sections.update(result.sections)
        for key, value in result.scalars.items():
            ctx.metric(key, value, 0)
    report.update(sections)
    if p.health:
        ctx.progress(len(chosen), len(chosen) + 1, "health checks against held-out real images")
        loaded = dict(zip((it.asset.id for it in items), real, strict=True))
        report["health"] = _health(ctx, m, ds, fake, res, loaded)
    ctx.progress(len(chosen), len(chosen), "done")
    out = ctx.save_asset(json.dumps(report, indent=2, default=float).encode(),
                         f"evaluations/{m.model.name}_v{m.model.version}_{ctx.job_id}.json", tags=["evaluation"],
                         meta={"model": m.id, "dataset": ds.id})
    ctx.result.update({"report": out.id, "metrics": report["metrics"], **sections})
    if p.health:
        ctx.result["health"] = report["health"]


def _health_split(m: Any, ds: DatasetInput) -> tuple[list[Any], list[Any], str]:
    """The training images and the held-out real images the health checks compare with, and how
    they were chosen. Held out means the dataset's val and test splits, unless the model trained on
    every item (or on another dataset's); with fewer than two held-out images a deterministic quarter
    of the images (every 4th by content hash) stands in, and the note says so."""
    images = [it for it in ds.items if it.asset.kind == "image"]
    trained_here = m.model.config.get("dataset") == ds.id
    split = m.model.config.get("split")
    if split is None:  # not recorded by older models: "all" when it trained on as many images as there are
        split = "all" if trained_here and m.model.metrics.get("images") == len(images) else "train"
    if trained_here and split == "all":
        train, held = images, []
    else:
        train = [it for it in images if it.split == "train"]
        held = [it for it in images if it.split in ("val", "test")]
    notes = [] if trained_here else ["the model was trained on another dataset: memorisation is measured "
                                     f"against this dataset's {len(train)} train-split images"]
    if len(held) < 2:
        pool = sorted(train + held, key=lambda it: (it.asset.sha256, it.asset.id))
        held = pool[::4]
        train = [it for i, it in enumerate(pool) if i % 4]
        notes.append(f"no held-out images: held out {len(held)} of {len(pool)} (every 4th by content hash)"
                     + ("; the model trained on them, so memorisation and the reference statistics are "
                        "measured against images it saw" if trained_here else ""))
    return train, held, "; ".join(notes)


def _health(ctx: TaskContext, m: Any, ds: DatasetInput, fake: np.ndarray, res: int,
            loaded: dict[str, np.ndarray]) -> dict[str, Any]:
    """Health report of the samples (a verdict logged per check), as stored in the result and report."""
    import numpy as np

    from reelforge.vision.gan import collapse_detected, health_report

    train, held, note = _health_split(m, ds)
    if len(train) < 2 or len(held) < 2:
        msg = f"health checks skipped: they need at least 4 images, {ds.version.ref} has {len(train) + len(held)}"
        ctx.log(msg, "warning")
        return {"skipped": msg}
    if note:
        ctx.log(f"health: {note}", "warning")
    missing = [it for it in train + held if it.asset.id not in loaded]
    for it, arr in zip(missing, _load_images(ctx, missing), strict=True):
        loaded[it.asset.id] = _square(arr, res)
    report = health_report(fake, np.stack([loaded[it.asset.id] for it in train]),
                           np.stack([loaded[it.asset.id] for it in held]), seed=ctx.seed)
    for line in report.lines():
        ctx.log(line, "info" if line.startswith("PASS") else "warning")
    verdict = "all checks pass" if report.passed else f"failed: {', '.join(report.failed)}"
    ctx.log(f"health: {verdict}" + (" (collapse)" if collapse_detected(report) else ""))
    for name, value in report.scalars().items():
        ctx.metric(name, value, 0)
    return {**report.to_dict(), "note": note, "train_images": len(train), "heldout_images": len(held)}


def _judge(items: list[Any], names: list[str], real: np.ndarray, epochs: int, seed: int,
           stop: Callable[[], bool]) -> Any:
    """A classifier trained on the labelled real images: the judge of class-conditional samples."""
    import numpy as np

    from reelforge.vision.classify import ClassifierConfig, train_classifier

    labels = [it.label for it in items]
    if not all(labels):
        raise InvalidInput("classifier accuracy needs labels on every real image")
    y = np.array([names.index(lab) if lab in names else -1 for lab in labels])
    if (y < 0).any():
        raise InvalidInput("the dataset has labels the model was not trained on")
    config = ClassifierConfig(num_classes=len(names), resolution=real.shape[1], class_names=names)
    return train_classifier(real, y, config, epochs=epochs, seed=seed, should_stop=stop)
