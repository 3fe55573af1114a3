"""style tasks: style.transfer (image or video, optimisation or a trained network) and style.train."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

# IPTC digital source type: the content's picture with synthesised texture. (IPTC's closer
# "compositeWithTrainedAlgorithmicMedia" is not in catalog.provenance.SOURCE_TYPES yet.)
STYLISED = "compositeWithTrainedAlgorithmicMedia"  # IPTC: a real image changed by a trained model


def _image(ctx: TaskContext, path: Path, what: str) -> np.ndarray:
    """Decode an image asset with the studio's limits; too small or not RGB is an InvalidInput."""
    import numpy as np

    from reelforge.media import load_image
    from reelforge.vision.style.optimize import check_image

    return check_image(np.asarray(load_image(path, ctx.limits, mode="RGB")), what)


def _style_asset(ctx: TaskContext, ref: str) -> np.ndarray:
    st = ctx.asset(ref)
    if st.kind != "image":
        raise InvalidInput(f"style asset {st.id} ({st.name}) is {st.kind}, not an image")
    return _image(ctx, st.path, "style")


def _features_spec(spec: str) -> str:
    if spec == "random":
        return spec
    path = Path(spec).expanduser()
    if not path.is_file():
        raise InvalidInput(f"features: {spec!r} is neither 'random' nor a VGG-19 .safetensors file")
    return str(path)


# -- transfer --------------------------------------------------------------------------------------
class TransferParams(Params):
    content: str = Field(description="image or video asset to stylise")
    style: str | None = Field(None, description="style image asset (the optimise method)")
    model: str | None = Field(None, description="trained style network (NAME, NAME@N or id; the network method)")
    method: Literal["auto", "optimise", "network"] = Field(
        "auto", description="optimise: Gatys-style optimisation against the style image (slow, any style); "
        "network: one pass through a network trained by style.train (fast); auto: network when a model is given")
    steps: int = Field(200, ge=1, le=5000, description="optimise: optimisation steps per image (per video frame "
                       "after the first: half as many, started from the previous frame)")
    size: int = Field(512, ge=16, le=2048, description="long side of the output in pixels (never more than "
                      "the content's)")
    style_weight: float = Field(10.0, ge=0, le=1e6, description="optimise: weight of the style (Gram) loss")
    content_weight: float = Field(1.0, ge=0, le=1e6, description="optimise: weight of the content loss")
    tv_weight: float = Field(0.5, ge=0, le=1e6, description="optimise: weight of the total-variation smoothness loss")
    lr: float = Field(0.02, gt=0, le=1, description="optimise: Adam step size on pixel values (0..1)")
    preserve_colour: Literal["none", "luminance", "histogram"] = Field(
        "none", description="keep the content's colours: luminance (transfer on luminance, the content's chroma "
        "kept exactly) or histogram (the style's colours mapped to the content's first); none: take the style's")
    style_scale: float = Field(1.0, ge=0.1, le=4, description="optimise: style image size relative to the "
                               "output (smaller: finer brush strokes)")
    features: str = Field("random", description="optimise: feature network of the losses: random (fixed-seed "
                          "random weights, no download) or a local VGG-19 .safetensors file")
    feature_seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the random feature network")
    temporal: bool = Field(True, description="video: tie each frame to the previous output along the optical "
                           "flow (False: every frame on its own, which flickers)")
    temporal_weight: float = Field(50.0, ge=0, le=1e6, description="video, optimise: weight of the temporal loss")
    blend: float = Field(0.7, ge=0, lt=1, description="video, network: share of the warped previous output on "
                         "pixels the flow tracks")
    chunk_frames: int = Field(16, ge=1, le=10_000, description="video: frames per chunk (chunks run in parallel)")
    overlap: int = Field(2, ge=0, le=64, description="video: warm-up frames each chunk runs before its own, so "
                         "chunk seams carry the temporal state")
    max_frames: int = Field(600, ge=1, le=100_000, description="video: refuse videos with more frames than this")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads (default: the studio's worker "
                                "concurrency; 1 is fastest on a busy machine)")

    @model_validator(mode="after")
    def _one_style(self) -> TransferParams:
        if self.method == "network" and not self.model:
            raise ValueError("method network needs a model (train one with style.train)")
        if self.method == "optimise" and not self.style:
            raise ValueError("method optimise needs a style image")
        if self.method == "auto" and bool(self.style) == bool(self.model):
            raise ValueError("give a style image or a trained style model (one of them)")
        return self

    @property
    def resolved_method(self) -> str:
        return self.method if self.method != "auto" else ("network" if self.model else "optimise")


@task(
    "style.transfer",
    params=TransferParams,
    inputs={"content": "asset", "style": "asset", "model": "model"},
    outputs=("asset:image", "asset:video"),
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    description="Stylise an image or a video with a style image (optimisation) or a trained style network; "
                "video frames stay consistent along the optical flow",
)
def transfer(ctx: TaskContext, p: TransferParams) -> None:
    from PIL import Image

    from reelforge.vision.style.features import build_features, features_label
    from reelforge.vision.style.optimize import TransferSettings, fit_size, stylize_image

    src = ctx.asset(p.content)
    if src.kind not in ("image", "video"):
        raise InvalidInput(f"content asset {src.id} ({src.name}) is {src.kind}, not an image or a video")
    method = p.resolved_method
    settings = TransferSettings(steps=p.steps, size=p.size, style_weight=p.style_weight,
                                content_weight=p.content_weight, tv_weight=p.tv_weight, lr=p.lr,
                                preserve_colour=p.preserve_colour, style_scale=p.style_scale)
    style = model_dir = None
    record: dict[str, Any] = {"method": method, "kind": "style-transfer"}
    if method == "optimise":
        style = _style_asset(ctx, p.style or "")
        spec = _features_spec(p.features)
        record.update(style=ctx.asset(p.style or "").id, features=features_label(spec, p.feature_seed))
    else:
        m = ctx.model(p.model or "")
        if m.model.kind != "style":
            raise InvalidInput(f"model {m.model.ref} is a {m.model.kind} model, not a style network")
        model_dir = str(m.dir)
        record.update(model=m.id, model_ref=m.model.ref)
    stem = Path(src.name).with_suffix("").as_posix()
    if src.kind == "image":
        content = _image(ctx, src.path, "content")
        content = fit_size(content, min(p.size, max(content.shape[:2])))
        ctx.set_threads(p.threads)
        if method == "optimise":
            net = build_features(spec, seed=p.feature_seed, device=ctx.device)
            out = stylize_image(content, style, net, settings, device=ctx.device,
                                progress=lambda d, t, msg: ctx.progress(d, t, msg), should_stop=ctx.should_stop)
        else:
            from reelforge.vision.style.fast import FastStyleModel

            out = FastStyleModel.load(model_dir or "", device=ctx.device).stylize(content)
        ctx.check_cancelled()
        a = ctx.save_image(Image.fromarray(out), f"style/{stem}.{ctx.job_id}.png", source_type=STYLISED,
                           record=record, tags=["stylised"], meta={"content": src.id, "method": method})
        ctx.result.update({"image": a.id, "method": method, "width": out.shape[1], "height": out.shape[0]})
        return
    _transfer_video(ctx, p, src, stem, settings, style, model_dir, record)


def _transfer_video(ctx: TaskContext, p: TransferParams, src: Any, stem: str, settings: Any,
                    style: np.ndarray | None, model_dir: str | None, record: dict[str, Any]) -> None:
    from reelforge.media import add_source_audio, write_video
    from reelforge.video.stylize import ChunkJob, VideoStyle, load_frames, plan_chunks, stylize_video

    ctx.progress(0, 0, "decoding video")
    frames = load_frames(src.path, ctx.limits, size=p.size, max_frames=p.max_frames, should_stop=ctx.should_stop)
    method = p.resolved_method
    vstyle = VideoStyle(method=method, temporal=p.temporal, temporal_weight=p.temporal_weight,  # type: ignore[arg-type]
                        blend=p.blend)
    n_chunks = len(plan_chunks(len(frames), p.chunk_frames, p.overlap))
    # Chunks go to a process pool on CPU; on a GPU one process batches frames better than several.
    parallel = ctx.device == "cpu" and ctx.threads > 1 and n_chunks > 1
    template = ChunkJob(0, frames[:0], 0, vstyle, settings, style_image=style,
                        features=_features_spec(p.features) if method == "optimise" else "random",
                        feature_seed=p.feature_seed, model_dir=model_dir, device=ctx.device,
                        threads=1 if parallel else ctx.set_threads(p.threads))
    ctx.log(f"{len(frames)} frames at {frames.shape[2]}x{frames.shape[1]}, {method}, {n_chunks} chunk(s)"
            f"{' in parallel' if parallel else ''}, temporal {'on' if p.temporal else 'off'}, device {ctx.device}")
    map_fn = (lambda fn, items: ctx.map(fn, items, progress_message="stylising chunks")) if parallel else None
    out = stylize_video(frames, template, chunk_frames=p.chunk_frames, overlap=p.overlap, map_fn=map_fn,
                        progress=lambda d, t, msg: ctx.progress(d, t, msg), should_stop=ctx.should_stop)
    ctx.check_cancelled()
    fps = float(src.info.get("fps") or 24.0)
    mp4 = ctx.workdir / "stylised.mp4"
    write_video(iter(out), mp4, fps=fps, should_stop=ctx.should_stop)
    has_audio = add_source_audio(mp4, src.path, limits=ctx.limits)  # the film's sound, in sync
    meta = {"content": src.id, "frames": len(out), "fps": fps, "generation": record,
            "temporal": p.temporal, "chunks": n_chunks, "audio": has_audio}
    a = ctx.save_asset(mp4, f"style/{stem}.{ctx.job_id}.mp4", tags=["stylised"], meta=meta)
    ctx.result.update({"video": a.id, "method": method, "frames": len(out), "width": out.shape[2],
                       "height": out.shape[1], "chunks": n_chunks})


# -- train -----------------------------------------------------------------------------------------
class TrainParams(Params):
    style: str = Field(description="style image asset the network learns")
    dataset: str = Field(description="dataset of content images to train on (NAME, NAME@N or id)")
    name: str = Field("style", description="registry name of the trained network")
    split: Literal["train", "all"] = Field("all", description="train on the train split, or on every item")
    steps: int = Field(2000, ge=1, le=1_000_000, description="training steps, one batch each")
    size: int = Field(256, ge=32, le=1024, multiple_of=4, description="side of the training crops in pixels")
    batch_size: int = Field(4, ge=1, le=256, description="crops per step")
    width: int = Field(32, ge=4, le=256, description="channels of the network's first layer (2x and 4x deeper in)")
    res_blocks: int = Field(5, ge=0, le=16, description="residual blocks at the lowest resolution")
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")
    style_weight: float = Field(10.0, ge=0, le=1e6, description="weight of the style (Gram) loss")
    content_weight: float = Field(1.0, ge=0, le=1e6, description="weight of the content loss")
    tv_weight: float = Field(0.5, ge=0, le=1e6, description="weight of the total-variation smoothness loss")
    style_scale: float = Field(1.0, ge=0.1, le=4, description="style image size relative to the crops")
    features: str = Field("random", description="feature network of the losses: random or a local VGG-19 "
                          ".safetensors file")
    feature_seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the random feature network")
    checkpoint_every: int = Field(200, ge=1, description="save a resumable checkpoint every this many steps")
    preview: bool = Field(True, description="save the first content image through the trained network")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads (default: the studio's worker "
                                "concurrency; results reproduce at equal threads)")


@task(
    "style.train",
    params=TrainParams,
    inputs={"style": "asset", "dataset": "dataset"},
    outputs=("model:style", "asset:image"),
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    resumable=True,
    description="Train a fast feed-forward style network (Johnson et al.) for one style image on a dataset's "
                "content images (resumable)",
)
def train(ctx: TaskContext, p: TrainParams) -> None:
    from PIL import Image

    from reelforge.vision.style.fast import FastStyleConfig, train_fast
    from reelforge.vision.style.optimize import fit_size

    style = _style_asset(ctx, p.style)
    ds = ctx.dataset(p.dataset)
    items = [it for it in (ds.items if p.split == "all" else ds.split(p.split)) if it.asset.kind == "image"]
    if not items:
        raise InvalidInput(f"dataset {ds.version.ref} has no images in split {p.split!r}")
    config = FastStyleConfig(width=p.width, res_blocks=p.res_blocks, size=p.size, batch_size=p.batch_size,
                             steps=p.steps, lr=p.lr, style_weight=p.style_weight, content_weight=p.content_weight,
                             tv_weight=p.tv_weight, features=_features_spec(p.features),
                             feature_seed=p.feature_seed, style_scale=p.style_scale)
    images = []
    for i, it in enumerate(items):
        ctx.check_cancelled()
        img = _image(ctx, it.path, f"content ({it.asset.name})")
        images.append(fit_size(img, 2 * p.size) if max(img.shape[:2]) > 2 * p.size else img)
        ctx.progress(i + 1, len(items), "decoding content images")
    threads = ctx.set_threads(p.threads)
    state = ctx.restore()
    ctx.log(f"{len(images)} content images, {p.size}px crops, {threads} threads, device {ctx.device}")
    model = train_fast(images, style, config, seed=ctx.seed, device=ctx.device,
                       progress=lambda d, t, msg: ctx.progress(d, t, msg), on_metric=ctx.metric,
                       should_stop=ctx.should_stop, checkpoint=ctx.checkpoint,
                       checkpoint_every=p.checkpoint_every, state=state)
    ctx.check_cancelled()
    out = model.save(ctx.workdir / "model")
    last = model.metadata["history"][-1] if model.metadata.get("history") else {}
    saved = ctx.save_model(p.name, {f.name: f for f in out.iterdir() if f.is_file()}, kind="style",
                           config={"fast": config.to_dict(), "style": ctx.asset(p.style).id, "dataset": ds.id,
                                   "threads": threads},
                           metrics={**{k: last[k] for k in ("loss", "style", "content") if k in last},
                                    "images": len(images), "steps": p.steps})
    ctx.result.update({"model": saved.id, "steps": p.steps, "metrics": last})
    if p.preview:
        shown = model.stylize(fit_size(images[0], min(p.size * 2, max(images[0].shape[:2]))))
        a = ctx.save_image(Image.fromarray(shown), f"training/{p.name}/{ctx.job_id}/preview.png",
                           source_type=STYLISED, record={"model": saved.id, "kind": "style-preview"},
                           tags=["training-sample", "stylised"])
        ctx.result["preview"] = a.id
