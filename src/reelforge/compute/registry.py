"""Task registry: dotted names → typed task specs.

Built-in tasks live in ``reelforge.tasks``; studios add their own through the ``reelforge.tasks``
entry-point group or ``REELFORGE_TASK_MODULES`` (comma-separated module names).
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from reelforge.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from reelforge.compute.context import TaskContext

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
INPUT_KINDS = ("asset", "assets", "dataset", "model")


class Params(BaseModel):
    """Base class for task parameters: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Resources:
    cpus: int = 1
    gpus: int = 0
    memory_gb: float = 1.0


@dataclass
class TaskSpec:
    name: str
    fn: Callable[[TaskContext, Any], None]
    params: type[BaseModel]
    inputs: dict[str, str] = field(default_factory=dict)  # param field → asset|assets|dataset|model
    outputs: tuple[str, ...] = ()
    resources: Resources = field(default_factory=Resources)
    resumable: bool = False
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "inputs": self.inputs,
            "outputs": list(self.outputs),
            "resources": vars(self.resources),
            "resumable": self.resumable,
            "params": self.params.model_json_schema(),
        }


_REGISTRY: dict[str, TaskSpec] = {}
_loaded = False


def task(
    name: str,
    *,
    params: type[BaseModel],
    inputs: dict[str, str] | None = None,
    outputs: tuple[str, ...] = (),
    resources: Resources | None = None,
    resumable: bool = False,
    description: str | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    if not NAME_RE.match(name):
        raise ValueError(f"task name {name!r} must be dotted lower-case, e.g. media.proxy")
    for fld, kind in (inputs or {}).items():
        if kind not in INPUT_KINDS:
            raise ValueError(f"task {name}: input {fld} has unknown kind {kind}")
        if fld not in params.model_fields:
            raise ValueError(f"task {name}: input {fld} is not a field of {params.__name__}")

    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        _REGISTRY[name] = TaskSpec(
            name=name,
            fn=fn,
            params=params,
            inputs=dict(inputs or {}),
            outputs=outputs,
            resources=resources or Resources(),
            resumable=resumable,
            description=(description or (fn.__doc__ or "").strip().split("\n")[0]),
        )
        return fn

    return deco


def load_tasks() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    importlib.import_module("reelforge.tasks")
    for ep in entry_points(group="reelforge.tasks"):
        ep.load()
    for mod in filter(None, (m.strip() for m in os.environ.get("REELFORGE_TASK_MODULES", "").split(","))):
        importlib.import_module(mod)


def get_task(name: str) -> TaskSpec:
    load_tasks()
    spec = _REGISTRY.get(name)
    if spec is None:
        raise NotFound(f"no task {name!r} (see `reelforge tasks`)")
    return spec


def all_tasks() -> list[TaskSpec]:
    load_tasks()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def validate_params(spec: TaskSpec, params: dict[str, Any]) -> BaseModel:
    from pydantic import ValidationError

    try:
        return spec.params.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InvalidInput(f"{spec.name}: {where}: {first['msg']}{more}") from None
