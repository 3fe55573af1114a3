"""Image-quality metrics for generated images that need no downloaded weights.

Inputs (see ``reelforge.vision.classify.data``): either uint8 numpy arrays ``(N, H, W, C)`` with
``C`` in {1, 3} and values 0..255, or float torch tensors ``(N, C, H, W)`` in ``[-1, 1]`` (generator
output). Feature arrays are float ``(N, D)`` numpy arrays.

* :func:`swd` multi-scale sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al.
  2018, "Progressive Growing of GANs", appendix D), written from the paper's description.
* :func:`kid` / :func:`fid_from_features` generic KID (unbiased MMD², cubic polynomial kernel, in
  subsets) and Frechet distance on any features.
* :func:`kid_random_features` KID on a fixed-seed *random* conv net: comparable between runs that use
  the same seed, NOT comparable with published KID numbers (those use Inception features).
* :class:`FeatureNet` InceptionV3 pool3 (2048-d) or a tiny conv net, loaded strictly from a local
  ``.safetensors`` file the user provides; :func:`fid` / :func:`kid_images` / :func:`fid_and_kid`.
* :func:`classifier_accuracy` per-requested-class accuracy of a classifier on generated images.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from reelforge.errors import Cancelled, InvalidInput
from reelforge.vision.classify.data import ImageBatch, batch_size_of, image_hw, to_float_nchw, validate_labels

ProgressFn = Callable[[int, int, str], None]
StopFn = Callable[[], bool]

__all__ = [
    "FIDResult",
    "FeatureNet",
    "InceptionV3Features",
    "KIDResult",
    "SWDResult",
    "TinyConvNet",
    "classifier_accuracy",
    "fid",
    "fid_and_kid",
    "fid_from_features",
    "frechet_distance",
    "kid",
    "kid_images",
    "kid_random_features",
    "laplacian_pyramid",
    "random_feature_extractor",
    "sliced_wasserstein",
    "swd",
]


def _check_stop(should_stop: StopFn | None, what: str) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled(f"{what} cancelled")


# ---------------------------------------------------------------------------------------------------
# Sliced Wasserstein distance on Laplacian pyramids
# ---------------------------------------------------------------------------------------------------

_PATCH = 7
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


@dataclass
class SWDResult:
    """Per-level SWD (x1e3, keyed by the level's shorter side: 64, 32, 16, ...) and their average."""

    levels: dict[int, float]
    mean: float
    n_real: int = 0
    n_fake: int = 0
    seed: int = 0
    params: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "levels": {str(k): v for k, v in self.levels.items()},
            "mean": self.mean,
            "n_real": self.n_real,
            "n_fake": self.n_fake,
            "seed": self.seed,
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SWDResult:
        return cls(
            levels={int(k): float(v) for k, v in d["levels"].items()},
            mean=float(d["mean"]),
            n_real=int(d.get("n_real", 0)),
            n_fake=int(d.get("n_fake", 0)),
            seed=int(d.get("seed", 0)),
            params={str(k): int(v) for k, v in d.get("params", {}).items()},
        )


def _blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable 5-tap blur per channel with reflect padding (replicate for tiny images)."""
    c = x.shape[1]
    mode = "reflect" if min(x.shape[-2:]) > 2 else "replicate"
    x = F.pad(x, (2, 2, 2, 2), mode=mode)
    kh = kernel.view(1, 1, 1, 5).expand(c, 1, 1, 5).to(x.dtype)
    kv = kernel.view(1, 1, 5, 1).expand(c, 1, 5, 1).to(x.dtype)
    return F.conv2d(F.conv2d(x, kh, groups=c), kv, groups=c)


def _pyr_down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x, _BINOMIAL)[:, :, ::2, ::2]


def _pyr_up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    n, c, h, w = x.shape
    up = x.new_zeros((n, c, 2 * h, 2 * w))
    up[:, :, ::2, ::2] = x
    # Zero insertion keeps 1/4 of the samples: a 2x gain per axis restores the mean.
    return _blur(up, _BINOMIAL * 2.0)[:, :, : size[0], : size[1]]


def _n_levels(h: int, w: int, min_res: int) -> int:
    levels, side = 0, min(h, w)
    while side >= min_res:
        levels += 1
        side //= 2
    return levels


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Laplacian pyramid of a float (N, C, H, W) batch: band-pass levels, then the low-pass residual."""
    out: list[torch.Tensor] = []
    cur = x
    for _ in range(levels - 1):
        down = _pyr_down(cur)
        out.append(cur - _pyr_up(down, (cur.shape[-2], cur.shape[-1])))
        cur = down
    out.append(cur)
    return out


def _normalise_descriptors(desc: torch.Tensor) -> torch.Tensor:
    """Zero mean / unit std per colour channel over the whole descriptor set, then flatten."""
    mean = desc.mean(dim=(0, 2, 3), keepdim=True)
    std = desc.std(dim=(0, 2, 3), keepdim=True)
    return ((desc - mean) / std.clamp_min(1e-8)).flatten(1)


def _descriptors(
    images: ImageBatch,
    n_levels: int,
    positions: list[tuple[np.ndarray, np.ndarray]],
    batch_size: int,
    should_stop: StopFn | None,
) -> list[torch.Tensor]:
    """Random 7x7 neighbourhoods of every pyramid level: list of (N * n_descriptors, C*49)."""
    n = batch_size_of(images)
    per_level: list[list[torch.Tensor]] = [[] for _ in range(n_levels)]
    offs = torch.arange(_PATCH)
    for start in range(0, n, batch_size):
        _check_stop(should_stop, "SWD")
        x = to_float_nchw(images[start : start + batch_size], channels=3)
        for lvl, band in enumerate(laplacian_pyramid(x, n_levels)):
            ys, xs = positions[lvl]
            ys_b = torch.from_numpy(ys[start : start + x.shape[0]])  # (B, D)
            xs_b = torch.from_numpy(xs[start : start + x.shape[0]])
            b = torch.arange(x.shape[0]).view(-1, 1, 1, 1)
            yy = ys_b[:, :, None, None] + offs.view(1, 1, -1, 1)  # (B, D, 7, 1)
            xx = xs_b[:, :, None, None] + offs.view(1, 1, 1, -1)  # (B, D, 1, 7)
            patches = band.permute(0, 2, 3, 1)[b, yy, xx]  # (B, D, 7, 7, C)
            per_level[lvl].append(patches.flatten(0, 1).permute(0, 3, 1, 2))
    return [_normalise_descriptors(torch.cat(chunks)) for chunks in per_level]


def _wasserstein_1d_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact W1 between empirical 1-D distributions given sorted samples (one row per projection)."""
    n, m = a.shape[1], b.shape[1]
    if n == m:
        return np.abs(a - b).mean(axis=1, dtype=np.float64)
    # Quantile functions are step functions: integrate |Qa - Qb| over the merged breakpoints.
    t = np.unique(np.concatenate([np.arange(1, n + 1) / n, np.arange(1, m + 1) / m]))
    widths = np.diff(np.concatenate([[0.0], t]))
    mids = t - widths / 2
    ia = np.minimum((mids * n).astype(np.int64), n - 1)
    ib = np.minimum((mids * m).astype(np.int64), m - 1)
    return (np.abs(a[:, ia] - b[:, ib]) * widths[None, :]).sum(axis=1)


def sliced_wasserstein(
    a: torch.Tensor | np.ndarray,
    b: torch.Tensor | np.ndarray,
    *,
    n_projections: int = 512,
    n_repeats: int = 4,
    rng: np.random.Generator | None = None,
) -> float:
    """Sliced W1 between point sets a (n, d) and b (m, d): mean over random unit directions,
    ``n_projections`` fresh directions per repeat, averaged over ``n_repeats``."""
    na = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    nb = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    if na.ndim != 2 or nb.ndim != 2 or na.shape[1] != nb.shape[1]:
        raise InvalidInput(f"point sets must be (n, d) with the same d, got {na.shape} and {nb.shape}")
    if na.shape[0] == 0 or nb.shape[0] == 0:
        raise InvalidInput("point sets must not be empty")
    if n_projections < 1 or n_repeats < 1:
        raise InvalidInput("n_projections and n_repeats must be positive")
    rng = rng if rng is not None else np.random.default_rng(0)
    # float32 (d, n) layouts: projections come out as contiguous rows, which sort fastest.
    at = np.ascontiguousarray(na.T, dtype=np.float32)
    bt = np.ascontiguousarray(nb.T, dtype=np.float32)
    d = at.shape[0]
    # Bound the (projections x points) working set to ~16M values per chunk.
    chunk = max(1, min(n_projections, (1 << 24) // max(at.shape[1], bt.shape[1])))
    repeats = []
    for _ in range(n_repeats):
        dirs = rng.standard_normal((n_projections, d))
        dirs = (dirs / np.maximum(np.linalg.norm(dirs, axis=1, keepdims=True), 1e-12)).astype(np.float32)
        dists = []
        for s in range(0, n_projections, chunk):
            pa = np.sort(dirs[s : s + chunk] @ at, axis=1)
            pb = np.sort(dirs[s : s + chunk] @ bt, axis=1)
            dists.append(_wasserstein_1d_sorted(pa, pb))
        repeats.append(float(np.concatenate(dists).mean()))
    return float(np.mean(repeats))


def swd(
    real: ImageBatch,
    fake: ImageBatch,
    *,
    seed: int = 0,
    n_descriptors: int = 128,
    n_projections: int = 512,
    n_repeats: int = 4,
    min_res: int = 16,
    batch_size: int = 64,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> SWDResult:
    """Multi-scale sliced Wasserstein distance between two image sets of the same size.

    Laplacian pyramid from full resolution down to ``min_res``; ``n_descriptors`` random 7x7
    neighbourhoods per image and level; each colour channel normalised per level and per set by its
    descriptor-set mean/std; sliced W1 with ``n_projections`` directions x ``n_repeats``. Values are
    multiplied by 1e3 as in the paper. Deterministic for a given ``seed``.
    """
    n_real, n_fake = batch_size_of(real), batch_size_of(fake)
    if n_real < 1 or n_fake < 1:
        raise InvalidInput("SWD needs at least one image in each set")
    hw_real, hw_fake = image_hw(real), image_hw(fake)
    if hw_real != hw_fake:
        raise InvalidInput(f"SWD needs images of the same size, got {hw_real} and {hw_fake}")
    if min_res < _PATCH + 1:
        raise InvalidInput(f"min_res must be at least {_PATCH + 1}, got {min_res}")
    if n_descriptors < 1 or n_real * n_descriptors < 2 or n_fake * n_descriptors < 2:
        raise InvalidInput("SWD needs at least 2 descriptors per set")
    h, w = hw_real
    n_levels = _n_levels(h, w, min_res)
    if n_levels == 0:
        raise InvalidInput(f"images of {h}x{w} are smaller than min_res={min_res}")

    sizes = []
    hh, ww = h, w
    for _ in range(n_levels):
        sizes.append((hh, ww))
        hh, ww = (hh + 1) // 2, (ww + 1) // 2

    def positions(n: int, stream: int) -> list[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([seed, stream])
        return [
            (
                rng.integers(0, sh - _PATCH + 1, size=(n, n_descriptors)),
                rng.integers(0, sw - _PATCH + 1, size=(n, n_descriptors)),
            )
            for sh, sw in sizes
        ]

    total = 2 + n_levels
    if progress is not None:
        progress(0, total, "SWD: extracting real descriptors")
    desc_real = _descriptors(real, n_levels, positions(n_real, 0), batch_size, should_stop)
    if progress is not None:
        progress(1, total, "SWD: extracting fake descriptors")
    desc_fake = _descriptors(fake, n_levels, positions(n_fake, 1), batch_size, should_stop)
    levels: dict[int, float] = {}
    for lvl, (sh, sw) in enumerate(sizes):
        _check_stop(should_stop, "SWD")
        if progress is not None:
            progress(2 + lvl, total, f"SWD: level {min(sh, sw)}")
        value = sliced_wasserstein(
            desc_real[lvl],
            desc_fake[lvl],
            n_projections=n_projections,
            n_repeats=n_repeats,
            rng=np.random.default_rng([seed, 2, lvl]),
        )
        levels[min(sh, sw)] = value * 1e3
    if progress is not None:
        progress(total, total, "SWD: done")
    return SWDResult(
        levels=levels,
        mean=float(np.mean(list(levels.values()))),
        n_real=n_real,
        n_fake=n_fake,
        seed=seed,
        params={
            "n_descriptors": n_descriptors,
            "n_projections": n_projections,
            "n_repeats": n_repeats,
            "min_res": min_res,
        },
    )


# ---------------------------------------------------------------------------------------------------
# Distances on features: KID and FID
# ---------------------------------------------------------------------------------------------------


def _features_2d(feats: np.ndarray | torch.Tensor, name: str, min_rows: int) -> np.ndarray:
    arr = feats.detach().cpu().numpy() if isinstance(feats, torch.Tensor) else np.asarray(feats)
    if arr.ndim != 2:
        raise InvalidInput(f"{name} features must be a 2-D (N, D) array, got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise InvalidInput(f"{name} features need at least {min_rows} rows, got {arr.shape[0]}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InvalidInput(f"{name} features contain NaN or infinite values")
    return arr


def kid(
    real_feats: np.ndarray | torch.Tensor,
    fake_feats: np.ndarray | torch.Tensor,
    subsets: int = 10,
    subset_size: int | None = None,
    *,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel inception distance: mean and std over ``subsets`` random subsets of the unbiased MMD²
    with kernel k(x, y) = (x·y / d + 1)³. ``subset_size`` defaults to min(1000, n_real, n_fake)."""
    x = _features_2d(real_feats, "real", 2)
    y = _features_2d(fake_feats, "fake", 2)
    if x.shape[1] != y.shape[1]:
        raise InvalidInput(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    if subsets < 1:
        raise InvalidInput(f"subsets must be positive, got {subsets}")
    m = min(1000, x.shape[0], y.shape[0]) if subset_size is None else int(subset_size)
    if m < 2 or m > x.shape[0] or m > y.shape[0]:
        raise InvalidInput(f"subset_size must be in [2, {min(x.shape[0], y.shape[0])}], got {m}")
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        a = x[rng.choice(x.shape[0], m, replace=False)]
        b = y[rng.choice(y.shape[0], m, replace=False)]
        k_xx = (a @ a.T / d + 1.0) ** 3
        k_yy = (b @ b.T / d + 1.0) ** 3
        k_xy = (a @ b.T / d + 1.0) ** 3
        same = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        values[i] = same - 2.0 * k_xy.sum() / (m * m)
    return float(values.mean()), float(values.std())


def _trace_sqrt_product_eigh(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr((S1 S2)^½) via the symmetric form S1^½ S2 S1^½: two eigendecompositions, no complex parts."""
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = root1 @ s2 @ root1
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2.0), 0.0, None)).sum())


def _trace_sqrt_product_sqrtm(s1: np.ndarray, s2: np.ndarray, eps: float) -> float:
    """Tr((S1 S2)^½) with scipy.linalg.sqrtm, as the reference FID code does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():
            # Singular product (fewer samples than dimensions): regularise both covariances slightly.
            offset = np.eye(s1.shape[0]) * eps
            covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if not np.isfinite(covmean).all():
        return _trace_sqrt_product_eigh(s1, s2)
    if np.iscomplexobj(covmean):
        # Small imaginary parts are round-off of sqrtm on a near-singular product; large ones mean
        # sqrtm went astray, and the symmetric eigen form gives the same trace stably.
        if not np.allclose(
            np.diagonal(covmean).imag, 0.0, atol=1e-3 * max(1.0, float(np.abs(covmean).max()))
        ):
            return _trace_sqrt_product_eigh(s1, s2)
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    *,
    eps: float = 1e-6,
    method: str = "sqrtm",
) -> float:
    """||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^½).

    ``method="sqrtm"`` (default) uses scipy.linalg.sqrtm like the reference implementations, taking
    the real part when round-off makes it complex; ``method="eigh"`` computes the same trace from
    two symmetric eigendecompositions (several times faster at 2048-d, exact for PSD inputs).
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise InvalidInput("means and covariances must have matching shapes")
    if method == "sqrtm":
        tr_covmean = _trace_sqrt_product_sqrtm(s1, s2, eps)
    elif method == "eigh":
        tr_covmean = _trace_sqrt_product_eigh(s1, s2)
    else:
        raise InvalidInput(f"unknown Frechet method {method!r} (choose sqrtm or eigh)")
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(value, 0.0)


def fid_from_features(
    real_feats: np.ndarray | torch.Tensor, fake_feats: np.ndarray | torch.Tensor, *, method: str = "sqrtm"
) -> float:
    """Frechet distance between Gaussians fitted to two feature sets."""
    x = _features_2d(real_feats, "real", 2)
    y = _features_2d(fake_feats, "fake", 2)
    if x.shape[1] != y.shape[1]:
        raise InvalidInput(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    return frechet_distance(
        x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False), method=method
    )


# ---------------------------------------------------------------------------------------------------
# Feature extractors
# ---------------------------------------------------------------------------------------------------


class TinyConvNet(nn.Module):
    """A small conv net (3x3 convs, stride 2 after the first, ReLU) with global average pooling.

    Used as the fixed-seed random feature extractor and as a cheap stand-in for Inception in tests.
    Keys: ``convs.{i}.weight`` / ``convs.{i}.bias``; widths are inferred from the shapes on load.
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256), in_channels: int = 3) -> None:
        super().__init__()
        if not widths:
            raise InvalidInput("TinyConvNet needs at least one layer")
        layers = []
        c = in_channels
        for i, w in enumerate(widths):
            layers.append(nn.Conv2d(c, w, kernel_size=3, stride=1 if i == 0 else 2, padding=1))
            c = w
        self.convs = nn.ModuleList(layers)
        self.dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.relu(conv(x))
        return x.mean(dim=(2, 3))

    def init_random(self, seed: int) -> None:
        g = torch.Generator().manual_seed(int(seed))
        for conv in self.convs:
            assert isinstance(conv, nn.Conv2d)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu", generator=g)
            nn.init.zeros_(conv.bias)  # type: ignore[arg-type]

    @classmethod
    def from_shapes(cls, shapes: dict[str, tuple[int, ...]]) -> TinyConvNet:
        n = 0
        while f"convs.{n}.weight" in shapes:
            n += 1
        if n == 0:
            raise InvalidInput("weights are not a tiny conv net (no convs.0.weight)")
        widths = tuple(int(shapes[f"convs.{i}.weight"][0]) for i in range(n))
        first = shapes["convs.0.weight"]
        if len(first) == 4 and int(first[1]) != 3:
            raise InvalidInput(f"tiny conv net must take 3 input channels, weights expect {first[1]}")
        return cls(widths)


class _BasicConv(nn.Module):
    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor, tf_pool: bool) -> torch.Tensor:
    # TensorFlow's average pool (the FID reference graph) ignores padded zeros.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=not tf_pool)


class _InceptionA(nn.Module):
    def __init__(self, c_in: int, pool_features: int, tf_pool: bool) -> None:
        super().__init__()
        self.tf_pool = tf_pool
        self.branch1x1 = _BasicConv(c_in, 64, 1)
        self.branch5x5_1 = _BasicConv(c_in, 48, 1)
        self.branch5x5_2 = _BasicConv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _BasicConv(c_in, 64, 1)
        self.branch3x3dbl_2 = _BasicConv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _BasicConv(96, 96, 3, padding=1)
        self.branch_pool = _BasicConv(c_in, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg3(x, self.tf_pool))
        return torch.cat([self.branch1x1(x), b5, b3, bp], 1)


class _InceptionB(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = _BasicConv(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = _BasicConv(c_in, 64, 1)
        self.branch3x3dbl_2 = _BasicConv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _BasicConv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class _InceptionC(nn.Module):
    def __init__(self, c_in: int, c7: int, tf_pool: bool) -> None:
        super().__init__()
        self.tf_pool = tf_pool
        self.branch1x1 = _BasicConv(c_in, 192, 1)
        self.branch7x7_1 = _BasicConv(c_in, c7, 1)
        self.branch7x7_2 = _BasicConv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _BasicConv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _BasicConv(c_in, c7, 1)
        self.branch7x7dbl_2 = _BasicConv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _BasicConv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _BasicConv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _BasicConv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _BasicConv(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_avg3(x, self.tf_pool))
        return torch.cat([self.branch1x1(x), b7, bd, bp], 1)


class _InceptionD(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3_1 = _BasicConv(c_in, 192, 1)
        self.branch3x3_2 = _BasicConv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _BasicConv(c_in, 192, 1)
        self.branch7x7x3_2 = _BasicConv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _BasicConv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _BasicConv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class _InceptionE(nn.Module):
    def __init__(self, c_in: int, pool: str) -> None:
        super().__init__()
        self.pool = pool  # "avg" (torchvision), "avg_tf" (TF graph) or "max" (TF graph's last block)
        self.branch1x1 = _BasicConv(c_in, 320, 1)
        self.branch3x3_1 = _BasicConv(c_in, 384, 1)
        self.branch3x3_2a = _BasicConv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _BasicConv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _BasicConv(c_in, 448, 1)
        self.branch3x3dbl_2 = _BasicConv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _BasicConv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _BasicConv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _BasicConv(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.pool == "max":
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _avg3(x, self.pool == "avg_tf")
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)


class InceptionV3Features(nn.Module):
    """InceptionV3 trunk up to pool3 (2048-d), parameter names as in torchvision's ``Inception3``.

    ``fid_variant=True`` reproduces the pooling quirks of the TensorFlow FID graph (as ported by
    pytorch-fid): average pools ignore padding and the last block max-pools. Input: float (N,3,299,299)
    in [-1, 1].
    """

    def __init__(self, fid_variant: bool = False) -> None:
        super().__init__()
        tf = fid_variant
        self.Conv2d_1a_3x3 = _BasicConv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _BasicConv(32, 32, 3)
        self.Conv2d_2b_3x3 = _BasicConv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _BasicConv(64, 80, 1)
        self.Conv2d_4a_3x3 = _BasicConv(80, 192, 3)
        self.Mixed_5b = _InceptionA(192, 32, tf)
        self.Mixed_5c = _InceptionA(256, 64, tf)
        self.Mixed_5d = _InceptionA(288, 64, tf)
        self.Mixed_6a = _InceptionB(288)
        self.Mixed_6b = _InceptionC(768, 128, tf)
        self.Mixed_6c = _InceptionC(768, 160, tf)
        self.Mixed_6d = _InceptionC(768, 160, tf)
        self.Mixed_6e = _InceptionC(768, 192, tf)
        self.Mixed_7a = _InceptionD(768)
        self.Mixed_7b = _InceptionE(1280, "avg_tf" if tf else "avg")
        self.Mixed_7c = _InceptionE(2048, "max" if tf else "avg")
        self.dim = 2048

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        return x.mean(dim=(2, 3))


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
                _check_stop(should_stop, "feature extraction")
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


@dataclass
class FIDResult:
    fid: float
    feature_extractor: str
    n_real: int
    n_fake: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "feature_extractor": self.feature_extractor,
            "n_real": self.n_real,
            "n_fake": self.n_fake,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FIDResult:
        return cls(float(d["fid"]), str(d["feature_extractor"]), int(d["n_real"]), int(d["n_fake"]))


@dataclass
class KIDResult:
    mean: float
    std: float
    feature_extractor: str
    n_real: int
    n_fake: int
    subsets: int
    subset_size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "std": self.std,
            "feature_extractor": self.feature_extractor,
            "n_real": self.n_real,
            "n_fake": self.n_fake,
            "subsets": self.subsets,
            "subset_size": self.subset_size,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KIDResult:
        return cls(
            float(d["mean"]),
            float(d["std"]),
            str(d["feature_extractor"]),
            int(d["n_real"]),
            int(d["n_fake"]),
            int(d["subsets"]),
            int(d["subset_size"]),
        )


def _pair_features(
    real: ImageBatch,
    fake: ImageBatch,
    net: FeatureNet,
    batch_size: int,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
) -> tuple[np.ndarray, np.ndarray]:
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


def _kid_result(
    fr: np.ndarray, ff: np.ndarray, label: str, subsets: int, subset_size: int | None, seed: int
) -> KIDResult:
    m = min(1000, fr.shape[0], ff.shape[0]) if subset_size is None else int(subset_size)
    mean, std = kid(fr, ff, subsets=subsets, subset_size=m, seed=seed)
    return KIDResult(mean, std, label, fr.shape[0], ff.shape[0], subsets, m)


def fid(
    real: ImageBatch,
    fake: ImageBatch,
    net: FeatureNet,
    *,
    batch_size: int = 32,
    fid_method: str = "sqrtm",
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> FIDResult:
    """FID between two image sets on ``net``'s features (Inception pool3 for the standard metric).

    ``fid_method`` is passed to :func:`frechet_distance` ("sqrtm" or the faster "eigh")."""
    fr, ff = _pair_features(real, fake, net, batch_size, progress, should_stop)
    return FIDResult(fid_from_features(fr, ff, method=fid_method), net.label, fr.shape[0], ff.shape[0])


def kid_images(
    real: ImageBatch,
    fake: ImageBatch,
    net: FeatureNet,
    *,
    subsets: int = 10,
    subset_size: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> KIDResult:
    """KID between two image sets on ``net``'s features."""
    fr, ff = _pair_features(real, fake, net, batch_size, progress, should_stop)
    return _kid_result(fr, ff, net.label, subsets, subset_size, seed)


def fid_and_kid(
    real: ImageBatch,
    fake: ImageBatch,
    net: FeatureNet,
    *,
    subsets: int = 10,
    subset_size: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
    fid_method: str = "sqrtm",
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> tuple[FIDResult, KIDResult]:
    """Both metrics from one feature pass (Inception is the expensive part)."""
    fr, ff = _pair_features(real, fake, net, batch_size, progress, should_stop)
    return (
        FIDResult(fid_from_features(fr, ff, method=fid_method), net.label, fr.shape[0], ff.shape[0]),
        _kid_result(fr, ff, net.label, subsets, subset_size, seed),
    )


def kid_random_features(
    real: ImageBatch,
    fake: ImageBatch,
    *,
    seed: int = 0,
    dim: int = 256,
    subsets: int = 10,
    subset_size: int | None = None,
    input_size: int | None = 64,
    batch_size: int = 64,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> KIDResult:
    """KID on features of a fixed-seed random conv net (``feature_extractor="random-conv(seed=…)"``).

    ``seed`` picks both the network and the subset sampling.
    """
    net = random_feature_extractor(seed=seed, dim=dim, input_size=input_size)
    return kid_images(
        real,
        fake,
        net,
        subsets=subsets,
        subset_size=subset_size,
        seed=seed,
        batch_size=batch_size,
        progress=progress,
        should_stop=should_stop,
    )


# ---------------------------------------------------------------------------------------------------
# Conditional accuracy
# ---------------------------------------------------------------------------------------------------


class Predictor(Protocol):
    def predict(self, images: ImageBatch) -> np.ndarray: ...


def classifier_accuracy(
    classifier: Predictor, fake_images: ImageBatch, requested_labels: np.ndarray | list[int]
) -> dict[str, Any]:
    """How often a classifier (trained on the real set) recognises the class each sample was asked for.

    Returns ``{"overall": float, "per_class": {name: float}, "count": {name: int}, "n": int}`` over
    the classes present in ``requested_labels``; names come from ``classifier.class_names`` if any.
    """
    n = batch_size_of(fake_images)
    names: list[str] | None = getattr(classifier, "class_names", None)
    num_classes = len(names) if names else None
    y = validate_labels(
        requested_labels, n, num_classes if num_classes is not None else np.iinfo(np.int64).max
    )
    if n == 0:
        raise InvalidInput("classifier_accuracy needs at least one image")
    pred = np.asarray(classifier.predict(fake_images)).astype(np.int64).reshape(-1)
    if pred.shape[0] != n:
        raise InvalidInput(f"classifier returned {pred.shape[0]} predictions for {n} images")
    per_class: dict[str, float] = {}
    count: dict[str, int] = {}
    for c in np.unique(y):
        mask = y == c
        key = names[int(c)] if names else str(int(c))
        per_class[key] = float((pred[mask] == c).mean())
        count[key] = int(mask.sum())
    return {"overall": float((pred == y).mean()), "per_class": per_class, "count": count, "n": n}
