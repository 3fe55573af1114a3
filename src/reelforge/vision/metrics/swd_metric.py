"""Multi-scale sliced Wasserstein distance on Laplacian-pyramid patches.

Karras et al. 2018, "Progressive Growing of GANs", appendix D, written from the paper's description.
Needs no weights: comparable between any two runs with the same parameters and seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from reelforge.errors import InvalidInput
from reelforge.vision.classify.data import ImageBatch, batch_size_of, image_hw, to_float_nchw
from reelforge.vision.metrics.common import ProgressFn, StopFn, check_stop
from reelforge.vision.metrics.registry import MetricInputs, MetricResult, Need, register_metric

__all__ = ["SWDResult", "laplacian_pyramid", "sliced_wasserstein", "swd"]

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
        check_stop(should_stop, "SWD")
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
        check_stop(should_stop, "SWD")
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



@register_metric(
    "swd",
    description="multi-scale sliced Wasserstein distance on Laplacian-pyramid patches (x1e3)",
    needs=(Need.REAL, Need.FAKE),
)
def _swd_metric(inputs: MetricInputs) -> MetricResult:
    assert inputs.real is not None and inputs.fake is not None  # checked by Metric.compute
    r = swd(inputs.real, inputs.fake, seed=inputs.seed, progress=inputs.progress, should_stop=inputs.should_stop)
    return MetricResult(sections={"swd": r.to_dict()}, scalars={"swd_mean": r.mean})
