"""Dynamic time warping inside a window, and a coarse-to-fine driver that keeps long audio tractable.

Rows are frames of the real audio (``n``), columns frames of the synthetic script (``m``). Each row
``i`` may only use columns ``[lo[i], hi[i])``. Steps: diagonal, down (a real frame stretched onto
the same synthetic frame) and right (synthetic frames squeezed into one real frame); the path runs
from (0, 0) to (n-1, m-1) and its cost is the sum of the cells it visits.

A row is computed with numpy alone: with ``A[k]`` the cost of entering row ``i`` at column ``k``
from the row above, ``D[i, j] = min_{k<=j}(A[k] - C[k]) + C[j]`` where ``C`` is the running sum of
the row's costs — a cumulative minimum, so the right-steps need no Python loop. Each row stores
only where it was entered (int32) and from which step (bool) for the backtrack.

Complexity: time and memory are O(sum of window widths). :func:`multiscale_dtw` runs a first pass
on frames pooled ``factors[0]``-fold inside a band of ``band_s`` seconds around a guide path, then
refines at each finer level only within ``radius`` frames of the path projected from the level
above (FastDTW's idea). For ``n`` real frames that is about
``n/f0 * 2*band/(f0*hop) + sum_levels n/f * (path width + 2*radius)`` cells: an hour of audio at
10 ms (360,000 frames) with a 60 s band costs about 3 million cells at the first level and under
30 million at the finest, instead of the 1.3e11 of a full DTW.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

INF = np.inf


@dataclass
class Path:
    """The warping path as one column range per row: row ``i`` covers columns ``first[i]..last[i]``."""

    first: np.ndarray  # (n,) int, nondecreasing
    last: np.ndarray  # (n,) int, nondecreasing
    cost: float

    def rows_at(self, col: int) -> tuple[int, int]:
        """First and last row whose range contains or passes column ``col``."""
        a = int(np.searchsorted(self.last, col, side="left"))
        b = int(np.searchsorted(self.first, col, side="right")) - 1
        n = len(self.first)
        return min(max(a, 0), n - 1), min(max(b, 0), n - 1)


def _fix_window(lo: np.ndarray, hi: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Make windows valid: nondecreasing, inside [0, m), touching (0, 0) and (n-1, m-1), connected."""
    lo = np.clip(lo, 0, m - 1).astype(np.int64)
    hi = np.clip(hi, 1, m).astype(np.int64)
    lo = np.maximum.accumulate(lo)
    hi = np.maximum.accumulate(hi)
    lo[0] = 0
    hi[-1] = m
    hi = np.maximum(hi, lo + 1)
    hi = np.maximum.accumulate(hi)
    # Row i can be entered at column k only from columns k-1 or k of row i-1.
    lo[1:] = np.minimum(lo[1:], hi[:-1])
    lo = np.minimum.accumulate(lo[::-1])[::-1]
    return lo, hi


def windowed_dtw(row_cost: Callable[[int, int, int], np.ndarray], n: int, m: int,
                 lo: np.ndarray, hi: np.ndarray, *, down_penalty: np.ndarray | None = None,
                 should_stop: Callable[[], bool] | None = None) -> Path:
    """DTW of ``n`` rows by ``m`` columns, row ``i`` restricted to columns ``[lo[i], hi[i])``.

    ``row_cost(i, a, b)`` returns the costs of row ``i``, columns ``a..b-1`` (float64, >= 0).
    ``down_penalty[j]`` is added to every down step onto column ``j`` (a real frame held on the
    same synthetic frame): it steers long real pauses onto the columns where pauses belong.
    """
    lo, hi = _fix_window(np.asarray(lo), np.asarray(hi), m)
    entries: list[np.ndarray] = []
    diag_from: list[np.ndarray] = []
    prev = np.empty(0)
    plo = phi = 0
    for i in range(n):
        if should_stop is not None and i % 4096 == 0 and should_stop():
            raise InterruptedError("alignment stopped")
        a, b = int(lo[i]), int(hi[i])
        c = row_cost(i, a, b)
        width = b - a
        if i == 0:
            enter = np.full(width, INF)
            enter[0] = c[0]
            came_diag = np.zeros(width, bool)
        else:
            cols = np.arange(a, b)
            up = np.full(width, INF)
            ok = (cols >= plo) & (cols < phi)
            up[ok] = prev[cols[ok] - plo]
            if down_penalty is not None:
                up += down_penalty[a:b]
            dg = np.full(width, INF)
            ok = (cols - 1 >= plo) & (cols - 1 < phi)
            dg[ok] = prev[cols[ok] - 1 - plo]
            came_diag = dg <= up
            enter = np.minimum(up, dg) + c
        run = np.cumsum(c)
        b_ = enter - run
        best = np.minimum.accumulate(b_)
        idx = np.where(b_ <= best, np.arange(width), 0)
        entry = np.maximum.accumulate(idx)
        d = best + run
        entries.append(entry.astype(np.int32))
        diag_from.append(came_diag)
        prev, plo, phi = d, a, b
    if not np.isfinite(prev[-1]):
        raise RuntimeError("no warping path inside the window")  # _fix_window makes this unreachable
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    j = m - 1
    for i in range(n - 1, -1, -1):
        a = int(lo[i])
        k = a + int(entries[i][j - a])
        first[i], last[i] = k, j
        if i > 0:
            j = k - 1 if diag_from[i][k - a] else k
    return Path(first, last, float(prev[-1]))


def euclidean_rows(x: np.ndarray, y: np.ndarray) -> Callable[[int, int, int], np.ndarray]:
    """Row-cost callable: distance from real frame ``x[i]`` to synthetic frames ``y[a:b]``."""
    x64 = x.astype(np.float64)
    y64 = y.astype(np.float64)

    def cost(i: int, a: int, b: int) -> np.ndarray:
        d = y64[a:b] - x64[i]
        return np.sqrt(np.einsum("ij,ij->i", d, d))

    return cost


def project(path: Path, factor: int, n: int, m: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows at a ``factor``-times finer level: the coarse path's cells, widened by ``radius``."""
    rows = np.minimum(np.arange(n) // factor, len(path.first) - 1)
    lo = path.first[rows] * factor - radius
    hi = (path.last[rows] + 1) * factor + radius
    return lo, np.minimum(hi, m)


def guide_band(guide: np.ndarray, band: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``band`` columns either side of a guide column per row."""
    return guide - band, np.minimum(guide + band + 1, m)


def multiscale_dtw(x: np.ndarray, y: np.ndarray, guide: np.ndarray, *, factors: tuple[int, ...] = (16, 4, 1),
                   band: int, radius: int = 20, down_penalty: np.ndarray | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> Path:
    """Align real frames ``x`` (n, d) to synthetic frames ``y`` (m, d), coarse to fine.

    ``guide[i]`` is a rough synthetic frame for real frame ``i`` (finest level) and ``band`` the
    half-width, in finest frames, of the first level's search around it; ``radius`` is the
    half-width, in frames of each finer level, kept around the path of the level above.
    ``down_penalty`` (per finest synthetic frame) is averaged over each level's pooled frames.
    """
    from reelforge.editorial.features import pool

    path: Path | None = None
    prev_f = 0
    for level, f in enumerate(factors):
        xs, ys = pool(x, f), pool(y, f)
        n, m = len(xs), len(ys)
        if path is None:
            g = pool(guide.astype(np.float64)[:, None], f)[:, 0] / f
            lo, hi = guide_band(np.round(g).astype(np.int64), max(2, -(-band // f)), m)
        else:
            lo, hi = project(path, prev_f // f, n, m, radius)
        pen = None if down_penalty is None else pool(down_penalty.astype(np.float64)[:, None], f)[:, 0]
        path = windowed_dtw(euclidean_rows(xs, ys), n, m, lo, hi, down_penalty=pen, should_stop=should_stop)
        prev_f = f
        if progress is not None:
            progress(level + 1, len(factors))
    assert path is not None
    return path


def dtw_scores(x: np.ndarray, ys: list[np.ndarray]) -> np.ndarray:
    """Full-DTW cost of ``x`` against each of ``ys``, divided by ``len(x) + len(y)``, in one pass.

    The sequences are padded to one width and their rows advanced together (padding sits right
    of each sequence's end, where nothing before it looks), so K comparisons cost one Python loop
    over the rows of ``x``. No path is kept: only the normalised cost is wanted.
    """
    n = len(x)
    lens = np.array([len(y) for y in ys])
    if n == 0 or not len(ys) or lens.min() == 0:
        raise ValueError("empty sequence")
    m = int(lens.max())
    y = np.zeros((len(ys), m, x.shape[1]), np.float64)
    for k, s in enumerate(ys):
        y[k, : len(s)] = s
    x64 = x.astype(np.float64)
    # squared distances by the expansion |a|^2 + |b|^2 - 2ab: one matrix product for all rows
    d2 = (x64 * x64).sum(1)[:, None, None] + (y * y).sum(2)[None] - 2 * np.einsum("nd,kmd->nkm", x64, y)
    cost = np.sqrt(np.maximum(d2, 0.0))
    d = np.cumsum(cost[0], axis=1)
    inf_col = np.full((len(ys), 1), INF)
    for i in range(1, n):
        c = cost[i]
        enter = c + np.minimum(d, np.concatenate([inf_col, d[:, :-1]], axis=1))
        run = np.cumsum(c, axis=1)
        d = np.minimum.accumulate(enter - run, axis=1) + run
    return d[np.arange(len(ys)), lens - 1] / (n + lens)
