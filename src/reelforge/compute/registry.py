"""Task registry: dotted names → typed task specs.

Built-in tasks live in ``reelforge.tasks``; studios add their own through the ``reelforge.tasks``
entry-point group or ``REELFORGE_TASK_MODULES`` (comma-separated module names).
"""

from __future__ import annotations

import enum
import importlib
import os
import re
import threading
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import PurePath
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


# Kinds of parameter a door can read from text: scalars, a choice, a list of those, or JSON.
SCALAR_KINDS = ("string", "integer", "number", "boolean")


@dataclass(frozen=True)
class ParamField:
    """One task parameter as plain data, for doors that build flags or forms from it (CLI, server).

    ``kind`` is one of ``string integer number boolean choice list json``; a list's elements are
    described by ``item_kind`` (and ``choices`` when they are a choice). ``nullable`` fields accept
    None. Bounds mirror pydantic's ``ge/le/gt/lt`` and ``min_length/max_length``.
    """

    name: str
    kind: str
    description: str = ""
    required: bool = False
    default: Any = None
    nullable: bool = False
    item_kind: str | None = None
    choices: tuple[Any, ...] = ()
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    input_kind: str | None = None  # asset|assets|dataset|model when the task declares it an input

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def range_text(self) -> str:
        """``1<=x<=100``, ``x>0``... (empty when unbounded)."""
        lo = f"{_num(self.ge)}<=" if self.ge is not None else f"{_num(self.gt)}<" if self.gt is not None else ""
        hi = f"<={_num(self.le)}" if self.le is not None else f"<{_num(self.lt)}" if self.lt is not None else ""
        if not lo and not hi:
            return ""
        return f"{lo}x{hi}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["choices"] = list(self.choices)
        d["flag"] = self.flag
        return d


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _jsonable(value: Any) -> Any:
    """Defaults as plain JSON values, so ``--json`` output and forms can show them."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _scalar_kind(tp: Any) -> tuple[str, tuple[Any, ...]] | None:
    """(kind, choices) for a type a user can type as one word, else None."""
    if tp is bool:
        return "boolean", ()
    if tp is int:
        return "integer", ()
    if tp is float:
        return "number", ()
    if tp is str or (isinstance(tp, type) and issubclass(tp, PurePath)):
        return "string", ()
    if typing.get_origin(tp) is typing.Literal:
        return "choice", tuple(_jsonable(a) for a in typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "choice", tuple(m.value for m in tp)
    return None


def describe_annotation(tp: Any) -> tuple[str, str | None, tuple[Any, ...], bool]:
    """(kind, item_kind, choices, nullable) of a pydantic field annotation."""
    nullable = False
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return describe_annotation(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(tp))
        if len(args) != 1:
            return "json", None, (), nullable
        kind, item, choices, _ = describe_annotation(args[0])
        return kind, item, choices, nullable
    scalar = _scalar_kind(tp)
    if scalar is not None:
        return scalar[0], None, scalar[1], nullable
    if origin in (list, tuple, set, frozenset, Sequence) or tp in (list, tuple, set, frozenset):
        args = typing.get_args(tp)
        # tuple[int, ...] and list[int] are homogeneous; fixed-shape tuples are JSON.
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return "json", None, (), nullable
        item = _scalar_kind(typing.get_args(tp)[0]) if args else ("string", ())
        if item is None:
            return "json", None, (), nullable
        return "list", item[0], item[1], nullable
    if origin in (dict, Mapping) or tp is dict:
        return "json", None, (), nullable
    return "json", None, (), nullable


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

    def param_fields(self) -> list[ParamField]:
        """The params model's fields as plain descriptions, in declaration order."""
        out: list[ParamField] = []
        for name, info in self.params.model_fields.items():
            kind, item_kind, choices, nullable = describe_annotation(info.annotation)
            bounds: dict[str, Any] = {}
            for meta in info.metadata:
                for attr in ("ge", "le", "gt", "lt", "min_length", "max_length"):
                    value = getattr(meta, attr, None)
                    if value is not None:
                        bounds[attr] = value
            required = info.is_required()
            default = None if required else _jsonable(info.get_default(call_default_factory=True))
            out.append(ParamField(
                name=name, kind=kind, description=(info.description or "").strip(), required=required,
                default=default, nullable=nullable, item_kind=item_kind, choices=choices,
                input_kind=self.inputs.get(name), **bounds,
            ))
        return out

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of the params (what a server builds forms and validates requests from)."""
        return self.params.model_json_schema()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "inputs": self.inputs,
            "outputs": list(self.outputs),
            "resources": vars(self.resources),
            "resumable": self.resumable,
            "params": self.json_schema(),
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


_load_lock = threading.RLock()


def load_tasks() -> None:
    global _loaded
    if _loaded:
        return
    # One loader at a time, and "loaded" only once it is done: the server's threads asking at once
    # used to see the flag set while the first was still importing, and an empty registry.
    with _load_lock:
        if _loaded:
            return
        importlib.import_module("reelforge.tasks")
        for ep in entry_points(group="reelforge.tasks"):
            ep.load()
        for mod in filter(None, (m.strip() for m in os.environ.get("REELFORGE_TASK_MODULES", "").split(","))):
            importlib.import_module(mod)
        _loaded = True


def get_task(name: str) -> TaskSpec:
    load_tasks()
    spec = _REGISTRY.get(name)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see `reelforge tasks`"
        raise NotFound(f"no task {name!r} ({hint})")
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
