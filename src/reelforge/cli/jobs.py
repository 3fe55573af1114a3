"""Job commands: run, jobs ls|show|logs|cancel|retry, worker, tasks."""

from __future__ import annotations

import typer
from rich.table import Table

from reelforge.cli.common import (
    console,
    emit_json,
    exit_for,
    follow,
    job_summary,
    parse_extra,
    state,
    studio,
    when,
)

jobs_app = typer.Typer(help="Inspect and steer jobs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    @app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def run(
        ctx: typer.Context,
        task: str = typer.Argument(..., help="task name, e.g. media.proxy (see `reelforge tasks`)"),
        detach: bool = typer.Option(False, "--detach", "-d", help="queue it for workers and return"),
        priority: int = typer.Option(0),
        seed: int | None = typer.Option(None),
        max_attempts: int | None = typer.Option(None),
        project: str | None = typer.Option(None, "--project", "-P"),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Submit a task and follow it with a live progress bar. Task params: --name value."""
        s = studio()
        params = parse_extra(list(ctx.args))
        handle = s.jobs.submit(task, params, project=project, priority=priority, seed=seed,
                               max_attempts=max_attempts)
        if detach:
            console.print(handle.id)
            return
        inline = s.jobs.workers_alive() == 0
        job = follow(handle.id, inline=inline, quiet=quiet or state.json_output)
        if state.json_output:
            emit_json(job.to_dict())
        else:
            job_summary(job)
        exit_for(job)

    @app.command()
    def worker(
        n: int = typer.Option(1, "-n", "--workers", min=1, max=64, help="worker processes"),
        drain: bool = typer.Option(False, help="exit when the queue is empty"),
        task: list[str] = typer.Option([], "--task", help="only run these tasks"),
    ) -> None:
        """Run worker processes that take jobs from the queue."""
        from reelforge.compute.worker import run_workers

        s = studio()
        console.print(f"starting {n} worker(s) on {s.home} (Ctrl-C stops)")
        codes = run_workers(s.home, n, stop_when_idle=drain, tasks=task or None)
        if any(codes):
            raise typer.Exit(1)

    @app.command()
    def tasks() -> None:
        """List the registered tasks."""
        from reelforge.compute.registry import all_tasks

        specs = all_tasks()
        if state.json_output:
            emit_json([t.to_dict() for t in specs])
            return
        table = Table("task", "inputs", "resumable", "description")
        for t in specs:
            table.add_row(t.name, ", ".join(f"{k}:{v}" for k, v in t.inputs.items()), "yes" if t.resumable else "",
                          t.description)
        console.print(table)


@jobs_app.command("ls")
def jobs_ls(
    status: str | None = typer.Option(None),
    task: str | None = typer.Option(None),
    project: str | None = typer.Option(None, "--project", "-P"),
    limit: int = typer.Option(50),
) -> None:
    """List jobs, newest first."""
    jobs = studio().jobs.list(status=status, task=task, project=project, limit=limit)
    if state.json_output:
        emit_json([j.to_dict() for j in jobs])
        return
    table = Table("id", "task", "status", "progress", "attempt", "created", "message")
    for j in jobs:
        pct = f"{100 * j.progress_done / j.progress_total:.0f}%" if j.progress_total else "-"
        table.add_row(j.id, j.task, j.status, pct, f"{j.attempt}/{j.max_attempts}", when(j.created_at),
                      (j.error or j.progress_message)[:60])
    console.print(table)


@jobs_app.command("show")
def jobs_show(job_id: str, metrics: bool = typer.Option(False, help="include every metric point")) -> None:
    """Show a job with its params, inputs, result and latest metrics."""
    s = studio()
    data = s.jobs.get(job_id).to_dict()
    series = s.jobs.metrics(job_id)
    data["metrics"] = series if metrics else {k: v[-1] for k, v in series.items()}
    emit_json(data)


@jobs_app.command("logs")
def jobs_logs(job_id: str, follow_: bool = typer.Option(False, "--follow", "-f")) -> None:
    """Print a job's log (and keep printing with -f until it finishes)."""
    import time

    s = studio()
    last = 0
    while True:
        for line in s.jobs.logs(job_id, after_id=last):
            last = line["id"]
            console.print(f"{when(line['ts'])} [{line['level']}] #{line['attempt']} {line['message']}",
                          markup=False, highlight=False)
        if not follow_ or s.jobs.get(job_id).finished:
            break
        time.sleep(0.5)


@jobs_app.command("cancel")
def jobs_cancel(job_id: str) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    job = studio().jobs.cancel(job_id)
    console.print(f"{job.id}: {'cancelled' if job.status == 'cancelled' else 'cancel requested'}")


@jobs_app.command("retry")
def jobs_retry(job_id: str, follow_: bool = typer.Option(False, "--follow", "-f")) -> None:
    """Re-queue a failed or cancelled job; it resumes from its last checkpoint."""
    s = studio()
    job = s.jobs.retry(job_id)
    console.print(f"{job.id}: queued again")
    if follow_:
        job = follow(job_id, inline=s.jobs.workers_alive() == 0)
        job_summary(job)
        exit_for(job)
