"""Temporal restoration: neighbours aligned by optical flow, median filtering and defect filling
from them, and deflicker.

Dust sits on one frame; the scene is on its neighbours too. Pulling the previous and next frames
onto the current one's grid (``reelforge.video.flow``) gives, for every pixel, two more looks at
the same point of the scene: a median of the three removes one-frame defects and averages grain,
and filling only the detected defects from the neighbours keeps the rest of the frame untouched.
Pixels whose flow fails the forward-backward check (occlusions, the frame edge) take no part.

Deflicker matches each frame's luma statistics (a robust mean and spread) to a reference smoothed
over the surrounding frames, so slow changes (a pan into shadow, a fade) stay and frame-to-frame
jumps go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reelforge.errors import InvalidInput
from reelforge.vision.restore.degrade import rgb
from reelforge.vision.restore.detect import luma

__all__ = [
    "Aligned",
    "align",
    "apply_gain",
    "deflicker",
    "deflicker_curve",
    "fill_from_neighbours",
    "flicker_stats",
    "luma_jitter",
    "median3",
    "temporal_median",
    "trusted",
]


@dataclass
class Aligned:
    """A neighbour pulled onto the current frame's grid, and where that can be trusted."""

    image: np.ndarray  # uint8 (H, W, 3)
    valid: np.ndarray  # bool (H, W): the flow round trip came back (not occluded, inside the frame)
    flow_to: np.ndarray  # flow current -> neighbour
    flow_from: np.ndarray  # flow neighbour -> current


def align(cur: np.ndarray, neighbour: np.ndarray) -> Aligned:
    from reelforge.video.flow import flow, occlusion, warp

    f_cn = flow(cur, neighbour)
    f_nc = flow(neighbour, cur)
    return Aligned(warp(rgb(neighbour), f_cn), ~occlusion(f_cn, f_nc), f_cn, f_nc)


def trusted(a: Aligned, b: Aligned, tol: float = 0.1) -> np.ndarray:
    """Where two aligned neighbours can stand in for the frame: both flows pass the round-trip check,
    or the two neighbours agree with each other (dust breaks the round trip around itself)."""
    return (a.valid & b.valid) | (np.abs(luma(a.image) - luma(b.image)) < tol)


def median3(cur: np.ndarray, a: Aligned, b: Aligned, *, guarded: bool = True) -> np.ndarray:
    """Per-pixel median of a frame and two aligned neighbours. ``guarded``: where the neighbours
    cannot be trusted (see :func:`trusted`) the frame keeps its own pixel; False: the plain median."""
    stack = np.stack([rgb(cur), a.image, b.image]).astype(np.int16)
    med = np.median(stack, axis=0).astype(np.uint8)
    if not guarded:
        return med
    return np.where(trusted(a, b)[..., None], med, rgb(cur))


def fill_from_neighbours(cur: np.ndarray, mask: np.ndarray, neighbours: Sequence[Aligned]) -> tuple[np.ndarray, np.ndarray]:
    """Replace masked pixels by the mean of the neighbours that see them; returns (frame, still
    missing) where no neighbour could (those are left for spatial inpainting)."""
    out = rgb(cur).astype(np.float32)
    total = np.zeros(out.shape[:2], np.float32)
    acc = np.zeros_like(out)
    y = luma(cur)
    both_ok = trusted(*neighbours) if len(neighbours) == 2 else None
    for n in neighbours:
        # A neighbour that itself has a defect here differs from the other one: the guard below
        # picks one of the two when they disagree.
        ok = (n.valid if both_ok is None else n.valid | both_ok) & mask
        acc[ok] += n.image[ok]
        total[ok] += 1
    if len(neighbours) == 2:
        a, b = neighbours
        ya, yb = luma(a.image), luma(b.image)
        disagree = np.abs(ya - yb) > 0.12
        both = (a.valid | b.valid) & mask & disagree
        # Two neighbours that disagree: keep the one closer to the frame's own surroundings.
        blur = _local_mean(y, mask)
        pick_a = np.abs(ya - blur) <= np.abs(yb - blur)
        acc[both] = np.where(pick_a[both][:, None], a.image[both], b.image[both])
        total[both] = 1
    filled = total > 0
    out[filled] = acc[filled] / total[filled][:, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), mask & ~filled


def _local_mean(y: np.ndarray, mask: np.ndarray, size: int = 9) -> np.ndarray:
    """Mean of the unmasked pixels around each pixel (what the frame looks like without its defects)."""
    import cv2

    w = (~mask).astype(np.float32)
    num = cv2.blur(y * w, (size, size))
    den = cv2.blur(w, (size, size))
    return num / np.maximum(den, 1e-3)


def temporal_median(frames: Sequence[np.ndarray], *, aligned: bool = True, guarded: bool = True) -> list[np.ndarray]:
    """The 3-frame temporal median of every frame (first and last use their one neighbour twice).

    ``aligned``: motion-compensate the neighbours first (False: the plain median, which smears
    anything that moves)."""
    if len(frames) < 2:
        raise InvalidInput(f"a temporal median needs at least 2 frames, got {len(frames)}")
    out = []
    for i, cur in enumerate(frames):
        p = frames[i - 1] if i > 0 else frames[i + 1]
        n = frames[i + 1] if i + 1 < len(frames) else frames[i - 1]
        if aligned:
            out.append(median3(cur, align(cur, p), align(cur, n), guarded=guarded))
        else:
            out.append(np.median(np.stack([rgb(cur), rgb(p), rgb(n)]), axis=0).astype(np.uint8))
    return out


def flicker_stats(frame: np.ndarray) -> tuple[float, float]:
    """A frame's robust luma level and spread: mean and std of the 2nd..98th percentile (dust,
    scratches and clipped highlights do not move them)."""
    y = luma(frame)
    if y.size > 250_000:
        step = int(np.sqrt(y.size / 250_000)) + 1
        y = y[::step, ::step]
    lo, hi = np.percentile(y, [2, 98])
    core = y[(y >= lo) & (y <= hi)]
    if core.size == 0:
        core = y.ravel()
    return float(core.mean()), float(core.std())


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or values.size < 2:
        return values.copy()
    half = window // 2
    padded = np.pad(values, half, mode="reflect" if values.size > half else "edge")
    # A median of the window first, so one very dark frame does not drag its neighbours' reference.
    med = np.array([np.median(padded[i : i + window]) for i in range(values.size)])
    pm = np.pad(med, half, mode="reflect" if values.size > half else "edge")
    return np.convolve(pm, np.ones(window) / window, mode="valid")


def deflicker_curve(stats: Sequence[tuple[float, float]], window: int = 9) -> list[tuple[float, float]]:
    """(gain, offset) per frame that maps its luma statistics onto the smoothed reference."""
    s = np.asarray(stats, dtype=np.float64).reshape(-1, 2)
    ref_mean = _smooth(s[:, 0], window)
    ref_std = _smooth(s[:, 1], window)
    gain = np.clip(ref_std / np.maximum(s[:, 1], 1e-4), 0.5, 2.0)
    offset = ref_mean - gain * s[:, 0]
    return [(float(g), float(o)) for g, o in zip(gain, offset, strict=True)]


def apply_gain(frame: np.ndarray, gain: float, offset: float) -> np.ndarray:
    f = rgb(frame).astype(np.float32) / 255.0
    return np.clip(np.rint((f * gain + offset) * 255.0), 0, 255).astype(np.uint8)


def deflicker(frames: Sequence[np.ndarray], *, window: int = 9) -> list[np.ndarray]:
    """Every frame with its luma level and spread matched to the smoothed reference of ``window``
    frames around it."""
    if window < 1:
        raise InvalidInput(f"deflicker window must be >= 1, got {window}")
    curve = deflicker_curve([flicker_stats(f) for f in frames], window)
    return [apply_gain(f, g, o) for f, (g, o) in zip(frames, curve, strict=True)]


def luma_jitter(frames: Sequence[np.ndarray]) -> float:
    """Variance of the frame-to-frame change of mean luma (0..1 scale): flicker, not slow drift."""
    means = np.array([luma(f).mean() for f in frames])
    if means.size < 2:
        return 0.0
    return float(np.var(np.diff(means)))
