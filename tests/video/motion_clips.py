"""Footage with known in-between frames for the interpolation tests and benchmark.

Camera moves over scikit-image's photographs (a pan, a zoom, a moving object pasted over a panning
background), rendered at sub-pixel positions with a little film grain, so every frame of a clip is a
real picture and the true middle frame of any triplet is known: it is the clip's own frame.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np


@functools.lru_cache(maxsize=16)
def picture(name: str) -> np.ndarray:
    from skimage import data

    arr = np.asarray(getattr(data, name)())
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3])


def _view(pic: np.ndarray, cx: float, cy: float, scale: float, size: tuple[int, int]) -> np.ndarray:
    """The picture seen through a ``size`` window centred on (cx, cy), ``scale`` picture px per output px."""
    w, h = size
    m = np.array([[scale, 0, cx - scale * (w - 1) / 2], [0, scale, cy - scale * (h - 1) / 2]], np.float32)
    return cv2.warpAffine(pic.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def _finish(frames: list[np.ndarray], grain: float, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.clip(np.rint(f + rng.normal(0, grain, f.shape)), 0, 255).astype(np.uint8) for f in frames]


def pan(name: str, frames: int = 9, size: tuple[int, int] = (160, 96), speed: tuple[float, float] = (4.0, 1.5),
        scale: float = 1.6, grain: float = 1.0, seed: int = 0) -> list[np.ndarray]:
    """A camera pan: the view moves ``speed`` output pixels per frame."""
    pic = picture(name)
    ph, pw = pic.shape[:2]
    cx, cy = pw * 0.35, ph * 0.4
    out = [_view(pic, cx + k * speed[0] * scale, cy + k * speed[1] * scale, scale, size) for k in range(frames)]
    return _finish(out, grain, seed)


def zoom(name: str, frames: int = 9, size: tuple[int, int] = (160, 96), rate: float = 0.03,
         scale: float = 2.0, grain: float = 1.0, seed: int = 0) -> list[np.ndarray]:
    """A zoom in: the view narrows by ``rate`` per frame around a point off centre."""
    pic = picture(name)
    ph, pw = pic.shape[:2]
    out = [_view(pic, pw * 0.5, ph * 0.45, scale / (1 + rate) ** k, size) for k in range(frames)]
    return _finish(out, grain, seed)


def moving_object(background: str, thing: str, frames: int = 9, size: tuple[int, int] = (160, 96),
                  velocity: tuple[float, float] = (6.0, 0.0), bg_speed: tuple[float, float] = (1.0, 0.0),
                  radius: int = 18, start: tuple[float, float] = (40.0, 48.0), grain: float = 1.0,
                  seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A disc cut from ``thing`` crossing a slowly panning ``background``; also returns the disc's masks."""
    pic, obj = picture(background), picture(thing)
    ph, pw = pic.shape[:2]
    oh, ow = obj.shape[:2]
    w, h = size
    patch_size = 2 * radius + 3
    patch = cv2.resize(obj[oh // 4: oh // 4 + oh // 2, ow // 4: ow // 4 + oh // 2],
                       (patch_size, patch_size), interpolation=cv2.INTER_AREA).astype(np.float32)
    out, masks = [], []
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for k in range(frames):
        bg = _view(pic, pw * 0.4 + k * bg_speed[0] * 1.5, ph * 0.5 + k * bg_speed[1] * 1.5, 1.5, size)
        ox, oy = start[0] + k * velocity[0], start[1] + k * velocity[1]
        # The disc's texture moves with it: sample the patch at the disc's own coordinates.
        mx = (xs - ox + patch_size / 2).astype(np.float32)
        my = (ys - oy + patch_size / 2).astype(np.float32)
        tex = cv2.remap(patch, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        d = np.sqrt((xs - ox) ** 2 + (ys - oy) ** 2)
        alpha = np.clip(radius + 0.5 - d, 0, 1)[..., None]  # anti-aliased edge
        out.append(bg * (1 - alpha) + tex * alpha)
        masks.append(d <= radius)
    return _finish(out, grain, seed), masks


def write(frames: Sequence[np.ndarray], path: Path, fps: float = 24.0, crf: int = 12) -> Path:
    from reelforge.media.video import write_video

    write_video(list(frames), path, fps=fps, crf=crf)
    return path


def psnr(x: np.ndarray, y: np.ndarray, border: int = 0) -> float:
    a, b = x.astype(np.float64), y.astype(np.float64)
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def strip(rows: Sequence[Sequence[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Rows of frames side by side (for looking at results)."""
    lines = []
    for row in rows:
        cells = []
        for f in row:
            cells += [f, np.full((f.shape[0], gap, 3), 255, np.uint8)]
        lines += [np.concatenate(cells[:-1], axis=1), np.full((gap, sum(c.shape[1] for c in cells[:-1]), 3), 255,
                                                              np.uint8)]
    return np.concatenate(lines[:-1], axis=0)
