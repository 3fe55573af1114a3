"""DCGAN-family generator and discriminator for 32, 64 and 128 px images.

The generator upsamples a 4x4 seed with transposed convolutions and batch norm; the discriminator
mirrors it with spectrally normalised strided convolutions (no batch norm, so real and fake can share
one forward pass). Conditioning, when asked for, uses the well-tested pairing of conditional batch norm
in G and a projection discriminator (Miyato & Koyama 2018); a sentence embedding is handled the same
way as a class, through a learned projection, so one code path serves both.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from reelforge.errors import InvalidInput
from reelforge.vision.gan.diffaug import parse_policy

SUPPORTED_RESOLUTIONS: tuple[int, ...] = (32, 64, 128)
LOSSES: tuple[str, ...] = ("hinge", "ns")


@dataclass
class GANConfig:
    """Everything needed to rebuild the networks and to train them the same way again.

    Defaults suit 64 px photographic data. For tiny data on CPU (e.g. 32 px digits) a much smaller
    model trains in minutes: base_channels=16, z_dim=64, ema_decay=0.99, diffaug="translation"
    (see benchmarks/bench_gan_digits_probe.py).
    """

    resolution: int = 64  # 32, 64 or 128
    z_dim: int = 128
    base_channels: int = 64  # width: G/D use base * (1, 2, 4, 8) channels from full to 4x4 resolution
    channels: int = 3  # 3 = RGB, 1 = grey (training images are converted)
    num_classes: int = 0  # > 0: class-conditional (conditional batch norm in G, projection in D)
    text_dim: int = 0  # sentence-embedding size (e.g. 384); 0 = not text-conditioned
    cond_dim: int = 128  # size of G's conditioning vector (class embedding or projected text)
    mbstd_group: int = 4  # D sees the feature spread within groups of this many images; 0 disables
    loss: str = "hinge"  # "hinge" or "ns" (non-saturating)
    r1_gamma: float = 0.0  # R1 gradient penalty weight on real images; 0 disables
    r1_every: int = 4  # lazy R1: penalise every k D steps (scaled by k to keep its strength)
    mode_seeking: float = 0.1  # conditional G only: weight of the anti-collapse term (0 = off)
    ema_decay: float = 0.999
    ema_warmup: bool = True  # early on, let the EMA follow G closely (decay ramps up to ema_decay)
    diffaug: str = "color,translation,cutout"  # DiffAugment policy for D's inputs; "none" disables
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.99)  # Adam betas for both networks
    batch_size: int = 64

    def __post_init__(self) -> None:
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        self.validate()

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0 or self.text_dim > 0

    def validate(self) -> None:
        if self.resolution not in SUPPORTED_RESOLUTIONS:
            raise InvalidInput(
                f"GAN resolution {self.resolution} px is not supported; use one of {list(SUPPORTED_RESOLUTIONS)}"
            )
        for name in ("z_dim", "base_channels", "cond_dim", "batch_size", "r1_every"):
            if int(getattr(self, name)) < 1:
                raise InvalidInput(f"GAN config: {name} must be >= 1, got {getattr(self, name)}")
        if self.mbstd_group < 0 or self.mbstd_group == 1:
            raise InvalidInput(f"GAN config: mbstd_group must be 0 (off) or >= 2, got {self.mbstd_group}")
        if self.channels not in (1, 3):
            raise InvalidInput(f"GAN config: channels must be 1 or 3, got {self.channels}")
        if self.num_classes < 0 or self.text_dim < 0:
            raise InvalidInput("GAN config: num_classes and text_dim must be >= 0")
        if self.num_classes > 0 and self.text_dim > 0:
            raise InvalidInput("GAN config: use either num_classes or text_dim, not both")
        if self.loss not in LOSSES:
            raise InvalidInput(f"GAN config: loss must be one of {list(LOSSES)}, got {self.loss!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise InvalidInput(f"GAN config: ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.mode_seeking < 0:
            raise InvalidInput(f"GAN config: mode_seeking must be >= 0, got {self.mode_seeking}")
        if self.r1_gamma < 0:
            raise InvalidInput(f"GAN config: r1_gamma must be >= 0, got {self.r1_gamma}")
        if self.lr_g <= 0 or self.lr_d <= 0:
            raise InvalidInput("GAN config: learning rates must be > 0")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise InvalidInput(f"GAN config: betas must be in [0, 1), got {list(self.betas)}")
        parse_policy(self.diffaug)  # raises InvalidInput on an unknown policy

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GANConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"GAN config: unknown field(s) {unknown}")
        kwargs = dict(data)
        if "betas" in kwargs:
            betas = kwargs["betas"]
            if not isinstance(betas, list | tuple) or len(betas) != 2:
                raise InvalidInput(f"GAN config: betas must be two numbers, got {betas!r}")
            kwargs["betas"] = (float(betas[0]), float(betas[1]))
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise InvalidInput(f"GAN config: {exc}") from exc

    def architecture(self) -> dict[str, int]:
        """The fields that change tensor shapes: two configs with equal architecture share weights."""
        return {
            k: getattr(self, k)
            for k in (
                "resolution",
                "z_dim",
                "base_channels",
                "channels",
                "num_classes",
                "text_dim",
                "cond_dim",
                "mbstd_group",
            )
        }


def _num_stages(resolution: int) -> int:
    return int(math.log2(resolution)) - 2  # number of x2 steps between 4x4 and the output size


def generator_channels(config: GANConfig) -> list[int]:
    """Channel width at 4x4, 8x8, ..., resolution: wide at low resolution, capped at 8x base."""
    n = _num_stages(config.resolution)
    return [config.base_channels * min(8, 2 ** (n - i)) for i in range(n + 1)]


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias are predicted from the conditioning vector."""

    def __init__(self, num_features: int, cond_dim: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Linear(cond_dim, num_features)
        self.bias = nn.Linear(cond_dim, num_features)
        # Start as plain batch norm (gain 1, bias 0) so conditioning is learned, not imposed at init.
        for lin in (self.gain, self.bias):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        g = 1.0 + self.gain(c)
        b = self.bias(c)
        return self.bn(x) * g[:, :, None, None] + b[:, :, None, None]


class Generator(nn.Module):
    """z (+ conditioning) -> image in [-1, 1], shape (B, channels, resolution, resolution)."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        chs = generator_channels(config)
        cond = config.cond_dim if config.conditional else 0
        self.embed: nn.Embedding | None = None
        self.text_proj: nn.Sequential | None = None
        if config.num_classes > 0:
            self.embed = nn.Embedding(config.num_classes, config.cond_dim)
        elif config.text_dim > 0:
            self.text_proj = nn.Sequential(nn.Linear(config.text_dim, config.cond_dim), nn.LeakyReLU(0.2))
        self.fc = nn.Linear(config.z_dim + cond, chs[0] * 16)
        self.norms = nn.ModuleList([self._norm(chs[0])])
        self.ups = nn.ModuleList()
        for cin, cout in itertools.pairwise(chs):
            self.ups.append(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False))
            self.norms.append(self._norm(cout))
        self.to_rgb = nn.Conv2d(chs[-1], config.channels, 3, 1, 1)
        self._c0 = chs[0]

    def _norm(self, n: int) -> nn.Module:
        if self.config.conditional:
            return ConditionalBatchNorm2d(n, self.config.cond_dim)
        return nn.BatchNorm2d(n)

    def condition(self, class_ids: torch.Tensor | None, text: torch.Tensor | None) -> torch.Tensor | None:
        """The conditioning vector c: a class embedding or the projected sentence embedding."""
        if self.embed is not None:
            if class_ids is None:
                raise InvalidInput("this generator is class-conditional: class ids are required")
            return self.embed(class_ids)
        if self.text_proj is not None:
            if text is None:
                raise InvalidInput("this generator is text-conditioned: text embeddings are required")
            return self.text_proj(text)
        return None

    def forward(
        self, z: torch.Tensor, class_ids: torch.Tensor | None = None, text: torch.Tensor | None = None
    ) -> torch.Tensor:
        c = self.condition(class_ids, text)
        h = self.fc(z if c is None else torch.cat([z, c], dim=1))
        h = h.view(z.shape[0], self._c0, 4, 4)
        h = self._apply_norm(0, h, c).relu()
        for i, up in enumerate(self.ups, start=1):
            h = self._apply_norm(i, up(h), c).relu()
        return torch.tanh(self.to_rgb(h))

    def _apply_norm(self, i: int, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        norm = self.norms[i]
        return norm(h, c) if c is not None else norm(h)


def minibatch_stddev(h: torch.Tensor, group: int) -> torch.Tensor:
    """Append one channel: the feature spread within groups of consecutive images (Karras et al. 2018).

    A per-image discriminator cannot see that a generator makes the same image every time; this
    statistic lets it, which is what stops within-class mode collapse. Groups are consecutive so a
    batch made of [reals, fakes] never mixes the two when each half is a multiple of the group size.
    """
    n, c, hh, ww = h.shape
    g = min(group, n)
    while n % g:  # largest group size <= `group` that divides the batch
        g -= 1
    if g < 2:
        return torch.cat([h, h.new_zeros(n, 1, hh, ww)], dim=1)
    grouped = h.reshape(n // g, g, c, hh, ww)
    centred = grouped - grouped.mean(dim=1, keepdim=True)  # (explicit ops: var() is slow on channels_last)
    std = (centred.square().mean(dim=1) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (n // g,)
    feat = std.repeat_interleave(g)[:, None, None, None].expand(n, 1, hh, ww)
    return torch.cat([h, feat], dim=1)


class Discriminator(nn.Module):
    """image -> one logit per image; projection terms add class/text agreement to the logit."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        chs = list(reversed(generator_channels(config)))
        self.from_rgb = spectral_norm(nn.Conv2d(config.channels, chs[0], 3, 1, 1))
        self.downs = nn.ModuleList(
            [spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)) for cin, cout in itertools.pairwise(chs)]
        )
        extra = 1 if config.mbstd_group else 0
        # Groups divide the training batch, so in a [reals, fakes] batch no group mixes the two.
        self._mbstd = math.gcd(config.mbstd_group, config.batch_size)
        self.head = spectral_norm(nn.Conv2d(chs[-1] + extra, chs[-1], 3, 1, 1))
        self.out = spectral_norm(nn.Linear(chs[-1], 1))
        self.embed: nn.Module | None = None
        self.text_proj: nn.Module | None = None
        if config.num_classes > 0:
            self.embed = spectral_norm(nn.Embedding(config.num_classes, chs[-1]))
        elif config.text_dim > 0:
            self.text_proj = spectral_norm(nn.Linear(config.text_dim, chs[-1], bias=False))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.leaky_relu(self.from_rgb(x), 0.2)
        for down in self.downs:
            h = nn.functional.leaky_relu(down(h), 0.2)
        if self.config.mbstd_group:
            h = minibatch_stddev(h, self._mbstd)
        h = nn.functional.leaky_relu(self.head(h), 0.2)
        return h.sum(dim=(2, 3))  # sum pooling, as in the projection discriminator paper

    def forward(
        self, x: torch.Tensor, class_ids: torch.Tensor | None = None, text: torch.Tensor | None = None
    ) -> torch.Tensor:
        h = self.features(x)
        out = self.out(h).squeeze(1)
        if self.embed is not None:
            if class_ids is None:
                raise InvalidInput("this discriminator is class-conditional: class ids are required")
            out = out + (self.embed(class_ids) * h).sum(dim=1)
        elif self.text_proj is not None:
            if text is None:
                raise InvalidInput("this discriminator is text-conditioned: text embeddings are required")
            out = out + (self.text_proj(text) * h).sum(dim=1)
        return out


def build_models(config: GANConfig, seed: int | None = None) -> tuple[Generator, Discriminator]:
    """G and D initialised from `seed` without disturbing the caller's global RNG."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return Generator(config), Discriminator(config)
