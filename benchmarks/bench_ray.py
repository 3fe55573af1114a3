"""Ray executor: a frame-parallel job (``ctx.map``) on 1 and 2 Ray nodes against the local pool.

One job, ``bench.ray_frames``, maps a fixed piece of CPU work over N items ("frames": a numpy
matmul + tanh loop calibrated to ``--item-ms`` on one thread here) and records the wall time of
its ``ctx.map`` call. It runs

* **baseline**: through the local worker (``JobHandle.run``), i.e. ``ctx.map``'s spawn-based
  process pool with 1 and 2 processes (the pool is made per call: that is what ``ctx.map`` costs);
* **ray**: through ``RayWorker`` on a local Ray cluster on this machine (a head with no CPUs and
  worker nodes of one CPU each, as separate raylets): first with 1 node, then with a second node
  added. Every Ray figure is after one warm-up job on the same cluster (Ray starts its worker
  processes lazily); the cold first job is shown too.

On this machine the two nodes share the same cores as everything else, so the figures show the
scaling of the dispatch, not of hardware. Fan-out overhead per item is measured with items that do
nothing, at ``--sizes`` (16, 64, 256) items, for Ray on 2 nodes and the local pool with 2
processes. Figures are medians of ``--repeat`` runs, given with their ratio to the local pool.

    .venv/bin/python benchmarks/bench_ray.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# One BLAS thread per process, here and in the pool and Ray workers (they inherit the environment).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np  # noqa: E402
from pydantic import Field  # noqa: E402

from reelforge.compute.context import TaskContext  # noqa: E402
from reelforge.compute.registry import Params, Resources, task  # noqa: E402

HERE = Path(__file__).resolve().parent


def frame_work(arg: tuple[int, int]) -> float:
    """A fixed amount of CPU work for one frame."""
    seed, iters = arg
    a = np.random.default_rng(seed).standard_normal((96, 96))
    for _ in range(iters):
        a = np.tanh(a @ a * (1.0 / 96))
    return float(a.sum())


def wait(arg: tuple[int, int]) -> int:
    """An item that waits ``arg[1]`` ms without using a CPU: scales with the slots, not the cores."""
    time.sleep(arg[1] / 1000)
    return arg[0]


def nothing(arg: tuple[int, int]) -> int:
    """An item that does no work: what is left is the fan-out's own cost."""
    return arg[0]


class FramesParams(Params):
    n: int = Field(64, ge=1, le=100_000, description="items (frames)")
    iters: int = Field(0, ge=0, description="work loop iterations per item (0: an empty item)")
    sleep_ms: int = Field(0, ge=0, description="instead of work, wait this long per item")
    workers: int | None = Field(None, ge=1, description="local pool size (ignored under Ray)")


@task("bench.ray_frames", params=FramesParams, resources=Resources(cpus=1, memory_gb=0.25),
      description="ctx.map over n frames of fixed CPU work; records the map's wall time.")
def ray_frames(ctx: TaskContext, p: FramesParams) -> None:
    fn, arg = (wait, p.sleep_ms) if p.sleep_ms else (frame_work, p.iters) if p.iters else (nothing, 0)
    t0 = time.perf_counter()
    out = ctx.map(fn, [(i, arg) for i in range(p.n)], workers=p.workers)
    ctx.result["map_seconds"] = time.perf_counter() - t0
    ctx.result["n"] = len(out)


def calibrate(item_ms: float) -> tuple[int, float]:
    """Iterations of the work loop that take about ``item_ms`` here, and the measured ms."""
    frame_work((0, 20))  # warm numpy up
    runs = []
    for _ in range(5):  # the machine is shared: the median of a few short runs
        t0 = time.perf_counter()
        frame_work((0, 100))
        runs.append((time.perf_counter() - t0) / 100)
    iters = max(1, round(item_ms / 1000 / statistics.median(runs)))
    times = []
    for i in range(5):
        t0 = time.perf_counter()
        frame_work((i, iters))
        times.append(time.perf_counter() - t0)
    return iters, statistics.median(times) * 1000


def _job(studio: Any, runner: Any, **params: Any) -> float:
    handle = studio.jobs.submit("bench.ray_frames", params)
    runner(handle)
    job = handle.job
    if job.status != "succeeded" or job.result.get("n") != params["n"]:
        raise SystemExit(f"benchmark job failed: {job.status} {job.error}")
    return float(job.result["map_seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--item-ms", type=float, default=50.0)
    ap.add_argument("--sizes", default="16,64,256")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing it")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]

    import ray
    from _report import machine_description, table, write_section
    from ray.cluster_utils import Cluster

    from reelforge.compute.ray_executor import RayWorker
    from reelforge.studio import Studio

    iters, item_ms = calibrate(args.item_ms)
    load = os.getloadavg()
    print(f"{iters} iterations ≈ {item_ms:.1f} ms per item; load average {load[0]:.1f}", flush=True)
    tmp = tempfile.mkdtemp(prefix="rf-ray-", dir="/tmp")  # short: Ray's socket paths live under it
    os.environ["RAY_TMPDIR"] = tmp
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    os.environ["REELFORGE_TASK_MODULES"] = "bench_ray"
    temp_dir = os.path.join(tmp, "ray")
    os.makedirs(temp_dir)
    cluster = None
    rows: list[list[object]] = []
    try:
        studio = Studio.init(Path(tmp) / "studio", heartbeat_seconds=1.0, poll_seconds=0.1)

        def local(handle: Any) -> None:
            handle.run()

        def on_ray(handle: Any) -> None:
            RayWorker(studio, worker_id="bench-driver").run(stop_when_idle=True)

        def median(runner: Any, **params: Any) -> float:
            return statistics.median(_job(studio, runner, **params) for _ in range(args.repeat))

        n = args.items
        serial = n * item_ms / 1000
        pool = "local pool, 2 processes"
        work: dict[str, float] = {}  # CPU items
        waits: dict[str, float] = {}  # items that wait item_ms without a CPU
        overhead: dict[str, dict[int, float]] = {}
        work["inline (workers=1: no pool)"] = median(local, n=n, iters=iters, workers=1)
        work[pool] = median(local, n=n, iters=iters, workers=2)
        waits[pool] = median(local, n=n, sleep_ms=round(item_ms), workers=2)
        overhead[pool] = {k: median(local, n=k, iters=0, workers=2) for k in sizes}
        print("local", work, waits, flush=True)

        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 0, "temp_dir": temp_dir, "include_dashboard": False, "object_store_memory": 100 * 2**20})
        cluster.add_node(num_cpus=1, object_store_memory=100 * 2**20)
        ray.init(address=cluster.address, log_to_driver=False)
        cold = _job(studio, on_ray, n=n, iters=iters)
        for nodes in ("ray, 1 node", "ray, 2 nodes"):
            if nodes == "ray, 2 nodes":
                cluster.add_node(num_cpus=1, object_store_memory=100 * 2**20)
                cluster.wait_for_nodes()
                _job(studio, on_ray, n=n, iters=iters)  # warm the new node's workers up
            work[nodes] = median(on_ray, n=n, iters=iters)
            waits[nodes] = median(on_ray, n=n, sleep_ms=round(item_ms))
            overhead[nodes] = {k: median(on_ray, n=k, iters=0) for k in sizes}
            print(nodes, work, waits, flush=True)
        studio.close()
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    # "× one at a time": against running the items one after another here (CPU: the inline
    # run measured above; wait: the sleeps added up).
    inline = work["inline (workers=1: no pool)"]
    for name, secs in work.items():
        rows.append([name, "CPU", n, f"{secs:.2f}", f"{n / secs:.1f}", f"{inline / secs:.2f}",
                     f"{work[pool] / secs:.2f}"])
    for name, secs in waits.items():
        rows.append([name, "wait", n, f"{secs:.2f}", f"{n / secs:.1f}", f"{serial / secs:.2f}",
                     f"{waits[pool] / secs:.2f}"])
    over_rows = []
    for name, by_size in overhead.items():
        over_rows.append([name, *[f"{by_size[k] / k * 1000:.1f}" for k in sizes],
                          *[f"{overhead[pool][k] / by_size[k]:.2f}" for k in sizes]])
    command = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ray.py" + (
        f" --items {n}" if n != 64 else "") + (f" --repeat {args.repeat}" if args.repeat != 3 else "")
    section = f"""## Ray executor: frame-parallel `ctx.map` (bench_ray.py)

`{command}` — {machine_description()}; load average {load[0]:.1f} at the start (the machine is
shared with other work). Ray {ray.__version__}; a local cluster on this machine: a head with no CPUs
and worker nodes of one CPU each (separate raylets), joined by a second node for the 2-node rows.
No GPU here.

One job maps {n} items with `ctx.map`; the time is the map call inside the job, median of
{args.repeat}. *CPU* items do fixed numpy work ({iters} loop iterations ≈ {item_ms:.0f} ms on one
thread when calibrated; the inline run is the one-at-a-time reference); *wait* items sleep
{item_ms:.0f} ms without using a CPU ({serial:.2f} s one after another), so
they show the scaling of the dispatch (one item per node CPU at a time) apart from the shared
cores. Ray figures are after a warm-up job (the cold first job on 1 node took {cold:.2f} s: Ray
starts its worker processes on first use). Baseline: the local process pool with 2 processes,
made per call as `ctx.map` does (its spawn is part of the figure).

{table(["executor", "item", "items", "map s", "items/s", "× one at a time", "× local pool (2)"], rows)}

Fan-out overhead per item: items that do nothing; ms per item is the whole map over the item
count, and "× pool" the local pool's time over this one's (> 1: less overhead than the pool).

{table(["executor", *[f"ms/item @{k}" for k in sizes], *[f"× pool @{k}" for k in sizes]], over_rows)}

Both nodes share this machine's 2 cores with other work, so the CPU rows move with the load (see
the load average above): a second node can only help as far as a core is free. The wait rows show
what a second node's slots add to the dispatch. On a real cluster each node brings its own cores.
"""
    print(section)
    if not args.no_write:
        print("wrote", write_section("ray", section))


if __name__ == "__main__":
    # Register the task under this module's importable name (not __main__), so Ray nodes can import it.
    sys.path.insert(0, str(HERE))
    import bench_ray

    bench_ray.main()
