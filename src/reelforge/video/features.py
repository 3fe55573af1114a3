"""Per-frame features every content-based decision reads: colour histograms, a luma grid, brightness.

Kept per frame for the whole file (~310 bytes a frame: 27 MB for an hour at 24 fps) so that the
detectors can compare any two frames, not only neighbours: a flash is judged by the frames around
it, a dissolve by frames a dozen apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

H_BINS, S_BINS, V_BINS = 16, 8, 16
GRID = (9, 16)  # rows, columns of the luma grid (6x6 blocks of a 96x54 frame)
BLOCK = 16384  # frames per block when comparing frames (bounds temporary memory on long files)


def _hsv_reference(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue, saturation, value in 0..1 (the textbook hexcone formulas) for (..., 3) uint8."""
    x = rgb.astype(np.float32) / 255.0
    v = x.max(axis=-1)
    delta = v - x.min(axis=-1)
    s = np.where(v > 0, delta / np.maximum(v, 1e-6), 0.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    safe = np.maximum(delta, 1e-6)
    h = np.where(v == r, (g - b) / safe % 6.0, np.where(v == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)) / 6.0
    return h, s, v


@functools.lru_cache(maxsize=1)
def _hsv_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per 6-bit-per-channel colour: its hue, saturation and value bins and its hue weight.

    A lookup turns the per-pixel HSV conversion (the detector's costliest step) into one gather;
    64 levels a channel is far finer than the 8-16 bins the histograms use.
    """
    levels = (np.arange(64, dtype=np.float32) * 255.0 / 63.0 + 0.5).astype(np.uint8)
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    h, s, v = _hsv_reference(np.stack([r, g, b], axis=-1).reshape(-1, 3))
    hb = np.minimum((h * H_BINS).astype(np.int32), H_BINS - 1)
    sb = np.minimum((s * S_BINS).astype(np.int32), S_BINS - 1) + H_BINS
    vb = np.minimum((v * V_BINS).astype(np.int32), V_BINS - 1) + H_BINS + S_BINS
    return hb, sb, vb, (s * v).astype(np.float32)


def hsv_histograms(rgb: np.ndarray) -> np.ndarray:
    """(n, H+S+V) float32: hue weighted by saturation x value (grey and black have no reliable hue),
    saturation and value; each part sums to 1."""
    n = rgb.shape[0]
    bins = H_BINS + S_BINS + V_BINS
    q = rgb.reshape(n, -1, 3) >> 2
    colour = (q[..., 0].astype(np.int32) << 12) | (q[..., 1].astype(np.int32) << 6) | q[..., 2]
    hb, sb, vb, weight = _hsv_table()
    rows = (np.arange(n, dtype=np.int32) * bins)[:, None]
    out = np.bincount((hb[colour] + rows).ravel(), weights=weight[colour].ravel(), minlength=n * bins)
    out += np.bincount((sb[colour] + rows).ravel(), minlength=n * bins)
    out += np.bincount((vb[colour] + rows).ravel(), minlength=n * bins)
    out = out.reshape(n, bins).astype(np.float32)
    for lo, width in ((0, H_BINS), (H_BINS, S_BINS), (H_BINS + S_BINS, V_BINS)):
        part = out[:, lo:lo + width]
        total = part.sum(axis=1, keepdims=True)
        # A frame with no saturated pixel has no hue: spread it evenly so all such frames match.
        out[:, lo:lo + width] = np.where(total > 1e-6, part / np.maximum(total, 1e-6), 1.0 / width)
    return out


def luma(rgb: np.ndarray) -> np.ndarray:
    """(n, h, w) float32 in 0..1 (BT.601 weights)."""
    x = rgb.astype(np.float32)
    return (x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114) / 255.0


def luma_grid(y: np.ndarray) -> np.ndarray:
    """(n, 9, 16) float32: block means; coarse enough that motion of a few pixels barely moves them."""
    n, h, w = y.shape
    rows, cols = GRID
    bh, bw = h // rows, w // cols
    y = y[:, : rows * bh, : cols * bw]
    return y.reshape(n, rows, bh, cols, bw).mean(axis=(2, 4)).astype(np.float32)


class FrameFeatures:
    """Growing per-frame feature store; :meth:`add` takes a chunk of 96x54 RGB frames."""

    def __init__(self) -> None:
        self._hist: list[np.ndarray] = []
        self._grid: list[np.ndarray] = []
        self._mean: list[np.ndarray] = []
        self._std: list[np.ndarray] = []
        self._cache: dict[str, np.ndarray] = {}

    def add(self, rgb: np.ndarray) -> None:
        y = luma(rgb)
        self._hist.append(hsv_histograms(rgb))
        self._grid.append((luma_grid(y) * 255.0 + 0.5).astype(np.uint8))
        self._mean.append(y.mean(axis=(1, 2)).astype(np.float32))
        self._std.append(y.std(axis=(1, 2)).astype(np.float32))
        self._cache.clear()

    def _cat(self, key: str, parts: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = np.concatenate(parts) if parts else np.zeros((0, *shape), np.float32)
        return self._cache[key]

    @property
    def hist(self) -> np.ndarray:
        return self._cat("hist", self._hist, (H_BINS + S_BINS + V_BINS,))

    @property
    def grid_u8(self) -> np.ndarray:
        """(n, 144) uint8: the luma grids as stored (a quarter of the memory of floats)."""
        g = self._cat("grid", self._grid, GRID)
        return g.reshape(len(g), -1)

    def grid_rows(self, lo: int, hi: int) -> np.ndarray:
        """(hi - lo, 144) float32 in 0..1: grids of frames [lo, hi), converted on demand so that a
        long file never holds them all as floats."""
        return self.grid_u8[max(0, lo):hi].astype(np.float32) / 255.0

    @property
    def mean(self) -> np.ndarray:
        return self._cat("mean", self._mean, ())

    @property
    def std(self) -> np.ndarray:
        return self._cat("std", self._std, ())

    def __len__(self) -> int:
        return sum(len(m) for m in self._mean)

    # -- distances between frames i and i - lag (NaN where i - lag < 0), block by block ----------
    def _lagged(self, lag: int, fn: Callable[[int, int], np.ndarray]) -> np.ndarray:
        n = len(self)
        out = np.full(n, np.nan, np.float32)
        for lo in range(lag, n, BLOCK):
            hi = min(n, lo + BLOCK)
            out[lo:hi] = fn(lo, hi)
        return out

    def hist_distance(self, lag: int = 1) -> np.ndarray:
        """Half the L1 distance of the three histograms, averaged: 0 same colours, 1 disjoint."""
        h = self.hist
        return self._lagged(lag, lambda lo, hi: 0.5 * np.abs(h[lo:hi] - h[lo - lag:hi - lag]).sum(axis=1) / 3.0)

    def grid_distance(self, lag: int = 1) -> np.ndarray:
        """Mean absolute luma difference of the grids, 0..1."""
        return self._lagged(lag, lambda lo, hi: np.abs(self.grid_rows(lo, hi) - self.grid_rows(lo - lag, hi - lag))
                            .mean(axis=1))

    def distance(self, lag: int = 1) -> np.ndarray:
        """The content score: colour change plus twice the layout change (0..1 each, so 0..3)."""
        return self.hist_distance(lag) + 2.0 * self.grid_distance(lag)
