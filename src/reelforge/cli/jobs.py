"""Job commands: run, jobs ls|show|logs|cancel|retry, worker, tasks."""

from __future__ import annotations

import sys

import typer

from reelforge.cli.common import (
    cell,
    console,
    emit_json,
    exit_for,
    follow,
    is_remote,
    job_summary,
    new_table,
    runs_here,
    safe,
    state,
    studio,
    task_spec,
    when,
)
from reelforge.cli.params import ATTEMPTS_RANGE, PRIORITY_RANGE, SEED_RANGE

jobs_app = typer.Typer(help="Inspect and steer jobs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    # Nothing after TASK is parsed by click: the task's own schema reads it (reelforge.cli.params).
    @app.command(context_settings={"allow_interspersed_args": False, "allow_extra_args": True})
    def run(
        ctx: typer.Context,
        task: str = typer.Argument(..., help="task name, e.g. media.proxy (see `reelforge tasks`)"),
        detach: bool = typer.Option(False, "--detach", "-d", help="queue it for workers and return"),
        priority: int = typer.Option(0, min=PRIORITY_RANGE[0], max=PRIORITY_RANGE[1], help="higher runs first"),
        seed: int | None = typer.Option(None, min=SEED_RANGE[0], max=SEED_RANGE[1]),
        max_attempts: int | None = typer.Option(None, min=ATTEMPTS_RANGE[0], max=ATTEMPTS_RANGE[1]),
        project: str | None = typer.Option(None, "--project", "-P"),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Submit a task and follow it with a live progress bar.

        The task's parameters follow TASK (--name value); `reelforge run TASK --help` lists them with
        their types, defaults and ranges. Run options may also follow TASK.
        """
        from reelforge.cli.params import missing_required, parse_run_args, task_help

        spec = task_spec(task)
        parsed = parse_run_args(spec, list(ctx.args))  # unknown or mistyped flags end here, exit 2
        if parsed.help:
            sys.stdout.write(task_help(spec))
            return
        opts = {"detach": detach, "priority": priority, "seed": seed, "max_attempts": max_attempts,
                "project": project, "quiet": quiet, **parsed.options}
        if opts.get("json_output"):
            state.json_output = True
        problem = missing_required(spec, parsed.params)
        if problem is not None:
            raise problem
        if not is_remote():  # a server checks them itself, against its own registry
            from reelforge.compute.registry import validate_params

            validate_params(spec, parsed.params)  # cheap; fails before the studio is opened
        s = studio()
        handle = s.jobs.submit(task, parsed.params, project=opts["project"], priority=opts["priority"],
                               seed=opts["seed"], max_attempts=opts["max_attempts"])
        if opts["detach"]:
            console.print(handle.id)
            return
        inline = runs_here(s)
        job = follow(handle.id, inline=inline, quiet=bool(opts["quiet"]) or state.json_output)
        if state.json_output:
            emit_json(job.to_dict())
        else:
            job_summary(job)
        exit_for(job)

    @app.command()
    def worker(
        n: int = typer.Option(1, "-n", "--workers", min=1, max=64, help="worker processes (local executor)"),
        drain: bool = typer.Option(False, help="exit when the queue is empty"),
        task: list[str] = typer.Option([], "--task", help="only run these tasks"),
        executor: str = typer.Option("local", "--executor",
                                     help="local: worker processes here; ray: each job runs as a Ray task on a cluster"),
        ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster to join (default: the "
                                               "ray_address setting, then RAY_ADDRESS, else a local Ray)"),
        in_flight: int | None = typer.Option(None, "--in-flight", min=1,
                                             help="ray: jobs running at once (default: the cluster's CPUs)"),
    ) -> None:
        """Run worker processes that take jobs from the queue (or feed them to a Ray cluster)."""
        from reelforge.errors import InvalidInput

        s = studio()
        if executor == "ray":
            try:
                from reelforge.compute.ray_executor import run_ray_worker
            except ImportError:
                raise InvalidInput("the ray executor needs Ray: pip install 'reelforge[ray]'") from None
            console.print(f"feeding the Ray cluster at {ray_address or 'the configured address'} from {s.home} "
                          "(Ctrl-C stops)")
            run_ray_worker(str(s.home), address=ray_address, stop_when_idle=drain, tasks=task or None,
                           max_in_flight=in_flight)
            return
        if executor != "local":
            raise InvalidInput(f"unknown executor {executor!r} (local or ray)")
        from reelforge.compute.worker import run_workers

        console.print(f"starting {n} worker(s) on {s.home} (Ctrl-C stops)")
        codes = run_workers(s.home, n, stop_when_idle=drain, tasks=task or None)
        if any(codes):
            raise typer.Exit(1)

    @app.command()
    def tasks(
        name: str | None = typer.Argument(None, help="a task to describe (default: list them all)"),
        json_output: bool = typer.Option(False, "--json", help="machine-readable output (with JSON Schema)"),
    ) -> None:
        """List the registered tasks, or describe one: parameters, inputs, outputs, resources."""
        as_json = json_output or state.json_output
        if name is not None:
            from reelforge.cli.params import task_card

            spec = task_spec(name)
            if as_json:
                emit_json({**spec.to_dict(), "fields": [f.to_dict() for f in spec.param_fields()]})
            else:
                sys.stdout.write(task_card(spec))
            return
        if is_remote():
            specs = studio().tasks.list()  # type: ignore[attr-defined]
        else:
            from reelforge.compute.registry import all_tasks

            specs = all_tasks()
        if as_json:
            emit_json([t.to_dict() for t in specs])
            return
        table = new_table("task", "inputs", "resumable", "description")
        for t in specs:
            table.add_row(t.name, ", ".join(f"{k}:{v}" for k, v in t.inputs.items()), "yes" if t.resumable else "",
                          cell(t.description))
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
    table = new_table("id", "task", "status", "progress", "attempt", "created", "message")
    for j in jobs:
        pct = f"{100 * j.progress_done / j.progress_total:.0f}%" if j.progress_total else "-"
        table.add_row(j.id, j.task, str(j.status), pct, f"{j.attempt}/{j.max_attempts}", when(j.created_at),
                      cell((j.error or j.progress_message)[:60]))
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
            console.print(f"{when(line['ts'])} [{line['level']}] #{line['attempt']} {safe(line['message'], keep_newlines=True)}",
                          markup=False, highlight=False)
        if not follow_ or s.jobs.get(job_id).finished:
            break
        time.sleep(0.5)


@jobs_app.command("cancel")
def jobs_cancel(job_id: str) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    job = studio().jobs.cancel(job_id)
    console.print(f"{job.id}: {'cancelled' if job.status == 'cancelled' else 'cancel requested'}")


@jobs_app.command("priority")
def jobs_priority(
    job_id: str,
    priority: int = typer.Argument(..., min=PRIORITY_RANGE[0], max=PRIORITY_RANGE[1], help="higher runs first"),
) -> None:
    """Reorder a queued job: give it a new priority."""
    job = studio().jobs.set_priority(job_id, priority)
    console.print(f"{job.id}: priority {job.priority}")


@jobs_app.command("pause")
def jobs_pause() -> None:
    """Pause the queue: workers take no new job (running jobs go on) until `jobs resume`."""
    studio().jobs.pause()
    console.print("queue paused")


@jobs_app.command("resume")
def jobs_resume() -> None:
    """Resume a paused queue."""
    studio().jobs.resume()
    console.print("queue resumed")


@jobs_app.command("retry")
def jobs_retry(job_id: str, follow_: bool = typer.Option(False, "--follow", "-f")) -> None:
    """Re-queue a failed or cancelled job; it resumes from its last checkpoint."""
    s = studio()
    job = s.jobs.retry(job_id)
    console.print(f"{job.id}: queued again")
    if follow_:
        job = follow(job_id, inline=runs_here(s))
        job_summary(job)
        exit_for(job)
