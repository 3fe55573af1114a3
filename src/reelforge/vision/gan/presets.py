"""Presets, not knobs: a GAN configuration and run length chosen from the data, resolution and device.

A studio should not need to know what R1, ADA or an EMA half-life are to train a generator that
works. ``choose_preset`` picks the architecture family, width, batch, steps and augmentation from
what is known before training, and returns them with the reason for each choice, which the caller
shows (the ``gan.train`` task logs ``Preset.summary()`` and puts ``Preset.to_dict()`` in its result).
Any field the user sets explicitly overrides the preset's value (``Preset.apply``).

Presets:

- ``stationary``: the few-shot architecture with the latent as a 4x4 map, so G has no
  position-specific weights: star fields, textures, landscapes, crowds (content that can sit
  anywhere in the frame).
- ``object``: the few-shot architecture with a latent vector and FastGAN's skip-layer excitation:
  faces, creatures, ships, digits (one subject, roughly centred).
- ``dcgan``: the original DCGAN configuration of the early demo (transposed convolutions, batch-norm
  statistics copied to the EMA copy, mid-grey augmentation fills, no adaptive augmentation, a fixed
  EMA decay), kept for comparison and for reproducing old runs. Its samples fail the health checks.
- ``auto``: ``stationary`` or ``object`` from the data itself (``stationarity``): the mean image of a
  stationary set is flat, that of an object-centric set has the object's shape.
- ``none`` (or ``manual``): GANConfig's defaults and the caller's fields, nothing chosen.

Sizing (CPU; a GPU gets wider networks, larger batches and more steps): widths double per halving of
resolution from ``base_channels`` at full size, capped, and the high-resolution stages stay narrow,
so 128 px costs about as much per step as 64 px does (base 8 at 128 px, 16 at 64 and 32 px). R1 uses
StyleGAN2-ADA's heuristic gamma = 0.0002 * resolution**2 / batch, every 16 steps (lazy).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from reelforge.errors import InvalidInput

PRESETS: tuple[str, ...] = ("auto", "none", "manual", "stationary", "object", "dcgan")
# Stationarity below this (and below the noise floor of a set this size) means "stationary".
STATIONARY_MAX = 0.3

# CPU sizing per resolution: (base_channels, max_channels, batch, steps for a few hundred images).
# Steps were chosen so the run takes a few minutes on 2 CPU cores (docs/benchmarks.md, gan_fewshot).
_CPU = {32: (16, 128, 16, 1200), 64: (16, 128, 16, 900), 128: (8, 128, 16, 900)}
_GPU = {32: (32, 256, 32, 6000), 64: (32, 256, 32, 6000), 128: (16, 256, 32, 6000)}


def r1_gamma_heuristic(resolution: int, batch_size: int) -> float:
    """StyleGAN2-ADA's R1 weight: 0.0002 * resolution**2 / batch."""
    return 0.0002 * resolution**2 / batch_size


def stationarity(images: np.ndarray | list[np.ndarray], side: int = 16) -> float:
    """How much the mean image varies across the frame, relative to how much images vary per pixel.

    Grey, at `side` px (centre squares). Near 0 for stationary data (any content can be anywhere: the
    mean image is flat; the Hubble crops give about 0.1), large for object-centric data (the mean
    face has a face's shape: about 0.6; digits about 1.1).
    """
    import torch
    from torch.nn import functional as F

    items = list(images) if not isinstance(images, np.ndarray) else images
    if len(items) < 2:
        return 0.0  # one image: nothing to tell
    thumbs = []
    for img in items:
        a = np.asarray(img)
        if a.ndim == 3:
            a = a[..., :3].mean(axis=2)
        h, w = a.shape[:2]
        s = min(h, w)
        a = a[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None]
        thumbs.append(F.interpolate(t, size=(side, side), mode="area")[0, 0])
    g = torch.stack(thumbs) / 255.0
    spread = float(g.std(dim=0).mean())
    if spread < 1e-8:
        return 0.0
    return float(g.mean(dim=0).std()) / spread


def is_grey(images: np.ndarray | list[np.ndarray]) -> bool:
    """True when every image is grey (R == G == B, up to compression noise): train a 1-channel model,
    whose samples are grey exactly (an RGB model drifts into faint tints no grey image has)."""
    for img in images:
        a = np.asarray(img)
        if a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 1):
            continue
        rgb = a[..., :3].astype(np.int16)
        d = np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])
        if float(d.mean()) > 1.0 or int(d.max()) > 16:
            return False
    return True


@dataclass
class Preset:
    requested: str  # what was asked for ("auto", "stationary", ...)
    name: str  # what it resolved to ("stationary", "object", "dcgan", "none")
    config: dict[str, Any] = field(default_factory=dict)  # GANConfig fields
    steps: int | None = None
    reasons: list[str] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)  # fields the caller set explicitly

    def apply(self, explicit: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
        """(GANConfig fields, steps) with the caller's explicit values winning over the preset's; the
        preset then describes the run as trained (config, steps, and which fields were overridden)."""
        cfg = dict(self.config)
        steps = self.steps
        for key, value in explicit.items():
            if value is None:
                continue
            if key == "steps":
                steps = int(value)
            else:
                cfg[key] = value
            if key in self.config or key == "steps":
                self.overridden.append(key)
        # What training will use is what the summary and the job's record must say.
        self.config, self.steps = cfg, steps
        return dict(cfg), steps

    def summary(self) -> str:
        """One line: what was picked and why (for logs and the job result)."""
        if self.name == "none":
            return f"preset {self.requested}: no preset, GANConfig defaults and the given parameters"
        c = self.config
        arch = c.get("arch", "fewshot")
        shape = (
            "DCGAN (transposed convolutions, copied BN statistics)"
            if arch == "dcgan"
            else "few-shot G with a 4x4 latent map"
            if c.get("latent_map")
            else "few-shot G with skip-layer excitation"
        )
        ada = f"ADA target {c['ada_target']}" if c.get("ada_target") else "no ADA"
        head = f"preset {self.requested} -> {self.name}: {shape}, base {c.get('base_channels')} channels " \
               f"(cap {c.get('max_channels') or 8 * c.get('base_channels', 0)}), batch {c.get('batch_size')}, " \
               f"{self.steps} steps, DiffAugment {c.get('diffaug')} ({c.get('diffaug_fill')} fill, {ada}), " \
               f"R1 gamma {c.get('r1_gamma', 0):.3g} every {c.get('r1_every')}"
        why = "; ".join(self.reasons)
        over = f"; overridden by the given parameters: {', '.join(sorted(set(self.overridden)))}" \
            if self.overridden else ""
        return f"{head} ({why}){over}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_preset(
    preset: str,
    *,
    n_images: int,
    resolution: int,
    device: str = "cpu",
    stationarity_score: float | None = None,
    grey: bool = False,
) -> Preset:
    """The preset `preset` names, sized for `n_images` images at `resolution` px on `device`.

    For "auto" pass `stationarity_score` (``stationarity(images)``); without it "auto" assumes
    object-centric data (the safer of the two: its G can still place content anywhere). `grey`
    (``is_grey(images)``): train a 1-channel model."""
    if preset not in PRESETS:
        raise InvalidInput(f"unknown GAN preset {preset!r}; use one of {list(PRESETS)}")
    if resolution not in _CPU:
        raise InvalidInput(f"GAN resolution {resolution} px is not supported; use one of {sorted(_CPU)}")
    if n_images < 1:
        raise InvalidInput("a preset needs at least one training image")
    if preset in ("none", "manual"):
        return Preset(preset, "none", reasons=["no preset asked for"])
    reasons: list[str] = []
    name = preset
    if preset == "auto":
        # The mean of N images of stationary content still varies by about 1/sqrt(N) of the per-pixel
        # spread (the Hubble crops: 0.10 at N=96); three times that, or STATIONARY_MAX, is structure.
        limit = max(STATIONARY_MAX, 3.0 / math.sqrt(n_images))
        if stationarity_score is None:
            name = "object"
            reasons.append("data not inspected: object-centric assumed")
        elif stationarity_score < limit:
            name = "stationary"
            reasons.append(f"stationary data (mean image flat: stationarity {stationarity_score:.2f} < {limit:.2f})")
        else:
            name = "object"
            reasons.append(
                f"object-centric data (mean image structured: stationarity {stationarity_score:.2f} >= {limit:.2f})"
            )
    gpu = str(device).startswith("cuda")
    base, cap, batch, steps = (_GPU if gpu else _CPU)[resolution]
    reasons.append(f"{'GPU' if gpu else 'CPU'} sizing for {resolution} px")
    if n_images >= 2000:
        steps = int(steps * 2)
        reasons.append(f"{n_images} images: twice the steps")
    elif n_images >= 500:
        steps = int(steps * 1.5)
        reasons.append(f"{n_images} images: 1.5x the steps")
    else:
        reasons.append(f"{n_images} images: few-shot run")
    batch = min(batch, max(4, 2 ** int(math.log2(max(4, n_images)))))  # never a batch far above the set size
    config: dict[str, Any] = {
        "resolution": resolution,
        "base_channels": base,
        "max_channels": cap,
        "batch_size": batch,
        "z_dim": 128,
        "r1_gamma": round(r1_gamma_heuristic(resolution, batch), 6),
        "r1_every": 16,
        "loss": "hinge",
    }
    if grey:
        config["channels"] = 1
        reasons.append("grey images: a 1-channel model")
    if name == "dcgan":
        config.update(
            arch="dcgan", latent_map=False, skip_excitation=False, noise_injection=False, recon_weight=0.0,
            g_norm="batch", max_channels=0, ema_rampup=0.0, ema_decay=0.999, ema_bn="copy",
            diffaug="color,translation,cutout", diffaug_fill="zero", ada_target=0.0, r1_gamma=0.0, r1_every=4,
        )
        reasons.append("the original DCGAN configuration, for comparison")
        return Preset(preset, name, config, steps, reasons)
    # Measured on the Hubble crops (docs/benchmarks.md, gan_fewshot): at 32 px two convolutions a
    # stage with pixel norm and no colour jitter gave the only runs that passed every check but SWD
    # (2.0-2.3x the floor); the same at 64 px collapsed (diversity 0.1, 900 steps), where one
    # convolution a stage with batch norm (standing EMA statistics) and colour jitter stayed diverse.
    small = resolution <= 32
    config.update(
        stage_layers=2 if small else 1,
        g_norm="pixel" if small else "batch",
    )
    if small and name == "stationary":
        # Stationary data at 32 px: one conv a stage, D's learning rate twice G's (4e-4 vs 2e-4) and
        # 3x the CPU steps (3600 for a few hundred images; about 160 s on one thread). On the 96
        # Hubble crops (health vs 96 held-out crops, seeds 2026, 0, 1) this passed every check with
        # SWD 1.36, 1.61, 1.62x the floor, where the two-conv 1200-step preset gave 1.62, 2.70, 2.03
        # (seed 1 also failing saturation); 1800 steps of the same passed too (1.55, 1.73, 1.60) but
        # drew blotchier sources with colour fringes, where 3600 draws points like the plates'.
        config.update(stage_layers=1, lr_g=2e-4, lr_d=4e-4)
        if not gpu:
            steps = steps * 3
        reasons.append("one conv a stage, pixel norm, D learning rate 2x G's" + ("" if gpu else ", 3x the steps"))
    else:
        reasons.append("two convs a stage, pixel norm" if small else "one conv a stage, batch norm with standing "
                       "EMA statistics (two convs with pixel norm collapsed at 64 px)")
    config.update(
        arch="fewshot",
        latent_map=name == "stationary",
        skip_excitation=name == "object",
        noise_injection=True,
        recon_weight=1.0,
        ema_rampup=0.05,
        ema_bn="standing",
        # Colour jitter moves the near-black ground of star fields and tints it; on the Hubble crops at
        # 32 px the stationary G drifted into those tints (saturation 1.6x, SWD 4.1x the floor, against
        # 1.3x and 2.2x without it at equal steps). Objects, and 64 px and up, keep it.
        diffaug="translation,cutout" if (name == "stationary" and small) or n_images >= 2000
        else "color,translation,cutout",
        diffaug_fill="mean",
        ada_target=0.6,
    )
    return Preset(preset, name, config, steps, reasons)
