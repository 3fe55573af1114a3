"""Task parameters on the command line, read by each field's declared type rather than guessed.

``reelforge run TASK`` hands everything after TASK to :func:`parse_run_args`, which knows the task's
fields from :meth:`TaskSpec.param_fields`:

- ``--name value`` / ``--name=value`` / ``-p name=value`` (``-p`` also takes ``name_with_underscores``);
- strings stay strings (``--name 2024`` is the text "2024"); integers and numbers must parse as such;
- choices (``Literal`` / ``Enum``) must be one of the listed values;
- booleans are flags: ``--hflip`` / ``--no-hflip`` (or ``--hflip=false``);
- lists take repeated flags or commas: ``--assets a --assets b`` or ``--assets a,b``; a value starting
  with ``[`` is read as a JSON array (for items that contain commas); ``--assets ''`` is an empty list;
- optional fields are unset with ``--no-NAME``; optional numbers, choices and lists also take ``none``
  (an optional *string* keeps "none" as text: it is a valid string);
- dict and other structured fields take JSON (nesting bounded).

The common run options (``--detach``, ``--priority``...) may come before or after TASK. Errors are
``InvalidInput`` (exit 2) with one line naming the flag; an unknown flag names the closest known ones.
"""

from __future__ import annotations

import difflib
import math
import shutil
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reelforge.cli.common import loads_json, safe
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    from reelforge.compute.registry import ParamField, TaskSpec


@dataclass(frozen=True)
class RunOption:
    dest: str
    flags: tuple[str, ...]
    kind: str  # flag | integer | string
    help: str
    lo: int | None = None
    hi: int | None = None
    metavar: str = ""


# Ranges keep values inside what the job table stores (PostgreSQL INTEGER / BIGINT).
PRIORITY_RANGE = (-1000, 1000)
SEED_RANGE = (0, 2**63 - 1)
ATTEMPTS_RANGE = (1, 100)

RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption("detach", ("-d", "--detach"), "flag", "queue it for workers and return (prints the job id)"),
    RunOption("priority", ("--priority",), "integer", "higher runs first", *PRIORITY_RANGE, metavar="N"),
    RunOption("seed", ("--seed",), "integer", "random seed (default: a fresh one, recorded on the job)",
              *SEED_RANGE, metavar="N"),
    RunOption("max_attempts", ("--max-attempts",), "integer", "attempts before the job fails "
              "(default: the studio's max_attempts)", *ATTEMPTS_RANGE, metavar="N"),
    RunOption("project", ("-P", "--project"), "string", "project (default: the studio's default project)",
              metavar="NAME"),
    RunOption("quiet", ("-q", "--quiet"), "flag", "no progress bar"),
    RunOption("json_output", ("--json",), "flag", "print the finished job as JSON"),
    RunOption("help", ("-h", "--help"), "flag", "show this message and exit"),
)
_RUN_BY_FLAG = {f: o for o in RUN_OPTIONS for f in o.flags}
PARAM_FLAGS = ("-p", "--param")


@dataclass
class RunArgs:
    """What followed TASK: the task's params (field name → value) and any run options."""

    params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def help(self) -> bool:
        return bool(self.options.get("help"))


def _invalid(flag: str, raw: str, why: str) -> InvalidInput:
    return InvalidInput(f"invalid value for {flag}: {raw!r} {why}")


def check_range(flag: str, value: float, f: ParamField | RunOption) -> None:
    if isinstance(f, RunOption):
        lo, hi = f.lo, f.hi
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise InvalidInput(f"invalid value for {flag}: {value} is not in the range {lo}<=x<={hi}")
        return
    ok = ((f.ge is None or value >= f.ge) and (f.le is None or value <= f.le)
          and (f.gt is None or value > f.gt) and (f.lt is None or value < f.lt))
    if not ok:
        raise InvalidInput(f"invalid value for {flag}: {value} is not in the range {f.range_text()}")


def parse_integer(flag: str, raw: str) -> int:
    try:
        return int(raw.strip(), 10)
    except ValueError:
        raise _invalid(flag, raw, "is not an integer") from None


def parse_number(flag: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise _invalid(flag, raw, "is not a number") from None
    if not math.isfinite(value):
        raise _invalid(flag, raw, "is not a finite number")
    return value


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_boolean(flag: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise _invalid(flag, raw, "is not a boolean (true or false)")


def _parse_scalar(f: ParamField, kind: str, flag: str, raw: str) -> Any:
    if kind == "string":
        return raw
    if kind == "integer":
        value: Any = parse_integer(flag, raw)
    elif kind == "number":
        value = parse_number(flag, raw)
    elif kind == "boolean":
        return parse_boolean(flag, raw)
    elif kind == "choice":
        for choice in f.choices:
            if str(choice) == raw.strip():
                return choice
        raise _invalid(flag, raw, f"is not one of {', '.join(str(c) for c in f.choices)}")
    else:  # pragma: no cover - describe_annotation only yields the kinds above for scalars
        raise InvalidInput(f"{flag}: unsupported parameter kind {kind}")
    check_range(flag, value, f)
    return value


def parse_value(f: ParamField, raw: str, flag: str | None = None) -> Any:
    """One command-line value for field ``f``, read by its declared type."""
    flag = flag or f.flag
    if f.nullable and f.kind != "string" and raw.strip().lower() == "none":
        return None
    if f.kind == "json":
        return loads_json(raw, flag)
    if f.kind == "list":
        item_kind = f.item_kind or "string"
        if raw.lstrip().startswith("["):
            items = loads_json(raw, flag)
            if not isinstance(items, list):
                raise _invalid(flag, raw, "is not a JSON array")
            return [_parse_scalar(f, item_kind, flag, str(v)) if item_kind != "string" else v for v in items]
        return [_parse_scalar(f, item_kind, flag, piece.strip()) for piece in raw.split(",") if piece.strip()]
    return _parse_scalar(f, f.kind, flag, raw)


def unknown_parameter(given: str, spec: TaskSpec, fields: list[ParamField]) -> InvalidInput:
    """One line naming the unknown flag and the closest known ones (or a few known ones)."""
    bare = given.lstrip("-").split("=", 1)[0].replace("_", "-")
    known = [f.flag[2:] for f in fields] + [o.flags[-1][2:] for o in RUN_OPTIONS]
    close = difflib.get_close_matches(bare, known, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(f"--{c}" for c in close) + "?"
    elif fields:
        names = [f.flag for f in fields]
        more = ", ..." if len(names) > 6 else ""
        hint = f"its parameters: {', '.join(names[:6])}{more}; see reelforge run {spec.name} --help"
    else:
        hint = f"{spec.name} takes no parameters"
    return InvalidInput(f"unknown parameter {given} for {spec.name} ({hint})")


def parse_run_args(spec: TaskSpec, args: list[str]) -> RunArgs:
    """Everything after TASK on the command line, checked against the task's schema."""
    fields = spec.param_fields()
    by_flag = {f.flag: f for f in fields}
    out = RunArgs()

    def field_for(key: str, shown: str) -> ParamField:
        f = by_flag.get("--" + key.strip().replace("_", "-"))
        if f is None:
            raise unknown_parameter(shown, spec, fields)
        return f

    def put(f: ParamField, value: Any) -> None:
        if f.kind == "list" and isinstance(value, list) and isinstance(out.params.get(f.name), list):
            out.params[f.name] = out.params[f.name] + value  # repeated flags add up
        else:
            out.params[f.name] = value

    def take(i: int, flag: str) -> str:
        if i + 1 >= len(args):
            raise InvalidInput(f"{flag} needs a value")
        return args[i + 1]

    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in PARAM_FLAGS:
            pair = inline if eq else take(i, name)
            i += 1 if eq else 2
            key, sep, raw = pair.partition("=")
            if not sep or not key.strip():
                raise InvalidInput(f"{name} needs key=value, got {pair!r}")
            f = field_for(key, key.strip())
            put(f, parse_value(f, raw, f"-p {key.strip()}"))
            continue
        if name in _RUN_BY_FLAG:
            opt = _RUN_BY_FLAG[name]
            if opt.kind == "flag":
                if eq:
                    raise InvalidInput(f"{name} takes no value")
                out.options[opt.dest] = True
                i += 1
                continue
            raw = inline if eq else take(i, name)
            i += 1 if eq else 2
            if opt.kind == "integer":
                value = parse_integer(name, raw)
                check_range(name, value, opt)
                out.options[opt.dest] = value
            else:
                out.options[opt.dest] = raw
            continue
        if not name.startswith("-") or name in ("-", "--"):
            raise InvalidInput(f"unexpected argument {safe_arg(arg)} for {spec.name} "
                               "(parameters are given as --name value)")
        if not name.startswith("--"):
            raise unknown_parameter(safe(name), spec, fields)
        f = by_flag.get(name.replace("_", "-"))
        if f is not None:
            if f.kind == "boolean" and not eq:
                put(f, True)
                i += 1
                continue
            raw = inline if eq else take(i, name)
            i += 1 if eq else 2
            put(f, parse_value(f, raw, name))
            continue
        negated = by_flag.get("--" + name[len("--no-"):].replace("_", "-")) if name.startswith("--no-") else None
        if negated is not None and (negated.kind == "boolean" or negated.nullable):
            if eq:
                raise InvalidInput(f"{name} takes no value")
            out.params[negated.name] = False if negated.kind == "boolean" else None
            i += 1
            continue
        raise unknown_parameter(safe(name), spec, fields)
    return out


def safe_arg(arg: str) -> str:
    return repr(safe(arg))


def missing_required(spec: TaskSpec, params: dict[str, Any]) -> InvalidInput | None:
    missing = [f.flag for f in spec.param_fields() if f.required and f.name not in params]
    if not missing:
        return None
    return InvalidInput(f"{spec.name} needs {', '.join(missing)} (see reelforge run {spec.name} --help)")


# ---- help -------------------------------------------------------------------------------------------

_TYPE_NAMES = {"string": "TEXT", "integer": "INTEGER", "number": "NUMBER", "boolean": "BOOLEAN", "json": "JSON"}


def type_label(f: ParamField) -> str:
    if f.kind == "choice":
        return "[" + "|".join(str(c) for c in f.choices) + "]"
    if f.kind == "list":
        if f.item_kind == "choice":
            return "[" + "|".join(str(c) for c in f.choices) + "],..."
        return _TYPE_NAMES.get(f.item_kind or "string", "TEXT") + ",..."
    return _TYPE_NAMES.get(f.kind, "TEXT")


def default_text(f: ParamField) -> str:
    """The default as a user would type it."""
    value = f.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) if value else "(empty)"
    if isinstance(value, dict):
        import json

        return json.dumps(value)
    if value == "":
        return "''"
    return str(value)


def field_flag(f: ParamField) -> str:
    if f.kind == "boolean":
        return f"{f.flag} / --no-{f.flag[2:]}"
    return f"{f.flag} {type_label(f)}"


def field_notes(f: ParamField) -> str:
    notes = ["required" if f.required else f"default: {default_text(f)}"]
    if f.range_text():
        notes.append(f"range: {f.range_text()}")
    if f.min_length is not None or f.max_length is not None:
        notes.append(f"length: {f.min_length or 0}..{f.max_length if f.max_length is not None else ''}")
    if f.nullable and not f.required:
        notes.append(f"unset: --no-{f.flag[2:]}" + ("" if f.kind == "string" else " or none"))
    if f.input_kind:
        notes.append(f"input: {f.input_kind}")
    return "[" + "; ".join(notes) + "]"


def _rows(rows: list[tuple[str, str]], width: int) -> list[str]:
    """Two columns like click's help: flags left, wrapped text right (on the next line when long)."""
    col = min(max((len(a) for a, _ in rows), default=0) + 4, 34)
    lines: list[str] = []
    for left, text in rows:
        body = textwrap.wrap(text, max(width - col, 30), break_long_words=False, break_on_hyphens=False) or [""]
        if len(left) + 4 <= col:
            lines.append(f"  {left:<{col - 2}}{body[0]}")
            rest = body[1:]
        else:
            lines.append(f"  {left}")
            rest = body
        lines.extend(" " * col + line for line in rest)
    return lines


def _width() -> int:
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 120))


def param_lines(spec: TaskSpec, width: int | None = None) -> list[str]:
    width = width or _width()
    rows = [(field_flag(f), f"{f.description} {field_notes(f)}".strip()) for f in spec.param_fields()]
    return _rows(rows, width) if rows else ["  (none)"]


def run_option_lines(width: int | None = None) -> list[str]:
    width = width or _width()
    rows: list[tuple[str, str]] = []
    for o in RUN_OPTIONS:
        left = ", ".join(o.flags) + (f" {o.metavar}" if o.metavar else "")
        extra = f" [range: {o.lo}<=x<={o.hi}]" if o.lo is not None and o.dest != "seed" else ""
        rows.append((left, o.help + extra))
    rows.append(("-p, --param NAME=VALUE", "set a parameter by its field name (same parsing as --name)"))
    return _rows(rows, width)


VALUE_RULES = ("Values are read by each parameter's type. Lists: repeat the flag or separate with commas "
               "(a value starting with [ is a JSON array). Booleans: --name / --no-name. Optional parameters: "
               "--no-name unsets them (numbers and choices also take none). JSON parameters take JSON.")


def task_help(spec: TaskSpec, prog: str = "reelforge run") -> str:
    width = _width()
    lines = [f"Usage: {prog} {spec.name} [PARAMETERS] [RUN OPTIONS]", ""]
    if spec.description:
        lines += [*textwrap.wrap(spec.description, width - 2, initial_indent="  ", subsequent_indent="  "), ""]
    lines += ["Parameters:", *param_lines(spec, width), "", "Run options:", *run_option_lines(width), ""]
    lines += textwrap.wrap(VALUE_RULES, width - 2, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(lines) + "\n"


def task_card(spec: TaskSpec) -> str:
    """``reelforge tasks TASK``: what the task reads and writes, what it needs, and its parameters."""
    width = _width()
    r = spec.resources
    lines = [spec.name, ""]
    if spec.description:
        lines += [*textwrap.wrap(spec.description, width - 2, initial_indent="  ", subsequent_indent="  "), ""]
    inputs = ", ".join(f"{k} ({v})" for k, v in spec.inputs.items()) or "-"
    lines += [
        f"  inputs     {inputs}",
        f"  outputs    {', '.join(spec.outputs) or '-'}",
        f"  resources  {r.cpus} cpu, {r.gpus} gpu, {r.memory_gb:g} GB memory",
        f"  resumable  {'yes (resumes from its last checkpoint)' if spec.resumable else 'no'}",
        "",
        "Parameters:",
        *param_lines(spec, width),
        "",
        f"Run it: reelforge run {spec.name} --name value ...  (reelforge run {spec.name} --help for run options)",
    ]
    return "\n".join(lines) + "\n"
