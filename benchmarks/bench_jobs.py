"""Job queue: raw claim + finish, draining ``system.ping`` jobs and pickup latency, against a bare-SQL floor.

For each backend (SQLite, PostgreSQL), in one run:

* **baseline** (no reelforge): a bare queue table in a fresh database, with one index matching its
  claim query. 1 and 4 processes loop "claim" (one ``UPDATE ... WHERE id = (SELECT ... ORDER BY
  priority DESC, run_after, id LIMIT 1 [FOR UPDATE SKIP LOCKED]) RETURNING id`` + ``COMMIT``) and
  "finish" (one ``UPDATE`` + ``COMMIT``) through the database driver itself for 3 s: what two
  transactions per job cost on this database and machine. The floor of pickup latency is one process doing
  ``INSERT`` + ``COMMIT`` then the claim + ``COMMIT`` (median of 200): the least time between a
  submit and a start, with a worker already spinning on the queue.
* **reelforge**, in a fresh studio (PostgreSQL: a fresh database, dropped afterwards), once with
  0 and once with ``--filler`` (100,000) jobs already queued. The filler are ``system.ping`` jobs
  due one day later, half at the measured jobs' priority (0) and half below it (-1), inserted with
  one bulk SQL insert (set up, not measured): they sit in the claim's index but are never run:

  - *tx/job*: an in-process ``Worker`` runs 200 pings (``max_jobs``) while every database
    transaction this process begins is counted;
  - *raw*: ``--raw-jobs`` (3,000) pings are submitted with ``submit_many``, then 1 or 4 processes
    loop ``JobService.claim`` + ``JobService.finish`` without running the task (exactly that many
    claims in all);
  - *drain*: n worker processes (``run_workers(home, 1)`` each) are started and left idle, then
    ``--jobs`` (1,000) pings are submitted with one ``submit_many``; the rate is jobs over the time
    from the start of the submit to the last ``finished_at``, the median of 3 such drains;
  - *pickup latency*: the same n idle workers, then ``--latency-jobs`` pings arrive one by one as a
    Poisson process at ``--rate`` jobs/s; latency is ``started_at - created_at``.

Every reelforge figure is given next to the baseline of its backend and process count measured in
the same run, as a ratio, so the figures of runs on a loaded machine stay comparable.

    .venv/bin/python benchmarks/bench_jobs.py

``--json FILE`` saves the figures; ``--before FILE`` (the ``--json`` of an earlier run, e.g. the
same command on the code before a change) adds its ratios to the section. PostgreSQL is reached at
``--pg`` (default: postgres@127.0.0.1:5432, trust auth); ``--backends sqlite`` skips it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pg import fresh_pg_database, pg_available
from _pg import pg_dsn as _pg_dsn
from _report import machine_description, table, write_section

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432"
TX_JOBS = 200
BARE_SECONDS = 3.0  # each bare-queue run lasts this long
BARE_ROWS = {"sqlite": 100_000, "postgresql": 30_000}  # more than it can claim in that time
DRAIN_REPEATS = 3  # drains per worker count; the median is reported
TX_STEPS = 20
FILLER_PRIORITIES = (0, -1)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


# ---------------------------------------------------------------------------------- databases


# ------------------------------------------------------------------------------ bare baseline


BARE_TABLE = {
    "sqlite": "CREATE TABLE bare_jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, priority INTEGER NOT NULL, "
              "run_after REAL NOT NULL, owner TEXT, started REAL, finished REAL)",
    "postgresql": "CREATE TABLE bare_jobs (id BIGSERIAL PRIMARY KEY, status TEXT NOT NULL, priority INTEGER NOT NULL, "
                  "run_after DOUBLE PRECISION NOT NULL, owner TEXT, started DOUBLE PRECISION, "
                  "finished DOUBLE PRECISION)",
}
BARE_INDEX = "CREATE INDEX bare_jobs_claim ON bare_jobs (status, priority DESC, run_after, id)"


class _Bare:
    """The bare queue through the driver itself: autocommit off, one transaction per call."""

    def __init__(self, backend: str, target: str) -> None:
        self.backend = backend
        if backend == "sqlite":
            import sqlite3

            self.conn: Any = sqlite3.connect(target, isolation_level=None, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.p = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(target)
            self.p = "%s"

    def _tx(self, sql: str, args: tuple) -> Any:
        if self.backend == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")
            row = self.conn.execute(sql, args).fetchone()
            self.conn.execute("COMMIT")
            return row
        cur = self.conn.execute(sql, args)
        row = cur.fetchone() if cur.description else None
        self.conn.commit()
        return row

    def submit(self, n: int = 1) -> None:
        now = time.time()
        if self.backend == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT INTO bare_jobs (status, priority, run_after) VALUES ('queued', 0, ?)",
                                  [(now,)] * n)
            self.conn.execute("COMMIT")
        else:
            with self.conn.cursor() as cur:
                cur.executemany("INSERT INTO bare_jobs (status, priority, run_after) VALUES ('queued', 0, %s)",
                                [(now,)] * n)
            self.conn.commit()

    def claim(self, owner: str) -> int | None:
        p = self.p
        lock = " FOR UPDATE SKIP LOCKED" if self.backend == "postgresql" else ""
        row = self._tx(
            f"UPDATE bare_jobs SET status = 'running', owner = {p}, started = {p} WHERE id = (SELECT id FROM bare_jobs "
            f"WHERE status = 'queued' AND run_after <= {p} ORDER BY priority DESC, run_after, id LIMIT 1{lock}) "
            "RETURNING id", (owner, time.time(), time.time()))
        return None if row is None else int(row[0])

    def finish(self, job_id: int, owner: str) -> None:
        p = self.p
        self._tx(f"UPDATE bare_jobs SET status = 'done', finished = {p} WHERE id = {p} AND owner = {p}",
                 (time.time(), job_id, owner))

    def close(self) -> None:
        self.conn.close()


def _bare_client(backend: str, target: str, seconds: float, left, ready, start, results) -> None:  # type: ignore[no-untyped-def]
    bare = _Bare(backend, target)
    owner = f"bare-{os.getpid()}"
    n = 0
    ready.put(os.getpid())
    start.wait()
    t0 = time.time()
    while time.time() - t0 < seconds and _reserve(left):
        job = bare.claim(owner)
        if job is None:
            break
        bare.finish(job, owner)
        n += 1
    results.put((n, t0, time.time()))
    bare.close()


def _reserve(left) -> bool:  # type: ignore[no-untyped-def]
    """Take one of the remaining claims (shared by the client processes)."""
    with left.get_lock():
        if left.value <= 0:
            return False
        left.value -= 1
        return True


def _run_clients(target, args_of, clients: int, jobs: int) -> tuple[list[Any], float]:  # type: ignore[no-untyped-def]
    """Start ``clients`` processes running ``target(*args_of(), left, ready, start, results)``, release
    them together and return their results and the wall clock from first start to last end."""
    ctx = multiprocessing.get_context("spawn")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    left = ctx.Value("i", jobs)
    procs = [ctx.Process(target=target, args=(*args_of(), left, ready, start, results)) for _ in range(clients)]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=180)
        start.set()
        outs = [results.get(timeout=900) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return outs, max(o[-1] for o in outs) - min(o[-2] for o in outs)


def measure_baseline(backend: str, root: Path, pg: str, clients: list[int]) -> dict[str, Any]:
    """Bare claim + finish jobs/s with each client count (each for BARE_SECONDS: the bare queue is
    fast enough that a fixed count would be over before the machine's noise averages out), and
    the submit-to-start floor (ms)."""
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            target = str(root / "bare.db")
        else:
            target = _pg_dsn(pg, stack.enter_context(fresh_pg_database(pg, "rf_bench_jobs")))
        bare = _Bare(backend, target)
        bare.conn.execute(BARE_TABLE[backend])
        bare.conn.execute(BARE_INDEX)
        if backend == "postgresql":
            bare.conn.commit()
        floor = []
        for _ in range(200):
            a = time.perf_counter()
            bare.submit()
            job = bare.claim("floor")
            floor.append(time.perf_counter() - a)
            assert job is not None
            bare.finish(job, "floor")
        rates = {}
        for n in clients:
            rows = BARE_ROWS[backend]
            bare.submit(rows)
            outs, wall = _run_clients(_bare_client, lambda: (backend, target, BARE_SECONDS), n, rows)
            done = sum(o[0] for o in outs)
            if done >= rows:
                log(f"WARNING bare {backend} x{n}: ran out of rows before {BARE_SECONDS} s")
            rates[n] = done / wall
            bare.conn.execute("DELETE FROM bare_jobs WHERE status = 'queued'")  # the next run starts alike
            if backend == "postgresql":
                bare.conn.commit()
        bare.close()
    return {"rates": rates, "floor_ms": 1000 * statistics.median(floor)}


# ------------------------------------------------------------------------------------ studios


@contextlib.contextmanager
def fresh_studio(backend: str, root: Path, tag: str, pg: str) -> Iterator[Any]:
    from reelforge.studio import Studio

    home = root / f"{backend}-{tag}"
    with contextlib.ExitStack() as stack:
        overrides = {}
        if backend == "postgresql":
            overrides["database_url"] = f"{pg}/{stack.enter_context(fresh_pg_database(pg, 'rf_bench_jobs'))}"
        studio = Studio.init(home, **overrides)
        try:
            yield studio
        finally:
            studio.close()
            shutil.rmtree(home, ignore_errors=True)


def add_filler(studio: Any, n: int) -> float:
    """``n`` pings due in a day, half at priority 0 and half at -1, in one bulk insert (set-up)."""
    from sqlalchemy import insert

    from reelforge.db.models import JobRow
    from reelforge.ids import new_id

    t = time.perf_counter()
    project = studio.projects.get(None).id
    now = time.time()
    rows = [dict(id=new_id("job"), project_id=project, task="system.ping", params={}, status="queued",
                 priority=FILLER_PRIORITIES[i % len(FILLER_PRIORITIES)], attempt=0, max_attempts=3, seed=i, code_version="bench",
                 created_at=now, run_after=now + 86400, cancel_requested=False, progress_done=0,
                 progress_total=0, progress_message="", result={}, runs=0) for i in range(n)]
    with studio.engine.begin() as conn:
        for i in range(0, n, 5000):
            conn.execute(insert(JobRow), rows[i : i + 5000])
    return time.perf_counter() - t


def submit_pings(studio: Any, n: int) -> tuple[list[str], float]:
    t = time.perf_counter()
    handles = studio.jobs.submit_many("system.ping", [{"message": str(i)} for i in range(n)])
    return [h.id for h in handles], time.perf_counter() - t


def job_rows(studio: Any, ids: list[str]) -> list[Any]:
    from sqlalchemy import select

    from reelforge.db.engine import session_scope
    from reelforge.db.models import JobRow

    out = []
    with session_scope(studio.ReadSession) as s:
        for i in range(0, len(ids), 500):
            out += list(s.execute(select(JobRow.id, JobRow.status, JobRow.runs, JobRow.error, JobRow.created_at,
                                         JobRow.started_at, JobRow.finished_at)
                                  .where(JobRow.id.in_(ids[i : i + 500]))))
    return out


def check_once(rows: list[Any], what: str) -> int:
    """Jobs that succeeded having run exactly once; complain about the others."""
    good = [r for r in rows if r.status == "succeeded" and r.runs == 1]
    if len(good) != len(rows):
        bad = [(r.id, r.status, r.runs, r.error) for r in rows if not (r.status == "succeeded" and r.runs == 1)]
        log(f"WARNING {what}: {len(bad)} jobs did not run exactly once successfully, e.g. {bad[:3]}")
    return len(good)


def wait_finished(studio: Any, ids: list[str], timeout: float = 600) -> list[Any]:
    """Wait until every job in ``ids`` is finished (the last one first: jobs are claimed in order)."""
    deadline = time.monotonic() + timeout
    while not studio.jobs.get(ids[-1]).finished:
        if time.monotonic() > deadline:
            raise SystemExit(f"job {ids[-1]} did not finish")
        time.sleep(0.005)
    while True:
        rows = job_rows(studio, ids)
        if all(r.finished_at is not None for r in rows):
            return rows
        if time.monotonic() > deadline:
            raise SystemExit("jobs did not finish")
        time.sleep(0.01)


# -------------------------------------------------------------------------------- tx per job


class _TxCounter:
    """Counts database transactions begun by every engine in this process while active."""

    def __init__(self) -> None:
        self.n = 0

    def _begin(self, _conn: Any) -> None:
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


def tx_per_job(studio: Any, steps: int = 0) -> float:
    from reelforge.compute.worker import Worker

    ids = [h.id for h in studio.jobs.submit_many("system.ping", [{"steps": steps}] * TX_JOBS)]
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        with _TxCounter() as counter:
            Worker(studio).run(max_jobs=TX_JOBS)
    finally:
        signal.signal(signal.SIGINT, saved[0])
        signal.signal(signal.SIGTERM, saved[1])
    check_once(job_rows(studio, ids), f"tx/job, {steps} steps")
    return counter.n / TX_JOBS


# ---------------------------------------------------------------------------------- raw queue


def _raw_client(home: str, left, ready, start, results) -> None:  # type: ignore[no-untyped-def]
    from reelforge.studio import Studio

    studio = Studio.open(home)
    wid = f"bench-raw-{os.getpid()}"
    claims, finishes = [], []
    ready.put(os.getpid())
    start.wait()
    t0 = time.time()
    while _reserve(left):
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


def run_raw(studio: Any, backend: str, clients: int, jobs: int) -> dict[str, Any]:
    ids, submit_s = submit_pings(studio, jobs)
    outs, wall = _run_clients(_raw_client, lambda: (str(studio.home),), clients, jobs)
    claims = [c for o in outs for c in o[0]]
    finishes = [f for o in outs for f in o[1]]
    once = check_once(job_rows(studio, ids), f"{backend} raw x{clients}")
    return {"clients": clients, "jobs": jobs, "submit_rate": jobs / submit_s, "rate": len(claims) / wall,
            "claim_p50": 1000 * pct(claims, 50), "finish_p50": 1000 * pct(finishes, 50), "once": once}


# ------------------------------------------------------------------------- drain and latency


def _start_workers(home: Path, n: int) -> list[Any]:
    from reelforge.compute.worker import run_workers

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=run_workers, args=(str(home), 1), kwargs={"stop_when_idle": False},
                         name=f"bench-worker-{i}") for i in range(n)]
    for p in procs:
        p.start()
    return procs


def _stop_workers(procs: list[Any]) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()  # SIGTERM: the worker finishes its job and leaves the loop
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
            p.join()


def run_workers_phase(studio: Any, backend: str, workers: int, jobs: int, lat_jobs: int, rate: float,
                      seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    procs = _start_workers(studio.home, workers)
    try:
        deadline = time.monotonic() + 180
        while studio.jobs.workers_alive() < workers:
            if time.monotonic() > deadline or not all(p.is_alive() for p in procs):
                raise SystemExit("worker processes did not start")
            time.sleep(0.1)
        time.sleep(1.0)  # let every worker fall idle
        # Drain: one bulk submit, then every worker takes jobs until none is left (a few times over).
        rates, submits, once = [], [], 0
        for _ in range(DRAIN_REPEATS):
            t0 = time.time()
            ids, submit_s = submit_pings(studio, jobs)
            rows = wait_finished(studio, ids)
            rates.append(jobs / (max(r.finished_at for r in rows) - t0))
            submits.append(jobs / submit_s)
            once += check_once(rows, f"{backend} drain x{workers}")
            time.sleep(0.2)
        drain = {"workers": workers, "jobs": jobs * DRAIN_REPEATS, "submit_rate": statistics.median(submits),
                 "rate": statistics.median(rates), "rates": rates, "once": once}
        time.sleep(0.5)
        # Pickup latency: jobs arrive one by one while the workers are idle.
        rng = np.random.default_rng(seed)
        lat_ids, calls = [], []
        next_t = time.monotonic()
        for i in range(lat_jobs):
            next_t += float(rng.exponential(1.0 / rate))
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            a = time.perf_counter()
            lat_ids.append(studio.jobs.submit("system.ping", {"message": f"latency {i}"}).id)
            calls.append(time.perf_counter() - a)
        rows = wait_finished(studio, lat_ids)
        lat = [r.started_at - r.created_at for r in rows]
        latency = {"workers": workers, "jobs": lat_jobs, "rate_in": rate, "p50": 1000 * pct(lat, 50),
                   "p95": 1000 * pct(lat, 95), "max": 1000 * max(lat), "submit_p50": 1000 * pct(calls, 50),
                   "once": check_once(rows, f"{backend} latency x{workers}")}
    finally:
        _stop_workers(procs)
    return drain, latency


# ----------------------------------------------------------------------------------- measure


def measure(args: argparse.Namespace, backends: list[str], workers: list[int], fillers: list[int]) -> dict[str, Any]:
    import reelforge.tasks  # noqa: F401  (registers system.ping)

    root = Path(tempfile.mkdtemp(prefix="rf-bench-jobs-"))
    res: dict[str, Any] = {"command": args.command, "machine": machine_description(),
                           "load_before": os.getloadavg()[0], "jobs": args.jobs, "raw_jobs": args.raw_jobs, "latency_jobs": args.latency_jobs,
                           "rate": args.rate, "workers": workers, "fillers": fillers, "backends": {}}
    try:
        for backend in backends:
            log(f"{backend}: bare baseline")
            base = measure_baseline(backend, root, args.pg, workers)
            log(f"  floor {base['floor_ms']:.2f} ms; " + ", ".join(f"x{n}: {r:.0f} jobs/s"
                                                                   for n, r in base["rates"].items()))
            runs = []
            for filler in fillers:
                with fresh_studio(backend, root, f"f{filler}", args.pg) as studio:
                    setup = add_filler(studio, filler) if filler else 0.0
                    log(f"{backend}, {filler:,} queued (set up in {setup:.1f} s)")
                    run: dict[str, Any] = {"filler": filler, "tx_per_job": tx_per_job(studio),
                                           "tx_per_job_steps": tx_per_job(studio, TX_STEPS),
                                           "raw": [], "drain": [], "latency": []}
                    log(f"  tx/job {run['tx_per_job']:.2f}, with {TX_STEPS} steps {run['tx_per_job_steps']:.2f}")
                    for n in workers:
                        run["raw"].append(run_raw(studio, backend, n, args.raw_jobs))
                        log(f"  raw x{n}: {run['raw'][-1]['rate']:.0f} jobs/s")
                    for n in workers:
                        d, lt = run_workers_phase(studio, backend, n, args.jobs, args.latency_jobs, args.rate,
                                                  args.seed)
                        run["drain"].append(d)
                        run["latency"].append(lt)
                        log(f"  drain x{n}: {d['rate']:.0f} jobs/s; pickup p50 {lt['p50']:.1f} ms, "
                            f"p95 {lt['p95']:.1f} ms")
                    runs.append(run)
            res["backends"][backend] = {"baseline": base, "runs": runs}
        res["load_after"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if "postgresql" in backends:
        import psycopg

        with psycopg.connect(_pg_dsn(args.pg)) as conn:
            v = conn.info.server_version
            row = conn.execute("SHOW synchronous_commit").fetchone()
            res["pg"] = {"version": f"{v // 10000}.{v % 10000}", "synchronous_commit": row[0] if row else "?"}
    from reelforge.config import Settings

    res["poll_seconds"] = Settings(home=root).poll_seconds
    return res


# ------------------------------------------------------------------------------------ report


def f1(x: float) -> str:
    return f"{x:,.1f}"


def _ratio(x: float, base: float) -> str:
    if not base:
        return ""
    r = x / base
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.2g}×"  # two significant digits for small ratios


def _find(res: dict[str, Any] | None, backend: str, filler: int, kind: str, n: int) -> dict[str, Any] | None:
    if not res:
        return None
    for run in res.get("backends", {}).get(backend, {}).get("runs", []):
        if run["filler"] == filler:
            for item in run[kind]:
                if item.get("clients", item.get("workers")) == n:
                    return {**item, "_base": res["backends"][backend]["baseline"], "_run": run}
    return None


def _rates(res: dict[str, Any], backend: str) -> dict[int, float]:
    return {int(k): v for k, v in res["backends"][backend]["baseline"]["rates"].items()}


def report(res: dict[str, Any], before: dict[str, Any] | None) -> str:
    raw_rows, drain_rows, lat_rows, tx_rows = [], [], [], []
    for backend, data in res["backends"].items():
        rates, floor = _rates(res, backend), data["baseline"]["floor_ms"]
        empty = {(kind, item.get("clients", item.get("workers"))): item for run in data["runs"] if run["filler"] == 0
                 for kind in ("raw", "drain", "latency") for item in run[kind]}
        for run in data["runs"]:
            filler = run["filler"]
            for kind, rows in (("raw", raw_rows), ("drain", drain_rows)):
                for r in run[kind]:
                    n = r.get("clients", r.get("workers"))
                    old = _find(before, backend, filler, kind, n)
                    old_ratio = _ratio(old["rate"], _rates(before, backend)[n]) if old else ""  # type: ignore[arg-type]
                    vs_empty = _ratio(r["rate"], empty[kind, n]["rate"]) if filler and (kind, n) in empty else ""
                    row = [backend, f"{filler:,}", n, r["jobs"]]
                    row += [f1(r["submit_rate"])] if kind == "drain" else []
                    row += [f1(r["rate"]), f1(rates[n]), old_ratio, _ratio(r["rate"], rates[n]), vs_empty]
                    row += [f1(r["claim_p50"]), f1(r["finish_p50"])] if kind == "raw" else []
                    rows.append([*row, f"{r['once']}/{r['jobs']}"])
            old_run = _find(before, backend, filler, "raw", min(res["workers"]))
            old_run = old_run["_run"] if old_run else {}
            tx_rows.append([backend, f"{filler:,}", f"{old_run['tx_per_job']:.2f}" if old_run else "",
                            f"{run['tx_per_job']:.2f}",
                            f"{old_run['tx_per_job_steps']:.2f}" if "tx_per_job_steps" in old_run else "",
                            f"{run['tx_per_job_steps']:.2f}"])
            for lt in run["latency"]:
                n = lt["workers"]
                old = _find(before, backend, filler, "latency", n)
                old_ratio = f"{old['p50'] / old['_base']['floor_ms']:.1f}×" if old else ""
                vs_empty = f"{lt['p50'] / empty['latency', n]['p50']:.2f}×" if filler and ("latency", n) in empty else ""
                lat_rows.append([backend, f"{filler:,}", n, lt["jobs"], f"{floor:.2f}", f1(lt["p50"]), f1(lt["p95"]),
                                 f1(lt["max"]), old_ratio, f"{lt['p50'] / floor:.1f}×", vs_empty,
                                 f1(lt["submit_p50"]), f"{lt['once']}/{lt['jobs']}"])
    before_note = ""
    if before:
        before_note = (f"\n*Before* columns: the same ratios from `{before['command']}` run on the code before "
                       f"this change, with only `tasks/system.py` added to it ({before['machine']}; load average "
                       f"{before['load_before']:.1f} before, {before.get('load_after', float('nan')):.1f} after).\n")
    pg = res.get("pg")
    pg_text = f", PostgreSQL {pg['version']} on the same machine (`synchronous_commit = {pg['synchronous_commit']}`)" \
        if pg else ""
    fillers = " and ".join(f"{f:,}" for f in res["fillers"])
    return f"""## Jobs: queue throughput and pickup latency

Command: `{res['command']}` &nbsp;·&nbsp; {res['machine']}{pg_text} &nbsp;·&nbsp;
load average {res['load_before']:.1f} before, {res.get('load_after', float('nan')):.1f} after (the 2 cores are shared).

The job is the built-in `system.ping` (does nothing; its result names the worker), so these figures
are the queue's own cost. Each configuration runs in a fresh studio (PostgreSQL: a fresh database)
holding {fillers} jobs already queued: pings due one day later, half at the measured jobs' priority
(0) and half below it (-1), so they sit in the claim's index but are never run. With 4 processes,
they share the 2 cores.

**Baseline**, measured in the same run on each backend: a bare queue table with one index matching
its claim, driven through the database driver itself. 1 or 4 processes loop claim (`UPDATE ... WHERE
id = (SELECT ... ORDER BY priority DESC, run_after, id LIMIT 1 [FOR UPDATE SKIP LOCKED]) RETURNING id`
+ `COMMIT`) and finish (`UPDATE` + `COMMIT`) for {BARE_SECONDS:g} s: the cost of two transactions per job
on this database and machine. *Floor* is one process doing `INSERT` + `COMMIT` and then that claim + `COMMIT` (median
of 200): the least time from a submit to a start. *× baseline* columns are reelforge's figure over
its baseline (throughput: higher is better; latency: p50 over the floor, lower is better); *× empty
queue* is the figure with the queued jobs over the same figure with none, from the same run.
{before_note}
**Raw queue**: {res.get('raw_jobs', res['jobs'])} pings are submitted with `submit_many`, then 1 or 4
processes loop `JobService.claim` + `JobService.finish` without running the task.

{table(["backend", "queued", "processes", "jobs", "claim+finish jobs/s", "baseline jobs/s", "before × baseline",
        "× baseline", "× empty queue", "claim p50 ms", "finish p50 ms", "ran once"], raw_rows)}

**Drain**: n worker processes are started and left idle, then {res['jobs']} pings are submitted with one
`submit_many`; *drain* is jobs over the time from the start of that call to the last `finished_at`,
the median of {DRAIN_REPEATS} such drains (*jobs* counts all of them).

{table(["backend", "queued", "workers", "jobs", "submit_many jobs/s", "drain jobs/s", "baseline jobs/s",
        "before × baseline", "× baseline", "× empty queue", "ran once"], drain_rows)}

**Transactions per job**: every database transaction (read-only ones included) begun while an
in-process `Worker` runs {TX_JOBS} pings (`max_jobs`), the whole loop included, over {TX_JOBS}; then the
same for pings with `steps={TX_STEPS}` (each step one `ctx.progress` and one `ctx.log`).

{table(["backend", "queued", "before tx/job", "tx/job", f"before, {TX_STEPS} steps", f"{TX_STEPS} steps"], tx_rows)}

**Pickup latency**: the same idle workers, then {res['latency_jobs']} pings arrive one by one as a Poisson
process at {res['rate']:g} jobs/s. Latency is `started_at - created_at` of each: how long a runnable job waits
for a worker to claim it. *Submit* is the duration of the `submit` call itself.

{table(["backend", "queued", "workers", "jobs", "floor ms", "p50 ms", "p95 ms", "max ms", "before p50 × floor",
        "p50 × floor", "p50 × empty queue", "submit p50 ms", "ran once"], lat_rows)}

Idle workers wake when a job is submitted: on PostgreSQL by `LISTEN`/`NOTIFY` on a connection of
their own, on SQLite through a FIFO next to the database file that `submit` writes a byte to; both
fall back to looking every {res['poll_seconds']:g} s (`poll_seconds`), and a worker whose queue holds
only delayed jobs sleeps until the first is due. On PostgreSQL, claims and heartbeats commit with
`synchronous_commit = off` for their own transaction (WAL is flushed in order, so the finish's
synchronous commit makes them durable too); submits and finishes wait for the flush.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=1000, help="jobs per drain")
    ap.add_argument("--raw-jobs", type=int, default=3000, help="jobs per raw-queue run")
    ap.add_argument("--filler", type=int, default=100_000, help="jobs already queued (not runnable) in the second run")
    ap.add_argument("--workers", default="1,4", help="process / worker counts, comma separated")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL server URL without a database name")
    ap.add_argument("--latency-jobs", type=int, default=60, help="jobs submitted one by one per latency run")
    ap.add_argument("--rate", type=float, default=10.0, help="mean arrival rate (jobs/s) of the latency runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also save the figures as JSON here")
    ap.add_argument("--before", type=Path, default=None, help="JSON of an earlier run, shown next to this one")
    ap.add_argument("--no-write", action="store_true", help="print the section, do not update docs/benchmarks.md")
    args = ap.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if any(w < 1 for w in workers) or min(args.jobs, args.raw_jobs, args.latency_jobs) < 1 or args.rate <= 0 \
            or args.filler < 0:
        ap.error("worker counts, job counts and the rate must be positive")
    for b in backends:
        if b not in ("sqlite", "postgresql"):
            ap.error(f"unknown backend {b!r}")
    if "postgresql" in backends and not pg_available(args.pg):
        log(f"PostgreSQL at {args.pg} is not reachable: skipping it")
        backends.remove("postgresql")
    defaults = {"jobs": 1000, "raw_jobs": 3000, "filler": 100_000, "workers": "1,4", "backends": "sqlite,postgresql",
                "latency_jobs": 60, "rate": 10.0}
    extra = [f"--{k.replace('_', '-')} {getattr(args, k)}" for k, v in defaults.items() if getattr(args, k) != v]
    args.command = " ".join(["python benchmarks/bench_jobs.py", *extra])
    fillers = [0, args.filler] if args.filler else [0]
    before = json.loads(args.before.read_text()) if args.before else None
    res = measure(args, backends, workers, fillers)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    md = report(res, before)
    print(md)
    if not args.no_write:
        log(f"wrote {write_section('jobs', md)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
