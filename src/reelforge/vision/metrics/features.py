"""Feature extraction shared by the feature-based metrics (KID, FID).

:class:`FeatureNet` wraps a frozen network (InceptionV3 pool3 or a tiny conv net) loaded strictly
from a local ``.safetensors`` file, or a fixed-seed random conv net; it turns images in either
convention into float64 ``(N, D)`` features and labels itself so numbers from different
extractors are never mixed up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from reelforge.errors import InvalidInput
from reelforge.vision.classify.data import ImageBatch, batch_size_of, to_float_nchw
from reelforge.vision.metrics.common import ProgressFn, StopFn, check_stop
from reelforge.vision.metrics.networks import InceptionV3Features, TinyConvNet

__all__ = ["FeatureNet", "pair_features", "random_feature_extractor"]

_ARCHS = ("inception_v3", "inception_v3_fid", "tiny")
# Classifier heads of a full Inception checkpoint: allowed in the file, not used for pool3 features.
_IGNORED_PREFIXES = {
    "inception_v3": ("fc.", "AuxLogits."),
    "inception_v3_fid": ("fc.", "AuxLogits."),
    "tiny": (),
}


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise InvalidInput(f"weights file not found: {path}")
    if path.suffix != ".safetensors":
        raise InvalidInput(f"weights must be a .safetensors file, got {path.name}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InvalidInput(f"{path.name} is not a valid safetensors file: {exc}") from exc
    return tensors, dict(meta)


class FeatureNet:
    """A frozen image feature extractor: images in (either convention), float64 (N, dim) features out.

    ``label`` names the extractor in metric results (e.g. ``inception_v3(sha256=…)`` or
    ``random-conv(seed=0)``) so numbers from different extractors are never mixed up.
    """

    def __init__(
        self, net: nn.Module, *, arch: str, label: str, input_size: int | None, antialias: bool
    ) -> None:
        if arch not in _ARCHS:
            raise InvalidInput(f"unknown feature arch {arch!r} (choose from {', '.join(_ARCHS)})")
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.arch = arch
        self.label = label
        self.input_size = input_size
        self.antialias = antialias
        self.dim = int(net.dim)  # type: ignore[arg-type]

    @staticmethod
    def build(arch: str, *, widths: tuple[int, ...] = (32, 64, 128, 256)) -> nn.Module:
        """Un-initialised network of the given arch (torch default init)."""
        if arch == "inception_v3":
            return InceptionV3Features(fid_variant=False)
        if arch == "inception_v3_fid":
            return InceptionV3Features(fid_variant=True)
        if arch == "tiny":
            return TinyConvNet(widths)
        raise InvalidInput(f"unknown feature arch {arch!r} (choose from {', '.join(_ARCHS)})")

    @classmethod
    def from_safetensors(
        cls, path: str | Path, arch: str = "inception_v3", *, input_size: int | None = None
    ) -> FeatureNet:
        """Load weights from a local ``.safetensors`` file with strict key and shape matching.

        Inception files may also carry the classifier heads (``fc.*``, ``AuxLogits.*``); they are
        ignored. BatchNorm ``num_batches_tracked`` counters are optional. ``input_size`` defaults to 299
        for Inception and to the native image size for ``tiny``.
        """
        if arch not in _ARCHS:
            raise InvalidInput(f"unknown feature arch {arch!r} (choose from {', '.join(_ARCHS)})")
        p = Path(path)
        tensors, _meta = _read_safetensors(p)
        if arch == "tiny":
            net: nn.Module = TinyConvNet.from_shapes({k: tuple(v.shape) for k, v in tensors.items()})
        else:
            net = cls.build(arch)
        expected = net.state_dict()
        ignored = _IGNORED_PREFIXES[arch]
        missing = sorted(k for k in expected if k not in tensors and not k.endswith("num_batches_tracked"))
        unexpected = sorted(k for k in tensors if k not in expected and not k.startswith(ignored))
        if missing or unexpected:
            raise InvalidInput(
                f"{p.name} does not match arch {arch}: {len(missing)} missing keys {missing[:3]}, "
                f"{len(unexpected)} unexpected keys {unexpected[:3]}"
            )
        for k, ref in expected.items():
            if k in tensors and tuple(tensors[k].shape) != tuple(ref.shape):
                raise InvalidInput(
                    f"{p.name}: {k} has shape {tuple(tensors[k].shape)}, arch {arch} expects "
                    f"{tuple(ref.shape)}"
                )
        net.load_state_dict(
            {k: tensors[k].to(ref.dtype) for k, ref in expected.items() if k in tensors}, strict=False
        )
        digest = _file_digest(p)[:12]
        name = "tiny-conv" if arch == "tiny" else arch
        size = input_size if input_size is not None else (None if arch == "tiny" else 299)
        # Inception FID references resize without antialiasing (pytorch-fid / TF graph).
        return cls(
            net, arch=arch, label=f"{name}(sha256={digest})", input_size=size, antialias=arch == "tiny"
        )

    def save_safetensors(self, path: str | Path) -> Path:
        """Write the weights (for fixtures, or to freeze a random extractor)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        save_file(tensors, str(p), metadata={"arch": self.arch, "label": self.label})
        return p

    def to(self, device: str | torch.device) -> FeatureNet:
        self.net.to(device)
        return self

    def features(
        self,
        images: ImageBatch,
        *,
        batch_size: int = 32,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> np.ndarray:
        """Pooled features, float64 (N, dim)."""
        n = batch_size_of(images)
        device = next(self.net.parameters()).device
        out = np.empty((n, self.dim), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                check_stop(should_stop, "feature extraction")
                x = to_float_nchw(
                    images[start : start + batch_size],
                    channels=3,
                    size=self.input_size,
                    antialias=self.antialias,
                )
                out[start : start + x.shape[0]] = self.net(x.to(device)).double().cpu().numpy()
                if progress is not None:
                    progress(min(n, start + batch_size), n, f"features ({self.label})")
        return out


def random_feature_extractor(
    seed: int = 0, dim: int = 256, *, width: int = 32, input_size: int | None = 64
) -> FeatureNet:
    """Fixed-seed random conv net (widths width, 2w, 4w, dim) with global-average-pooled features.

    Needs no weights; results are only comparable with other results of the same seed/dim/size.
    """
    if dim < 1 or width < 1:
        raise InvalidInput("dim and width must be positive")
    net = TinyConvNet((width, 2 * width, 4 * width, dim))
    net.init_random(seed)
    return FeatureNet(
        net, arch="tiny", label=f"random-conv(seed={seed})", input_size=input_size, antialias=True
    )


def pair_features(
    real: ImageBatch,
    fake: ImageBatch,
    net: FeatureNet,
    batch_size: int,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Features of both sets with one progress count over all images."""
    n_real, n_fake = batch_size_of(real), batch_size_of(fake)
    if n_real < 2 or n_fake < 2:
        raise InvalidInput(f"need at least 2 real and 2 fake images, got {n_real} and {n_fake}")
    total = n_real + n_fake

    def sub(offset: int) -> ProgressFn | None:
        if progress is None:
            return None
        return lambda done, _t, msg: progress(offset + done, total, msg)

    fr = net.features(real, batch_size=batch_size, progress=sub(0), should_stop=should_stop)
    ff = net.features(fake, batch_size=batch_size, progress=sub(n_real), should_stop=should_stop)
    return fr, ff

