"""Exponential moving average of the generator, used for every sample we show or ship.

Averaging G's weights over training smooths out the oscillation of adversarial updates; samples from
the EMA copy are consistently better than from G itself.

How long to average (the half-life). A fixed decay such as 0.999 averages over ~700 steps whatever
the run: for a 600-step few-shot run that is most of the run, so the average still carries the
early, bad weights. The default here follows StyleGAN2-ADA's ramp and makes the half-life grow with
the run: after ``nimg`` training images the half-life is ``rampup * nimg`` images (optionally capped
at ``kimg`` thousand images), i.e. the EMA always averages over about the last ``rampup`` fraction
of training, however long training turns out to be. The decay per update is then
``0.5 ** (batch_size / half_life)``. ``rampup=0`` keeps the older fixed ``decay`` (with its optional
``(1 + n) / (10 + n)`` warm-up), which saved DCGAN configs use.

Batch norm (DCGAN-family generators only; the few-shot generator has none). Running statistics
belong to the weights they were measured with: copying the raw G's statistics onto averaged weights
gives the EMA copy the wrong normalisation (the broken demo's samples were near-identical mostly for
this reason). ``bn="standing"`` leaves the EMA copy's statistics alone during training and
recomputes them from the EMA weights themselves (``standing_stats``: a few batches of latents in
train mode with a cumulative average) before every sample grid and every save. ``bn="copy"`` is the
old behaviour, kept for saved configs and for comparison.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from reelforge.errors import InvalidInput

BN_MODES = ("copy", "standing")


def half_life_images(nimg: int, rampup: float, kimg: float = 0.0) -> float:
    """EMA half-life in images after `nimg` training images (see the module docstring)."""
    hl = rampup * nimg
    if kimg > 0:
        hl = min(hl, kimg * 1000.0)
    return hl


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


@torch.no_grad()
def standing_stats(module: nn.Module, batches: Iterable[tuple[Any, ...]]) -> None:
    """Recompute every batch-norm layer's running statistics from `batches` of forward() arguments.

    Statistics are reset and then accumulated as a plain average over all batches (momentum None), so
    the result depends only on the weights and the inputs, not on any earlier state."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    was_training = module.training
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    module.train()
    try:
        for args in batches:
            module(*args)
    finally:
        for m, mom in zip(bns, momenta, strict=True):
            m.momentum = mom
        module.train(was_training)


class EMA:
    """A frozen copy of `model` that tracks it; see the module docstring for the decay schedule."""

    def __init__(
        self,
        model: nn.Module,
        decay: float = 0.999,
        warmup: bool = True,
        *,
        rampup: float = 0.0,
        kimg: float = 0.0,
        batch_size: int = 1,
        bn: str = "copy",
    ) -> None:
        if not 0.0 <= decay < 1.0:
            raise InvalidInput(f"EMA decay must be in [0, 1), got {decay}")
        if rampup < 0 or kimg < 0 or batch_size < 1:
            raise InvalidInput("EMA: rampup and kimg must be >= 0 and batch_size >= 1")
        if bn not in BN_MODES:
            raise InvalidInput(f"EMA: bn must be one of {list(BN_MODES)}, got {bn!r}")
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.warmup = warmup
        self.rampup = float(rampup)
        self.kimg = float(kimg)
        self.batch_size = int(batch_size)
        self.bn = bn
        self.num_updates = 0

    def current_decay(self) -> float:
        """Decay the next update() uses."""
        if self.rampup > 0:
            # Images seen once this update is applied (so the very first update copies G).
            hl = half_life_images(self.num_updates * self.batch_size, self.rampup, self.kimg)
            return 0.0 if hl <= 0 else float(0.5 ** (self.batch_size / hl))
        if not self.warmup:
            return self.decay
        n = self.num_updates
        return min(self.decay, (1.0 + n) / (10.0 + n))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.current_decay()
        ema_params = list(self.module.parameters())
        params = [p.detach() for p in model.parameters()]
        if len(ema_params) != len(params):
            raise InvalidInput("EMA update: model does not match the EMA copy")
        for p_ema, p in zip(ema_params, params, strict=True):
            p_ema.lerp_(p, 1.0 - decay)
        if self.bn == "copy":
            for b_ema, b in zip(self.module.buffers(), model.buffers(), strict=True):
                b_ema.copy_(b)
        self.num_updates += 1

    def refresh_stats(self, batches: Callable[[], Iterable[tuple[Any, ...]]]) -> bool:
        """With bn="standing": recompute the copy's batch-norm statistics; True when it did."""
        if self.bn != "standing" or not has_batch_norm(self.module):
            return False
        standing_stats(self.module, batches())
        return True

    def copy_from(self, model: nn.Module) -> None:
        """Reset the average to `model` exactly (e.g. after loading weights into G)."""
        self.module.load_state_dict(model.state_dict())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], num_updates: int | None = None) -> None:
        self.module.load_state_dict(state)
        if num_updates is not None:
            self.num_updates = int(num_updates)
