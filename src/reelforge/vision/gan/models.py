"""GAN configuration, and the two generator/discriminator families it can build.

``arch="fewshot"`` (the default for new models; ``reelforge.vision.gan.fewshot``): a generator
without transposed convolutions (x2 upsampling then 3x3 convolutions), per-layer noise injection,
pixel normalisation instead of batch norm (so its EMA copy needs no statistics of its own), and either
a 4x4 latent map (stationary data: star fields, textures) or FastGAN's skip-layer excitation
(object-centric data); a residual discriminator with a self-supervised decoder on its 8x8 features.

``arch="dcgan"``: the original DCGAN-family pair, kept so saved models load and sample unchanged and so
the old configuration can still be trained for comparison. Its generator upsamples a 4x4 seed with
transposed convolutions and batch norm; the discriminator uses spectrally normalised strided
convolutions.

Both families take conditioning the same way: a class embedding or a projected sentence embedding
becomes G's conditioning vector c (conditional batch norm in the DCGAN, per-channel modulation in the
few-shot G), and D adds a projection term (Miyato & Koyama 2018). ``Generator(config)`` and
``Discriminator(config)`` build the family the config names.
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
from reelforge.vision.gan.diffaug import FILLS, parse_policy

SUPPORTED_RESOLUTIONS: tuple[int, ...] = (32, 64, 128)
LOSSES: tuple[str, ...] = ("hinge", "ns")
ARCHS: tuple[str, ...] = ("fewshot", "dcgan")
EMA_BN: tuple[str, ...] = ("standing", "copy")
G_NORMS: tuple[str, ...] = ("pixel", "batch")

# What a config saved before a field existed meant by it (GANConfig.from_dict fills these in), so an
# old model folder or checkpoint rebuilds exactly the networks and training it had.
LEGACY_DEFAULTS: dict[str, Any] = {
    "arch": "dcgan",
    "latent_map": False,
    "skip_excitation": False,
    "noise_injection": False,
    "g_norm": "batch",
    "max_channels": 0,
    "recon_weight": 0.0,
    "ema_rampup": 0.0,
    "ema_kimg": 0.0,
    "ema_bn": "copy",
    "diffaug_fill": "zero",
    "ada_target": 0.0,
    "ada_kimg": 5.0,
}


@dataclass
class GANConfig:
    """Everything needed to rebuild the networks and to train them the same way again.

    Use the presets (``reelforge.vision.gan.presets``) rather than picking these by hand: they size
    the model, batch and run from the dataset, resolution and device.
    """

    resolution: int = 64  # 32, 64 or 128
    z_dim: int = 128
    base_channels: int = 64  # width at full resolution; doubles per halving of resolution
    channels: int = 3  # 3 = RGB, 1 = grey (training images are converted)
    num_classes: int = 0  # > 0: class-conditional
    text_dim: int = 0  # sentence-embedding size (e.g. 384); 0 = not text-conditioned
    cond_dim: int = 128  # size of G's conditioning vector (class embedding or projected text)
    mbstd_group: int = 4  # D sees the feature spread within groups of this many images; 0 disables
    loss: str = "hinge"  # "hinge" or "ns" (non-saturating)
    r1_gamma: float = 0.0  # R1 gradient penalty weight on real images; 0 disables
    r1_every: int = 16  # lazy R1: penalise every k D steps (scaled by k to keep its strength)
    mode_seeking: float = 0.1  # conditional G only: weight of the anti-collapse term (0 = off)
    ema_decay: float = 0.999  # fixed EMA decay, used when ema_rampup is 0
    ema_warmup: bool = True  # with a fixed decay: early on, let the EMA follow G closely
    diffaug: str = "color,translation,cutout"  # DiffAugment policy for D's inputs; "none" disables
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.99)  # Adam betas for both networks
    batch_size: int = 64
    # --- architecture family and its options (see the module docstring)
    arch: str = "fewshot"  # "fewshot" or "dcgan"
    latent_map: bool = False  # fewshot G: z (z_dim = 16k) is a k-channel 4x4 map, convolved, not a vector
    skip_excitation: bool = False  # fewshot G: low-resolution features gate the channels of high ones
    noise_injection: bool = True  # fewshot G: per-pixel noise after each conv, learned per-channel scale
    stage_layers: int = 2  # fewshot G: 3x3 convolutions per stage after each x2 upsampling
    g_norm: str = "pixel"  # fewshot G: "pixel" (per-image, no statistics) or "batch" (standing stats for EMA)
    max_channels: int = 0  # cap on any stage's width; 0 = 8 * base_channels
    recon_weight: float = 1.0  # fewshot D: weight of its self-supervised reconstruction loss; 0 = off
    # --- EMA: a half-life that grows with the run (see reelforge.vision.gan.ema)
    ema_rampup: float = 0.05  # half-life = this fraction of the images seen so far; 0 = fixed ema_decay
    ema_kimg: float = 0.0  # cap on the half-life in thousands of images; 0 = no cap
    ema_bn: str = "standing"  # EMA copy's batch-norm statistics: recomputed ("standing") or copied
    # --- augmentation
    diffaug_fill: str = "mean"  # translation/cutout fill: the image's mean, or "zero" (mid-grey)
    ada_target: float = 0.6  # adaptive augmentation: target mean sign of D(real); 0 = always augment
    ada_kimg: float = 5.0  # adaptive augmentation: p can go 0 -> 1 in this many thousand images

    def __post_init__(self) -> None:
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        self.validate()

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0 or self.text_dim > 0

    @property
    def width_cap(self) -> int:
        return self.max_channels or 8 * self.base_channels

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
        if self.arch not in ARCHS:
            raise InvalidInput(f"GAN config: arch must be one of {list(ARCHS)}, got {self.arch!r}")
        if self.arch == "dcgan" and (self.latent_map or self.skip_excitation or self.noise_injection
                                     or self.recon_weight > 0):
            raise InvalidInput(
                "GAN config: latent_map, skip_excitation, noise_injection and recon_weight belong to "
                "arch 'fewshot'; turn them off for arch 'dcgan'"
            )
        if not 1 <= self.stage_layers <= 4:
            raise InvalidInput(f"GAN config: stage_layers must be 1 to 4, got {self.stage_layers}")
        if self.g_norm not in G_NORMS:
            raise InvalidInput(f"GAN config: g_norm must be one of {list(G_NORMS)}, got {self.g_norm!r}")
        if self.latent_map and self.z_dim % 16:
            raise InvalidInput(f"GAN config: a 4x4 latent map needs z_dim divisible by 16, got {self.z_dim}")
        if self.max_channels < 0:
            raise InvalidInput(f"GAN config: max_channels must be >= 0, got {self.max_channels}")
        if self.recon_weight < 0:
            raise InvalidInput(f"GAN config: recon_weight must be >= 0, got {self.recon_weight}")
        if self.ema_rampup < 0 or self.ema_kimg < 0:
            raise InvalidInput("GAN config: ema_rampup and ema_kimg must be >= 0")
        if self.ema_bn not in EMA_BN:
            raise InvalidInput(f"GAN config: ema_bn must be one of {list(EMA_BN)}, got {self.ema_bn!r}")
        if self.diffaug_fill not in FILLS:
            raise InvalidInput(f"GAN config: diffaug_fill must be one of {list(FILLS)}, got {self.diffaug_fill!r}")
        if not 0.0 <= self.ada_target < 1.0:
            raise InvalidInput(f"GAN config: ada_target must be in [0, 1) (0 = off), got {self.ada_target}")
        if self.ada_kimg <= 0:
            raise InvalidInput(f"GAN config: ada_kimg must be > 0, got {self.ada_kimg}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GANConfig:
        """Inverse of to_dict; fields a config was saved without take their LEGACY_DEFAULTS value."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"GAN config: unknown field(s) {unknown}")
        kwargs = {**{k: v for k, v in LEGACY_DEFAULTS.items() if k not in data}, **data}
        if "betas" in kwargs:
            betas = kwargs["betas"]
            if not isinstance(betas, list | tuple) or len(betas) != 2:
                raise InvalidInput(f"GAN config: betas must be two numbers, got {betas!r}")
            kwargs["betas"] = (float(betas[0]), float(betas[1]))
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise InvalidInput(f"GAN config: {exc}") from exc

    def architecture(self) -> dict[str, Any]:
        """The fields that change tensor shapes: two configs with equal architecture share weights."""
        return {
            k: getattr(self, k)
            for k in (
                "arch",
                "resolution",
                "z_dim",
                "base_channels",
                "max_channels",
                "channels",
                "num_classes",
                "text_dim",
                "cond_dim",
                "mbstd_group",
                "latent_map",
                "skip_excitation",
                "noise_injection",
                "stage_layers",
                "g_norm",
            )
        } | {"recon": self.recon_weight > 0}


def _num_stages(resolution: int) -> int:
    return int(math.log2(resolution)) - 2  # number of x2 steps between 4x4 and the output size


def generator_channels(config: GANConfig) -> list[int]:
    """Channel width at 4x4, 8x8, ..., resolution: base at full resolution, doubling per halving, capped
    at config.width_cap (8x base unless max_channels says otherwise). A narrow full-resolution stage
    keeps 128 px within a small multiple of the cost of 64 px."""
    n = _num_stages(config.resolution)
    cap = config.width_cap
    return [min(cap, config.base_channels * 2 ** (n - i)) for i in range(n + 1)]


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
    """z (+ conditioning) -> image in [-1, 1], shape (B, channels, resolution, resolution).

    ``Generator(config)`` builds the family config.arch names (DCGANGenerator or FewShotGenerator,
    both subclasses, so ``isinstance(g, Generator)`` holds for either).
    """

    config: GANConfig

    def __new__(cls, config: GANConfig | None = None, *args: Any, **kwargs: Any) -> Generator:
        if cls is Generator:  # (copy/deepcopy call __new__ on the concrete class, without a config)
            if config is None:
                raise InvalidInput("Generator(config): a GANConfig is required")
            cls = _generator_class(config)
        return super().__new__(cls)

    def noise_shapes(self) -> list[tuple[int, int]]:
        """(height, width) of each noise map forward() takes; empty when G has no noise inputs."""
        return []

    def make_noise(self, batch: int, generator: torch.Generator | None = None) -> list[torch.Tensor] | None:
        """One standard-normal map (batch, 1, h, w) per noise input, drawn on CPU from `generator`."""
        shapes = self.noise_shapes()
        if not shapes:
            return None
        return [torch.randn(batch, 1, h, w, generator=generator) for h, w in shapes]

    def condition(self, class_ids: torch.Tensor | None, text: torch.Tensor | None) -> torch.Tensor | None:
        """The conditioning vector c: a class embedding or the projected sentence embedding."""
        embed: nn.Module | None = getattr(self, "embed", None)
        text_proj: nn.Module | None = getattr(self, "text_proj", None)
        if embed is not None:
            if class_ids is None:
                raise InvalidInput("this generator is class-conditional: class ids are required")
            return embed(class_ids)
        if text_proj is not None:
            if text is None:
                raise InvalidInput("this generator is text-conditioned: text embeddings are required")
            return text_proj(text)
        return None


def _generator_class(config: GANConfig) -> type[Generator]:
    if config.arch == "fewshot":
        from reelforge.vision.gan.fewshot import FewShotGenerator

        return FewShotGenerator
    return DCGANGenerator


def _discriminator_class(config: GANConfig) -> type[Discriminator]:
    if config.arch == "fewshot":
        from reelforge.vision.gan.fewshot import FewShotDiscriminator

        return FewShotDiscriminator
    return DCGANDiscriminator


class DCGANGenerator(Generator):
    """The original generator: linear 4x4 seed, ConvTranspose(4, 2) upsampling, (conditional) batch norm."""

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

    def forward(
        self,
        z: torch.Tensor,
        class_ids: torch.Tensor | None = None,
        text: torch.Tensor | None = None,
        noise: list[torch.Tensor] | None = None,
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
    """image -> one logit per image; projection terms add class/text agreement to the logit.

    ``Discriminator(config)`` builds the family config.arch names. ``forward_features`` also returns
    the 8x8 feature map a self-supervised decoder reads (None where the family has none).
    """

    config: GANConfig

    def __new__(cls, config: GANConfig | None = None, *args: Any, **kwargs: Any) -> Discriminator:
        if cls is Discriminator:
            if config is None:
                raise InvalidInput("Discriminator(config): a GANConfig is required")
            cls = _discriminator_class(config)
        return super().__new__(cls)

    def forward_features(
        self, x: torch.Tensor, class_ids: torch.Tensor | None = None, text: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self(x, class_ids, text), None

    def reconstruct(self, feat8: torch.Tensor) -> torch.Tensor:
        raise InvalidInput(f"the {self.config.arch} discriminator has no reconstruction decoder")

    def _project(
        self, h: torch.Tensor, out: torch.Tensor, class_ids: torch.Tensor | None, text: torch.Tensor | None
    ) -> torch.Tensor:
        embed: nn.Module | None = getattr(self, "embed", None)
        text_proj: nn.Module | None = getattr(self, "text_proj", None)
        if embed is not None:
            if class_ids is None:
                raise InvalidInput("this discriminator is class-conditional: class ids are required")
            return out + (embed(class_ids) * h).sum(dim=1)
        if text_proj is not None:
            if text is None:
                raise InvalidInput("this discriminator is text-conditioned: text embeddings are required")
            return out + (text_proj(text) * h).sum(dim=1)
        return out


class DCGANDiscriminator(Discriminator):
    """The original discriminator: spectrally normalised strided 4x4 convolutions."""

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
        return self._project(h, self.out(h).squeeze(1), class_ids, text)


def build_models(config: GANConfig, seed: int | None = None) -> tuple[Generator, Discriminator]:
    """G and D initialised from `seed` without disturbing the caller's global RNG."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return Generator(config), Discriminator(config)
