"""Text to image from local diffusion weights (the ``diffusion`` extra): one PNG per seed, with provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput, LimitExceeded, NotFound

GENERATED = "trainedAlgorithmicMedia"
Scheduler = Literal["default", "ddim", "euler", "euler_ancestral", "dpmpp_2m", "unipc", "pndm"]


class GenerateParams(Params):
    model: str = Field(description="diffusion weights: a name from the studio's diffusion_models setting, or the "
                                   "absolute path of a local diffusers pipeline folder (safetensors only)")
    prompt: str = Field(min_length=1, max_length=2000, description="what to draw")
    negative_prompt: str | None = Field(None, max_length=2000, description="what to steer away from")
    n: int = Field(1, ge=1, le=64, description="number of images; image i uses seed + i")
    steps: int = Field(30, ge=1, le=500, description="denoising steps per image")
    guidance: float = Field(7.5, ge=0, le=50, description="classifier-free guidance scale (1 or less: off)")
    width: int | None = Field(None, ge=8, le=16384, multiple_of=8,
                              description="image width in pixels, a multiple of 8 (None: the model's own size)")
    height: int | None = Field(None, ge=8, le=16384, multiple_of=8,
                               description="image height in pixels, a multiple of 8 (None: the model's own size)")
    scheduler: Scheduler = Field("default", description="sampler (default: the one saved with the weights)")
    precision: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="auto: bfloat16 (or float16) on CUDA, float32 on CPU")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads (pixels reproduce at equal threads)")


def _folder(ctx: TaskContext, model: str) -> tuple[str, Path]:
    """(label, folder) of a configured name or an absolute path."""
    named = ctx.diffusion_models
    if model in named:
        return model, named[model]
    path = Path(model).expanduser()
    if path.is_absolute():
        return path.name or "diffusion", path
    known = ", ".join(sorted(named)) or "none"
    raise NotFound(f"no diffusion model named {model!r} (configured: {known}); set diffusion_models in "
                   "reelforge.toml or give an absolute folder path")


def _check_size(ctx: TaskContext, width: int, height: int) -> None:
    lim = ctx.limits
    if max(width, height) > lim.max_image_side or width * height > lim.max_pixels:
        raise LimitExceeded(f"{width}x{height} is over the studio's image limits "
                            f"(side {lim.max_image_side}, {lim.max_pixels} pixels)")


@task(
    "diffusion.generate",
    params=GenerateParams,
    outputs=("asset:image",),
    resources=Resources(cpus=2, gpus=1, memory_gb=8),
    description="Text to image with a local diffusers pipeline (no downloads); each PNG records seed, prompt, "
                "steps, guidance, scheduler and the weights' hash",
)
def generate(ctx: TaskContext, p: GenerateParams) -> None:
    from PIL import Image

    from reelforge.vision.diffusion import TextToImage, inspect_weights

    label, folder = _folder(ctx, p.model)
    if p.width and p.height:
        _check_size(ctx, p.width, p.height)  # before the (slow) load
    threads = ctx.set_threads(p.threads)
    ctx.progress(0, p.n * p.steps, "checking and hashing the weights")
    weights = inspect_weights(folder, should_stop=ctx.should_stop)
    ctx.check_cancelled()
    ctx.progress(0, p.n * p.steps, f"loading {weights.pipeline}")
    t2i = TextToImage(weights, device=ctx.device, precision=p.precision, scheduler=p.scheduler)
    native_w, native_h = t2i.native_size()
    width, height = p.width or native_w, p.height or native_h
    if width % 8 or height % 8:
        raise InvalidInput(f"width and height must be multiples of 8, got {width}x{height}")
    _check_size(ctx, width, height)
    shared = {**t2i.record(), "model": label, "prompt": p.prompt, "negative_prompt": p.negative_prompt,
              "steps": p.steps, "guidance": p.guidance, "width": width, "height": height, "threads": threads}
    ctx.log(f"{weights.pipeline} from {weights.path} (sha256 {weights.sha256[:12]}), {t2i.scheduler}, "
            f"{shared['dtype']} on {ctx.device}, {width}x{height}, {threads} threads")
    ids = []
    for i in range(p.n):
        ctx.check_cancelled()
        image_seed = ctx.seed + i

        def on_step(done: int, total: int, i: int = i) -> None:
            ctx.progress(i * total + done, p.n * total, f"image {i + 1}/{p.n}, step {done}/{total}")

        pixels = t2i.generate(p.prompt, seed=image_seed, steps=p.steps, guidance=p.guidance,
                              negative_prompt=p.negative_prompt, width=width, height=height,
                              on_step=on_step, should_stop=ctx.should_stop)
        record = {**shared, "image_seed": image_seed, "index": i}
        asset = ctx.save_image(Image.fromarray(pixels), f"diffusion/{label}/{ctx.job_id}/{i:04d}.png",
                               source_type=GENERATED, record=record, tags=["generated", "diffusion"])
        ids.append(asset.id)
    ctx.result.update({"images": ids, "model_sha256": weights.sha256, "pipeline": weights.pipeline,
                       "scheduler": t2i.scheduler, "width": width, "height": height})
