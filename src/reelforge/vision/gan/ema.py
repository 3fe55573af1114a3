"""Exponential moving average of the generator, used for every sample we show or ship.

Averaging G's weights over training smooths out the oscillation of adversarial updates; samples from
the EMA copy are consistently better than from G itself. Parameters are averaged; buffers (batch-norm
running statistics) are copied, because averaging running statistics of a moving network adds lag
without adding information.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from reelforge.errors import InvalidInput


class EMA:
    """A frozen copy of `model` that tracks it with decay `decay` per update()."""

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise InvalidInput(f"EMA decay must be in [0, 1), got {decay}")
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0

    def current_decay(self) -> float:
        """With warmup the decay ramps as (1+n)/(10+n), so early samples are not dominated by init."""
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
        for b_ema, b in zip(self.module.buffers(), model.buffers(), strict=True):
            b_ema.copy_(b)
        self.num_updates += 1

    def copy_from(self, model: nn.Module) -> None:
        """Reset the average to `model` exactly (e.g. after loading weights into G)."""
        self.module.load_state_dict(model.state_dict())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], num_updates: int | None = None) -> None:
        self.module.load_state_dict(state)
        if num_updates is not None:
            self.num_updates = int(num_updates)
