"""Shared CLI plumbing: the studio option, output helpers, job following with rich progress."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reelforge.catalog.entities import Job
from reelforge.studio import Studio

console = Console(soft_wrap=True)  # long paths and ids stay on one line (pipes, logs)
err_console = Console(stderr=True, soft_wrap=True)


class State:
    studio_path: str | None = None
    json_output: bool = False
    _studio: Studio | None = None


state = State()


def studio() -> Studio:
    if state._studio is None:
        state._studio = Studio.open(state.studio_path)
    return state._studio


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def emit_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


def parse_value(raw: str) -> Any:
    """CLI values: JSON when it parses (numbers, booleans, lists), else the plain string."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def parse_extra(args: list[str]) -> dict[str, Any]:
    """``--key value``, ``--key=value``, ``--flag`` and ``-p key=value`` into a params dict."""
    from reelforge.errors import InvalidInput

    params: dict[str, Any] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-p", "--param"):
            if i + 1 >= len(args) or "=" not in args[i + 1]:
                raise InvalidInput(f"{a} needs key=value")
            k, _, v = args[i + 1].partition("=")
            params[k.replace("-", "_")] = parse_value(v)
            i += 2
        elif a.startswith("--"):
            key = a[2:]
            if "=" in key:
                k, _, v = key.partition("=")
                params[k.replace("-", "_")] = parse_value(v)
                i += 1
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                params[key.replace("-", "_")] = parse_value(args[i + 1])
                i += 2
            else:
                params[key.replace("-", "_")] = True
                i += 1
        else:
            raise InvalidInput(f"unexpected argument {a!r} (use --name value)")
    return params


def follow(job_id: str, *, inline: bool, quiet: bool = False) -> Job:
    """Show a job's live progress until it finishes; run it in this process when ``inline``."""
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
            TextColumn("{task.description}"),
            console=err_console,
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
                        bar.console.print(f"[yellow]{line['level']}[/]: {line['message']}")
                total = job.progress_total or None
                bar.update(t, completed=job.progress_done, total=total,
                           description=job.progress_message[:80] or job.status)
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
    colour = {"succeeded": "green", "failed": "red", "cancelled": "yellow"}.get(job.status, "cyan")
    console.print(f"[{colour}]{job.status}[/] {job.task} {job.id} (attempt {job.attempt}/{job.max_attempts})")
    if job.error:
        console.print(f"  error: {job.error}")
    outputs = job.result.get("outputs", [])
    if outputs:
        console.print(f"  outputs: {', '.join(outputs)}")


def exit_for(job: Job) -> None:
    if job.status != "succeeded":
        raise typer.Exit(6 if job.status == "failed" else 7)
