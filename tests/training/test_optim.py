"""Optimizer and scheduler state survive a no-pickle checkpoint and resume bit-identically."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from reelforge.compute import checkpoint
from reelforge.errors import InvalidInput
from reelforge.training import (
    cpu_state_dict,
    load_optimizer_state,
    load_scheduler_state,
    load_weights,
    optimizer_state,
    scheduler_state,
)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 3))


def _batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + step)
    return torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)


def _groups(model: nn.Module) -> list[dict[str, Any]]:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}]


def _build(kind: str, model: nn.Module) -> tuple[torch.optim.Optimizer, Any]:
    if kind == "adamw":
        opt: torch.optim.Optimizer = torch.optim.AdamW(_groups(model), lr=3e-3, betas=(0.8, 0.95))
        return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=40)
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
        return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 / (1 + step))


def _step(model: nn.Module, opt: torch.optim.Optimizer, sched: Any, step: int) -> None:
    x, y = _batch(step)
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()


def _plain(obj: Any, path: str = "") -> None:
    """Only what any safetensors+JSON store keeps: str keys, tensors and scalars."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, str), path
            _plain(v, f"{path}/{k}")
    else:
        assert obj is None or isinstance(obj, torch.Tensor | bool | int | float | str), (path, type(obj))


@pytest.mark.parametrize("kind", ["adamw", "sgd", "adam"])
@pytest.mark.parametrize("by_name", [False, True])
def test_resumed_run_is_bit_identical(kind: str, by_name: bool) -> None:
    model = _model()
    opt, sched = _build(kind, model)
    for step in range(5):
        _step(model, opt, sched, step)
    module = model if by_name else None
    state = {
        "model": cpu_state_dict(model),
        "opt": optimizer_state(opt, module),
        "sched": scheduler_state(sched),
    }
    _plain(state)
    stored = checkpoint.loads(checkpoint.dumps(state))  # the platform's no-pickle checkpoint format

    torch.manual_seed(123)  # a different init: everything must come from the checkpoint
    resumed = nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 3))
    opt2, sched2 = _build(kind, resumed)
    load_weights(resumed, stored["model"])
    load_optimizer_state(opt2, stored["opt"], resumed if by_name else None)
    load_scheduler_state(sched2, stored["sched"])
    assert sched2.get_last_lr() == sched.get_last_lr()
    for step in range(5, 12):
        _step(model, opt, sched, step)
        _step(resumed, opt2, sched2, step)
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_fresh_optimizer_and_hyperparameters() -> None:
    model = _model()
    opt = torch.optim.AdamW(model.parameters(), lr=0.5)
    saved = optimizer_state(opt)  # nothing stepped yet: empty per-parameter state
    assert saved["state"] == {}
    other = torch.optim.AdamW(model.parameters(), lr=0.1)
    load_optimizer_state(other, saved, hyperparams=False)
    assert other.param_groups[0]["lr"] == 0.1
    load_optimizer_state(other, saved)
    assert other.param_groups[0]["lr"] == 0.5 and other.param_groups[0]["betas"] == (0.9, 0.999)


def test_mismatches_are_one_line_errors() -> None:
    model = _model()
    opt, _ = _build("adamw", model)
    _step(model, opt, torch.optim.lr_scheduler.StepLR(opt, 1), 0)
    by_index = optimizer_state(opt)
    with pytest.raises(InvalidInput, match="AdamW state but the optimizer is SGD"):
        load_optimizer_state(torch.optim.SGD(model.parameters(), lr=0.1), by_index)
    with pytest.raises(InvalidInput, match="sizes"):
        load_optimizer_state(torch.optim.AdamW(model.parameters()), by_index)
    with pytest.raises(InvalidInput, match="keyed by parameter index"):
        load_optimizer_state(opt, by_index, model)
    by_name = optimizer_state(opt, model)
    other = nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 3))
    renamed = nn.ModuleDict({"body": other})
    with pytest.raises(InvalidInput, match="unknown parameters"):
        load_optimizer_state(torch.optim.AdamW(_groups(renamed), lr=1.0), by_name, renamed)
    with pytest.raises(InvalidInput, match="not in the reelforge optimizer format"):
        load_optimizer_state(opt, opt.state_dict())
    with pytest.raises(InvalidInput, match="not a parameter of the given module"):
        optimizer_state(opt, nn.Linear(2, 2))
    sched = torch.optim.lr_scheduler.StepLR(opt, 2)
    with pytest.raises(InvalidInput, match="StepLR state but the scheduler is ExponentialLR"):
        load_scheduler_state(torch.optim.lr_scheduler.ExponentialLR(opt, 0.9), scheduler_state(sched))
