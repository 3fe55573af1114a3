"""Failure-injection tasks for the queue tests (loaded with REELFORGE_TASK_MODULES in workers)."""

from __future__ import annotations

import time

from pydantic import Field

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, task
from reelforge.errors import InvalidInput


class FlakyParams(Params):
    fail_times: int = Field(1, ge=0)


@task("testing.flaky", params=FlakyParams)
def flaky(ctx: TaskContext, p: FlakyParams) -> None:
    """Fails its first ``fail_times`` attempts with an unexpected error, then succeeds."""
    if ctx.attempt <= p.fail_times:
        raise RuntimeError(f"transient failure on attempt {ctx.attempt}")
    ctx.result["attempt"] = ctx.attempt


class BadParams(Params):
    pass


@task("testing.bad_input", params=BadParams)
def bad_input(ctx: TaskContext, p: BadParams) -> None:
    raise InvalidInput("this input will never work")


class WaitParams(Params):
    seconds: float = 30.0


@task("testing.wait_cancel", params=WaitParams)
def wait_cancel(ctx: TaskContext, p: WaitParams) -> None:
    """Works in small steps until cancelled (bounded by ``seconds``)."""
    end = time.monotonic() + p.seconds
    step = 0
    while time.monotonic() < end:
        ctx.check_cancelled()
        step += 1
        ctx.progress(step, 0, f"step {step}")
        time.sleep(0.05)


class SleepParams(Params):
    seconds: float = 1.0


@task("testing.sleep", params=SleepParams)
def sleep(ctx: TaskContext, p: SleepParams) -> None:
    """Sleeps without reporting anything (only the heartbeat keeps its lease)."""
    time.sleep(p.seconds)
