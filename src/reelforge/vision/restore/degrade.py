"""A seeded model of film damage: what the restorer trains on and what the benchmarks score against.

``degrade(frame, seed)`` returns the damaged frame and the ground-truth mask of the *local* defects it
painted (dust, hair, scratches): the pixels a restorer has to invent. Global damage (grain, flicker,
blur, JPEG) touches every pixel and is not in the mask. ``degrade_sequence`` damages consecutive
frames the way film is damaged: dust and hair differ on every frame, a vertical scratch stays (and
wanders slowly) across frames, flicker is a per-frame gain and offset.

Order of operations, as on film: optics blur the picture, dirt lands on the print, then the
transfer adds flicker, grain and finally compression.

Frames are uint8 RGB ``(H, W, 3)`` (grey ``(H, W)`` is repeated to RGB). Everything random comes from
a numpy Generator seeded with ``seed``: the same seed gives the same damage, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from reelforge.errors import InvalidInput

__all__ = ["Damage", "Degraded", "degrade", "degrade_sequence", "rgb"]


@dataclass(frozen=True)
class Damage:
    """How much of each kind of damage; counts are per megapixel so crops and full frames match."""

    dust_per_mpx: float = 900.0  # specks per megapixel (each frame)
    dust_radius: tuple[float, float] = (0.8, 3.5)  # speck radius range, pixels
    hair_per_mpx: float = 25.0
    scratches: tuple[int, int] = (0, 2)  # vertical scratches per frame (inclusive range)
    scratch_strength: tuple[float, float] = (0.35, 0.8)
    grain: tuple[float, float] = (0.015, 0.04)  # grain sigma range (fraction of full scale)
    flicker_gain: float = 0.0  # +- relative gain change per frame (0.1: 0.9..1.1)
    flicker_offset: float = 0.0  # +- offset per frame (fraction of full scale)
    blur: tuple[float, float] = (0.0, 0.8)  # Gaussian sigma range, pixels (below 0.3: none)
    jpeg: tuple[int, int] = (55, 95)  # JPEG quality range (0, 0: no compression)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Damage:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in known.items()})

    @classmethod
    def preset(cls, name: str) -> Damage:
        """``light``, ``medium`` (the default) or ``heavy``; ``defects``: local defects only (no global damage)."""
        if name == "medium":
            return cls()
        if name == "light":
            return cls(dust_per_mpx=300.0, hair_per_mpx=8.0, scratches=(0, 1), grain=(0.01, 0.025),
                       blur=(0.0, 0.5), jpeg=(75, 95))
        if name == "heavy":
            return cls(dust_per_mpx=2000.0, hair_per_mpx=60.0, scratches=(1, 3), grain=(0.03, 0.06),
                       blur=(0.3, 1.2), jpeg=(40, 80), flicker_gain=0.08, flicker_offset=0.03)
        if name == "defects":
            return cls(grain=(0.0, 0.0), blur=(0.0, 0.0), jpeg=(0, 0))
        raise InvalidInput(f"unknown damage preset {name!r}: light, medium, heavy or defects")

    def without_global(self) -> Damage:
        return replace(self, grain=(0.0, 0.0), blur=(0.0, 0.0), jpeg=(0, 0), flicker_gain=0.0, flicker_offset=0.0)


@dataclass
class Degraded:
    """A damaged frame, its ground-truth defect mask and what was done (for tests and reports)."""

    image: np.ndarray  # uint8 (H, W, 3)
    mask: np.ndarray  # bool (H, W): pixels covered by dust, hair or a scratch
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # per kind: dust, hair, scratch
    gain: float = 1.0
    offset: float = 0.0


def rgb(frame: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) from grey, RGB or RGBA uint8 input."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        raise InvalidInput(f"frames must be uint8, got {a.dtype}")
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        return np.ascontiguousarray(a[..., :3])
    raise InvalidInput(f"expected an (H, W) or (H, W, 3) frame, got shape {a.shape}")


def _cv2() -> Any:
    import cv2

    return cv2


def _count(rng: np.random.Generator, per_mpx: float, h: int, w: int) -> int:
    return int(rng.poisson(per_mpx * h * w / 1e6)) if per_mpx > 0 else 0


def _blob_alpha(rng: np.random.Generator, h: int, w: int, damage: Damage) -> np.ndarray:
    """Soft-edged irregular specks (ellipses with a rough rim), alpha 0..1."""
    cv2 = _cv2()
    alpha = np.zeros((h, w), np.float32)
    for _ in range(_count(rng, damage.dust_per_mpx, h, w)):
        r = rng.uniform(*damage.dust_radius)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        axes = (max(1, round(r * rng.uniform(0.6, 1.4) * 4)), max(1, round(r * rng.uniform(0.6, 1.4) * 4)))
        # Drawn at 4x sub-pixel precision (shift=2): small specks keep their size and shape.
        cv2.ellipse(alpha, (round(cx * 4), round(cy * 4)), axes, rng.uniform(0, 180), 0, 360,
                    float(rng.uniform(0.75, 1.0)), -1, cv2.LINE_AA, 2)
    return alpha


def _hair_alpha(rng: np.random.Generator, h: int, w: int, damage: Damage) -> np.ndarray:
    """Thin curled fibres: a smooth random walk drawn as an anti-aliased polyline."""
    cv2 = _cv2()
    alpha = np.zeros((h, w), np.float32)
    for _ in range(_count(rng, damage.hair_per_mpx, h, w)):
        n = int(rng.integers(12, 40))
        step = rng.uniform(1.5, 3.5)
        angle = rng.uniform(0, 2 * np.pi)
        turn = np.cumsum(rng.normal(0, 0.25, n))
        pts = np.empty((n, 2), np.float64)
        pts[0] = rng.uniform(0, w), rng.uniform(0, h)
        for i in range(1, n):
            a = angle + turn[i]
            pts[i] = pts[i - 1] + step * np.array([np.cos(a), np.sin(a)])
        thick = 1 if rng.random() < 0.7 else 2
        cv2.polylines(alpha, [np.round(pts * 4).astype(np.int32)], False, float(rng.uniform(0.7, 1.0)),
                      thick, cv2.LINE_AA, 2)
    return alpha


def _scratch_alpha(h: int, w: int, scratches: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
    """Vertical scratches: (x, wobble phase, strength, width) each, with a slight sinusoidal wander."""
    alpha = np.zeros((h, w), np.float32)
    ys = np.arange(h, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32)
    for x0, phase, strength, width in scratches:
        centre = x0 + 1.2 * np.sin(ys / max(h, 1) * 2 * np.pi + phase)
        d = np.abs(xs[None, :] - centre[:, None])
        alpha = np.maximum(alpha, strength * np.clip(width / 2 + 0.5 - d, 0, 1))
    return alpha


def _composite(img: np.ndarray, alpha: np.ndarray, value: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return img * (1 - a) + value * a


def _draw_defects(
    img: np.ndarray, rng: np.random.Generator, damage: Damage, scratches: Sequence[tuple[float, float, float, float]],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Dust (dark or bright), hair (dark) and scratches (bright) on a float image in 0..1."""
    h, w = img.shape[:2]
    masks: dict[str, np.ndarray] = {}
    # Dust on a positive print is dark; dirt on the negative prints white: both occur.
    dark = _blob_alpha(rng, h, w, damage)
    bright = _blob_alpha(rng, h, w, replace(damage, dust_per_mpx=damage.dust_per_mpx * 0.4))
    hair = _hair_alpha(rng, h, w, damage)
    scratch = _scratch_alpha(h, w, scratches)
    shade_dark = np.float32(rng.uniform(0.0, 0.12))
    shade_bright = np.float32(rng.uniform(0.88, 1.0))
    img = _composite(img, dark, shade_dark)
    img = _composite(img, bright, shade_bright)
    img = _composite(img, hair, np.float32(rng.uniform(0.02, 0.15)))
    img = _composite(img, scratch, np.float32(0.97))
    # A pixel is damaged when a quarter of it or more is covered: fainter rims are within the grain.
    masks["dust"] = (dark >= 0.25) | (bright >= 0.25)
    masks["hair"] = hair >= 0.25
    masks["scratch"] = scratch >= 0.25
    return img, masks


def _scratch_tracks(rng: np.random.Generator, w: int, damage: Damage) -> list[tuple[float, float, float, float]]:
    lo, hi = damage.scratches
    n = int(rng.integers(lo, hi + 1)) if hi > 0 else 0
    return [(float(rng.uniform(4, max(5, w - 4))), float(rng.uniform(0, 2 * np.pi)),
             float(rng.uniform(*damage.scratch_strength)), float(rng.uniform(0.8, 2.0))) for _ in range(n)]


def _global(img: np.ndarray, rng: np.random.Generator, damage: Damage, gain: float, offset: float) -> np.ndarray:
    cv2 = _cv2()
    img = img * gain + offset
    sigma = rng.uniform(*damage.grain) if damage.grain[1] > 0 else 0.0
    if sigma > 0:
        # Film grain: luminance-weighted (strongest in the mid-tones), slightly clumped (not per pixel).
        noise = rng.standard_normal(img.shape[:2]).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), 0.6)
        noise /= max(float(noise.std()), 1e-6)
        chroma = rng.standard_normal(img.shape).astype(np.float32) * 0.3
        luma = img.mean(axis=2, keepdims=True)
        weight = 0.5 + 2.0 * luma * (1 - luma)
        img = img + sigma * weight * (noise[..., None] + chroma)
    return np.clip(img, 0, 1)


def _blur(img: np.ndarray, rng: np.random.Generator, damage: Damage) -> np.ndarray:
    sigma = rng.uniform(*damage.blur) if damage.blur[1] > 0 else 0.0
    return _cv2().GaussianBlur(img, (0, 0), sigma) if sigma >= 0.3 else img


def _jpeg(u8: np.ndarray, rng: np.random.Generator, damage: Damage) -> np.ndarray:
    lo, hi = damage.jpeg
    if hi <= 0:
        return u8
    cv2 = _cv2()
    q = int(rng.integers(lo, hi + 1))
    ok, buf = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR array
        return u8
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def _one(frame: np.ndarray, rng: np.random.Generator, damage: Damage,
         scratches: Sequence[tuple[float, float, float, float]], gain: float, offset: float) -> Degraded:
    img = rgb(frame).astype(np.float32) / 255.0
    img = _blur(img, rng, damage)
    img, masks = _draw_defects(img, rng, damage, scratches)
    img = _global(img, rng, damage, gain, offset)
    out = _jpeg(_to_u8(img), rng, damage)
    mask = masks["dust"] | masks["hair"] | masks["scratch"]
    return Degraded(out, mask, masks, gain, offset)


def _flicker(rng: np.random.Generator, damage: Damage) -> tuple[float, float]:
    gain = 1.0 + (rng.uniform(-damage.flicker_gain, damage.flicker_gain) if damage.flicker_gain > 0 else 0.0)
    offset = rng.uniform(-damage.flicker_offset, damage.flicker_offset) if damage.flicker_offset > 0 else 0.0
    return float(gain), float(offset)


def degrade(frame: np.ndarray, seed: int, damage: Damage | None = None) -> Degraded:
    """One damaged frame and its defect mask; the same ``seed`` gives the same damage."""
    damage = damage or Damage()
    rng = np.random.default_rng(seed)
    w = rgb(frame).shape[1]
    gain, offset = _flicker(rng, damage)
    return _one(frame, rng, damage, _scratch_tracks(rng, w, damage), gain, offset)


def degrade_sequence(frames: Sequence[np.ndarray], seed: int, damage: Damage | None = None) -> list[Degraded]:
    """Damage consecutive frames: new dust and hair on each, scratches that persist and drift a
    pixel or so per frame, a per-frame flicker gain and offset."""
    damage = damage or Damage()
    if not frames:
        return []
    rng = np.random.default_rng(seed)
    w = rgb(frames[0]).shape[1]
    tracks = _scratch_tracks(rng, w, damage)
    out = []
    for i, f in enumerate(frames):
        frame_rng = np.random.default_rng([seed, i + 1])
        gain, offset = _flicker(frame_rng, damage)
        out.append(_one(f, frame_rng, damage, tracks, gain, offset))
        drift = rng.normal(0, 0.6, len(tracks))
        tracks = [(min(max(x + d, 2.0), w - 3.0), p, s, wd) for (x, p, s, wd), d in zip(tracks, drift, strict=True)]
    return out
