"""Where a frame is damaged: masks of dust, hair and scratches, and how good a mask is.

Three detectors, combined by the restoration pipeline:

- ``spatial_mask`` (stills): small dark or bright features that a morphological closing/opening
  removes (black/white top-hat) and that stand out from the frame's own noise, plus thin vertical
  lines that persist down the frame (scratches).
- ``temporal_mask`` (video): pixels that differ from *both* motion-compensated neighbours in the same
  direction while the neighbours agree with each other (the spike detector of film restoration:
  dust is on one frame only, the scene is on all three). Occluded pixels are never flagged.
- the U-Net's mask head (``TrainedRestorer.mask``), learned from the degradation model.

``mask_scores`` compares a mask with the degradation model's ground truth per defect (connected
component), the unit a restorer cares about: a speck found is a speck fixed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reelforge.vision.restore.degrade import rgb

__all__ = ["dilate", "luma", "mask_scores", "scratch_mask", "spatial_mask", "temporal_mask"]


def _cv2() -> Any:
    import cv2

    return cv2


def luma(frame: np.ndarray) -> np.ndarray:
    """Rec. 601 luma as float32 0..1."""
    f = rgb(frame).astype(np.float32) / 255.0
    return f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114


def dilate(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    if radius <= 0:
        return mask.astype(bool)
    cv2 = _cv2()
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


def _robust_sigma(values: np.ndarray) -> float:
    v = values.ravel()
    if v.size > 200_000:  # the median of a subsample is as good and much cheaper on big frames
        v = v[:: v.size // 200_000]
    med = np.median(v)
    return float(1.4826 * np.median(np.abs(v - med)))


def _noise_sigma(y: np.ndarray) -> float:
    """Noise level of a frame from its finest detail (a 3x3 Laplacian's robust spread)."""
    cv2 = _cv2()
    lap = cv2.Laplacian(y, cv2.CV_32F, ksize=1)
    return _robust_sigma(lap) / np.sqrt(20.0)  # the kernel's gain on white noise


def scratch_mask(frame: np.ndarray, *, k: float = 4.0, min_contrast: float = 0.04, span: int = 32,
                 min_length: float = 0.3) -> np.ndarray:
    """Thin vertical lines, bright or dark, that keep their contrast over ``span`` rows and run down at
    least ``min_length`` of the frame."""
    cv2 = _cv2()
    y = luma(frame)
    h = y.shape[0]
    # Contrast of each pixel against its row neighbours 3-4 px away on *both* sides (a 1-2 px line's
    # background): brighter than both (positive) or darker than both (negative). An edge, or the
    # background beside a line, is brighter than one side only and scores 0.
    left = (np.roll(y, 3, axis=1) + np.roll(y, 4, axis=1)) / 2
    right = (np.roll(y, -3, axis=1) + np.roll(y, -4, axis=1)) / 2
    bright = np.minimum(y - left, y - right)
    dark = np.minimum(left - y, right - y)
    resid = np.where(bright > 0, bright, np.where(dark > 0, -dark, 0.0)).astype(np.float32)
    resid[:, :4] = 0
    resid[:, -4:] = 0
    span = max(3, min(span, h))
    # Averaged down the column, texture cancels out and a vertical line does not.
    col = cv2.blur(resid, (1, span), borderType=cv2.BORDER_REFLECT)
    sigma = _robust_sigma(col) + 1e-4
    thr = max(min_contrast, k * sigma)
    mag = np.abs(resid)
    # A ridge: stronger than the pixels 2 px either side (JPEG ringing and grain beside a bright line
    # also stand out, but less than the line itself).
    ridge = (mag >= np.roll(mag, 2, axis=1)) & (mag >= np.roll(mag, -2, axis=1))
    line = (np.abs(col) > thr) & (np.sign(resid) == np.sign(col)) & (mag > 0.5 * thr) & ridge
    # A scratch runs down much of the frame: keep line pixels whose column (give or take the 1 px
    # wobble) holds line pixels on most of the ``min_length`` rows around them; texture does not.
    wide = cv2.dilate(line.astype(np.uint8), np.ones((1, 3), np.uint8)).astype(np.float32)
    run = max(3, int(min_length * h)) | 1
    coverage = cv2.blur(wide, (1, run), borderType=cv2.BORDER_REFLECT)
    keep = (coverage >= 0.7) & wide.astype(bool)
    # Whole rows of the run, and the line's 1-2 px width.
    keep = cv2.dilate(keep.astype(np.uint8), np.ones((run // 4 | 1, 1), np.uint8)).astype(bool) & wide.astype(bool)
    return cv2.dilate(keep.astype(np.uint8), np.ones((1, 3), np.uint8)).astype(bool)


def spatial_mask(
    frame: np.ndarray,
    *,
    size: int = 7,
    k: float = 6.0,
    min_contrast: float = 0.12,
    scratches: bool = True,
    grow: int = 1,
) -> np.ndarray:
    """Dust, hair and (optionally) vertical scratches of a single frame, as a bool (H, W) mask.

    ``size``: the largest speck (px) the top-hat removes; ``k``: how many noise sigmas a speck must
    stand out by; ``min_contrast``: and at least this much (0..1), so clean flat frames stay clean.
    """
    cv2 = _cv2()
    y = luma(frame)
    y_s = cv2.medianBlur((y * 255).astype(np.uint8), 3).astype(np.float32) / 255.0 if size > 3 else y
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    black = cv2.morphologyEx(y_s, cv2.MORPH_BLACKHAT, kernel)
    white = cv2.morphologyEx(y_s, cv2.MORPH_TOPHAT, kernel)
    # Texture also has small features; a defect must clear both the noise and the local texture.
    thr = max(min_contrast, k * _noise_sigma(y))
    mask = (black > thr) | (white > thr)
    # Specks are compact; thin high-contrast hair survives the median, so raw top-hat backs it up.
    raw_black = cv2.morphologyEx(y, cv2.MORPH_BLACKHAT, kernel)
    mask |= dilate(mask, 1) & (raw_black > 0.6 * thr)
    mask = _specks(mask, size)
    if scratches:
        mask |= scratch_mask(frame)
    return dilate(mask, grow)


def temporal_mask(
    prev: np.ndarray,
    cur: np.ndarray,
    nxt: np.ndarray,
    *,
    k: float = 4.0,
    min_contrast: float = 0.07,
    min_area: int = 3,
    grow: int = 1,
    flows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Temporal outliers of ``cur`` against its motion-compensated neighbours (bool (H, W)).

    ``min_area``: smaller outliers are grain, not dirt. ``flows``: (cur->prev, prev->cur, cur->next, next->cur) when the caller already has them.
    """
    from reelforge.video.flow import flow, occlusion, warp

    if flows is None:
        flows = (flow(cur, prev), flow(prev, cur), flow(cur, nxt), flow(nxt, cur))
    f_cp, f_pc, f_cn, f_nc = flows
    y = luma(cur)
    yp = warp(luma(prev), f_cp)
    yn = warp(luma(nxt), f_cn)
    valid = ~(occlusion(f_cp, f_pc) | occlusion(f_cn, f_nc))  # for the noise estimate only
    ep, en = y - yp, y - yn
    sigma = _robust_sigma(ep[valid]) if valid.any() else _robust_sigma(ep)
    thr = max(min_contrast, k * sigma)
    spike = (np.sign(ep) == np.sign(en)) & (np.minimum(np.abs(ep), np.abs(en)) > thr)
    # The neighbours must agree: where they disagree the motion was not followed, not the film.
    agree = np.abs(yp - yn) < np.maximum(np.minimum(np.abs(ep), np.abs(en)) * 0.5, thr)
    # Not gated by the occlusion check: dust itself breaks the flow's round trip around it, and two
    # neighbours that agree with each other are evidence enough that the motion was followed.
    return dilate(_drop_small(spike & agree, min_area), grow)


def _specks(mask: np.ndarray, size: int) -> np.ndarray:
    """Keep what can be dirt: compact specks no wider than the top-hat's element, or thin fibres
    (hair fills little of its bounding box). Big solid regions are picture: edges, highlights."""
    cv2 = _cv2()
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    box = np.maximum(stats[:, cv2.CC_STAT_WIDTH] * stats[:, cv2.CC_STAT_HEIGHT], 1)
    speck = area <= 2.5 * size * size  # the largest specks (radius ~5 px) with their grown rim
    fibre = (area <= 12 * size * 2) & (area / box <= 0.3)
    keep = speck | fibre
    keep[0] = False
    return keep[labels]


def _drop_small(mask: np.ndarray, min_area: int) -> np.ndarray:
    """The mask without components under ``min_area`` px (single-pixel grain spikes)."""
    if min_area <= 1:
        return mask
    cv2 = _cv2()
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    return keep[labels]


def _components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    n, labels = _cv2().connectedComponents(mask.astype(np.uint8), connectivity=8)
    return n - 1, labels


def mask_scores(pred: np.ndarray, truth: np.ndarray, *, tolerance: int = 2, min_area: int = 2) -> dict[str, float]:
    """Per-defect recall and precision of a predicted mask against the ground truth.

    recall: share of true defects (connected components of ``truth`` of at least ``min_area`` px)
    that the prediction touches; precision: share of predicted components that touch the truth
    grown by ``tolerance`` px. Also the pixel IoU. An empty prediction has recall 0 and precision 1.
    """
    pred = pred.astype(bool)
    truth = truth.astype(bool)
    n_true, lab_true = _components(truth)
    sizes = np.bincount(lab_true.ravel(), minlength=n_true + 1)
    real = [i for i in range(1, n_true + 1) if sizes[i] >= min_area]
    hit_labels = set(np.unique(lab_true[pred & truth]).tolist()) | set(
        np.unique(lab_true[dilate(pred, tolerance) & truth]).tolist())
    found = sum(1 for i in real if i in hit_labels)
    n_pred, lab_pred = _components(pred)
    near = dilate(truth, tolerance)
    good = set(np.unique(lab_pred[pred & near]).tolist()) - {0}
    union = (pred | truth).sum()
    return {
        "recall": found / len(real) if real else 1.0,
        "precision": len(good) / n_pred if n_pred else 1.0,
        "defects": float(len(real)),
        "detections": float(n_pred),
        "iou": float((pred & truth).sum() / union) if union else 1.0,
    }
