"""Text to image with diffusers pipelines from local folders: safetensors only, no downloads, reproducible.

A folder is checked before diffusers reads it: a ``model_index.json`` naming a diffusers pipeline whose
components come from diffusers or transformers (never custom code from the folder), and weights in
safetensors (a component with only pickled weights is refused without being opened; every
``.safetensors`` header is checked, so a renamed pickle is refused too). Its identity is the sha256 of
every file the pipeline can load, so a PNG's provenance names exactly the weights that made it.

Each image's starting noise comes from a CPU ``torch.Generator`` seeded with that image's seed (the
same noise on any device), and denoising runs with deterministic algorithms: the same folder, prompt,
parameters and seed give the same pixels on CPU. Needs the ``diffusion`` extra (diffusers, transformers).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reelforge.errors import Cancelled, InvalidInput, NotFound

__all__ = [
    "PRECISIONS",
    "SCHEDULERS",
    "TextToImage",
    "WeightsFolder",
    "inspect_weights",
]

# Libraries a pipeline component may come from (and diffusers' own pipeline modules): anything else in
# model_index.json would make diffusers import an arbitrary module (or run a .py file shipped in the folder).
ALLOWED_LIBRARIES = ("diffusers", "transformers")
PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl", ".pickle")
# Short names → diffusers scheduler classes; "default" keeps the folder's own scheduler.
SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_ancestral": "EulerAncestralDiscreteScheduler",
    "dpmpp_2m": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
    "pndm": "PNDMScheduler",
}
PRECISIONS = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class WeightsFolder:
    """A checked local pipeline folder and its identity (sha256 over every file it can load)."""

    path: Path
    pipeline: str
    components: dict[str, tuple[str, str]]
    sha256: str
    files: int
    bytes: int
    file_hashes: dict[str, str] = field(default_factory=dict, repr=False)

    def record(self) -> dict[str, Any]:
        """What provenance keeps of the folder."""
        return {"model_folder": str(self.path), "model_sha256": self.sha256, "pipeline": self.pipeline,
                "model_files": self.files, "model_bytes": self.bytes}


def _pickles(files: list[Path]) -> list[Path]:
    return [f for f in files if f.name.lower().endswith(PICKLE_SUFFIXES)]


def _files(folder: Path) -> list[Path]:
    """Regular files under ``folder`` (symlinks followed, as in Hugging Face snapshots), hidden ones skipped."""
    out = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [Path(root) / n for n in sorted(names) if not n.startswith(".") and (Path(root) / n).is_file()]
    return out


def _sha256(path: Path, should_stop: Callable[[], bool] | None) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            if should_stop is not None and should_stop():
                raise Cancelled("stopped while hashing the diffusion weights")
            h.update(chunk)
    return h.hexdigest()


def _allowed_library(library: Any) -> bool:
    """diffusers, transformers, or one of diffusers' own pipeline modules (SD's ``stable_diffusion``
    safety checker is named that way)."""
    if library in ALLOWED_LIBRARIES:
        return True
    if not isinstance(library, str) or not library.isidentifier():
        return False
    import importlib.util

    try:
        return importlib.util.find_spec(f"diffusers.pipelines.{library}") is not None
    except ImportError:
        return False


def inspect_weights(path: str | Path, *, should_stop: Callable[[], bool] | None = None) -> WeightsFolder:
    """Check a diffusers pipeline folder and hash it; refuses pickles and custom code with one-line errors."""
    from reelforge.training.weights import check_safetensors_file

    folder = Path(path).expanduser()
    if not folder.exists():
        raise NotFound(f"no diffusion weights folder at {folder}")
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder: give a diffusers pipeline folder (with model_index.json)")
    folder = folder.resolve()
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        pickles = _pickles([f for f in folder.iterdir() if f.is_file()])
        if pickles:
            raise InvalidInput(f"{folder}: {pickles[0].name} is a pickled checkpoint; reelforge loads diffusers "
                               "pipeline folders with .safetensors weights only")
        raise InvalidInput(f"{folder} is not a diffusers pipeline folder (no model_index.json)")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"{index_path}: not valid JSON ({exc})") from None
    if not isinstance(index, dict):
        raise InvalidInput(f"{index_path}: not a pipeline index")
    pipeline = index.get("_class_name")
    if not isinstance(pipeline, str) or not pipeline.isidentifier():
        raise InvalidInput(f"{index_path}: _class_name must name a diffusers pipeline (custom pipeline code is "
                           f"not loaded), got {pipeline!r}")
    components: dict[str, tuple[str, str]] = {}
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or len(value) != 2 or value == [None, None]:
            continue
        library, cls = value
        if not name.isidentifier():  # it names a subfolder: no "../" ever
            raise InvalidInput(f"{index_path}: {name!r} is not a component name")
        if not _allowed_library(library) or not isinstance(cls, str) or not cls.isidentifier():
            raise InvalidInput(f"{folder}: component {name} is {library}.{cls}; only diffusers and transformers "
                               "components are loaded (no custom code)")
        if not (folder / name).is_dir():
            raise InvalidInput(f"{folder}: component {name} has no folder")
        components[name] = (library, cls)
    if not components:
        raise InvalidInput(f"{index_path}: names no pipeline components")
    loadable = [index_path]
    for name in components:
        files = _files(folder / name)
        weights = [f for f in files if f.name.endswith(".safetensors")]
        pickles = _pickles(files)
        if pickles and not weights:
            raise InvalidInput(f"{folder}: {name}/{pickles[0].name} is a pickled weight file and {name} has no "
                               ".safetensors weights; reelforge loads safetensors only (re-save with "
                               "safe_serialization=True)")
        for w in weights:
            try:
                check_safetensors_file(w)
            except InvalidInput as exc:
                raise InvalidInput(f"{folder}: {name}/{exc}") from None
        loadable += [f for f in files if f not in pickles]  # pickles beside safetensors are never read
    hashes = {f.relative_to(folder).as_posix(): _sha256(f, should_stop) for f in loadable}
    manifest = "".join(f"{rel}\t{digest}\n" for rel, digest in sorted(hashes.items()))
    return WeightsFolder(
        path=folder, pipeline=pipeline, components=components,
        sha256=hashlib.sha256(manifest.encode()).hexdigest(), files=len(hashes),
        bytes=sum(f.stat().st_size for f in loadable), file_hashes=hashes,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic kernels for one generation, the caller's settings restored afterwards."""
    import torch

    was = torch.are_deterministic_algorithms_enabled()
    warn = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


@contextmanager
def _quiet() -> Iterator[None]:
    """No loading progress bars or info chatter from diffusers/transformers in a worker's output."""
    import importlib

    saved = []
    for name in ("diffusers", "transformers"):
        try:
            logging = importlib.import_module(f"{name}.utils.logging")
        except ImportError:
            continue
        saved.append((logging, logging.get_verbosity(), logging.is_progress_bar_enabled()))
        logging.set_verbosity_error()
        logging.disable_progress_bar()
    try:
        yield
    finally:
        for logging, verbosity, bars in saved:
            logging.set_verbosity(verbosity)
            if bars:
                logging.enable_progress_bar()


def _dtype(device: str, precision: str) -> Any:
    import torch

    if precision not in PRECISIONS:
        raise InvalidInput(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if not device.startswith("cuda"):
        if precision not in ("auto", "float32"):
            raise InvalidInput(f"precision {precision} needs a CUDA device; on {device} generation runs in float32")
        return torch.float32
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return getattr(torch, precision)


class TextToImage:
    """A loaded text-to-image pipeline: ``generate`` one image per call from a prompt and a seed."""

    def __init__(self, weights: WeightsFolder, *, device: str = "cpu", precision: str = "auto",
                 scheduler: str = "default") -> None:
        self.weights, self.device = weights, str(device)
        self.dtype = _dtype(self.device, precision)
        if self.device.startswith("cuda"):
            # Only effective before cuBLAS starts in this process; deterministic GEMMs need it.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # Belt and braces: the path is a local folder and local_files_only is set, so nothing is fetched.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
        try:
            import diffusers
        except ImportError:
            raise InvalidInput("text to image needs the diffusion extra: pip install 'reelforge[diffusion]'") from None
        with _quiet():  # importing a pipeline imports transformers' processors, which warn at import
            cls = getattr(diffusers, weights.pipeline, None)
        if not (isinstance(cls, type) and issubclass(cls, diffusers.DiffusionPipeline)):
            raise InvalidInput(f"{weights.path}: {weights.pipeline} is not a pipeline of diffusers {diffusers.__version__}")
        call = inspect.signature(cls.__call__).parameters
        if "prompt" not in call or "callback_on_step_end" not in call or "generator" not in call:
            raise InvalidInput(f"{weights.path}: {weights.pipeline} is not a text-to-image pipeline")
        self._call_params = set(call)
        try:
            with _quiet():
                pipe = cls.from_pretrained(str(weights.path), local_files_only=True, use_safetensors=True,
                                           trust_remote_code=False, dtype=self.dtype)
        except (OSError, ValueError, RuntimeError, TypeError, KeyError, ImportError) as exc:
            raise InvalidInput(f"{weights.path}: could not load the pipeline ({_first_line(exc)})") from None
        if scheduler != "default":
            pipe.scheduler = self._scheduler(diffusers, pipe.scheduler, scheduler)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(self.device)
        self.diffusers_version = diffusers.__version__

    def _scheduler(self, diffusers: Any, current: Any, name: str) -> Any:
        if name not in SCHEDULERS:
            raise InvalidInput(f"unknown scheduler {name!r}: use default or one of {', '.join(SCHEDULERS)}")
        cls = getattr(diffusers, SCHEDULERS[name])
        compatible = {c.__name__ for c in getattr(current, "compatibles", ())} | {type(current).__name__}
        if cls.__name__ not in compatible:
            raise InvalidInput(f"scheduler {name} does not fit {self.weights.pipeline} (it uses "
                               f"{type(current).__name__})")
        return cls.from_config(current.config)

    @property
    def scheduler(self) -> str:
        return type(self.pipe.scheduler).__name__

    def native_size(self) -> tuple[int, int]:
        """(width, height) the pipeline generates when none is given."""
        scale = int(getattr(self.pipe, "vae_scale_factor", 8) or 8)
        sample = getattr(self.pipe, "default_sample_size", None)
        if sample is None:
            net = getattr(self.pipe, "unet", None) or getattr(self.pipe, "transformer", None)
            sample = getattr(getattr(net, "config", None), "sample_size", None)
        if isinstance(sample, (list, tuple)):
            return int(sample[-1]) * scale, int(sample[0]) * scale
        side = int(sample) * scale if sample else 512
        return side, side

    def record(self) -> dict[str, Any]:
        """The settings every image of this pipeline shares, for provenance."""
        config = {k: v for k, v in dict(self.pipe.scheduler.config).items() if not k.startswith("_")}
        return {**self.weights.record(), "scheduler": self.scheduler,
                "scheduler_config": json.loads(json.dumps(config, default=str)),
                "dtype": str(self.dtype).removeprefix("torch."), "device": self.device,
                "diffusers_version": self.diffusers_version}

    def generate(
        self,
        prompt: str,
        *,
        seed: int,
        steps: int = 30,
        guidance: float = 7.5,
        negative_prompt: str | None = None,
        width: int | None = None,
        height: int | None = None,
        on_step: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """One image as uint8 (H, W, 3); ``on_step(done, steps)`` after every denoising step."""
        import torch

        from reelforge.training.seeds import seeded_generator

        if negative_prompt and "negative_prompt" not in self._call_params:
            raise InvalidInput(f"{self.weights.pipeline} takes no negative prompt")
        native_w, native_h = self.native_size()
        kwargs: dict[str, Any] = {
            "prompt": prompt, "num_inference_steps": int(steps), "guidance_scale": float(guidance),
            "width": int(width or native_w), "height": int(height or native_h), "output_type": "np",
            "num_images_per_prompt": 1, "generator": seeded_generator(seed, "cpu"),
        }
        if negative_prompt:
            kwargs["negative_prompt"] = negative_prompt

        def step_end(pipe: Any, i: int, t: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            if on_step is not None:
                on_step(i + 1, int(steps))
            if should_stop is not None and should_stop():
                raise Cancelled("generation stopped")
            return callback_kwargs

        kwargs["callback_on_step_end"] = step_end
        try:
            with _deterministic(), torch.inference_mode():
                out = self.pipe(**kwargs)
        except (ValueError, TypeError) as exc:  # diffusers' check_inputs: sizes, prompt lengths...
            raise InvalidInput(f"{self.weights.pipeline}: {_first_line(exc)}") from None
        images = np.asarray(out.images, dtype=np.float32)
        if not np.isfinite(images).all():
            raise InvalidInput(f"{self.weights.pipeline} produced NaN pixels at {self.dtype!s}: try "
                               "precision float32")
        return (np.clip(images[0], 0.0, 1.0) * 255.0).round().astype(np.uint8)
