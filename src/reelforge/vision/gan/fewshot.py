"""The few-shot generator and discriminator (``GANConfig.arch == "fewshot"``).

Written from the ideas of FastGAN (Liu et al. 2021, "Towards Faster and Stabilized GAN Training for
High-fidelity Few-shot Image Synthesis") and StyleGAN2 (Karras et al. 2020), for a few hundred images
trained on a CPU in minutes:

- G upsamples x2 (bilinear) and then convolves 3x3: no transposed convolutions, so no checkerboard
  from uneven kernel overlap, and no lattice from a 4x4 seed stamped out by a stride-2 kernel.
- Per-layer noise injection (learned per-channel scale, zero at init): stochastic detail (where the
  stars fall) comes from noise, not from a fixed function of z, which would otherwise tie it to
  fixed positions.
- Pixel normalisation (plus per-channel modulation from the condition), not batch norm: every image
  is generated on its own, so the EMA generator is exactly the averaged weights, with no statistics
  that must be recomputed for it.
- ``latent_map``: z (z_dim = 16k) is read as a k-channel 4x4 map and convolved, so G has no
  position-specific weights at all: right for stationary data (star fields, textures, landscapes).
- ``skip_excitation`` (FastGAN's SLE): a 4x4 summary of a low-resolution stage gates the channels of
  the stage 8x larger: global layout steers local texture, right for object-centric data.
- D downsamples with residual blocks (strided 4x4 conv then 3x3 conv, plus an average-pooled 1x1
  shortcut), is spectrally normalised, and decodes its 8x8 features back to a small image
  (``reconstruct``, 16 px): trained on real images only with a plain MSE, this self-supervision makes D learn
  what the images contain instead of memorising which of the few training images it was shown.

On CUDA, bilinear upsampling is computed as nearest x2 followed by a [1, 2, 1] blur normalised at the
border (the same function), because the backward pass of F.interpolate(bilinear) is not
deterministic there.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from reelforge.vision.gan.models import (
    ConditionalBatchNorm2d,
    Discriminator,
    GANConfig,
    Generator,
    _num_stages,
    generator_channels,
    minibatch_stddev,
)

RECON_SIZE = 16  # side of D's self-supervised reconstruction (the 8x8 features, upsampled once)
_SQRT2 = math.sqrt(2.0)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 upsampling (align_corners=False), deterministic on every device."""
    if not x.is_cuda:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    y = F.interpolate(x, scale_factor=2.0, mode="nearest")
    c = y.shape[1]
    k = torch.tensor([1.0, 2.0, 1.0], device=y.device, dtype=y.dtype)
    k2 = (k[:, None] * k[None, :]).expand(c, 1, 3, 3).contiguous()
    num = F.conv2d(y, k2, padding=1, groups=c)
    ones = torch.ones(1, 1, y.shape[2], y.shape[3], device=y.device, dtype=y.dtype)
    den = F.conv2d(ones, k2[:1], padding=1)
    return num / den


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit mean square (Karras et al. 2018), then modulate it
    per channel from the condition (gain 1 + W_g c, bias W_b c, both zero at init)."""

    def __init__(self, channels: int, cond_dim: int = 0) -> None:
        super().__init__()
        self.gain: nn.Linear | None = None
        self.bias: nn.Linear | None = None
        if cond_dim:
            self.gain = nn.Linear(cond_dim, channels)
            self.bias = nn.Linear(cond_dim, channels)
            for lin in (self.gain, self.bias):
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)
        if c is not None and self.gain is not None and self.bias is not None:
            x = x * (1.0 + self.gain(c))[:, :, None, None] + self.bias(c)[:, :, None, None]
        return x


class NoiseInjection(nn.Module):
    """x + scale[c] * noise, one noise map per image shared by all channels (StyleGAN).

    The scale starts at zero (G starts deterministic) and is stored divided by LR_MUL, so Adam moves
    it LR_MUL times faster than an ordinary weight: at lr 2e-4 a zero-initialised scale would need
    thousands of steps to matter, and few-shot runs here are a few thousand steps in all."""

    LR_MUL = 10.0  # at 1 the noise stayed unused in 1200-step runs and G drew swirls instead of stars

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        scale = (self.scale * self.LR_MUL).to(x.dtype)
        return torch.addcmul(x, scale, noise.to(dtype=x.dtype).contiguous(memory_format=fmt))


class BatchNormMod(nn.Module):
    """Batch norm (conditional when cond_dim > 0) with the PixelNorm call signature."""

    def __init__(self, channels: int, cond_dim: int = 0) -> None:
        super().__init__()
        self.cbn = ConditionalBatchNorm2d(channels, cond_dim) if cond_dim else None
        self.bn = None if cond_dim else nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if self.cbn is not None and c is not None:
            return self.cbn(x, c)
        assert self.bn is not None
        return self.bn(x)


def make_norm(kind: str, channels: int, cond_dim: int) -> nn.Module:
    return BatchNormMod(channels, cond_dim) if kind == "batch" else PixelNorm(channels, cond_dim)


class GLayer(nn.Module):
    """3x3 conv -> noise -> norm (+ modulation) -> LeakyReLU."""

    def __init__(self, cin: int, cout: int, cond_dim: int, noise: bool, norm: str = "pixel") -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1)
        self.noise = NoiseInjection(cout) if noise else None
        self.norm = make_norm(norm, cout, cond_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None, noise: torch.Tensor | None) -> torch.Tensor:
        h = self.conv(x)
        if self.noise is not None:
            if noise is None:
                noise = torch.randn(h.shape[0], 1, h.shape[2], h.shape[3], device=h.device)
            h = self.noise(h, noise)
        return F.leaky_relu(self.norm(h, c), 0.2)


class SkipExcitation(nn.Module):
    """FastGAN's skip-layer excitation: a low-resolution map gates the channels of a high one."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 4, 1, 0)  # 4x4 summary -> 1x1
        self.conv2 = nn.Conv2d(cout, cout, 1, 1, 0)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        s = low if low.shape[-1] == 4 else F.avg_pool2d(low, low.shape[-1] // 4)
        gate = torch.sigmoid(self.conv2(F.leaky_relu(self.conv1(s), 0.2)))
        return high * gate


def _stage_layers(res: int, per_stage: int) -> int:
    """3x3 conv layers per stage (the 4x4 stage is the input layer itself). Two, not one: with a single
    convolution per stage the last stages blur what they upsample, and star fields lose their points
    (on the Hubble crops at 32 px: SWD 2.2x against 3.9x the real floor, equal steps)."""
    return 0 if res == 4 else per_stage


class FewShotGenerator(Generator):
    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        chs = generator_channels(config)
        self._chs = chs
        self._res = [4 * 2**i for i in range(len(chs))]
        cond = config.cond_dim if config.conditional else 0
        self.embed: nn.Embedding | None = None
        self.text_proj: nn.Sequential | None = None
        if config.num_classes > 0:
            self.embed = nn.Embedding(config.num_classes, config.cond_dim)
        elif config.text_dim > 0:
            self.text_proj = nn.Sequential(nn.Linear(config.text_dim, config.cond_dim), nn.LeakyReLU(0.2))
        self.fc: nn.Linear | None = None
        self.input_conv: nn.Conv2d | None = None
        self.cond_bias: nn.Linear | None = None
        if config.latent_map:
            self.input_conv = nn.Conv2d(config.z_dim // 16, chs[0], 3, 1, 1)
            if cond:
                self.cond_bias = nn.Linear(cond, chs[0])
        else:
            self.fc = nn.Linear(config.z_dim + cond, chs[0] * 16)
        self.input_norm = make_norm(config.g_norm, chs[0], cond)
        self.blocks = nn.ModuleList()
        self._noise_res: list[int] = []
        for i, (res, cout) in enumerate(zip(self._res, chs, strict=True)):
            cin = chs[i - 1] if i else chs[0]
            layers = nn.ModuleList()
            for k in range(_stage_layers(res, config.stage_layers)):
                layers.append(GLayer(cin if k == 0 else cout, cout, cond, config.noise_injection, config.g_norm))
                if config.noise_injection:
                    self._noise_res.append(res)
            self.blocks.append(layers)
        # Skip-layer excitation: the stage at res/8 gates each stage of 32 px and above.
        self.sle = nn.ModuleDict()
        if config.skip_excitation:
            for i, res in enumerate(self._res):
                if res >= 32:
                    j = self._res.index(res // 8)
                    self.sle[str(i)] = SkipExcitation(chs[j], chs[i])
        self.to_rgb = nn.Conv2d(chs[-1], config.channels, 3, 1, 1)

    @property
    def norms(self) -> list[nn.Module]:
        """Every modulated normalisation (conditional tests and tools reach them by this name). A plain
        list, not a ModuleList: registering them twice would put each weight in the state dict under
        two names sharing memory, which safetensors refuses to save."""
        return [self.input_norm, *[layer.norm for blk in self.blocks for layer in blk]]

    def noise_shapes(self) -> list[tuple[int, int]]:
        return [(r, r) for r in self._noise_res]

    def forward(
        self,
        z: torch.Tensor,
        class_ids: torch.Tensor | None = None,
        text: torch.Tensor | None = None,
        noise: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """`noise`: maps as make_noise() returns them; None draws fresh ones from the global RNG."""
        c = self.condition(class_ids, text)
        b = z.shape[0]
        if self.input_conv is not None:
            h = self.input_conv(z.reshape(b, -1, 4, 4))
            if self.cond_bias is not None and c is not None:
                h = h + self.cond_bias(c)[:, :, None, None]
        else:
            assert self.fc is not None
            h = self.fc(z if c is None else torch.cat([z, c], dim=1)).view(b, self._chs[0], 4, 4)
        h = F.leaky_relu(self.input_norm(h, c), 0.2)
        if noise is not None and len(noise) != len(self._noise_res):
            raise ValueError(f"expected {len(self._noise_res)} noise maps, got {len(noise)}")
        k = 0
        feats: list[torch.Tensor] = []
        for i, layers in enumerate(self.blocks):
            if i:
                h = upsample2x(h)
            for layer in layers:
                n = None
                if layer.noise is not None:
                    n = None if noise is None else noise[k].to(h.device)
                    k += 1
                h = layer(h, c, n)
            gate = self.sle[str(i)] if str(i) in self.sle else None
            if gate is not None:
                h = gate(feats[self._res.index(self._res[i] // 8)], h)
            feats.append(h)
        return torch.tanh(self.to_rgb(h))


class ResDown(nn.Module):
    """Residual x0.5 block: strided 4x4 conv, plus an avg-pool -> 1x1 conv shortcut (both SN)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1))
        self.skip = spectral_norm(nn.Conv2d(cin, cout, 1, 1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv(x), 0.2)
        return (h + self.skip(F.avg_pool2d(x, 2))) / _SQRT2


class FewShotDiscriminator(Discriminator):
    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        chs = list(reversed(generator_channels(config)))
        self.from_rgb = spectral_norm(nn.Conv2d(config.channels, chs[0], 3, 1, 1))
        self.downs = nn.ModuleList([ResDown(cin, cout) for cin, cout in itertools.pairwise(chs)])
        # Index of the block whose output is 8x8 (resolution / 2**(i+1) == 8).
        self._feat8 = _num_stages(config.resolution) - 2
        extra = 1 if config.mbstd_group else 0
        self._mbstd = math.gcd(config.mbstd_group, config.batch_size)
        self.head = spectral_norm(nn.Conv2d(chs[-1] + extra, chs[-1], 3, 1, 1))
        self.out = spectral_norm(nn.Linear(chs[-1], 1))
        self.embed: nn.Module | None = None
        self.text_proj: nn.Module | None = None
        if config.num_classes > 0:
            self.embed = spectral_norm(nn.Embedding(config.num_classes, chs[-1]))
        elif config.text_dim > 0:
            self.text_proj = spectral_norm(nn.Linear(config.text_dim, chs[-1], bias=False))
        self.decoder: nn.Sequential | None = None
        if config.recon_weight > 0:
            c8 = chs[self._feat8 + 1]
            mid = max(8, min(32, c8 // 2))
            self.decoder = nn.Sequential(
                nn.Upsample(scale_factor=2.0, mode="nearest"),
                nn.Conv2d(c8, mid, 3, 1, 1),
                nn.LeakyReLU(0.2),
                nn.Conv2d(mid, config.channels, 3, 1, 1),
                nn.Tanh(),
            )

    def forward_features(
        self, x: torch.Tensor, class_ids: torch.Tensor | None = None, text: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits, the 8x8 feature map the decoder reads)."""
        h = F.leaky_relu(self.from_rgb(x), 0.2)
        feat8 = None
        for i, down in enumerate(self.downs):
            h = down(h)
            if i == self._feat8:
                feat8 = h
        if self.config.mbstd_group:
            h = minibatch_stddev(h, self._mbstd)
        h = F.leaky_relu(self.head(h), 0.2).sum(dim=(2, 3))
        return self._project(h, self.out(h).squeeze(1), class_ids, text), feat8

    def forward(
        self, x: torch.Tensor, class_ids: torch.Tensor | None = None, text: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.forward_features(x, class_ids, text)[0]

    def reconstruct(self, feat8: torch.Tensor) -> torch.Tensor:
        """D's 8x8 features -> a RECON_SIZE px image in [-1, 1] (self-supervision on real images)."""
        if self.decoder is None:
            return super().reconstruct(feat8)
        return self.decoder(feat8)


def recon_target(real: torch.Tensor) -> torch.Tensor:
    """The real images at RECON_SIZE px: what D's decoder must reproduce (area downsampling)."""
    k = real.shape[-1] // RECON_SIZE
    return real if k <= 1 else F.avg_pool2d(real, k)
