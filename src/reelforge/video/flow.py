"""Optical flow for the frame-to-frame work (interpolation, temporal style, restoration): OpenCV's DIS.

Conventions, used by every caller:
- Frames are ``uint8`` RGB ``(H, W, 3)`` (or grey ``(H, W)``); flow is ``float32`` ``(H, W, 2)`` in pixels,
  ``(dx, dy)``.
- ``flow(a, b)`` is the flow *from a to b*: the pixel at ``x`` in ``a`` is seen at ``x + F(x)`` in ``b``.
- ``warp(b, flow(a, b))`` therefore pulls ``b`` back onto ``a``'s grid (backward warping: no holes).
- ``occlusion(f_ab, f_ba)`` marks pixels of ``a`` whose forward-backward round trip does not come back
  (Sundaram et al. 2010, as used by Ruder et al.'s video style transfer): occluded or badly matched.

OpenCV (``opencv-python-headless``, the ``vfx`` extra) is imported on first use.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

Preset = Literal["ultrafast", "fast", "medium"]
_PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as e:  # pragma: no cover - the extra is part of "all"
        from reelforge.errors import InvalidInput

        raise InvalidInput("optical flow needs OpenCV: pip install 'reelforge[vfx]'") from e
    return cv2


def _grey(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        g = frame
    elif frame.ndim == 3 and frame.shape[2] in (3, 4):
        f = frame[..., :3].astype(np.float32)
        g = f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114
    else:
        raise ValueError(f"expected an (H, W) or (H, W, 3) frame, got shape {frame.shape}")
    if g.dtype != np.uint8:
        g = np.clip(np.rint(g), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(g)


def flow(a: np.ndarray, b: np.ndarray, *, preset: Preset = "medium") -> np.ndarray:
    """Dense flow from frame ``a`` to frame ``b`` (DIS optical flow on luma), ``(H, W, 2)`` float32."""
    cv2 = _cv2()
    ga, gb = _grey(a), _grey(b)
    if ga.shape != gb.shape:
        raise ValueError(f"frames differ in size: {ga.shape} and {gb.shape}")
    dis = cv2.DISOpticalFlow_create(_PRESETS[preset])
    out = dis.calc(ga, gb, None)
    return np.ascontiguousarray(out, dtype=np.float32)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def warp(image: np.ndarray, f: np.ndarray, *, border: Literal["replicate", "zero"] = "replicate") -> np.ndarray:
    """Backward warp: ``out(x) = image(x + f(x))`` with bilinear sampling; keeps dtype and channels.

    With ``f = flow(a, b)``, ``warp(b, f)`` is ``b`` seen from ``a``'s grid.
    """
    cv2 = _cv2()
    h, w = f.shape[:2]
    if image.shape[:2] != (h, w):
        raise ValueError(f"image {image.shape[:2]} and flow {(h, w)} differ in size")
    xs, ys = _grid(h, w)
    mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    src = image if image.dtype in (np.uint8, np.float32) else image.astype(np.float32)
    out = cv2.remap(src, xs + f[..., 0], ys + f[..., 1], interpolation=cv2.INTER_LINEAR, borderMode=mode)
    return out.astype(image.dtype, copy=False)


def occlusion(f_ab: np.ndarray, f_ba: np.ndarray, *, alpha: float = 0.01, beta: float = 0.5) -> np.ndarray:
    """Boolean ``(H, W)`` mask of pixels of ``a`` that are occluded in ``b`` (or leave the frame).

    A pixel is consistent when following ``f_ab`` then ``f_ba`` returns to it:
    ``|f_ab + f_ba(x + f_ab)|^2 <= alpha * (|f_ab|^2 + |f_ba(x + f_ab)|^2) + beta``.
    """
    back = warp(f_ba, f_ab)
    s = f_ab + back
    lhs = (s**2).sum(-1)
    rhs = alpha * ((f_ab**2).sum(-1) + (back**2).sum(-1)) + beta
    h, w = f_ab.shape[:2]
    xs, ys = _grid(h, w)
    tx, ty = xs + f_ab[..., 0], ys + f_ab[..., 1]
    outside = (tx < 0) | (tx > w - 1) | (ty < 0) | (ty > h - 1)
    return (lhs > rhs) | outside


def warp_error(a: np.ndarray, b: np.ndarray, f_ab: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean absolute difference (0..1) between ``a`` and ``b`` warped onto it, over the ``valid`` pixels.

    The temporal-consistency measure of video style transfer: low when consecutive outputs move with the
    content instead of flickering.
    """
    pulled = warp(b, f_ab).astype(np.float32)
    diff = np.abs(a.astype(np.float32) - pulled)
    if diff.ndim == 3:
        diff = diff.mean(-1)
    scale = 255.0 if a.dtype == np.uint8 else 1.0
    if valid is None:
        return float(diff.mean() / scale)
    if not valid.any():
        return 0.0
    return float(diff[valid].mean() / scale)
