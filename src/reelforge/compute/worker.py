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

from reelforge.compute.context import Reporter, TaskContext, TaskServices
from reelforge.compute.jobs import LOST, Job, JobStatus
from reelforge.compute.registry import get_task, validate_params
from reelforge.db.engine import session_scope
from reelforge.db.models import WorkerRow
from reelforge.errors import Cancelled, NotFound, ReelforgeError

if TYPE_CHECKING:
    from reelforge.studio import Studio


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, ReelforgeError) else f"{type(exc).__name__}: {text}"


class _Heartbeat(threading.Thread):
    def __init__(self, studio: Studio, job: Job, worker_id: str, ctx: TaskContext) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job.id}")
        self.studio, self.job, self.worker_id, self.ctx = studio, job, worker_id, ctx
        self.stop = threading.Event()
        self.lost = False

    def run(self) -> None:
        interval = self.studio.settings.heartbeat_seconds
        while not self.stop.wait(interval):
            try:
                ours, cancel = self.studio.jobs.heartbeat(self.job.id, self.worker_id)
                self.ctx.flush()
            except Exception:  # a DB hiccup must not kill the task; the lease has slack
                continue
            if not ours:
                self.lost = True
                self.ctx.request_stop()
                return
            if cancel:
                self.ctx.request_stop()


class Worker:
    def __init__(self, studio: Studio, worker_id: str | None = None, tasks: Sequence[str] | None = None) -> None:
        self.studio = studio
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.tasks = list(tasks) if tasks else None
        self.jobs_done = 0
        self._last_requeue = float("-inf")

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
        ctx = TaskContext(services, job, spec, params, self.id, reporter)
        hb = _Heartbeat(self.studio, job, self.id, ctx)
        hb.start()
        status, error, retryable = JobStatus.SUCCEEDED, None, False
        try:
            spec.fn(ctx, params)
            if ctx.cancelled and not hb.lost:
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
            try:
                ctx.flush()
            finally:
                ctx.close()
            if hb.lost:
                outcome: JobStatus | Literal["lost"] = LOST
            else:
                result = {**ctx.result, "outputs": ctx.outputs}
                outcome = self.studio.jobs.finish(job.id, self.id, status, error=error, result=result,
                                                  retryable=retryable)
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

    def run_once(self) -> JobStatus | Literal["lost"] | None:
        """Claim and run one job if any is runnable; its status ("lost" when the lease was lost),
        or None when there was nothing to run."""
        now = time.monotonic()
        # Expired leases only appear after lease_seconds: checking every pass is wasted transactions.
        if now - self._last_requeue >= self.studio.settings.lease_seconds / 4:
            self.studio.jobs.requeue_expired()
            self._last_requeue = now
        job = self.studio.jobs.claim(self.id, tasks=self.tasks)
        if job is None:
            return None
        status = self.execute(job)
        self.jobs_done += 1
        return status

    def run(
        self,
        *,
        stop_when_idle: bool = False,
        max_jobs: int | None = None,
        poll: float | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """The worker loop. Returns the number of jobs run."""
        stop = stop or threading.Event()
        poll = poll if poll is not None else self.studio.settings.poll_seconds
        self.announce()
        last_seen = time.monotonic()
        try:
            while not stop.is_set():
                if max_jobs is not None and self.jobs_done >= max_jobs:
                    break
                status = self.run_once()
                if time.monotonic() - last_seen > self.studio.settings.heartbeat_seconds:
                    self.announce()  # busy or idle, stay visible to `reelforge run`
                    last_seen = time.monotonic()
                if status is None:
                    if stop_when_idle and not self._others_pending():
                        break
                    # Jitter keeps workers started together from polling in lock-step.
                    stop.wait(poll * random.uniform(0.75, 1.25))
        finally:
            self.retire()
        return self.jobs_done

    def _others_pending(self) -> bool:
        counts = self.studio.jobs.counts()
        # Running jobs may still be re-queued if their worker dies; idle only when nothing is left.
        return counts.get(JobStatus.QUEUED, 0) > 0 or counts.get(JobStatus.RUNNING, 0) > 0


def _worker_main(home: str, stop_when_idle: bool, tasks: list[str] | None, max_jobs: int | None) -> None:
    from reelforge.studio import Studio

    stop = threading.Event()

    def _term(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    studio = Studio.open(home)
    Worker(studio, tasks=tasks).run(stop_when_idle=stop_when_idle, stop=stop, max_jobs=max_jobs)


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
