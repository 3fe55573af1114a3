"""Run anything: the task catalogue and a launcher whose form is generated from the task's JSON
Schema (the pydantic params model), so a new task needs no page of its own.

The form is built here, server-side, from ``spec.json_schema()``: every property becomes one
:class:`FormField` (a control kind, bounds, help text and the prefilled value as the control holds
it); ``run.js`` reads the controls back by their ``data-*`` description and submits through
``POST /api/v1/projects/{project}/jobs``.

Prefill contract (other pages link here): ``?from_job=ID`` takes every param and the seed of a job
the caller can see; ``?NAME=VALUE`` sets one param (VALUE read as JSON when it parses, else as
text); ``?params={json object}`` sets several; ``?seed=N`` sets the seed and ``?seed=random``
leaves it empty ("vary the seed").
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from reelforge.access.policy import READ
from reelforge.compute.registry import TaskSpec, all_tasks, get_task
from reelforge.errors import NotFound
from reelforge.ids import id_kind
from reelforge.web.deps import Page, PageDep
from reelforge.web.i18n import N_

if TYPE_CHECKING:
    from reelforge.catalog.entities import Project

router = APIRouter()

# Query keys of the prefill contract that are not task parameters.
RESERVED = ("from_job", "seed", "params", "priority", "max_attempts")
SEED_MAX = 2**63 - 1
# Families shown first, in this order, with a readable heading; others follow by name.
FAMILIES = {"gan": N_("Generative images"), "diffusion": N_("Text to image"), "media": N_("Media"),
            "script": N_("Screenplays"), "system": N_("System")}


@dataclass
class Option:
    value: str  # what the control holds (JSON text for choices, an id for pickers)
    label: str
    selected: bool = False


@dataclass
class FormField:
    """One task parameter as a form control."""

    name: str
    label: str
    help: str
    control: str  # integer number checkbox select text json dataset model asset assets
    required: bool = False
    nullable: bool = False
    has_default: bool = False
    default_text: str = ""
    value: str = ""  # the control's text (number, text, json); pickers/selects use options
    checked: bool = False
    options: list[Option] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)  # min/max/step/maxlength… for the control
    bounds: str = ""  # "1 ≤ x ≤ 100", shown beside the help
    filter_kind: str = ""  # model pickers: only models of this kind (input spec "model:gan")


# -- the schema -----------------------------------------------------------------------------------
def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` (pydantic puts enums and nested models in ``$defs``) and single ``allOf``."""
    for _ in range(20):
        if "$ref" in node:
            ref = str(node["$ref"])
            target = schema.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {})
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            node = {**_resolve(schema, node["allOf"][0]), **{k: v for k, v in node.items() if k != "allOf"}}
        else:
            break
    return node


def _unwrap_nullable(schema: dict[str, Any], prop: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the non-null schema, nullable) of an ``anyOf: [X, {type: null}]`` property."""
    prop = _resolve(schema, prop)
    alts = prop.get("anyOf") or prop.get("oneOf")
    if isinstance(alts, list):
        rest = [_resolve(schema, a) for a in alts if a.get("type") != "null"]
        nullable = len(rest) < len(alts)
        if len(rest) == 1:
            inner = {**{k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}, **rest[0]}
            return inner, nullable
        return {k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}, nullable
    if prop.get("type") == "null":
        return prop, True
    if isinstance(prop.get("type"), list):
        types = [t for t in prop["type"] if t != "null"]
        nullable = len(types) < len(prop["type"])
        return {**prop, "type": types[0] if len(types) == 1 else types}, nullable
    return prop, False


def _num(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def _bounds(inner: dict[str, Any]) -> tuple[dict[str, str], str]:
    attrs: dict[str, str] = {}
    lo = hi = ""
    if "minimum" in inner:
        attrs["min"] = _num(inner["minimum"])
        lo = f"{attrs['min']} ≤ "
    if "exclusiveMinimum" in inner:
        attrs["data-exclusive-min"] = _num(inner["exclusiveMinimum"])
        lo = f"{attrs['data-exclusive-min']} < "
    if "maximum" in inner:
        attrs["max"] = _num(inner["maximum"])
        hi = f" ≤ {attrs['max']}"
    if "exclusiveMaximum" in inner:
        attrs["data-exclusive-max"] = _num(inner["exclusiveMaximum"])
        hi = f" < {attrs['data-exclusive-max']}"
    return attrs, (f"{lo}x{hi}" if lo or hi else "")


def _plain(o: Any) -> Any:
    """JSON for what json.dumps does not know: a nested model, an enum, a path."""
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if isinstance(o, enum.Enum):
        return o.value
    return str(o)


def _json_text(value: Any, pretty: bool = True) -> str:
    return json.dumps(value, indent=2 if pretty else None, ensure_ascii=False, default=_plain)


def _control(spec: TaskSpec, name: str, inner: dict[str, Any]) -> tuple[str, str]:
    """(control kind, model kind filter) of a property."""
    declared = spec.inputs.get(name)
    if declared:
        kind, _, sub = declared.partition(":")
        if kind in ("dataset", "model", "asset", "assets"):
            return kind, sub
    if "enum" in inner or "const" in inner:
        return "select", ""
    t = inner.get("type")
    if t == "boolean":
        return "checkbox", ""
    if t in ("integer", "number", "string"):
        return str(t) if t != "string" else "text", ""
    return "json", ""


def form_fields(page: Page, proj: Project, spec: TaskSpec, values: dict[str, Any]) -> list[FormField]:
    """Every property of the task's schema as a control, prefilled with ``values`` else defaults."""
    schema = spec.json_schema()
    required = set(schema.get("required", []))
    out: list[FormField] = []
    pickers: dict[str, list[Any]] = {}
    # A default_factory leaves no "default" in the schema: the model itself knows it.
    made = {f.name: f.default for f in spec.param_fields() if not f.required}
    for name, raw in (schema.get("properties") or {}).items():
        inner, nullable = _unwrap_nullable(schema, raw)
        control, filter_kind = _control(spec, name, inner)
        has_default = "default" in raw or "default" in inner or name in made
        default = raw.get("default", inner.get("default", made.get(name)))
        f = FormField(
            name=name, label=str(raw.get("title") or inner.get("title") or name.replace("_", " ").title()),
            help=str(raw.get("description") or inner.get("description") or ""), control=control,
            required=name in required, nullable=nullable, has_default=has_default, filter_kind=filter_kind,
        )
        if has_default:
            f.default_text = ("none" if default is None else (default or "''") if isinstance(default, str)
                              else _num(default) if isinstance(default, (int, float)) and not isinstance(default, bool)
                              else _json_text(default, pretty=False))
        value = values[name] if name in values else default
        if control in ("integer", "number"):
            f.attrs, f.bounds = _bounds(inner)
            f.attrs["step"] = "1" if control == "integer" else _num(inner.get("multipleOf", "any"))
            f.value = "" if value is None or isinstance(value, (dict, list)) else _num(value)
        elif control == "checkbox":
            f.checked = value is True
            if nullable:  # three states: unset, yes, no
                f.control = "select"
                inner = {"enum": [True, False]}
        if control == "text":
            for key, attr in (("maxLength", "maxlength"), ("minLength", "minlength")):
                if key in inner:
                    f.attrs[attr] = str(inner[key])
            f.value = "" if value is None else (value if isinstance(value, str) else _json_text(value, pretty=False))
        elif control == "json":
            f.value = "" if value is None else _json_text(value)
            if inner.get("type") == "array" and "maxItems" in inner:
                f.bounds = page._("at most %(n)s items") % {"n": inner["maxItems"]}
        if f.control == "select":
            choices = list(inner.get("enum", [inner.get("const")] if "const" in inner else []))
            wanted = _json_text(value, pretty=False) if value is not None else None
            if value is not None and value not in choices:
                choices.append(value)  # a prefill outside the choices: shown, the server says why
            f.options = [Option(_json_text(c, pretty=False), _choice_label(page, c), _json_text(c, pretty=False) == wanted)
                         for c in choices]
        if control in ("dataset", "model", "asset", "assets"):
            f.options = _picker_options(page, proj, control, filter_kind, value, pickers)
        out.append(f)
    return out


def _choice_label(page: Page, c: Any) -> str:
    if c is True:
        return page._("yes")
    if c is False:
        return page._("no")
    return str(c)


def _picker_options(page: Page, proj: Project, control: str, filter_kind: str, value: Any,
                    cache: dict[str, list[Any]]) -> list[Option]:
    """The project's dataset versions or models (small lists, read whole), or just the prefilled
    assets (an asset picker searches the API as the user types: a project may hold 100,000)."""
    wanted = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v]
    if control in ("asset", "assets"):
        opts = []
        for ref in wanted:
            label = ref
            if id_kind(ref) == "ast":
                try:
                    a = page.guard.asset(page.p, ref, READ)
                    label = f"{a.name} · {a.kind}"
                except NotFound:
                    label = page._("%(ref)s (not found)") % {"ref": ref}
            opts.append(Option(ref, label, True))
        return opts
    if control not in cache:
        try:
            cache[control] = (page.studio.datasets.list(project=proj.id) if control == "dataset"
                              else page.studio.models.list(project=proj.id))
        except NotFound:
            cache[control] = []
    items = cache[control]
    if control == "model" and filter_kind:
        items = [m for m in items if m.kind == filter_kind]
    opts: list[Option] = []
    picked = False
    for it in items:
        if control == "dataset":
            label = f"{it.ref} · " + page.ngettext("%(n)s item", "%(n)s items", it.n_items) % {"n": it.n_items}
            names = {it.id, it.ref, it.dataset_id, f"{it.dataset_id}@{it.version}"}
            latest = it.dataset_name
        else:
            label = f"{it.ref} · {it.kind}"
            names = {it.id, it.ref}
            latest = it.name
        # A bare name means its latest version: the first listed (newest first within a name).
        hit = bool(wanted) and not picked and (wanted[0] in names or wanted[0] == latest)
        picked = picked or hit
        opts.append(Option(it.id, label, hit))
    if wanted and not picked:
        opts.insert(0, Option(wanted[0], page._("%(ref)s (as given)") % {"ref": wanted[0]}, True))
    return opts


# -- the prefill contract -------------------------------------------------------------------------
@dataclass
class Prefill:
    values: dict[str, Any] = field(default_factory=dict)
    seed: str = ""
    priority: str = "0"
    max_attempts: str = ""
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    from_job: Any = None
    random_seed: bool = False


def _loose_json(raw: str) -> Any:
    """A query value as JSON when it parses (``5``, ``true``, ``[1,2]``), else the text itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _int_text(raw: str, lo: int, hi: int) -> str | None:
    raw = raw.strip()
    if raw.isascii() and raw.lstrip("-").isdigit() and len(raw) <= 20 and lo <= int(raw) <= hi:
        return str(int(raw))
    return None


def prefill(page: Page, spec: TaskSpec) -> Prefill:
    query = page.request.query_params
    props = spec.json_schema().get("properties") or {}
    pre = Prefill()
    job_id = query.get("from_job")
    if job_id:
        job = page.guard.job(page.p, job_id, READ)  # a job the caller may not see: 404
        pre.from_job = job
        pre.values.update({k: v for k, v in job.params.items() if k in props})
        pre.seed = str(job.seed)
        skipped = sorted(k for k in job.params if k not in props)
        if job.task != spec.name:
            pre.notes.append(page._("Parameters of job %(job)s (task %(task)s) where the names match.")
                             % {"job": job.id, "task": job.task})
        if skipped:
            pre.notes.append(page._("Not used (no such parameter): %(names)s") % {"names": ", ".join(skipped)})
    raw_params = query.get("params")
    if raw_params:
        try:
            given = json.loads(raw_params)
        except ValueError:
            given = None
        if isinstance(given, dict):
            pre.values.update({k: v for k, v in given.items() if k in props})
            unknown = sorted(str(k) for k in given if k not in props)
            if unknown:
                pre.problems.append(page._("Unknown parameters ignored: %(names)s") % {"names": ", ".join(unknown)})
        else:
            pre.problems.append(page._("The params query value is not a JSON object: ignored."))
    unknown = []
    for key in dict.fromkeys(query.keys()):
        if key in RESERVED:
            continue
        if key not in props:
            unknown.append(key)
            continue
        raw = query.getlist(key)[-1]
        value = _loose_json(raw)
        inner, _ = _unwrap_nullable(spec.json_schema(), props[key])
        if inner.get("type") == "string" and not isinstance(value, str) and value is not None:
            value = raw  # a text field keeps what was typed: ?name=2024 is the text "2024"
        pre.values[key] = value
    if unknown:
        pre.problems.append(page._("Unknown parameters ignored: %(names)s") % {"names": ", ".join(sorted(unknown))})
    seed = query.get("seed")
    if seed is not None:
        if seed.strip().lower() == "random" or not seed.strip():
            pre.seed, pre.random_seed = "", True
        elif (text := _int_text(seed, 0, SEED_MAX)) is not None:
            pre.seed = text
        else:
            pre.problems.append(page._("The seed must be a whole number from 0 to 2^63-1: left empty."))
            pre.seed = ""
    for key, lo, hi in (("priority", -1000, 1000), ("max_attempts", 1, 100)):
        raw = query.get(key)
        if raw is not None:
            text = _int_text(raw, lo, hi)
            if text is None:
                pre.problems.append(page._("%(name)s must be a whole number from %(lo)s to %(hi)s: ignored.")
                                    % {"name": key, "lo": lo, "hi": hi})
            else:
                setattr(pre, key, text)
    return pre


# -- pages ----------------------------------------------------------------------------------------
def _family(name: str) -> str:
    return name.split(".", 1)[0]


@router.get("/p/{project}/run")
def tasks(project: str, page: PageDep) -> HTMLResponse:
    proj = page.project(project)
    groups: dict[str, list[TaskSpec]] = {}
    for spec in all_tasks():
        groups.setdefault(_family(spec.name), []).append(spec)
    order = sorted(groups, key=lambda f: (list(FAMILIES).index(f) if f in FAMILIES else len(FAMILIES), f))
    families = [(f, page._(FAMILIES[f]) if f in FAMILIES else f, groups[f]) for f in order]
    return page.render("run/tasks.html", project=proj, families=families, count=sum(map(len, groups.values())))


@router.get("/p/{project}/run/{task}")
def launcher(project: str, task: str, page: PageDep) -> HTMLResponse:
    proj = page.project(project)
    if not page.can_write(proj.id):
        # Viewers are not offered a launcher at all: as if there were none (the API answers 403).
        raise NotFound(f"no task launcher {task!r} in project {proj.name!r}")
    spec = get_task(task)
    pre = prefill(page, spec)
    fields = form_fields(page, proj, spec, pre.values)
    inputs = [f for f in fields if f.control in ("dataset", "model", "asset", "assets")]
    params = [f for f in fields if f not in inputs]
    return page.render("run/launch.html", project=proj, spec=spec, family=_family(spec.name), inputs=inputs,
                       params=params, pre=pre)


__all__ = ["FormField", "Prefill", "form_fields", "prefill", "router"]
