"""System tasks: ``system.ping`` checks that a worker is alive and measures the queue itself."""

from __future__ import annotations

import os
import socket

from pydantic import Field

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, task


class PingParams(Params):
    message: str = Field("", max_length=200, description="text echoed back in the result (tells pings apart)")
    steps: int = Field(0, ge=0, le=100_000,
                       description="report progress and a log line this many times (exercises reporting)")


@task(
    "system.ping",
    params=PingParams,
    outputs=(),
    description="Does nothing; the result names the worker host and pid that ran it (health checks)",
)
def ping(ctx: TaskContext, p: PingParams) -> None:
    # No inputs, no outputs: the job costs what the queue (and, with steps, its reporting) costs.
    for i in range(p.steps):
        ctx.progress(i + 1, p.steps, "ping")
        ctx.log(f"ping step {i + 1}/{p.steps}")
    ctx.result.update(host=socket.gethostname(), pid=os.getpid(), worker=ctx.worker_id, message=p.message)
