"""Restoring stills and sequences: classical (detect + inpaint + temporal fill + deflicker) or learned
(the U-Net, then the same temporal steps), behind one call each.

Sequences stream: frames come from an iterator and go out as they are done, with a window of
``2 * radius + 1`` frames in memory, so a long reel never sits in memory whole. Deflicker needs the
luma statistics of the frames around each one; the caller passes a second iterator over the same
frames (``stats_frames``) and they are read in a first, cheap pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from reelforge.errors import Cancelled, InvalidInput
from reelforge.training.callbacks import ProgressFn, StopFn
from reelforge.vision.restore.degrade import rgb
from reelforge.vision.restore.detect import dilate, spatial_mask, temporal_mask
from reelforge.vision.restore.temporal import (
    align,
    apply_gain,
    deflicker_curve,
    fill_from_neighbours,
    flicker_stats,
    median3,
)

__all__ = ["RestoreSettings", "inpaint", "restore_frames", "restore_still"]

Detector = Literal["auto", "spatial", "temporal", "learned", "all"]


@dataclass(frozen=True)
class RestoreSettings:
    temporal: bool = True  # video: use the neighbouring frames (detection and filling)
    deflicker: bool = True
    deflicker_window: int = 9
    detector: Detector = "auto"  # auto: temporal + spatial scratches on video, spatial on stills, learned with a model
    inpaint_radius: int = 3
    median_fill: bool = False  # video: also blend the whole frame with the aligned 3-frame median (denoise)


def inpaint(frame: np.ndarray, mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """OpenCV's Telea inpainting of the masked pixels."""
    import cv2

    img = rgb(frame)
    if not mask.any():
        return img.copy()
    out = cv2.inpaint(np.ascontiguousarray(img[..., ::-1]), mask.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    return np.ascontiguousarray(out[..., ::-1])


def restore_still(frame: np.ndarray, model: object | None = None, settings: RestoreSettings | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(restored frame, defect mask) of one still: the U-Net when given, else spatial detection and
    Telea inpainting."""
    settings = settings or RestoreSettings()
    img = rgb(frame)
    if model is not None:
        out, prob = model.run(img)  # type: ignore[attr-defined]
        mask = prob >= 0.5 if prob is not None else np.zeros(img.shape[:2], bool)
        return out, mask
    mask = spatial_mask(img)
    return inpaint(img, mask, settings.inpaint_radius), mask


def _stop(should_stop: StopFn | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("restoration stopped")


def restore_frames(
    frames: Iterable[np.ndarray],
    *,
    model: object | None = None,
    settings: RestoreSettings | None = None,
    stats_frames: Iterable[np.ndarray] | None = None,
    total: int = 0,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (restored frame, defect mask) for each frame of a sequence, in order.

    Per frame: first the deflicker gain from ``stats_frames``; then the U-Net when a model is given
    (a temporal one looks at the flow-aligned neighbours itself); without one, with ``temporal``,
    defects (temporal outliers against the flow-aligned neighbours, scratches) are filled from the
    neighbours and what no neighbour sees is inpainted.
    Temporal mode needs at least 3 frames (InvalidInput otherwise, before anything is yielded).
    """
    s = settings or RestoreSettings()
    curve: list[tuple[float, float]] | None = None
    if s.deflicker:
        if stats_frames is None:
            raise InvalidInput("deflicker needs a first pass over the frames (stats_frames)")
        stats = []
        for f in stats_frames:
            _stop(should_stop)
            stats.append(flicker_stats(f))
        curve = deflicker_curve(stats, s.deflicker_window)
        total = total or len(stats)
    it = iter(frames)
    if not s.temporal:
        for i, f in enumerate(it):
            _stop(should_stop)
            out, mask = restore_still(_gain(rgb(f), curve, i), model, s)
            yield out, mask
            if progress is not None:
                progress(i + 1, total, "restoring frames")
        return

    def frames_rgb() -> Iterator[np.ndarray]:
        # Deflicker first: the neighbours then match the frame in brightness, so a flicker step is
        # neither a temporal outlier nor blended into the frame by the median.
        for i, f in enumerate(it):
            _stop(should_stop)
            yield _gain(rgb(f), curve, i)

    src = frames_rgb()
    buf = [x for _, x in zip(range(3), src, strict=False)]
    if len(buf) < 3:
        raise InvalidInput(f"temporal restoration needs at least 3 frames, the video has {len(buf)}: "
                           "turn temporal off")
    done = 0

    def emit(p: np.ndarray, c: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nonlocal done
        _stop(should_stop)
        out, mask = _restore_one(p, c, n, model, s)
        done += 1
        if progress is not None:
            progress(done, total, "restoring frames")
        return out, mask

    yield emit(buf[1], buf[0], buf[1])  # the first frame: its one neighbour twice
    while True:
        yield emit(buf[0], buf[1], buf[2])
        nxt = next(src, None)
        if nxt is None:
            yield emit(buf[1], buf[2], buf[1])  # the last frame
            return
        buf = [buf[1], buf[2], nxt]


def _gain(frame: np.ndarray, curve: list[tuple[float, float]] | None, i: int) -> np.ndarray:
    if curve is None or i >= len(curve):
        return frame
    g, o = curve[i]
    return apply_gain(frame, g, o)


def _restore_one(prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray, model: object | None,
                 s: RestoreSettings) -> tuple[np.ndarray, np.ndarray]:
    """One frame of a sequence from its neighbours: (restored, defect mask)."""
    from reelforge.vision.restore.detect import scratch_mask

    a, b = align(cur, prev), align(cur, nxt)
    if model is not None and getattr(model, "temporal", False):
        # The network looks at the aligned neighbours itself.
        out, prob = model.run(cur, (a.image, b.image))  # type: ignore[attr-defined]
        return out, (prob >= 0.5 if prob is not None else np.zeros(cur.shape[:2], bool))
    flows = (a.flow_to, a.flow_from, b.flow_to, b.flow_from)
    mask = temporal_mask(prev, cur, nxt, flows=flows)
    if s.detector in ("spatial", "all"):
        mask |= spatial_mask(cur)
    base = cur
    if model is not None:  # a single-frame network, then what it left that the neighbours do not have
        base, prob = model.run(cur)  # type: ignore[attr-defined]
        if prob is not None and s.detector in ("auto", "learned", "all"):
            mask_learned = dilate(prob >= 0.5, 1)
            filled, _ = fill_from_neighbours(base, mask, [a, b])
            return filled, mask | mask_learned
    else:  # scratches stay put across frames: no temporal outlier, found in the frame itself
        mask |= dilate(scratch_mask(cur), 1)
    filled, missing = fill_from_neighbours(base, mask, [a, b])
    out = inpaint(filled, missing, s.inpaint_radius) if missing.any() else filled
    if s.median_fill:
        out = median3(out, a, b)
    return out, mask
