"""A small U-Net (restorer and pix2pix generator) and a PatchGAN discriminator.

Upsampling is bilinear resize + 3x3 conv rather than transposed convolution: no checkerboard
artefacts, which matter in restoration (the output is looked at pixel by pixel next to the input).
Images are float NCHW in -1..1. As a restorer the network predicts a correction added to its input
(``residual``), so an untrained net starts as the identity and training only has to learn the damage;
an optional second head gives defect-mask logits. Any frame size works: inputs are reflect-padded to
a multiple of ``2**depth`` and the output cropped back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reelforge.errors import InvalidInput

__all__ = ["PatchDiscriminator", "UNet", "UNetConfig"]


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 3
    out_channels: int = 3
    base_channels: int = 24
    depth: int = 3  # downsamplings: the receptive field covers dust and hair of ~16 px at depth 3
    residual: bool = True  # output = input + correction (restorer); False: tanh output (pix2pix)
    # A temporal restorer (in = 3 x out: the frame and two aligned neighbours) corrects the per-pixel
    # median of the three looks: it starts as the 3-frame temporal median and learns what that misses.
    mask_head: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.depth <= 6:
            raise InvalidInput(f"U-Net depth must be 1..6, got {self.depth}")
        if not 4 <= self.base_channels <= 256:
            raise InvalidInput(f"U-Net base_channels must be 4..256, got {self.base_channels}")
        if self.residual and self.in_channels < self.out_channels:
            raise InvalidInput("a residual U-Net needs at least as many input channels as output channels")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UNetConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _block(cin: int, cout: int) -> nn.Sequential:
    groups = 8 if cout % 8 == 0 else 1
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(groups, cout), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(groups, cout), nn.LeakyReLU(0.2, inplace=True),
    )


class UNet(nn.Module):
    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config.base_channels
        widths = [c * min(2**i, 8) for i in range(config.depth + 1)]
        self.inc = _block(config.in_channels, widths[0])
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[i], widths[i], 3, stride=2, padding=1), _block(widths[i], widths[i + 1]))
            for i in range(config.depth)
        )
        self.up_conv = nn.ModuleList(nn.Conv2d(widths[i + 1], widths[i], 3, padding=1) for i in range(config.depth))
        self.up_block = nn.ModuleList(_block(2 * widths[i], widths[i]) for i in range(config.depth))
        self.out = nn.Conv2d(widths[0], config.out_channels, 1)
        self.mask = nn.Conv2d(widths[0], 1, 1) if config.mask_head else None
        if config.residual:  # start as the identity: the first steps do not wreck the picture
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(image in -1..1, mask logits or None) for an NCHW batch of any size."""
        h, w = x.shape[-2:]
        m = 2**self.config.depth
        ph, pw = (-h) % m, (-w) % m
        xp = x
        if ph or pw:  # reflect needs the pad smaller than the image; tiny inputs replicate instead
            xp = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        skips = [self.inc(xp)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for i in reversed(range(self.config.depth)):
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = self.up_block[i](torch.cat([self.up_conv[i](y), skip], dim=1))
        out = self.out(y)
        if self.config.residual:
            out = self._base(xp) + out
        else:
            out = torch.tanh(out)
        logits = self.mask(y) if self.mask is not None else None
        out = out[..., :h, :w]
        return out, (logits[..., :h, :w] if logits is not None else None)


    def _base(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config.out_channels
        if self.config.in_channels != 3 * c:
            return x[:, :c]
        a, b, d = x[:, :c], x[:, c : 2 * c], x[:, 2 * c : 3 * c]
        return torch.maximum(torch.minimum(a, b), torch.minimum(torch.maximum(a, b), d))  # median of three


class PatchDiscriminator(nn.Module):
    """pix2pix's PatchGAN: one real/fake logit per overlapping patch of (input, output) pairs."""

    def __init__(self, in_channels: int = 6, base_channels: int = 32, layers: int = 3) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(in_channels, base_channels, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        c = base_channels
        for i in range(1, layers):
            nxt = base_channels * min(2**i, 8)
            mods += [nn.Conv2d(c, nxt, 4, 2 if i < layers - 1 else 1, 1), nn.GroupNorm(8 if nxt % 8 == 0 else 1, nxt),
                     nn.LeakyReLU(0.2, inplace=True)]
            c = nxt
        mods.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
