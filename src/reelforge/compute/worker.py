"""Workers: claim a job, run its task with a heartbeat thread, record the outcome.

``Worker.run_job`` is the inline executor (the CLI's ``reelforge run`` and ``JobHandle.run``);
``run_workers`` starts N worker processes that drain the queue (``reelforge worker -n N``).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import socket
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sqlalchemy import delete

from reelforge.access.actor import Actor, acting_as
from reelforge.compute.context import Reporter, TaskContext, TaskServices
from reelforge.compute.jobs import LOST, Job, JobStatus
from reelforge.compute.registry import get_task, validate_params
from reelforge.compute.wake import Listener
from reelforge.db.engine import session_scope
from reelforge.db.models import WorkerRow
from reelforge.errors import Cancelled, NotFound, ReelforgeError

if TYPE_CHECKING:
    from reelforge.studio import Studio


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, ReelforgeError) else f"{type(exc).__name__}: {text}"


class _Heartbeat(threading.Thread):
    """Renews the lease while the task runs, unless the task's own progress writes just did (each of
    them renews it too): a chatty task costs no heartbeat transactions of its own."""

    def __init__(self, interval: float, job: Job, reporter: Reporter) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job.id}")
        self.interval, self.reporter = interval, reporter
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                # Half an interval: a renewal is never more than 1.5 intervals old.
                self.reporter.beat(max_age=self.interval / 2)
            except Exception:  # a DB hiccup must not kill the task; the lease has slack
                continue
            if self.reporter.lost:
                return


class Worker:
    def __init__(self, studio: Studio, worker_id: str | None = None, tasks: Sequence[str] | None = None) -> None:
        self.studio = studio
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.tasks = list(tasks) if tasks else None
        self.jobs_done = 0
        self._last_requeue = float("-inf")
        self._listener: Listener | None = None

    # -- registration ------------------------------------------------------------------------
    def announce(self, current_job: str | None = None) -> None:
        now = time.time()
        with session_scope(self.studio.Session) as s:
            row = s.get(WorkerRow, self.id)
            if row is None:
                s.add(WorkerRow(id=self.id, host=socket.gethostname(), pid=os.getpid(), started_at=now,
                                heartbeat_at=now, current_job=current_job, jobs_done=self.jobs_done))
            else:
                row.heartbeat_at, row.current_job, row.jobs_done = now, current_job, self.jobs_done

    def retire(self) -> None:
        with session_scope(self.studio.Session) as s:
            s.execute(delete(WorkerRow).where(WorkerRow.id == self.id))

    # -- execution ---------------------------------------------------------------------------
    def make_context(self, ctx: TaskContext) -> TaskContext:
        """Where an executor adapts the context before the task sees it (the Ray executor gives it
        a Ray fan-out for ``ctx.map``); the local worker uses it as it is."""
        return ctx

    def execute(self, job: Job) -> JobStatus | Literal["lost"]:
        """Run one claimed attempt to its end; the job's resulting status ("lost": lease lost)."""
        try:
            spec = get_task(job.task)
            params = validate_params(spec, job.params)
        except ReelforgeError as exc:
            return self.studio.jobs.finish(job.id, self.id, JobStatus.FAILED, error=_one_line(exc))
        s = self.studio
        reporter = Reporter(s.jobs, job, self.id)
        services = TaskServices(s.settings, s.assets, s.datasets, s.models, s.jobs)
        ctx = self.make_context(TaskContext(services, job, spec, params, self.id, reporter))
        hb = _Heartbeat(s.settings.heartbeat_seconds, job, reporter)
        hb.start()
        status, error, retryable = JobStatus.SUCCEEDED, None, False
        try:
            # The job acts as the account that submitted it: its outputs and audit events say so.
            actor = Actor(f"job:{job.id} for {job.submitted_by}", job.submitted_by) if job.submitted_by else None
            with acting_as(actor):
                spec.fn(ctx, params)
            if ctx.cancelled and not reporter.lost:
                # The task ignored the request but finished anyway: keep its outputs, say so.
                ctx.log("cancel was requested but the task ran to completion", "warning")
        except Cancelled:
            status = JobStatus.CANCELLED
        except ReelforgeError as exc:
            # Bad input or a missing reference will not improve on retry.
            status, error = JobStatus.FAILED, _one_line(exc)
        except Exception as exc:
            status, error, retryable = JobStatus.FAILED, _one_line(exc), True
            reporter.log("error", traceback.format_exc())
        except KeyboardInterrupt:
            status, error, retryable = JobStatus.FAILED, "interrupted", True
            raise
        finally:
            hb.stop.set()
            hb.join(timeout=5)
            ctx.close()
            if reporter.lost:
                outcome: JobStatus | Literal["lost"] = LOST
            else:
                # What the task still has buffered goes in with the outcome: one transaction.
                progress, logs, metrics = reporter.take()
                result = {**ctx.result, "outputs": ctx.outputs}
                outcome = self.studio.jobs.finish(job.id, self.id, status, error=error, result=result,
                                                  retryable=retryable, progress=progress, logs=logs,
                                                  metrics=metrics)
        return outcome

    def run_job(self, job_id: str) -> Job:
        """Inline executor: run this job here, through its retries, until it is finished."""
        while True:
            job = self.studio.jobs.get(job_id)
            if job.finished:
                return job
            if job.status == JobStatus.QUEUED:
                wait = job.run_after - time.time()
                if wait > 0:
                    time.sleep(min(wait, 1.0))
                    continue
                claimed = self.studio.jobs.claim(self.id, job_id=job_id)
                if claimed is not None:
                    self.execute(claimed)
                    continue
            else:
                # Running elsewhere: follow it; requeue if its worker died.
                self.studio.jobs.requeue_expired()
            time.sleep(0.2)

    def _take(self) -> Job | float | None:
        now = time.monotonic()
        # Expired leases only appear after lease_seconds: checking every pass is wasted transactions.
        if now - self._last_requeue >= self.studio.settings.lease_seconds / 4:
            self.studio.jobs.requeue_expired()
            self._last_requeue = now
        return self.studio.jobs.take(self.id, tasks=self.tasks)

    def run_once(self) -> JobStatus | Literal["lost"] | None:
        """Claim and run one job if any is runnable; its status ("lost" when the lease was lost),
        or None when there was nothing to run."""
        job = self._take()
        if not isinstance(job, Job):
            return None
        status = self.execute(job)
        self.jobs_done += 1
        return status

    def interrupt(self) -> None:
        """Cut an idle wait short (from a signal handler or another thread), e.g. to stop."""
        if self._listener is not None:
            self._listener.interrupt()

    def run(
        self,
        *,
        stop_when_idle: bool = False,
        max_jobs: int | None = None,
        poll: float | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """The worker loop. Returns the number of jobs run.

        An idle worker sleeps until a submit wakes it (see ``compute/wake.py``), the first delayed
        job falls due, or ``poll`` seconds (default ``settings.poll_seconds``) pass: the fallback for
        a wake-up that went missing and for leases that expire.
        """
        stop = stop or threading.Event()
        poll = poll if poll is not None else self.studio.settings.poll_seconds
        # Listen before the first claim: a job committed after a claim that found nothing wakes us.
        self._listener = self.studio.jobs.listener()
        woken = False
        try:
            self.announce()
            last_seen = time.monotonic()
            while not stop.is_set():
                if max_jobs is not None and self.jobs_done >= max_jobs:
                    break
                got = self._take()
                if time.monotonic() - last_seen > self.studio.settings.heartbeat_seconds:
                    self.announce()  # busy or idle, stay visible to `reelforge run`
                    last_seen = time.monotonic()
                if isinstance(got, Job):
                    if woken:
                        # Woken for this job; more may have come with it: pass the wake-up on to
                        # another idle worker (SQLite's FIFO wakes one worker per byte).
                        self.studio.jobs.poke()
                    woken = False
                    self.execute(got)
                    self.jobs_done += 1
                    continue
                if stop_when_idle and not self.studio.jobs.pending():
                    break
                # Jitter keeps workers started together from polling in lock-step.
                timeout = poll * random.uniform(0.75, 1.25)
                if got is not None:
                    timeout = min(timeout, max(0.0, got - time.time()))
                woken = self._wait(timeout, stop)
        finally:
            self._listener.close()
            self._listener = None
            self.retire()
        return self.jobs_done

    def _wait(self, timeout: float, stop: threading.Event) -> bool:
        """Wait for a wake-up; True when woken for new work. Sliced, so that setting ``stop`` from
        another thread ends the wait within a fraction of a second."""
        assert self._listener is not None
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._listener.wait(min(left, 0.25)):
                return True
        return False


def _worker_main(home: str, stop_when_idle: bool, tasks: list[str] | None, max_jobs: int | None) -> None:
    from reelforge.studio import Studio

    stop = threading.Event()
    worker: Worker | None = None

    def _term(*_: object) -> None:
        stop.set()
        if worker is not None:
            worker.interrupt()  # an idle worker leaves at once

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    studio = Studio.open(home)
    worker = Worker(studio, tasks=tasks)
    worker.run(stop_when_idle=stop_when_idle, stop=stop, max_jobs=max_jobs)


def run_workers(
    home: str | Path, n: int, *, stop_when_idle: bool = False, tasks: Sequence[str] | None = None,
    max_jobs: int | None = None,
) -> list[int]:
    """Start ``n`` worker processes and wait for them; returns their exit codes."""
    if n < 1:
        raise NotFound("need at least one worker")
    if n == 1:
        # One worker runs in this process: signals reach it directly and nothing is orphaned.
        _worker_main(str(home), stop_when_idle, list(tasks) if tasks else None, max_jobs)
        return [0]
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_worker_main, args=(str(home), stop_when_idle, list(tasks) if tasks else None, max_jobs),
                    name=f"reelforge-worker-{i}")
        for i in range(n)
    ]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join()
    return [p.exitcode or 0 for p in procs]
