"""Differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"), written from the paper's description.

D only ever sees augmented images, real and fake alike, and because every operation here is
differentiable the generator still gets gradients through the augmentation. That lets D be trained on
a few hundred images without memorising them, and without the augmentations leaking into G's output.

Operations (inputs in [-1, 1], NCHW):
- color: brightness (add U(-0.5, 0.5)), saturation (scale distance to the per-pixel channel mean by
  U(0, 2)), contrast (scale distance to the image mean by U(0.5, 1.5));
- translation: shift by up to 1/8 of the image size in each axis; the uncovered border is filled;
- cutout: fill a square of half the image size at a random position (clipped at the border).

Fills ("fill"): "mean" (the default of new models) uses each image's own per-channel mean, so a fill
looks like the image's background; "zero" is 0 in [-1, 1], i.e. mid-grey, which on near-black data
(star fields) is a bright patch D learns to key on. Models saved before fills were configurable used
"zero".

Adaptive probability (StyleGAN2-ADA, Karras et al. 2020): with ``p`` < 1 each operation is applied to
each image independently with probability p (the rest pass through unchanged); the trainer tunes p
from the sign of D on real images (``AdaptiveP``). With p = 1 every operation always runs and no mask
is drawn, which is the original DiffAugment.

All randomness comes from an explicit CPU ``torch.Generator`` (drawn on CPU, then moved to the
images' device) so a run is reproducible and its RNG state can be checkpointed, on any device.
"""

from __future__ import annotations

import functools
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


def _fill_value(x: torch.Tensor, fill: str) -> torch.Tensor | None:
    """Per-image, per-channel fill (B, C, 1, 1) for "mean"; None for "zero"."""
    if fill == "zero":
        return None
    if fill == "mean":
        return x.mean(dim=(2, 3), keepdim=True)
    raise InvalidInput(f"unknown DiffAugment fill {fill!r}; use 'mean' or 'zero'")


def translation(
    x: torch.Tensor, generator: torch.Generator, ratio: float = 0.125, fill: str = "zero"
) -> torch.Tensor:
    """Shift each image by an integer offset in [-ratio*size, ratio*size]; uncovered pixels get the fill."""
    m = _fill_value(x, fill)
    if m is not None:  # shift the image's deviation from its mean: uncovered pixels become the mean
        return translation(x - m, generator, ratio) + m
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


def cutout(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.5, fill: str = "zero") -> torch.Tensor:
    """Fill one square of ratio*size per image, centred anywhere in the image (0 or the image mean)."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _randint(0, h, b, generator, x.device)
    cx = _randint(0, w, b, generator, x.device)
    y0 = (cy - ch // 2)[:, None, None]
    x0 = (cx - cw // 2)[:, None, None]
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= y0) & (ys < y0 + ch) & (xs >= x0) & (xs < x0 + cw)  # (B, H, W)
    keep = (~inside).to(x.dtype)[:, None, :, :]
    m = _fill_value(x, fill)
    return x * keep if m is None else x * keep + m * (1.0 - keep)


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


FILLS: tuple[str, ...] = ("mean", "zero")
_FILLED = (translation, cutout)


class DiffAugment:
    """Callable augmentation for a fixed policy; call it on real and on fake images before D."""

    def __init__(self, policy: str = "color,translation,cutout", fill: str = "zero") -> None:
        if fill not in FILLS:
            raise InvalidInput(f"unknown DiffAugment fill {fill!r}; use one of {list(FILLS)}")
        self.names = parse_policy(policy)
        self.fill = fill
        self.ops: tuple[_Op, ...] = tuple(
            functools.partial(op, fill=fill) if op in _FILLED else op for n in self.names for op in _OPS[n]
        )

    @property
    def policy(self) -> str:
        return ",".join(self.names)

    def __bool__(self) -> bool:
        return bool(self.ops)

    def __call__(self, x: torch.Tensor, generator: torch.Generator, p: float = 1.0) -> torch.Tensor:
        """Augment x; with p < 1 each op touches each image with probability p (masks drawn first)."""
        if p >= 1.0:
            for op in self.ops:
                x = op(x, generator)
            return x
        if p <= 0.0 or not self.ops:
            return x
        masks = torch.rand((len(self.ops), x.shape[0]), generator=generator) < p
        for op, mask in zip(self.ops, masks.to(x.device), strict=True):
            x = torch.where(mask[:, None, None, None], op(x, generator), x)
        return x


def diff_augment(
    x: torch.Tensor, policy: str, generator: torch.Generator, fill: str = "zero", p: float = 1.0
) -> torch.Tensor:
    """One-shot form of DiffAugment(policy, fill)(x, generator, p)."""
    return DiffAugment(policy, fill)(x, generator, p)


class AdaptiveP:
    """StyleGAN2-ADA's augmentation probability: p rises while D is too sure of the reals.

    Every `interval` steps, r = mean(sign(D(real))) over those steps; p moves by
    sign(r - target) * images_in_interval / (speed_kimg * 1000), clamped to [0, 1]. So p can go from
    0 to 1 in `speed_kimg` thousand images. StyleGAN2-ADA uses target 0.6 and 500 kimg for runs of
    tens of thousands of kimg; few-shot runs here see tens of kimg in all, so the speed is scaled down.
    """

    def __init__(self, target: float, speed_kimg: float, interval: int = 4, p: float = 0.0) -> None:
        if not 0.0 < target < 1.0:
            raise InvalidInput(f"ADA target must be in (0, 1), got {target}")
        if speed_kimg <= 0:
            raise InvalidInput(f"ADA speed must be > 0 kimg, got {speed_kimg}")
        self.target = float(target)
        self.speed_kimg = float(speed_kimg)
        self.interval = int(interval)
        self.p = float(p)
        self._sum = 0.0
        self._n = 0
        self._steps = 0
        self.last_rt = 0.0

    def observe(self, real_logits: torch.Tensor) -> None:
        s = real_logits.detach().float().sign()
        self._sum += float(s.sum())
        self._n += int(s.numel())
        self._steps += 1
        if self._steps >= self.interval:
            self.last_rt = self._sum / max(1, self._n)
            sign = 1.0 if self.last_rt > self.target else -1.0 if self.last_rt < self.target else 0.0
            self.p = min(1.0, max(0.0, self.p + sign * self._n / (self.speed_kimg * 1000.0)))
            self._sum, self._n, self._steps = 0.0, 0, 0

    def state_dict(self) -> dict[str, float | int]:
        return {"p": self.p, "sum": self._sum, "n": self._n, "steps": self._steps, "rt": self.last_rt}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.p = float(state["p"])
        self._sum = float(state["sum"])
        self._n = int(state["n"])
        self._steps = int(state["steps"])
        self.last_rt = float(state["rt"])
