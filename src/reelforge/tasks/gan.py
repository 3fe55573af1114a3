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
    import numpy as np

GENERATED = "trainedAlgorithmicMedia"


def _threads(ctx: TaskContext, threads: int | None) -> int:
    import torch

    n = threads or ctx.studio.settings.worker_concurrency
    torch.set_num_threads(max(1, n))
    return n


def _load_images(ctx: TaskContext, items: list[Any], progress_from: int = 0) -> list[Any]:
    """Decode dataset images (safely, with the studio's limits) as uint8 RGB arrays."""
    import numpy as np

    from reelforge.media import load_image

    out = []
    for i, it in enumerate(items):
        ctx.check_cancelled()
        out.append(np.asarray(load_image(it.path, ctx.studio.settings.limits, mode="RGB")))
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


def _embed(texts: list[str]) -> np.ndarray:
    from reelforge.script.search import MiniLMEmbedder

    return MiniLMEmbedder().embed(texts)


# -- train -----------------------------------------------------------------------------------------
class TrainParams(Params):
    dataset: str = Field(description="dataset of images (NAME, NAME@N or id)")
    name: str = Field("gan", description="registry name of the trained model")
    split: Literal["train", "all"] = "train"
    resolution: Literal[32, 64, 128] = 64
    steps: int = Field(2000, ge=1, le=10_000_000)
    batch_size: int = Field(32, ge=2, le=1024)
    base_channels: int = Field(32, ge=8, le=1024)
    z_dim: int = Field(128, ge=2, le=1024)
    loss: Literal["hinge", "ns"] = "hinge"
    r1_gamma: float = Field(0.0, ge=0)
    ema_decay: float = Field(0.999, ge=0, lt=1)
    diffaug: str = Field("color,translation,cutout", description="DiffAugment policy; empty to disable")
    lr_g: float = Field(2e-4, gt=0, le=1)
    lr_d: float = Field(2e-4, gt=0, le=1)
    conditioning: Literal["auto", "none", "class", "text"] = Field(
        "auto", description="auto: class labels when the dataset has them, else captions, else none"
    )
    random_crop: bool = True
    hflip: bool = True
    crop_size: int | None = Field(None, ge=8, description="crop side before resizing (None: see AugmentConfig)")
    crops_from_large: bool = Field(False, description="train on native-scale random crops of large images")
    sample_every: int = Field(500, ge=1)
    checkpoint_every: int = Field(200, ge=1)
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads (results reproduce at equal threads)")
    compile: bool = False


@task(
    "gan.train",
    params=TrainParams,
    inputs={"dataset": "dataset"},
    outputs=("model:gan", "asset:image"),
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    resumable=True,
    description="Train a DCGAN-family generator on a dataset's images (resumable, with sample grids)",
)
def train(ctx: TaskContext, p: TrainParams) -> None:
    import numpy as np

    from reelforge.vision.gan import AugmentConfig, GANConfig, GANModel, GANTrainer, save_gan

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
    config = GANConfig(
        resolution=p.resolution, z_dim=p.z_dim, base_channels=p.base_channels, num_classes=len(class_names),
        text_dim=384 if mode == "text" else 0, loss=p.loss, r1_gamma=p.r1_gamma, ema_decay=p.ema_decay,
        diffaug=p.diffaug, lr_g=p.lr_g, lr_d=p.lr_d, batch_size=p.batch_size,
    )
    arrays = _load_images(ctx, items)
    same = len({a.shape for a in arrays}) == 1
    source: Any = np.stack(arrays) if same and not p.crops_from_large else arrays
    if mode == "text":
        ctx.progress(0, p.steps, "embedding captions")
        text = _embed([c or "" for c in captions])
    augment = AugmentConfig(random_crop=p.random_crop, hflip=p.hflip, crop_size=p.crop_size)
    trainer = GANTrainer(config, source, labels=label_ids, text_embeddings=text, seed=ctx.seed,
                         device=ctx.device, augment=augment, compile=p.compile)
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

    result = trainer.train(
        p.steps, progress=progress, on_metric=on_metric, should_stop=lambda: ctx.cancelled,
        on_sample=on_sample, sample_every=p.sample_every, checkpoint=ctx.checkpoint,
        checkpoint_every=p.checkpoint_every,
    )
    if result.stopped:
        ctx.check_cancelled()
    out = ctx.workdir / "model"
    save_gan(out, GANModel.from_trainer(trainer, include_training_nets=True))
    model = ctx.save_model(
        p.name, {f.name: f for f in out.iterdir() if f.is_file()}, kind="gan",
        config={"gan": config.to_dict(), "class_names": class_names, "conditioning": mode,
                "dataset": ds.id, "steps": trainer.step, "threads": threads},
        metrics={**result.metrics, "images": len(items)},
    )
    ctx.result.update({"model": model.id, "steps": trainer.step, "conditioning": mode,
                       "metrics": result.metrics})


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
    n: int = Field(16, ge=1, le=2000)
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
        sheet = contact_sheet(cells, cell=max(64, gan.config.resolution), title=f"{m.model.ref} seed {ctx.seed}")
        ctx.result["contact_sheet"] = ctx.save_image(
            sheet, f"generated/{m.model.name}/{ctx.job_id}/sheet.png", source_type=GENERATED,
            record={"model": m.id, "samples": ids}, tags=["contact-sheet", "generated"]).id


# -- latent walk -----------------------------------------------------------------------------------
class WalkParams(Params):
    model: str = Field(description="GAN model (NAME, NAME@N or id)")
    seeds: list[int] = Field(default_factory=list, description="keyframe seeds (default: 4 from the job seed)")
    fps: float = Field(24.0, gt=0, le=120)
    duration: float = Field(6.0, gt=0, le=600, description="seconds")
    truncation: float | None = Field(None, gt=0, le=10)
    loop: bool = True
    size: int = Field(256, ge=16, le=2048, description="output frame size in pixels")
    class_name: str | None = None
    prompt: str | None = None
    gif: bool = True

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
    ctx.result["video"] = ctx.save_asset(mp4, f"{base}.mp4", tags=["latent-walk", "generated"], meta=meta).id
    if p.gif:
        gif = ctx.workdir / "walk.gif"
        write_gif(iter(frames), gif, fps=min(p.fps, 50))
        ctx.result["gif"] = ctx.save_asset(gif, f"{base}.gif", tags=["latent-walk", "generated"], meta=meta).id


# -- evaluate --------------------------------------------------------------------------------------
class EvaluateParams(Params):
    model: str = Field(description="GAN model to evaluate")
    dataset: str = Field(description="real images to compare with")
    split: Literal["train", "val", "test", "all"] = "all"
    n: int = Field(256, ge=8, le=20_000, description="number of generated samples")
    swd: bool = True
    kid_random: bool = Field(True, description="KID on features of a fixed-seed random network")
    classifier_accuracy: bool = Field(True, description="for class-conditional models on labelled data")
    classifier_epochs: int = Field(8, ge=1, le=1000)
    inception_weights: str | None = Field(None, description="local .safetensors InceptionV3 for FID/KID")
    inception_arch: Literal["inception_v3", "inception_v3_fid"] = "inception_v3"
    truncation: float | None = Field(None, gt=0, le=10)


@task(
    "gan.evaluate",
    params=EvaluateParams,
    inputs={"model": "model", "dataset": "dataset"},
    outputs=("asset:json",),
    resources=Resources(cpus=2, gpus=1),
    description="SWD, KID (random features), per-class classifier accuracy and optional FID/KID (Inception)",
)
def evaluate(ctx: TaskContext, p: EvaluateParams) -> None:
    import numpy as np

    from reelforge.vision import metrics as M

    _threads(ctx, None)
    m, gan = _gan(ctx, p.model)
    ds = ctx.dataset(p.dataset)
    items = _dataset_images(ctx, ds, p.split)
    res = gan.config.resolution
    real = np.stack([_square(a, res) for a in _load_images(ctx, items)])
    names: list[str] = m.model.config.get("class_names") or []
    class_ids = np.arange(p.n) % len(names) if names else None
    text = None
    if gan.config.text_dim:
        captions = [it.caption or "" for it in items]
        text = _embed([captions[i % len(captions)] for i in range(p.n)])
    fake, _ = gan.generate(p.n, seed=ctx.seed, truncation=p.truncation, class_ids=class_ids, text_embeddings=text)
    report: dict[str, Any] = {"model": m.id, "dataset": ds.id, "split": p.split, "n_real": len(real),
                              "n_fake": p.n, "resolution": res, "seed": ctx.seed}
    stop = lambda: ctx.cancelled  # noqa: E731
    if p.swd:
        ctx.progress(0, 4, "sliced Wasserstein distance")
        r = M.swd(real, fake, seed=ctx.seed, should_stop=stop)
        report["swd"] = r.to_dict()
        ctx.metric("swd_mean", r.mean, 0)
    if p.kid_random:
        ctx.progress(1, 4, "KID (random features)")
        k = M.kid_random_features(real, fake, seed=0, should_stop=stop)
        report["kid_random_features"] = {"mean": k.mean, "std": k.std, "feature_extractor": k.feature_extractor}
        ctx.metric("kid_random", k.mean, 0)
    if p.classifier_accuracy and names:
        labels = [it.label for it in items]
        if not all(labels):
            raise InvalidInput("classifier accuracy needs labels on every real image")
        from reelforge.vision.classify import ClassifierConfig, train_classifier

        ctx.progress(2, 4, "training the judge classifier on real images")
        y = np.array([names.index(lab) if lab in names else -1 for lab in labels])
        if (y < 0).any():
            raise InvalidInput("the dataset has labels the model was not trained on")
        clf = train_classifier(real, y, ClassifierConfig(num_classes=len(names), resolution=res, class_names=names),
                               epochs=p.classifier_epochs, seed=ctx.seed, should_stop=stop)
        acc = M.classifier_accuracy(clf, fake, class_ids)
        report["classifier_accuracy"] = {**acc, "judge_val_accuracy": clf.val_metrics.get("accuracy")
                                         if isinstance(clf.val_metrics, dict) else None}
        ctx.metric("class_accuracy", float(acc["overall"]), 0)
    if p.inception_weights:
        ctx.progress(3, 4, "FID/KID with Inception features")
        net = M.FeatureNet.from_safetensors(Path(p.inception_weights), arch=p.inception_arch).to(ctx.device)
        f, k = M.fid_and_kid(real, fake, net, should_stop=stop)
        report["fid"] = {"fid": f.fid, "feature_extractor": f.feature_extractor}
        report["kid_inception"] = {"mean": k.mean, "std": k.std, "feature_extractor": k.feature_extractor}
        ctx.metric("fid", f.fid, 0)
    ctx.progress(4, 4, "done")
    out = ctx.save_asset(json.dumps(report, indent=2, default=float).encode(),
                         f"evaluations/{m.model.name}_v{m.model.version}_{ctx.job_id}.json", tags=["evaluation"],
                         meta={"model": m.id, "dataset": ds.id})
    ctx.result.update({"report": out.id, **{k: v for k, v in report.items() if k in (
        "swd", "kid_random_features", "classifier_accuracy", "fid")}})
