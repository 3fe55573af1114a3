"""Shared CLI plumbing: the studio option, output helpers, job following with rich progress.

Start-up matters here: every command imports this module, so it imports only the standard library
and ``typer``. Rich, the studio (SQLAlchemy) and the job system are imported on first use.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from reelforge.compute.jobs import Job
    from reelforge.studio import Studio


PIPE_WIDTH = 200


class _LazyConsole:
    """A rich ``Console`` made on first use (importing rich costs tens of milliseconds)."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self._stderr else sys.stdout
            # Into a pipe or file, tables get room (rich would assume 80 columns and fold them);
            # COLUMNS still decides when set. soft_wrap: long paths and ids stay on one line.
            wide = "COLUMNS" not in os.environ and not (hasattr(stream, "isatty") and stream.isatty())
            self._console = Console(stderr=self._stderr, soft_wrap=True, width=PIPE_WIDTH if wide else None)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


console: Any = _LazyConsole(stderr=False)
err_console: Any = _LazyConsole(stderr=True)


class State:
    studio_path: str | None = None
    server_url: str | None = None  # --server: the commands work on that server's studio instead
    json_output: bool = False
    _studio: Studio | None = None


state = State()


def studio() -> Studio:
    """The studio the command works on: the local one, or with ``--server`` the server's
    (``reelforge.connect``: the same services, entities and errors), so commands need not care."""
    if state._studio is None:
        if state.server_url:
            from reelforge.sdk import connect

            state._studio = connect(state.server_url)  # type: ignore[assignment]
        else:
            from reelforge.studio import Studio

            state._studio = Studio.open(state.studio_path)
    assert state._studio is not None
    return state._studio


def is_remote() -> bool:
    return bool(state.server_url)


def task_spec(name: str) -> Any:
    """A task's spec: from the server when remote (it may run tasks this machine lacks), else the
    local registry."""
    if is_remote():
        return studio().tasks.get(name)  # type: ignore[attr-defined]
    from reelforge.compute.registry import get_task

    return get_task(name)


def runs_here(s: Any) -> bool:
    """Whether a submitted job should run in this process: locally when no worker is up. A
    server's jobs run on its workers; when none is up, say so rather than wait in silence."""
    if is_remote():
        if s.jobs.workers_alive() == 0:
            err_console.print("note: no worker is running for this server; the job waits in the queue "
                              "(start one there: reelforge worker, or reelforge serve --workers N)",
                              markup=False, highlight=False)
        return False
    return bool(s.jobs.workers_alive() == 0)


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


# Characters that must never reach a terminal raw: C0/C1 controls and DEL (escape sequences, carriage
# returns that overwrite a line), bidirectional embeddings/overrides/isolates (text shown in another
# order than it is stored: "Trojan Source"), and line/paragraph separators.
_UNSAFE = frozenset(
    [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
     *range(0x2066, 0x206A), 0x2028, 0x2029]
)
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(value: object, *, keep_newlines: bool = False) -> str:
    """A user string fit for a terminal line: controls and bidi overrides shown escaped.

    ``keep_newlines`` leaves line breaks alone, for multi-line text such as a logged traceback.
    """
    text = str(value)
    if not any(ord(ch) in _UNSAFE for ch in text):
        return text
    keep = "\n" if keep_newlines else ""
    return "".join(_escape_char(ch) if ord(ch) in _UNSAFE and ch not in keep else ch for ch in text)


def cell(value: object) -> Text:
    """A table cell holding user text: escaped, and never read as rich markup (``[red]`` stays text)."""
    from rich.text import Text

    return Text(safe(value))


ID_WIDTH = 30  # prefixed ids: 3-letter prefix, "_", 26 characters (reelforge.ids)


def new_table(*headers: str, ids: tuple[str, ...] = ("id",)) -> Any:
    """A rich table whose id columns are never shortened (an id cut to "ast_01…" is useless) and
    whose other columns fold long text rather than hiding it behind an ellipsis."""
    from rich.table import Table

    t = Table()
    for h in headers:
        if h in ids:
            t.add_column(h, no_wrap=True, min_width=ID_WIDTH)
        else:
            t.add_column(h, overflow="fold")
    return t


def _json_text(data: Any) -> str:
    # json.dumps escapes C0 controls itself; the other unsafe characters can only sit inside strings,
    # where \\uXXXX is the same JSON value.
    text = json.dumps(data, default=str, indent=2, ensure_ascii=False)
    if any(ord(ch) in _UNSAFE for ch in text):
        text = "".join(f"\\u{ord(ch):04x}" if ord(ch) in _UNSAFE and ch != "\n" else ch for ch in text)
    return text


def emit_json(data: Any) -> None:
    text = _json_text(data)
    if not sys.stdout.isatty():
        sys.stdout.write(text + "\n")  # pipes get plain JSON without loading rich
        return
    from rich.highlighter import JSONHighlighter
    from rich.text import Text

    console.print(JSONHighlighter()(Text(text)))


# JSON from the command line (metadata, dict parameters) is bounded: a deeply nested value would
# overflow Python's recursion in the decoder, the validators or the database's JSON encoder.
MAX_JSON_DEPTH = 32


def json_depth(raw: str) -> int:
    """Deepest bracket nesting of a JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_json(raw: str, what: str) -> Any:
    """Parse JSON given for ``what`` (a flag or key), one-line errors for bad or too-deep input."""
    from reelforge.errors import InvalidInput

    if json_depth(raw) > MAX_JSON_DEPTH:
        raise InvalidInput(f"invalid value for {what}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"invalid value for {what}: not valid JSON ({exc.msg} at char {exc.pos})") from None


def parse_meta_value(raw: str, key: str) -> Any:
    """Free-form metadata has no schema: a JSON value when the text is one, else the plain string."""
    from reelforge.errors import InvalidInput

    if json_depth(raw) > MAX_JSON_DEPTH:
        raise InvalidInput(f"invalid value for {key}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def export_folder(dest: Path) -> Path:
    """An export destination must be a folder (created when missing), never an existing file."""
    from reelforge.errors import InvalidInput

    if dest.exists() and not dest.is_dir():
        raise InvalidInput(f"{dest} is a file, not a folder")
    for parent in dest.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InvalidInput(f"{parent} is a file, not a folder")
            break
    return dest


def follow(job_id: str, *, inline: bool, quiet: bool = False) -> Job:
    """Show a job's live progress until it finishes; run it in this process when ``inline``."""
    import threading

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    s = studio()
    runner: threading.Thread | None = None
    failure: list[BaseException] = []
    if inline:
        from reelforge.compute.worker import Worker

        def _run() -> None:
            try:
                Worker(s).run_job(job_id)
            except BaseException as exc:  # surfaced after the progress display closes
                failure.append(exc)

        runner = threading.Thread(target=_run, daemon=True, name="inline-executor")
        runner.start()
    job = s.jobs.get(job_id)
    last_log = 0
    try:
        with Progress(
            TextColumn("[bold]{task.fields[name]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("{task.description}", markup=False),
            console=err_console.get(),
            disable=quiet,
            transient=False,
        ) as bar:
            t = bar.add_task("queued", total=None, name=f"{job.task} {job.id}")
            while True:
                # Read liveness before the job row: a dead runner means the row we read is final.
                alive = runner is not None and runner.is_alive()
                job = s.jobs.get(job_id)
                for line in s.jobs.logs(job_id, after_id=last_log):
                    last_log = line["id"]
                    if line["level"] in ("warning", "error") and "\n" not in line["message"]:
                        bar.console.print(f"[yellow]{line['level']}[/]: ", cell(line["message"]), sep="")
                total = job.progress_total or None
                bar.update(t, completed=job.progress_done, total=total,
                           description=safe(job.progress_message[:80] or job.status))
                if job.finished and not alive:
                    break
                if runner is not None and not alive:
                    break
                time.sleep(0.25)
    except KeyboardInterrupt:
        s.jobs.cancel(job_id)
        err_console.print(f"cancel requested for {job_id}; it stops at its next check")
        if runner is not None:
            runner.join()
        job = s.jobs.get(job_id)
    if failure:
        raise failure[0]
    return job


def job_summary(job: Job) -> None:
    colour = {"succeeded": "green", "failed": "red", "cancelled": "yellow"}.get(str(job.status), "cyan")
    console.print(f"[{colour}]{job.status}[/] {job.task} {job.id} (attempt {job.attempt}/{job.max_attempts})")
    if job.error:
        console.print("  error: ", cell(job.error), sep="")
    outputs = job.result.get("outputs", [])
    if outputs:
        console.print(f"  outputs: {', '.join(outputs)}")


def exit_for(job: Job) -> None:
    """A job that did not succeed ends the command with its error's exit code (failed 6, cancelled 7)."""
    from reelforge.compute.jobs import JobStatus
    from reelforge.errors import Cancelled, TaskFailed

    if job.status != JobStatus.SUCCEEDED:
        raise typer.Exit(TaskFailed.exit_code if job.status == JobStatus.FAILED else Cancelled.exit_code)


def run_task(task: str, params: dict, project: str | None) -> dict:
    """Submit `task`, follow it (inline when it runs here), print its summary unless --json, and end
    the command with the job's exit code when it did not succeed; the job's result otherwise."""
    s = studio()
    handle = s.jobs.submit(task, params, project=project)
    job = follow(handle.id, inline=runs_here(s), quiet=state.json_output)
    if not state.json_output:
        job_summary(job)
    exit_for(job)
    return job.result


def export_output(asset_id: str) -> Path:
    """Copy an output next to the studio (``outputs/``), where the user can open it."""
    s = studio()
    base = s.home if s.home is not None else Path.cwd()  # a server's studio has no folder here
    return s.assets.export([asset_id], base / "outputs", overwrite=True)[0]
