"""Differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"), written from the paper's description.

D only ever sees augmented images, real and fake alike, and because every operation here is
differentiable the generator still gets gradients through the augmentation. That lets D be trained on
a few hundred images without memorising them, and without the augmentations leaking into G's output.

Operations (inputs in [-1, 1], NCHW):
- color: brightness (add U(-0.5, 0.5)), saturation (scale distance to the per-pixel channel mean by
  U(0, 2)), contrast (scale distance to the image mean by U(0.5, 1.5));
- translation: shift by up to 1/8 of the image size in each axis, zero padded;
- cutout: zero a square of half the image size at a random position (clipped at the border).

All randomness comes from an explicit CPU ``torch.Generator`` (drawn on CPU, then moved to the
images' device) so a run is reproducible and its RNG state can be checkpointed, on any device.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from reelforge.errors import InvalidInput

_Op = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(shape, generator=generator).to(device=like.device, dtype=like.dtype)


def _randint(low: int, high: int, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randint(low, high, (n,), generator=generator).to(device)


def brightness(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x + (_uniform((x.shape[0], 1, 1, 1), generator, x) - 0.5)


def saturation(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform((x.shape[0], 1, 1, 1), generator, x) * 2.0) + mean


def contrast(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform((x.shape[0], 1, 1, 1), generator, x) + 0.5) + mean


def translation(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by an integer offset in [-ratio*size, ratio*size]; uncovered pixels become 0."""
    b, c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = _randint(-sh, sh + 1, b, generator, x.device)
    tx = _randint(-sw, sw + 1, b, generator, x.device)
    padded = torch.nn.functional.pad(x, [sw, sw, sh, sh])  # zeros around the image
    hp, wp = h + 2 * sh, w + 2 * sw
    # Output pixel (i, j) reads padded pixel (i - ty + sh, j - tx + sw): always inside the padded image.
    iy = torch.arange(h, device=x.device)[None, :] - ty[:, None] + sh  # (B, H)
    ix = torch.arange(w, device=x.device)[None, :] - tx[:, None] + sw  # (B, W)
    index = (iy[:, :, None] * wp + ix[:, None, :]).reshape(b, 1, h * w).expand(b, c, h * w)
    out = padded.reshape(b, c, hp * wp).gather(2, index)  # gather: differentiable w.r.t. x
    return out.reshape(b, c, h, w)


def cutout(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ratio*size per image, centred anywhere in the image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _randint(0, h, b, generator, x.device)
    cx = _randint(0, w, b, generator, x.device)
    y0 = (cy - ch // 2)[:, None, None]
    x0 = (cx - cw // 2)[:, None, None]
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= y0) & (ys < y0 + ch) & (xs >= x0) & (xs < x0 + cw)  # (B, H, W)
    return x * (~inside).to(x.dtype)[:, None, :, :]


# Policy names -> the ops they run, in the paper's order (color, then translation, then cutout).
_OPS: dict[str, tuple[_Op, ...]] = {
    "color": (brightness, saturation, contrast),
    "brightness": (brightness,),
    "saturation": (saturation,),
    "contrast": (contrast,),
    "translation": (translation,),
    "cutout": (cutout,),
}
_ORDER = ("color", "brightness", "saturation", "contrast", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,translation,cutout' -> canonical ordered names; '' or 'none' -> no augmentation."""
    names = [p.strip().lower() for p in (policy or "").split(",") if p.strip()]
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in _OPS]
    if unknown:
        raise InvalidInput(
            f"unknown DiffAugment policy {unknown}; use a comma list of {list(_ORDER)} or 'none'"
        )
    return tuple(n for n in _ORDER if n in names)


class DiffAugment:
    """Callable augmentation for a fixed policy; call it on real and on fake images before D."""

    def __init__(self, policy: str = "color,translation,cutout") -> None:
        self.names = parse_policy(policy)
        self.ops: tuple[_Op, ...] = tuple(op for n in self.names for op in _OPS[n])

    @property
    def policy(self) -> str:
        return ",".join(self.names)

    def __bool__(self) -> bool:
        return bool(self.ops)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for op in self.ops:
            x = op(x, generator)
        return x


def diff_augment(x: torch.Tensor, policy: str, generator: torch.Generator) -> torch.Tensor:
    """One-shot form of DiffAugment(policy)(x, generator)."""
    return DiffAugment(policy)(x, generator)
