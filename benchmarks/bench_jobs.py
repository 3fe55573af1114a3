"""Job queue throughput and pickup latency, 1 and 4 workers, on SQLite and on PostgreSQL.

For every backend and worker count, in a fresh studio (a fresh database for PostgreSQL, dropped
afterwards) holding 20 distinct small noisy PNG images:

1. backlog: submit N ``media.proxy`` jobs (max_side 64, cycling through the images), then drain
   them with ``run_workers(home, n, stop_when_idle=True)``. Throughput is N over the wall clock from
   the start of the drain to the last ``finished_at`` (so it includes starting the worker
   processes), and N over first ``started_at`` to last ``finished_at`` (steady state). Every job
   must have succeeded with ``runs == 1``.
2. pickup latency: n worker processes are started and left idle; then jobs arrive one at a time
   as a Poisson process at a rate well under the workers' capacity, and the latency of each is
   ``started_at - created_at``. This is the time a runnable job waits for a worker to notice it,
   not the time it waits behind a backlog.
3. raw queue: N jobs are submitted and 1 or 4 processes loop ``JobService.claim`` +
   ``JobService.finish`` on them without running any task: the queue's own cost per job.

Also measured once: the task's own work (``image_proxy`` of the same images, no platform) and, for
one in-process worker on each backend, the database transactions the worker loop makes per job.

    .venv/bin/python benchmarks/bench_jobs.py

PostgreSQL is reached at ``--pg`` (default: postgres@127.0.0.1:5432, trust auth); ``--backends
sqlite`` skips it.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_description, table, write_section

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432"
N_IMAGES = 20


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


# ------------------------------------------------------------------------------------ studios


def make_images(folder: Path) -> list[Path]:
    """20 distinct 320x240 noisy PNGs (noise keeps them from deduplicating)."""
    import skimage.data
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    names = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "camera", "retina", "cat")
    rng = np.random.default_rng(7)
    out = []
    for i in range(N_IMAGES):
        arr = getattr(skimage.data, names[i % len(names)])()
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        im = Image.fromarray(arr[..., :3]).resize((320, 240), Image.Resampling.BICUBIC)
        noisy = np.asarray(im, dtype=np.int16) + rng.integers(-6, 7, (240, 320, 3), dtype=np.int16)
        path = folder / f"small_{i:02d}.png"
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path)
        out.append(path)
    return out


def _pg_admin(server: str) -> str:
    return server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"


def pg_available(server: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(_pg_admin(server), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def fresh_studio(backend: str, root: Path, tag: str, images: list[Path], pg: str) -> Iterator[tuple]:
    """A new studio (and, for PostgreSQL, a new database dropped afterwards) with the images added."""
    import psycopg
    from psycopg import sql

    from reelforge.studio import Studio

    home = root / f"{backend}-{tag}"
    overrides = {}
    dbname = None
    if backend == "postgresql":
        dbname = f"rf_bench_jobs_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(_pg_admin(pg), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        overrides["database_url"] = f"{pg}/{dbname}"
    studio = None
    try:
        studio = Studio.init(home, **overrides)
        assets = studio.assets.add(images, tags=["bench"]).added
        if len(assets) != len(images):
            raise SystemExit("the benchmark images deduplicated; they must be distinct")
        yield studio, [a.id for a in assets]
    finally:
        if studio is not None:
            studio.close()
        if dbname is not None:
            with psycopg.connect(_pg_admin(pg), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        shutil.rmtree(home, ignore_errors=True)


def submit_all(studio, asset_ids: list[str], n: int, max_side: int = 64) -> tuple[list[str], float]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    ids = [studio.jobs.submit("media.proxy", {"asset": asset_ids[i % len(asset_ids)], "max_side": max_side}).id
           for i in range(n)]
    return ids, time.perf_counter() - t


def job_rows(studio, ids: list[str]) -> list:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from reelforge.db.engine import session_scope
    from reelforge.db.models import JobRow

    out = []
    with session_scope(studio.Session) as s:
        for i in range(0, len(ids), 500):
            out += list(s.scalars(select(JobRow).where(JobRow.id.in_(ids[i : i + 500]))))
    return out


def check_once(rows: list, what: str) -> int:
    """Jobs that succeeded having run exactly once; complain about the others."""
    good = [r for r in rows if r.status == "succeeded" and r.runs == 1]
    if len(good) != len(rows):
        bad = [(r.id, r.status, r.runs, r.error) for r in rows if not (r.status == "succeeded" and r.runs == 1)]
        log(f"WARNING {what}: {len(bad)} jobs did not run exactly once successfully, e.g. {bad[:3]}")
    return len(good)


def commit_ms(studio, n: int = 100) -> float:  # type: ignore[no-untyped-def]
    """Median milliseconds of a one-row INSERT + COMMIT on the studio's database (scratch table)."""
    from sqlalchemy import text

    times = []
    with studio.engine.connect() as conn:
        conn.execute(text("CREATE TABLE bench_commit_probe (x INTEGER)"))
        conn.commit()
        for _ in range(n):
            a = time.perf_counter()
            conn.execute(text("INSERT INTO bench_commit_probe (x) VALUES (1)"))
            conn.commit()
            times.append(time.perf_counter() - a)
        conn.execute(text("DROP TABLE bench_commit_probe"))
        conn.commit()
    return 1000 * statistics.median(times)


# ------------------------------------------------------------------------------ 1. backlog


@dataclass
class Backlog:
    backend: str
    workers: int
    jobs: int
    submit_s: float
    drain_s: float
    steady_s: float
    service_ms: float
    once: int
    proxies: int
    tx_per_job: float | None
    cpu_ms: float
    startup_cpu_s: float


class _TxCounter:
    """Counts database transactions begun by every engine in this process while active."""

    def __init__(self) -> None:
        self.n = 0

    def _begin(self, _conn) -> None:  # type: ignore[no-untyped-def]
        self.n += 1

    def __enter__(self) -> _TxCounter:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "begin", self._begin)
        return self

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "begin", self._begin)


def run_backlog(studio, asset_ids: list[str], backend: str, workers: int, n_jobs: int) -> Backlog:  # type: ignore[no-untyped-def]
    from reelforge.compute.worker import run_workers

    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    # Worker CPU time (user + system) per job: far less sensitive to the shared machine's load
    # than wall clock. In-process worker: this process; spawned workers: reaped children. Their
    # start-up (imports, opening the studio) is measured on the empty queue and subtracted.
    who = resource.RUSAGE_SELF if workers == 1 else resource.RUSAGE_CHILDREN
    r0 = resource.getrusage(who)
    try:
        run_workers(studio.home, workers, stop_when_idle=True)
    finally:
        signal.signal(signal.SIGINT, saved[0])
        signal.signal(signal.SIGTERM, saved[1])
    r1 = resource.getrusage(who)
    startup = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    ids, submit_s = submit_all(studio, asset_ids, n_jobs)
    log(f"  submitted {n_jobs} jobs in {submit_s:.1f} s; draining with {workers} worker(s)")
    tx = None
    r0 = resource.getrusage(who)
    t0 = time.time()
    try:
        if workers == 1:
            # One worker runs in this process: count the transactions its loop makes per job.
            with _TxCounter() as counter:
                run_workers(studio.home, 1, stop_when_idle=True)
            tx = counter.n / n_jobs
        else:
            codes = run_workers(studio.home, workers, stop_when_idle=True)
            if any(codes):
                log(f"WARNING worker exit codes {codes}")
    finally:
        signal.signal(signal.SIGINT, saved[0])
        signal.signal(signal.SIGTERM, saved[1])
    r1 = resource.getrusage(who)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime) - startup
    rows = job_rows(studio, ids)
    done = [r for r in rows if r.finished_at is not None]
    last = max(r.finished_at for r in done)
    first = min(r.started_at for r in done)
    proxies = {(r.result or {}).get("proxy") for r in rows} - {None}
    return Backlog(
        backend, workers, n_jobs, submit_s, last - t0, last - first,
        1000 * statistics.fmean(r.finished_at - r.started_at for r in done),
        check_once(rows, f"{backend} backlog x{workers}"), len(proxies), tx, 1000 * cpu / n_jobs,
        startup / workers,
    )


# ----------------------------------------------------------------------------- 2. latency


@dataclass
class Latency:
    backend: str
    workers: int
    jobs: int
    rate: float
    lat: list[float]
    submit_call: list[float]
    busy: float
    once: int


def _start_workers(home: Path, n: int) -> list:
    from reelforge.compute.worker import run_workers

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=run_workers, args=(str(home), 1), kwargs={"stop_when_idle": False},
                         name=f"bench-worker-{i}") for i in range(n)]
    for p in procs:
        p.start()
    return procs


def _stop_workers(procs: list) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()  # SIGTERM: the worker finishes its job and leaves the loop
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
            p.join()


def run_latency(studio, asset_ids: list[str], backend: str, workers: int, n_jobs: int, rate: float,
                seed: int) -> Latency:  # type: ignore[no-untyped-def]
    procs = _start_workers(studio.home, workers)
    try:
        deadline = time.monotonic() + 120
        while studio.jobs.workers_alive() < workers:
            if time.monotonic() > deadline or not all(p.is_alive() for p in procs):
                raise SystemExit("worker processes did not start")
            time.sleep(0.2)
        time.sleep(1.0)  # let every worker fall into its idle poll loop
        rng = np.random.default_rng(seed)
        ids, calls = [], []
        next_t = time.monotonic()
        for i in range(n_jobs):
            next_t += float(rng.exponential(1.0 / rate))
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            a = time.perf_counter()
            ids.append(studio.jobs.submit("media.proxy",
                                          {"asset": asset_ids[i % len(asset_ids)], "max_side": 64}).id)
            calls.append(time.perf_counter() - a)
        deadline = time.monotonic() + 300
        while True:
            counts = studio.jobs.counts()
            if not counts.get("queued") and not counts.get("running"):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"latency phase did not drain: {counts}")
            time.sleep(0.1)
    finally:
        _stop_workers(procs)
    rows = job_rows(studio, ids)
    lat = [r.started_at - r.created_at for r in rows]
    span = max(r.finished_at for r in rows) - min(r.created_at for r in rows)
    busy = sum(r.finished_at - r.started_at for r in rows) / (span * workers)
    return Latency(backend, workers, n_jobs, rate, lat, calls, busy, check_once(rows, f"{backend} latency x{workers}"))


# --------------------------------------------------------------------------- 3. raw queue


@dataclass
class Raw:
    backend: str
    clients: int
    jobs: int
    submit_s: float
    wall_s: float
    claims: list[float]
    finishes: list[float]
    once: int


def _raw_client(home: str, ready, start, results) -> None:  # type: ignore[no-untyped-def]
    from reelforge.studio import Studio

    studio = Studio.open(home)
    wid = f"bench-raw-{os.getpid()}"
    claims, finishes = [], []
    ready.put(os.getpid())
    start.wait()
    t0 = time.time()
    while True:
        a = time.perf_counter()
        job = studio.jobs.claim(wid)
        b = time.perf_counter()
        if job is None:
            break
        studio.jobs.finish(job.id, wid, "succeeded")
        claims.append(b - a)
        finishes.append(time.perf_counter() - b)
    results.put((claims, finishes, t0, time.time()))
    studio.close()


def run_raw(studio, asset_ids: list[str], backend: str, clients: int, n_jobs: int) -> Raw:  # type: ignore[no-untyped-def]
    ids, submit_s = submit_all(studio, asset_ids, n_jobs)
    ctx = multiprocessing.get_context("spawn")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_raw_client, args=(str(studio.home), ready, start, results)) for _ in range(clients)]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=120)
        start.set()
        outs = [results.get(timeout=600) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    claims = [c for o in outs for c in o[0]]
    finishes = [f for o in outs for f in o[1]]
    wall = max(o[3] for o in outs) - min(o[2] for o in outs)
    once = check_once(job_rows(studio, ids), f"{backend} raw x{clients}")
    return Raw(backend, clients, n_jobs, submit_s, wall, claims, finishes, once)


# ----------------------------------------------------------------------------------- main


def task_work_ms(images: list[Path], rounds: int = 5) -> float:
    """The proxy task's own work, without the platform: decode, shrink to 64 px, encode JPEG."""
    from reelforge.media import image_proxy

    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "p.jpg"
        image_proxy(images[0], dst, max_side=64)  # warm imports
        t = time.perf_counter()
        for _ in range(rounds):
            for im in images:
                image_proxy(im, dst, max_side=64)
        return 1000 * (time.perf_counter() - t) / (rounds * len(images))


def f1(x: float) -> str:
    return f"{x:,.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=500, help="jobs per backlog and raw-queue run")
    ap.add_argument("--workers", default="1,4", help="worker counts, comma separated")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL server URL without a database name")
    ap.add_argument("--latency-jobs", type=int, default=60, help="jobs submitted one by one per latency run")
    ap.add_argument("--rate", type=float, default=2.0, help="mean arrival rate (jobs/s) of the latency runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print the section, do not update docs/benchmarks.md")
    args = ap.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if any(w < 1 for w in workers) or args.jobs < 1 or args.latency_jobs < 1 or args.rate <= 0:
        ap.error("worker counts, job counts and the rate must be positive")
    for b in backends:
        if b not in ("sqlite", "postgresql"):
            ap.error(f"unknown backend {b!r}")
    if "postgresql" in backends and not pg_available(args.pg):
        log(f"PostgreSQL at {args.pg} is not reachable: skipping it")
        backends.remove("postgresql")

    import reelforge.tasks  # noqa: F401  (registers media.proxy)

    root = Path(tempfile.mkdtemp(prefix="rf-bench-jobs-"))
    load_before = os.getloadavg()
    backlog: list[Backlog] = []
    latency: list[Latency] = []
    raw: list[Raw] = []
    commits: dict[str, float] = {}
    try:
        images = make_images(root / "images")
        work_ms = task_work_ms(images)
        log(f"task work alone: {work_ms:.1f} ms/job")
        for backend in backends:
            for n in workers:
                log(f"{backend}, {n} worker(s): backlog")
                with fresh_studio(backend, root, f"backlog{n}", images, args.pg) as (studio, ids):
                    if backend not in commits:
                        commits[backend] = commit_ms(studio)
                    backlog.append(run_backlog(studio, ids, backend, n, args.jobs))
                b = backlog[-1]
                log(f"  {b.jobs / b.drain_s:.1f} jobs/s (drain), {b.jobs / b.steady_s:.1f} jobs/s (steady), "
                    f"{b.once}/{b.jobs} ran once")
                log(f"{backend}, {n} worker(s): pickup latency")
                with fresh_studio(backend, root, f"latency{n}", images, args.pg) as (studio, ids):
                    latency.append(run_latency(studio, ids, backend, n, args.latency_jobs, args.rate, args.seed))
                lt = latency[-1]
                log(f"  p50 {1000 * pct(lt.lat, 50):.0f} ms, p95 {1000 * pct(lt.lat, 95):.0f} ms")
                log(f"{backend}, {n} client(s): raw claim + finish")
                with fresh_studio(backend, root, f"raw{n}", images, args.pg) as (studio, ids):
                    raw.append(run_raw(studio, ids, backend, n, args.jobs))
                r = raw[-1]
                log(f"  {len(r.claims) / r.wall_s:.0f} jobs/s")
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    # -- report ---------------------------------------------------------------------------------
    b_rows = [[
        b.backend, b.workers, b.jobs, f1(b.jobs / b.submit_s), f1(b.jobs / b.drain_s), f1(b.jobs / b.steady_s),
        f1(b.service_ms), f1(b.cpu_ms), f1(b.tx_per_job) if b.tx_per_job is not None else "",
        f"{b.once}/{b.jobs}", b.proxies,
    ] for b in backlog]
    l_rows = [[
        lt.backend, lt.workers, lt.jobs, f1(lt.rate), f"{lt.busy:.0%}",
        f"{1000 * pct(lt.lat, 50):,.0f}", f"{1000 * pct(lt.lat, 95):,.0f}", f"{1000 * max(lt.lat):,.0f}",
        f"{1000 * pct(lt.submit_call, 50):,.0f}", f"{lt.once}/{lt.jobs}",
    ] for lt in latency]
    r_rows = [[
        r.backend, r.clients, r.jobs, f1(r.jobs / r.submit_s), f1(len(r.claims) / r.wall_s),
        f1(1000 * pct(r.claims, 50)), f1(1000 * pct(r.claims, 95)),
        f1(1000 * pct(r.finishes, 50)), f1(1000 * pct(r.finishes, 95)), f"{r.once}/{r.jobs}",
    ] for r in raw]
    cmd = "python benchmarks/bench_jobs.py"
    extra = []
    if args.jobs != 500:
        extra.append(f"--jobs {args.jobs}")
    if args.workers != "1,4":
        extra.append(f"--workers {args.workers}")
    if args.backends != "sqlite,postgresql":
        extra.append(f"--backends {args.backends}")
    if args.latency_jobs != 60:
        extra.append(f"--latency-jobs {args.latency_jobs}")
    if args.rate != 2.0:
        extra.append(f"--rate {args.rate:g}")
    cmd = " ".join([cmd, *extra])
    pg_version, pg_sync = "", ""
    if "postgresql" in backends:
        import psycopg

        with psycopg.connect(_pg_admin(args.pg)) as conn:
            pg_version = f" PostgreSQL {conn.info.server_version // 10000}.{conn.info.server_version % 10000}"
            row = conn.execute("SHOW synchronous_commit").fetchone()
            pg_sync = f" (this server: `synchronous_commit = {row[0] if row else '?'}`)"
    spawned = [b.startup_cpu_s for b in backlog if b.workers > 1]
    startup_note = (f"{1000 * statistics.median(spawned):,.0f} ms of CPU per spawned worker process, measured by "
                    "draining the empty queue first" if spawned else "measured by draining the empty queue first")
    commit_note = " and ".join(f"{v:.2f} ms on {k}" for k, v in commits.items()) or "(not measured)"
    import inspect

    from reelforge.compute.worker import Worker

    poll = inspect.signature(Worker.run).parameters["poll"].default
    md = f"""## Jobs: queue throughput and pickup latency

Command: `{cmd}` &nbsp;·&nbsp; {machine_description()},{pg_version} on the same machine &nbsp;·&nbsp;
load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (the 2 cores are shared).

Every run uses a fresh studio (PostgreSQL: a fresh database, dropped afterwards) holding 20
distinct 320x240 PNGs. The job is a real `media.proxy` (max_side 64) cycling through them; its
own work (`image_proxy` alone, no platform) takes {work_ms:.1f} ms. With 4 workers the 4 processes
share the 2 cores.

**Backlog**: {args.jobs} jobs are submitted, then drained by
`run_workers(home, n, stop_when_idle=True)`. *Drain* is jobs over the wall clock from the start of
`run_workers` to the last `finished_at` (includes spawning the workers); *steady* is jobs over
first `started_at` to last `finished_at`; *service* is the mean `finished_at - started_at`;
*worker CPU* is the user + system CPU time of the worker process(es) per job, excluding their
start-up ({startup_note}) and the PostgreSQL server: unlike the wall-clock figures it hardly moves with
the load other users put on the machine, where repeated runs' wall-clock figures can differ by a
factor of two. *tx/job* counts the database transactions of the whole worker loop per job (one in-process worker
only). *Proxy assets* is the number of distinct output assets: identical proxies deduplicate, so
it must be 20.

{table(["backend", "workers", "jobs", "submit jobs/s", "drain jobs/s", "steady jobs/s", "service ms",
        "worker CPU ms/job", "tx/job", "ran once", "proxy assets"], b_rows)}

**Pickup latency**: n workers are started and left idle, then {args.latency_jobs} jobs arrive one by
one as a Poisson process at {args.rate:g} jobs/s (well under capacity; *busy* is the workers'
utilisation). Latency is `started_at - created_at` of each job: how long a runnable job waits for
a worker to claim it. *Submit* is the duration of the `submit` call itself.

{table(["backend", "workers", "jobs", "jobs/s in", "busy", "p50 ms", "p95 ms", "max ms", "submit p50 ms",
        "ran once"], l_rows)}

**Raw queue**: {args.jobs} jobs are submitted, then 1 or 4 processes loop `JobService.claim` +
`JobService.finish` on them without running the task: the queue's own cost per job.

{table(["backend", "processes", "jobs", "submit jobs/s", "claim+finish jobs/s", "claim p50 ms",
        "claim p95 ms", "finish p50 ms", "finish p95 ms", "ran once"], r_rows)}

Reading these: an idle worker looks for work every {poll:g} s (`Worker.run(poll=...)`; workers started
by `run_workers` use the default), so pickup latency is bounded by that interval, and workers
started together poll nearly in step, so more workers lower it less than independent pollers
would. SQLite runs in WAL mode with `synchronous=NORMAL`, so its commits do not wait for the disk;
PostgreSQL's commits wait for a WAL flush when `synchronous_commit` is on{pg_sync}. A one-row
INSERT + COMMIT takes {commit_note} here (median of 100). SQLite has a single writer lock that every
reelforge transaction takes (`BEGIN IMMEDIATE`), so more worker processes contend for it.
"""
    print(md)
    if not args.no_write:
        log(f"wrote {write_section('jobs', md)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
