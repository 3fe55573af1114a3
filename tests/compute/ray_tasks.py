"""Tiny tasks for the Ray executor tests: a checkpointing counter and a fan-out that says where
each item ran. Top-level and importable, so Ray nodes can import them by name."""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
from pydantic import Field

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task


def where_am_i() -> str:
    """The Ray node id of this process, or 'local' outside Ray."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        return str(ray.get_runtime_context().get_node_id())
    return "local"


def step_value(i: int) -> np.ndarray:
    """What step ``i`` adds: distinct per step, so a step counted twice or skipped shows in the total."""
    return np.array([i, i * i, 1, (i * 7919) % 101], dtype=np.float64)


def expected_total(steps: int, seed: float = 0.0) -> list[float]:
    return [float(v) for v in sum((step_value(i) for i in range(steps)), np.full(4, seed))]


class StepsParams(Params):
    steps: int = Field(10, ge=1, le=10_000, description="how many steps to count")
    step_seconds: float = Field(0.05, ge=0, le=5, description="sleep per step")
    checkpoint_every: int = Field(5, ge=1, description="steps between checkpoints")
    asset: str | None = Field(None, description="an input asset whose size seeds the total (lineage)")


@task("testing.ray_steps", params=StepsParams, inputs={"asset": "asset"}, resumable=True,
      resources=Resources(cpus=1, memory_gb=0.25), description="Counts steps with checkpoints.")
def ray_steps(ctx: TaskContext, p: StepsParams) -> None:
    seed = float(ctx.asset(p.asset).size) if p.asset else 0.0
    state = ctx.restore()
    if state is not None:
        start, total = int(state["step"]), np.asarray(state["total"], dtype=np.float64)
        ctx.log(f"resuming at step {start} on attempt {ctx.attempt}")
    else:
        start, total = 0, np.full(4, seed)
    for i in range(start, p.steps):
        ctx.check_cancelled()
        total = total + step_value(i)
        time.sleep(p.step_seconds)
        ctx.progress(i + 1, p.steps, f"step {i + 1}")
        if (i + 1) % p.checkpoint_every == 0 and i + 1 < p.steps:
            ctx.checkpoint({"step": i + 1, "total": total})
    ctx.result.update(total=[float(v) for v in total], node=where_am_i(), pid=os.getpid(), start=start)
    out = ctx.save_asset(json.dumps(ctx.result).encode(), "total.json")
    ctx.result["output"] = out.id


def where(arg: tuple[int, float]) -> dict[str, object]:
    """One fan-out item: sleeps, then says which node and process it ran on."""
    i, seconds = arg
    time.sleep(seconds)
    return {"i": i, "square": i * i, "node": where_am_i(), "pid": os.getpid()}


class FanoutParams(Params):
    n: int = Field(8, ge=1, le=10_000, description="items")
    item_seconds: float = Field(0.2, ge=0, le=5, description="sleep per item")
    workers: int | None = Field(None, ge=1, description="local pool size (ignored under Ray)")


@task("testing.ray_fanout", params=FanoutParams, description="ctx.map over n items that report where they ran.")
def ray_fanout(ctx: TaskContext, p: FanoutParams) -> None:
    ctx.result["items"] = ctx.map(where, [(i, p.item_seconds) for i in range(p.n)], workers=p.workers,
                                  progress_message="items")
    ctx.result["node"] = where_am_i()
