"""Optimizer and LR-scheduler state as checkpoint-friendly nested dicts, and back, exactly.

``optimizer.state_dict()`` holds int keys, tuples and ``None`` hyperparameters that a no-pickle
checkpoint format cannot all hold. Here the per-parameter state stays tensors (CPU copies) under
string keys, and the hyperparameters and scheduler state travel as one JSON string (tuples tagged,
floats written by ``repr`` so they round-trip exactly). The result holds only str-keyed dicts,
tensors, ints, floats, bools, strings and ``None``: what ``compute.checkpoint`` and
safetensors-plus-JSON stores can keep. Restoring it gives the next step bit-identical to a run
that never stopped.
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch
from torch import nn

from reelforge.errors import InvalidInput

__all__ = ["load_optimizer_state", "load_scheduler_state", "optimizer_state", "scheduler_state"]

OPTIMIZER_FORMAT = "reelforge.optimizer/1"
SCHEDULER_FORMAT = "reelforge.scheduler/1"
_TUPLE = "__tuple__"
_TENSOR = "__tensor__"
_FLOAT = "__float__"


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _encode(obj: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    """JSON-able form of plain nested data; tensors go to ``tensors`` and leave a reference."""
    if isinstance(obj, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = obj.detach().to("cpu", copy=True).contiguous()
        return {_TENSOR: key}
    if isinstance(obj, dict):
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise InvalidInput(f"state at {path or '/'} has non-string key {bad[0]!r}")
        return {k: _encode(v, tensors, f"{path}/{k}") for k, v in obj.items()}
    if isinstance(obj, tuple):
        return {_TUPLE: [_encode(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {_FLOAT: repr(obj)}  # inf/nan: valid in Python's JSON, not in strict JSON readers
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise InvalidInput(f"state at {path or '/'} holds a {type(obj).__name__}, which a checkpoint cannot keep")


def _decode(obj: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(obj, dict):
        if _TENSOR in obj:
            return tensors[obj[_TENSOR]]
        if _TUPLE in obj:
            return tuple(_decode(v, tensors) for v in obj[_TUPLE])
        if _FLOAT in obj:
            return float(obj[_FLOAT])
        return {k: _decode(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    return obj


def _param_keys(opt: torch.optim.Optimizer, module: nn.Module | None) -> list[str]:
    """One key per optimizer parameter, in state_dict order: its index, or its name in ``module``."""
    params = [p for group in opt.param_groups for p in group["params"]]
    if module is None:
        return [str(i) for i in range(len(params))]
    names = {id(p): n for n, p in module.named_parameters()}
    missing = [i for i, p in enumerate(params) if id(p) not in names]
    if missing:
        raise InvalidInput(f"optimizer parameter #{missing[0]} is not a parameter of the given module")
    return [names[id(p)] for p in params]


def optimizer_state(opt: torch.optim.Optimizer, module: nn.Module | None = None) -> dict[str, Any]:
    """A checkpointable copy of ``opt``'s state.

    Per-parameter state is keyed by parameter index, or by parameter name when ``module`` is given
    (robust to a different grouping of the same parameters on resume).
    """
    sd = opt.state_dict()
    keys = _param_keys(opt, module)
    per_param: dict[str, dict[str, Any]] = {}
    for index, st in sd["state"].items():
        entry: dict[str, Any] = {}
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                entry[k] = v.detach().to("cpu", copy=True).contiguous()
            elif v is None or isinstance(v, bool | int | float | str):
                entry[k] = v
            else:
                raise InvalidInput(
                    f"optimizer state {k!r} is a {type(v).__name__}, which a checkpoint cannot keep"
                )
        per_param[keys[index]] = entry
    group_tensors: dict[str, torch.Tensor] = {}
    groups = [{k: v for k, v in g.items() if k != "params"} for g in sd["param_groups"]]
    out: dict[str, Any] = {
        "format": OPTIMIZER_FORMAT,
        "kind": type(opt).__name__,
        "keys": "name" if module is not None else "index",
        "sizes": json.dumps([len(g["params"]) for g in sd["param_groups"]]),
        "state": per_param,
        "groups": json.dumps(_encode(groups, group_tensors, "param_groups"), allow_nan=False),
    }
    if group_tensors:
        out["group_tensors"] = group_tensors
    return out


def load_optimizer_state(
    opt: torch.optim.Optimizer,
    saved: dict[str, Any],
    module: nn.Module | None = None,
    *,
    hyperparams: bool = True,
) -> None:
    """Restore ``optimizer_state(opt, module)`` into ``opt`` (built over the same parameters).

    ``hyperparams``: take lr, betas, weight decay... from the checkpoint (what a resumed run needs);
    False keeps ``opt``'s own. Tensors land on each parameter's device, as torch does on load.
    """
    if not isinstance(saved, dict) or saved.get("format") != OPTIMIZER_FORMAT:
        raise InvalidInput("checkpoint optimizer state is not in the reelforge optimizer format")
    kind = type(opt).__name__
    if saved.get("kind") != kind:
        raise InvalidInput(f"checkpoint holds {saved.get('kind')} state but the optimizer is {kind}")
    if saved.get("keys") != ("name" if module is not None else "index"):
        raise InvalidInput(
            f"checkpoint optimizer state is keyed by parameter {saved.get('keys')}: pass the module it was"
            " saved with (or none)"
        )
    sd = opt.state_dict()
    try:
        sizes = json.loads(saved["sizes"])
        groups = _decode(json.loads(saved["groups"]), dict(saved.get("group_tensors") or {}))
        state = dict(saved["state"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"checkpoint optimizer state is incomplete: {exc}") from exc
    mine = [len(g["params"]) for g in sd["param_groups"]]
    if sizes != mine or len(groups) != len(mine):
        raise InvalidInput(f"checkpoint optimizer has parameter groups of sizes {sizes}, this one has {mine}")
    index_of = {k: i for i, k in enumerate(_param_keys(opt, module))}
    unknown = sorted(set(state) - set(index_of))
    if unknown:
        raise InvalidInput(f"checkpoint optimizer state names unknown parameters {unknown[:3]}")
    sd["state"] = {
        index_of[k]: {kk: (vv.clone() if isinstance(vv, torch.Tensor) else vv) for kk, vv in v.items()}
        for k, v in state.items()
    }
    if hyperparams:
        current = sd["param_groups"]
        sd["param_groups"] = [{**g, "params": cur["params"]} for g, cur in zip(groups, current, strict=True)]
    try:
        opt.load_state_dict(sd)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise InvalidInput(f"checkpoint optimizer state could not be loaded: {_first_line(exc)}") from exc


def scheduler_state(scheduler: Any) -> dict[str, Any]:
    """A checkpointable copy of an LR scheduler's ``state_dict()`` (plain values as JSON)."""
    tensors: dict[str, torch.Tensor] = {}
    out: dict[str, Any] = {
        "format": SCHEDULER_FORMAT,
        "kind": type(scheduler).__name__,
        "state": json.dumps(_encode(scheduler.state_dict(), tensors, "scheduler"), allow_nan=False),
    }
    if tensors:
        out["tensors"] = tensors
    return out


def load_scheduler_state(scheduler: Any, saved: dict[str, Any]) -> None:
    """Restore :func:`scheduler_state` into a scheduler of the same kind."""
    if not isinstance(saved, dict) or saved.get("format") != SCHEDULER_FORMAT:
        raise InvalidInput("checkpoint scheduler state is not in the reelforge scheduler format")
    if saved.get("kind") != type(scheduler).__name__:
        raise InvalidInput(
            f"checkpoint holds {saved.get('kind')} state but the scheduler is {type(scheduler).__name__}"
        )
    try:
        state = _decode(json.loads(saved["state"]), dict(saved.get("tensors") or {}))
        scheduler.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise InvalidInput(f"checkpoint scheduler state could not be loaded: {_first_line(exc)}") from exc
