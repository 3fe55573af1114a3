"""A job's live progress, log lines and metrics as Server-Sent Events.

Events: ``progress`` (status, attempt, done/total/message) when it changes; ``log`` (one per line,
its ``id`` the log line's id, so a client reconnecting with ``Last-Event-ID`` resumes after it);
``metric`` (name, step, value); ``end`` with the finished job, after which the stream closes. A
comment line keeps idle connections open through proxies. The stream reads the job service, polling:
it works the same whichever process or machine runs the job.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from reelforge.compute.queue import JobService

KEEPALIVE_SECONDS = 15.0
METRICS_EVERY = 2.0  # metrics are read whole (the service has no "since"): not on every poll


def event(kind: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


async def job_events(jobs: JobService, job_id: str, *, after_log: int = 0, poll: float = 0.5) -> AsyncIterator[str]:
    last_state: tuple[Any, ...] | None = None
    sent_metrics: dict[str, int] = {}
    last_metrics = float("-inf")
    last_sent = time.monotonic()
    yield "retry: 2000\n\n"
    while True:
        job = await run_in_threadpool(jobs.get, job_id)
        out: list[str] = []
        while True:  # every new log line, in pages
            lines = await run_in_threadpool(jobs.logs, job_id, after_log, 1000)
            for line in lines:
                out.append(event("log", line, line["id"]))
                after_log = line["id"]
            if len(lines) < 1000:
                break
        if job.finished or time.monotonic() - last_metrics >= METRICS_EVERY:
            last_metrics = time.monotonic()
            series = await run_in_threadpool(jobs.metrics, job_id)
            for name, points in series.items():
                for step, value in points[sent_metrics.get(name, 0):]:
                    out.append(event("metric", {"name": name, "step": step, "value": value}))
                sent_metrics[name] = len(points)
        state = (job.status.value, job.attempt, job.progress_done, job.progress_total, job.progress_message)
        if state != last_state:
            last_state = state
            out.append(event("progress", {"id": job.id, "status": job.status.value, "attempt": job.attempt,
                                          "done": job.progress_done, "total": job.progress_total,
                                          "message": job.progress_message}))
        if job.finished:
            out.append(event("end", job.to_dict()))
        if out:
            last_sent = time.monotonic()
            yield "".join(out)
        elif time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        if job.finished:
            return
        await anyio.sleep(poll)
