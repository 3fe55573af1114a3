"""Capacity on paper, from measurements: five curves measured at three or more sizes each, a
power law fitted to each (log-log slope), and the fit extrapolated to 10x, 100x and 1000x today's
benchmark sizes. The figures go into ``docs/scale.md`` (one marked section per curve, so one
curve can be re-run alone); the reading of them (what breaks first, which lever moves it) is
written by hand around those sections.

Curves (SQLite and PostgreSQL where a database is involved):

1. **catalog**: one growing studio per backend; at each size N (1k, 10k, 100k assets) the
   latency of a browse page (first page and a deep keyset page, by id; newest first), a tag
   filter, a kind filter, a lineage graph, a ``derived_from`` filter, a dataset build of 1,000
   items, and the database's size on disk. Rows are bulk-inserted with SQLAlchemy Core into the
   real schema (the rows an ingest writes, their blobs absent, which none of these reads): each
   asset has a shot tag (100 assets a shot) and a batch tag (1,000 a batch); one in ten is an
   output of a ``succeeded`` job that read the asset before it (jobs and lineage edges grow too).
2. **api**: ``reelforge serve`` on that same studio at each size, ``--clients`` keep-alive clients
   (``bench_server.py``'s machinery): p50/p99 of ``/healthz`` (the framework's floor in the same
   run), an asset page (first, deep, newest first) and a job submission.
3. **blobs**: the local content-addressed store growing to 1k, 10k, 50k small blobs (0.5-4 KiB),
   each referenced by an asset row: batch put rate (``commit_many``, the ingest path) and single
   durable ``put_bytes``, ``exists``/``stat`` latency, ``fsck`` with and without re-hashing,
   ``gc --dry-run``, the folder fan-out and the bytes on disk per blob; plus SHA-256 throughput on
   one 64 MiB blob (what ``fsck`` costs per byte once blobs are large).
4. **queue**: ``bench_jobs.py``'s functions on a fresh studio holding 0, 1k, 10k, 100k queued (not yet
   due) jobs: ``submit_many`` of ``--queue-jobs`` (900), one process looping claim + finish over
   them, one worker draining a third as many, and its pickup latency for pings arriving at 10/s.
5. **ray**: ``ctx.map``'s two fan-outs, ``ray_map`` (one Ray task per item, ``ray.init(num_cpus=2)``
   local cluster) against the local spawn process pool (``TaskContext.map``), for 16, 64, 256 and
   1,024 items: a no-op item (pure dispatch) and, up to 256, a 256 KiB argument (data movement).

    .venv/bin/python benchmarks/bench_scale.py            # ~11 min on 2 shared cores
    .venv/bin/python benchmarks/bench_scale.py --quick    # smaller sizes, ~6 min

``--curves catalog,api,blobs,queue,ray`` picks curves (api needs catalog), ``--backends sqlite``
skips PostgreSQL (``--pg``, default postgres@127.0.0.1:5432, trust auth), ``--json FILE`` keeps
the raw figures, ``--no-write`` leaves docs/scale.md alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pg import fresh_pg_database, pg_available, pg_dsn
from _report import machine_description, table, write_section

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432"
SCALE_DOC = Path(__file__).resolve().parents[1] / "docs" / "scale.md"
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
FACTORS = (10, 100, 1000)

# "Today": the sizes the other benchmarks run at (docs/benchmarks.md), the 1x of every curve.
TODAY = {
    "catalog": 10_000,  # bench_server / bench_web: 10,000 assets
    "api": 10_000,
    "blobs": 10_000,  # bench_ingest: 5,154 files, about 10,000 blobs with their thumbnails
    "queue": 100_000,  # bench_jobs: 100,000 jobs queued
    "ray": 16,  # no fan-out benchmark yet: the smallest measured fan-out
}
SIZES = {
    "full": {"catalog": [1_000, 10_000, 100_000], "blobs": [1_000, 10_000, 50_000],
             "queue": [0, 1_000, 10_000, 100_000], "ray": [16, 64, 256, 1024]},
    "quick": {"catalog": [1_000, 3_000, 10_000], "blobs": [1_000, 3_000, 10_000],
              "queue": [0, 1_000, 3_000, 10_000], "ray": [16, 64, 256]},
}
DATASET_ITEMS = 1_000  # a batch tag holds this many assets: the dataset build's size at every N
SHOT = 100  # assets per shot tag


_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def fake_id(prefix: str, i: int) -> str:
    """A well-formed id (``prefix_`` + 26 Crockford base-32 digits) that sorts by ``i``: bulk rows
    are listed in insertion order, as real time-sortable ids would be."""
    digits = []
    for _ in range(26):
        digits.append(_CROCKFORD[i & 31])
        i >>= 5
    return f"{prefix}_{''.join(reversed(digits))}"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


# ------------------------------------------------------------------------------------ fitting


def fit(sizes: list[float], values: list[float]) -> tuple[float, float]:
    """Least-squares line through (log N, log y): (slope b, intercept a) of y = 10^a * N^b.
    Sizes of 0 (an empty queue) are left out: a power law has no value there."""
    pts = [(math.log10(n), math.log10(v)) for n, v in zip(sizes, values, strict=True) if n > 0 and v > 0]
    if len(pts) < 2:
        return 0.0, math.log10(values[-1]) if values and values[-1] > 0 else 0.0
    mx = statistics.fmean(p[0] for p in pts)
    my = statistics.fmean(p[1] for p in pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    b = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else 0.0
    return b, my - b * mx


def linear_fit(xs: list[int], ys: list[float]) -> tuple[float, float]:
    """Least-squares y = fixed + per * x: (fixed, per)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    per = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return my - per * mx, per


def predict(b: float, a: float, n: float) -> float:
    return float(10 ** (a + b * math.log10(n)))


def fmt(v: float, unit: str = "") -> str:
    """A figure with 3 significant digits (and thousands separators), plus its unit."""
    if v != v:  # NaN
        return "n/a"
    if abs(v) >= 1000:
        s = f"{v:,.0f}"
    elif abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    elif abs(v) >= 1:
        s = f"{v:.2f}"
    else:
        s = f"{v:.3g}"
    return s + (f" {unit}" if unit else "")


def human_seconds(s: float) -> str:
    if s != s:
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    if s < 2 * 86400:
        return f"{s / 3600:.3g} h"
    return f"{s / 86400:.3g} days"


def human_bytes(b: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"


GROWS = 1.5  # a curve whose largest size costs less than this times its smallest is flat within noise


def curve_rows(name: str, metric: str, sizes: list[int], values: list[float], today: int,
               show: Callable[[float], str], line: bool = True) -> list[Any]:
    """One table row: the measured values, the fitted exponent, the power law at 10x/100x/1000x
    today, and a straight line (fixed + per-unit cost) at 100x/1000x: a cost that is a fixed part
    plus a part linear in N looks sublinear on a log-log plot until N is large, so the power law
    understates where a scan ends up; the line is the bound for those. It is drawn only for a
    cost that grows (the largest size at least GROWS times the smallest): through flat, noisy
    points a line is noise extrapolated."""
    b, a = fit([float(s) for s in sizes], values)
    measured = " · ".join(show(v) for v in values)
    pts = [(n, v) for n, v in zip(sizes, values, strict=True) if n > 0 and v == v]
    fixed, per = linear_fit([n for n, _ in pts], [v for _, v in pts]) if len(pts) >= 2 else (float("nan"), 0.0)
    # Rates (line=False) are never extrapolated as a line; nor is a flat, noisy curve.
    grows = line and per > 0 and len(pts) >= 2 and pts[-1][1] >= GROWS * pts[0][1]
    line_at = [show(fixed + per * today * f) if grows else "—" for f in FACTORS[1:]]
    return [name, metric, measured, f"{b:+.2f}", *(show(predict(b, a, today * f)) for f in FACTORS), *line_at]


CURVE_HEADERS = ["backend", "metric", "measured", "slope b", "10×", "100×", "1000×", "line 100×", "line 1000×"]


# ------------------------------------------------------------------------------------ catalog


@contextlib.contextmanager
def studio_for(backend: str, root: Path, tag: str, pg: str) -> Iterator[Any]:
    from reelforge.studio import Studio

    with contextlib.ExitStack() as stack:
        overrides = {}
        if backend == "postgresql":
            overrides["database_url"] = f"{pg}/{stack.enter_context(fresh_pg_database(pg, 'rf_bench_scale'))}"
        studio = Studio.init(root / f"{backend}-{tag}", **overrides)
        try:
            yield studio
        finally:
            studio.close()


def grow_catalog(studio: Any, start: int, stop: int, t0: float) -> float:
    """Bulk-insert assets ``start..stop-1`` (and every tenth asset's producing job and its input
    edge) with SQLAlchemy Core into the real schema; returns the seconds it took (set-up)."""
    from sqlalchemy import insert

    from reelforge.db.models import AssetRow, AssetTagRow, JobInputRow, JobRow

    t = time.perf_counter()
    project = studio.projects.get(None).id
    batch = 5_000
    for lo in range(start, stop, batch):
        assets, tags, jobs, edges = [], [], [], []
        for i in range(lo, min(stop, lo + batch)):
            aid = fake_id("ast", i)  # sortable like real ids: insertion order is id order
            job = None
            if i % 10 == 9:  # an output of a job that read the asset before it
                job = fake_id("job", i)
                jobs.append(dict(id=job, project_id=project, task="system.ping", params={}, status="succeeded",
                                 priority=0, attempt=1, max_attempts=3, seed=i, code_version="bench",
                                 created_at=t0 + i * 1e-3, run_after=t0 + i * 1e-3, started_at=t0 + i * 1e-3,
                                 finished_at=t0 + i * 1e-3, cancel_requested=False, progress_done=1,
                                 progress_total=1, progress_message="", result={}, runs=1))
                edges.append(dict(job_id=job, ref_id=fake_id("ast", i - 1), ref_kind="asset", role="input"))
            kind = "video" if i % 20 == 0 else "audio" if i % 20 == 1 else "image"
            fmt_ = {"video": "mp4", "audio": "wav", "image": "png"}[kind]
            assets.append(dict(
                id=aid, project_id=project, name=f"plates/shot_{i // SHOT:05d}/frame_{i:07d}.{fmt_}", kind=kind,
                format=fmt_, mime=f"{kind}/{fmt_}", sha256=hashlib.sha256(f"scale{i}".encode()).hexdigest(),
                size=40_000 + i, info={"kind": kind, "format": fmt_, "width": 1920, "height": 1080, "frames": 1},
                meta={}, thumb_sha256=None, source=f"/plates/frame_{i:07d}.{fmt_}", created_at=t0 + i * 1e-3,
                created_by_job=job))
            tags += [dict(asset_id=aid, tag=f"shot{i // SHOT:05d}"),
                     dict(asset_id=aid, tag=f"batch{i // DATASET_ITEMS:04d}")]
        with studio.engine.begin() as conn:
            if jobs:
                conn.execute(insert(JobRow), jobs)
            conn.execute(insert(AssetRow), assets)
            conn.execute(insert(AssetTagRow), tags)
            if edges:
                conn.execute(insert(JobInputRow), edges)
    return time.perf_counter() - t


def db_bytes(studio: Any, backend: str) -> int:
    from sqlalchemy import text

    if backend == "postgresql":
        with studio.engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    import sqlite3

    path = Path(studio.engine.url.database)
    # Fold the WAL into the file (a connection of its own: the engine's begin every transaction).
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def deep_cursors(studio: Any, n: int, rng: random.Random) -> dict[str, list[str]]:
    """Keyset cursors at random depths for the two orders measured (built as the listing would
    hand them out, without paging through everything first)."""
    from sqlalchemy import select

    from reelforge.catalog.browse import _encode
    from reelforge.db.models import AssetRow

    out: dict[str, list[str]] = {"id": [], "created_at": []}
    with studio.engine.connect() as conn:
        for _ in range(10):
            k = rng.randrange(n // 4, n - 200)
            aid = fake_id("ast", k)
            created = conn.execute(select(AssetRow.created_at).where(AssetRow.id == aid)).scalar_one()
            out["id"].append(_encode("id", "asc", aid, aid))
            out["created_at"].append(_encode("created_at", "desc", created, aid))
    return out


LEVERS = {
    "ANALYZE (planner statistics)": ["ANALYZE"],
    "+ indexes (project_id, id), (project_id, created_at, id)": [
        "CREATE INDEX ix_scale_project_id ON assets (project_id, id)",
        "CREATE INDEX ix_scale_project_created ON assets (project_id, created_at, id)",
        "ANALYZE",
    ],
}


def catalog_point(studio: Any, backend: str, n: int, repeats: int, rng: random.Random) -> dict[str, float]:
    """Median seconds of each catalog query at this size, plus the database's bytes."""
    project = studio.projects.get(None).id
    cur = deep_cursors(studio, n, rng)
    browse = studio.browse
    last_gen = fake_id("ast", (n - 1) - ((n - 1 - 9) % 10))  # the newest generated asset
    src = fake_id("ast", (n - 1) - ((n - 1 - 8) % 10))  # the asset its job read
    shot = f"shot{rng.randrange(n // SHOT):05d}"
    batch = f"batch{rng.randrange(n // DATASET_ITEMS):04d}"

    def page(items: Any, size: int = 100) -> None:
        assert len(items.items) == size, (len(items.items), size)

    res: dict[str, float] = {}
    queries: dict[str, Callable[[], Any]] = {
        "browse first page (id)": lambda: page(browse.assets(project, limit=100)),
        "browse deep page (id, keyset)": lambda: page(browse.assets(project, limit=100,
                                                                    cursor=rng.choice(cur["id"]))),
        "browse newest first, first page": lambda: page(browse.assets(project, sort="created_at", order="desc",
                                                                      limit=100)),
        "browse newest first, deep page": lambda: page(browse.assets(project, sort="created_at", order="desc",
                                                                     limit=100, cursor=rng.choice(cur["created_at"]))),
        "filter: one shot tag (100 assets)": lambda: page(browse.assets(project, tags=[shot], limit=100)),
        "filter: kind=video, first page": lambda: page(browse.assets(project, kind="video", limit=20), 20),
        "filter: derived_from an asset": lambda: page(browse.assets(project, derived_from=src), 1),
        "lineage graph of an output": lambda: studio.lineage.graph(last_gen),
    }
    for name, fn in queries.items():
        res[name] = timed(fn, repeats)
    builds = iter(range(1_000_000))
    res["dataset build, 1,000 items"] = timed(
        lambda: studio.datasets.create(f"scale{next(builds)}", tags=[batch]), max(3, repeats // 5))
    res["db_bytes"] = float(db_bytes(studio, backend))
    return res


# ------------------------------------------------------------------------------------------ api


def make_token(studio: Any) -> str:
    proj = studio.projects.get(None)
    studio.access.create_user("bench", None)
    studio.access.grant("bench", proj.id, "editor")
    return str(studio.access.create_token("bench", "scale", scopes=["read", "write"])[1])


def api_point(home: Path, token: str, cursors: dict[str, list[str]], clients: int, seconds: float,
              rng: random.Random) -> dict[str, dict[str, float]]:
    from bench_server import http_request, load, serve

    with serve(home) as url:
        host = url.split("//", 1)[1]
        auth = {"Authorization": f"Bearer {token}"}
        listing = "/api/v1/projects/default/assets?limit=100"
        newest = listing + "&sort=created_at&order=desc"
        healthz = http_request("GET", "/healthz", host)
        first = http_request("GET", listing, host, auth)
        deep = [http_request("GET", f"{listing}&cursor={c}", host, auth) for c in cursors["id"]]
        newest_first = http_request("GET", newest, host, auth)
        submit = http_request("POST", "/api/v1/projects/default/jobs", host, auth, b'{"task": "system.ping"}')
        scenarios: dict[str, Callable[[], bytes]] = {
            "GET /healthz (floor)": lambda: healthz,
            "asset page, first (id)": lambda: first,
            "asset page, deep (keyset)": lambda: rng.choice(deep),
            "asset page, newest first": lambda: newest_first,
            "job submit (system.ping)": lambda: submit,
        }
        asyncio.run(load(url, lambda: first, clients=clients, seconds=1.0, warmup=0.2))  # warm the server
        out = {}
        for name, make in scenarios.items():
            r = asyncio.run(load(url, make, clients=clients, seconds=seconds, warmup=0.5))
            if r["errors"]:
                raise SystemExit(f"api {name}: error answers {r['errors']}")
            out[name] = {"p50": r["p50_ms"] / 1e3, "p99": r["p99_ms"] / 1e3, "rps": r["rps"]}
            log(f"    api {name}: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, {r['rps']:.0f} req/s")
    return out


def run_catalog(args: argparse.Namespace, backends: list[str], root: Path, sizes: list[int],
                with_api: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend in backends:
        rng = random.Random(0)
        points, api = [], []
        with studio_for(backend, root, "catalog", args.pg) as studio:
            token = make_token(studio) if with_api else ""
            t0, have = time.time() - 1e6, 0
            for n in sizes:
                setup = grow_catalog(studio, have, n, t0)
                have = n
                log(f"{backend} catalog: {n:,} assets (inserted in {setup:.1f} s)")
                p = catalog_point(studio, backend, n, args.repeats, rng)
                log("  " + ", ".join(f"{k}: {human_seconds(v)}" for k, v in p.items() if k != "db_bytes")
                    + f", db {human_bytes(p['db_bytes'])}")
                points.append({"n": n, **p})
                if with_api:
                    cur = deep_cursors(studio, n, rng)
                    api.append({"n": n, **api_point(studio.home, token, cur, args.clients, args.seconds, rng)})
            levers = {}
            if not args.no_levers:
                # The levers, tried at the largest size (after everything above, since they change
                # the catalog): fresh planner statistics, then the two indexes the listings lack.
                for lever, sql in LEVERS.items():
                    with studio.engine.begin() as conn:
                        for stmt in sql:
                            conn.exec_driver_sql(stmt)
                    levers[lever] = catalog_point(studio, backend, sizes[-1], args.repeats, rng)
                    log(f"  lever {lever}: " + ", ".join(f"{k}: {human_seconds(v)}" for k, v in levers[lever].items()
                                                         if k != "db_bytes"))
        out[backend] = {"points": points, "api": api, "levers": levers}
    return out


# ---------------------------------------------------------------------------------------- blobs


def run_blobs(args: argparse.Namespace, root: Path, sizes: list[int]) -> dict[str, Any]:
    from sqlalchemy import insert

    from reelforge.db.models import AssetRow

    rng = random.Random(1)
    points = []
    with studio_for("sqlite", root, "blobs", args.pg) as studio:
        store = studio.blobs
        project = studio.projects.get(None).id
        shas: list[str] = []

        def put_batch(k: int) -> float:
            """``k`` new small blobs through the ingest path (staged unsynced, one commit_many),
            each referenced by an asset row; the seconds of the blob part alone."""
            blobs = [rng.randbytes(rng.randint(512, 4096)) for _ in range(k)]
            t = time.perf_counter()
            staged = [store.stage_stream(io.BytesIO(b), sync=False) for b in blobs]
            infos = store.commit_many(staged)
            dt = time.perf_counter() - t
            rows = [dict(id=fake_id("ast", 10**9 + len(shas) + j), project_id=project, name=f"b/{len(shas) + j}",
                         kind="document", format="bin", mime="application/octet-stream", sha256=info.sha256,
                         size=info.size, info={}, meta={}, thumb_sha256=None, source="", created_at=time.time(),
                         created_by_job=None) for j, info in enumerate(infos)]
            with studio.engine.begin() as conn:
                conn.execute(insert(AssetRow), rows)
            shas.extend(i.sha256 for i in infos)
            return dt

        for n in sizes:
            t = time.perf_counter()
            while len(shas) < n - 1_000:
                put_batch(min(5_000, n - 1_000 - len(shas)))
            # The last 1,000 are the measured batches: two of 500 (syncfs also waits for whatever
            # else the machine has written, so one batch alone is noisier).
            last = n - len(shas)
            rates = [k / put_batch(k) for k in (last // 2, last - last // 2)]
            batch_rate = statistics.median(rates)
            log(f"blobs: {n:,} (filled in {time.perf_counter() - t:.1f} s)")
            single = []
            for _ in range(30):  # one durable put each (fsync of the file and its folder)
                a = time.perf_counter()
                info = store.put_bytes(rng.randbytes(2048))
                single.append(time.perf_counter() - a)
                store.delete(info.sha256)  # keep the store at n (and these unreferenced)
            present = rng.sample(shas, 1_000)
            absent = [hashlib.sha256(rng.randbytes(8)).hexdigest() for _ in range(1_000)]
            probe = {
                "exists, present": timed(lambda p=present: [store.exists(s) for s in p], 3) / 1_000,
                "exists, absent": timed(lambda a=absent: [store.exists(s) for s in a], 3) / 1_000,
                "stat": timed(lambda p=present: [store.stat(s) for s in p], 3) / 1_000,
            }
            fsck_verify = timed(lambda: studio.fsck(verify=True), 1, warmup=0)
            fsck_walk = timed(lambda: studio.fsck(verify=False), 2, warmup=0)
            gc_dry = timed(lambda: studio.gc(dry_run=True), 2, warmup=0)
            tracemalloc.start()
            studio.fsck(verify=False)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            leaf_dirs = files = on_disk = 0
            per_dir: list[int] = []
            levels = getattr(store, "levels", 2)  # stores made before the one-level layout: 2
            for first in store.root.iterdir():
                if len(first.name) != 2 or not first.is_dir():
                    continue
                for second in [first] if levels == 1 else list(first.iterdir()):
                    names = os.listdir(second)
                    leaf_dirs += 1
                    per_dir.append(len(names))
                    files += len(names)
                    on_disk += sum(os.stat(second / x).st_blocks * 512 for x in names) + 4096
            p = {"n": n, "batch put /s": batch_rate, "single put": statistics.median(single), **probe,
                 "fsck (verify)": fsck_verify, "fsck (no verify)": fsck_walk, "gc --dry-run": gc_dry,
                 "fsck peak bytes": float(peak), "leaf folders": leaf_dirs, "max blobs a folder": max(per_dir),
                 "disk bytes a blob": on_disk / max(1, files), "levels": levels}
            log("  " + ", ".join(f"{k}: {v:.4g}" for k, v in p.items()))
            points.append(p)
        # Per byte: re-hashing one 64 MiB blob (what fsck --verify costs once blobs are big).
        big = os.urandom(64 * 2**20)
        info = store.put_bytes(big)
        hash_s = timed(lambda: store.verify(info.sha256), 3)
        store.delete(info.sha256)
    return {"points": points, "sha256_mb_s": 64 * 2**20 / hash_s / 1e6}


# ---------------------------------------------------------------------------------------- queue


def run_queue(args: argparse.Namespace, backends: list[str], root: Path, sizes: list[int]) -> dict[str, Any]:
    from bench_jobs import add_filler, run_raw, run_workers_phase

    import reelforge.tasks  # noqa: F401  (registers system.ping)

    out: dict[str, Any] = {}
    for backend in backends:
        points = []
        with studio_for(backend, root, "queue", args.pg) as studio:
            have = 0
            for n in sizes:
                setup = add_filler(studio, n - have) if n > have else 0.0
                have = n
                raw = run_raw(studio, backend, 1, args.queue_jobs)
                drain, lat = run_workers_phase(studio, backend, 1, args.queue_jobs // 3, 30, 10.0, 0)
                p = {"n": n, "submit_many /s": raw["submit_rate"], "claim+finish /s": raw["rate"],
                     "claim p50": raw["claim_p50"] / 1e3, "finish p50": raw["finish_p50"] / 1e3,
                     "drain /s": drain["rate"], "pickup p50": lat["p50"] / 1e3, "pickup p95": lat["p95"] / 1e3,
                     "ran once": f"{raw['once'] + drain['once'] + lat['once']}/"
                                 f"{raw['jobs'] + drain['jobs'] + lat['jobs']}"}
                log(f"{backend} queue: {n:,} queued (set up {setup:.1f} s): " +
                    ", ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}" for k, v in p.items()))
                points.append(p)
            out[backend] = {"points": points, "plan": claim_plan(studio, backend)}
    return out


def claim_plan(studio: Any, backend: str) -> str:
    """The database's plan for the queue's claim query (the subselect that picks the job)."""
    from sqlalchemy import text

    sql = ("SELECT id FROM jobs WHERE status = 'queued' AND priority = 0 AND run_after <= :now "
           "ORDER BY run_after, id LIMIT 1")
    with studio.engine.connect() as conn:
        if backend == "sqlite":
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql), {"now": time.time()}).all()
            return "; ".join(str(r[-1]) for r in rows)
        rows = conn.execute(text("EXPLAIN " + sql), {"now": time.time()}).all()
        return "; ".join(str(r[0]).strip() for r in rows)


# ------------------------------------------------------------------------------------------ ray


def _noop(x: Any) -> Any:
    return x


def _length(b: bytes) -> int:
    return len(b)


class _Ctx:
    """What ``ray_map`` and ``TaskContext.map`` use of a task context, and nothing else."""

    _fanout = None
    threads = 2

    def progress(self, done: float, total: float, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        pass


def run_ray(args: argparse.Namespace, sizes: list[int]) -> dict[str, Any]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    from reelforge.compute.context import TaskContext

    tmp = Path(tempfile.mkdtemp(prefix="rfs", dir="/tmp"))  # short: Ray's socket paths must fit
    t = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, _temp_dir=str(tmp), log_to_driver=False,
             object_store_memory=256 * 2**20)
    init_s = time.perf_counter() - t
    from reelforge.compute.ray_executor import ray_map

    ctx = cast(Any, _Ctx())  # stands in for a TaskContext: only what the two fan-outs call
    payload = os.urandom(256 * 1024)
    try:
        cold = timed(lambda: ray_map(ctx, _noop, list(range(16)), ""), 1, warmup=0)  # starts Ray's workers
        points = []
        for n in sizes:
            p: dict[str, Any] = {"n": n}
            for label, fn, items in (("no-op", _noop, list(range(n))), ("256 KiB", _length, [payload] * n)):
                if label != "no-op" and n > 256:  # 1,024 x 256 KiB would fill the 256 MiB object store
                    p[f"ray, {label}"] = p[f"pool, {label}"] = float("nan")
                    continue
                reps = 3 if n <= 64 else 2
                p[f"ray, {label}"] = timed(lambda fn=fn, items=items: ray_map(ctx, fn, items, ""), reps)
                p[f"pool, {label}"] = timed(lambda fn=fn, items=items: TaskContext.map(ctx, fn, items, workers=2),
                                            reps, warmup=0)
            log("ray: " + ", ".join(f"{k}: {v:.4g}" for k, v in p.items()))
            points.append(p)
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"points": points, "init_s": init_s, "cold_16_s": cold}


# --------------------------------------------------------------------------------------- report


def section_catalog(res: dict[str, Any], cmd: str) -> str:
    rows = []
    for backend, data in res.items():
        pts = data["points"]
        sizes = [p["n"] for p in pts]
        for metric in [k for k in pts[0] if k not in ("n", "db_bytes")]:
            rows.append(curve_rows(BACKENDS[backend], metric, sizes, [p[metric] for p in pts], TODAY["catalog"],
                                   human_seconds))
        rows.append(curve_rows(BACKENDS[backend], "database on disk", sizes, [p["db_bytes"] for p in pts],
                               TODAY["catalog"], human_bytes))
        per_row = pts[-1]["db_bytes"] / pts[-1]["n"]
        rows.append([BACKENDS[backend], "bytes on disk per asset (at the largest N)", fmt(per_row), "", "", "", "", "",
                     ""])
    sizes = " · ".join(f"{p['n']:,}" for p in next(iter(res.values()))["points"])
    lever_rows = []
    for backend, data in res.items():
        if not data.get("levers"):
            continue
        base = data["points"][-1]
        names = list(data["levers"])
        for metric in [k for k in base if k != "n"]:
            show = human_bytes if metric == "db_bytes" else human_seconds
            lever_rows.append([BACKENDS[backend], "database on disk" if metric == "db_bytes" else metric,
                               show(base[metric]),
                               *(f"{show(data['levers'][x][metric])} ({base[metric] / data['levers'][x][metric]:.2g}×)"
                                 for x in names)])
    lever_text = ""
    if lever_rows:
        n_last = next(iter(res.values()))["points"][-1]["n"]
        headers = ["backend", "metric", "as shipped", *next(d["levers"] for d in res.values() if d.get("levers"))]
        lever_text = f"""
**Levers, measured** at {n_last:,} assets on the same catalogs, one after the other: `ANALYZE` (SQLite
keeps no planner statistics until something runs it, and nothing in reelforge does; PostgreSQL's
autovacuum gathers them on its own, but not in the seconds between the bulk insert and these
queries: its *as shipped* column is a catalog just loaded), then two indexes the listings'
`ORDER BY` could walk. (×: as shipped over the lever, higher is faster.)

{table(headers, lever_rows)}
"""
    return f"""### 1. Catalog rows

Command: `{cmd}`. Assets measured: {sizes} (one growing catalog per backend). 1× = {TODAY['catalog']:,}
assets (the server and web benchmarks), so 10× = {10 * TODAY['catalog']:,}, 100× = {100 * TODAY['catalog']:,},
1000× = {1000 * TODAY['catalog']:,}. Each latency is the median of the repeats, in-process through the
services (no HTTP). *measured* lists the figures at each size, smallest first; *slope b* is the
exponent of the least-squares fit y ∝ N^b (0: flat, 1: linear in the catalog); *10×…1000×* that
power law; *line* the least-squares straight line y = fixed + cost × N, drawn only where the
largest size costs at least 1.5× the smallest (see "How to read" above).

{table(CURVE_HEADERS, rows)}
{lever_text}"""


def section_api(res: dict[str, Any], cmd: str, clients: int, seconds: float) -> str:
    rows = []
    for backend, data in res.items():
        pts = data["api"]
        if not pts:
            continue
        sizes = [p["n"] for p in pts]
        for scenario in [k for k in pts[0] if k != "n"]:
            for q in ("p50", "p99"):
                rows.append(curve_rows(BACKENDS[backend], f"{scenario} {q}", sizes, [p[scenario][q] for p in pts],
                                       TODAY["api"], human_seconds))
            if "healthz" not in scenario:
                # The server's time per request with every client waiting: 1 / throughput. The
                # latencies are this times the queue of clients in front; this is what grows with N.
                rows.append(curve_rows(BACKENDS[backend], f"{scenario}: 1 / (req/s)", sizes,
                                       [1 / p[scenario]["rps"] for p in pts], TODAY["api"], human_seconds))
    sizes = " · ".join(f"{p['n']:,}" for p in next(iter(res.values()))["api"])
    return f"""### 2. API latency

Command: `{cmd}`. `reelforge serve` (one uvicorn process, no embedded workers, access log on, bearer
token) on the catalog above at {sizes} assets; {clients} keep-alive clients, {seconds:g} s per scenario
after a 0.5 s warm-up (`bench_server.py`'s load generator, in this process: it shares the 2 cores
with the server). 1× = {TODAY['api']:,} assets. The job submissions of one size stay queued in the
catalog for the next. With {clients} clients always waiting, a request's latency is mostly the
queue in front of it; *1 / (req/s)* is the server's own time per request (all it does, on the
cores it shares with the clients), the figure to read for growth with N.

{table(CURVE_HEADERS, rows)}
"""


def section_blobs(res: dict[str, Any], cmd: str) -> str:
    pts = res["points"]
    sizes = [p["n"] for p in pts]
    today = TODAY["blobs"]
    rows = [
        curve_rows("local", "batch put (commit_many of 500), blobs/s", sizes, [p["batch put /s"] for p in pts],
                   today, lambda v: fmt(v), line=False),
        curve_rows("local", "single durable put_bytes", sizes, [p["single put"] for p in pts], today, human_seconds),
        curve_rows("local", "exists, present", sizes, [p["exists, present"] for p in pts], today, human_seconds),
        curve_rows("local", "exists, absent", sizes, [p["exists, absent"] for p in pts], today, human_seconds),
        curve_rows("local", "stat", sizes, [p["stat"] for p in pts], today, human_seconds),
        curve_rows("local", "fsck (re-hash every blob)", sizes, [p["fsck (verify)"] for p in pts], today,
                   human_seconds),
        curve_rows("local", "fsck --no-verify (walk + catalog)", sizes, [p["fsck (no verify)"] for p in pts], today,
                   human_seconds),
        curve_rows("local", "gc --dry-run", sizes, [p["gc --dry-run"] for p in pts], today, human_seconds),
        curve_rows("local", "fsck peak Python memory", sizes, [p["fsck peak bytes"] for p in pts], today,
                   human_bytes),
    ]
    fan = [[f"{p['n']:,}", f"{p['leaf folders']:,}", p["max blobs a folder"], fmt(p["n"] / p["leaf folders"]),
            fmt(p["disk bytes a blob"])] for p in pts]
    per_blob = pts[-1]["fsck (verify)"] / pts[-1]["n"]
    one_level = pts[-1].get("levels", 2) == 1
    layout, leaves = ("root/ab/<sha256>", 256) if one_level else ("root/ab/cd/<sha256>", 65536)
    return f"""### 3. Blobs (local store)

Command: `{cmd}`. One SQLite studio's local store grown to {' · '.join(f'{n:,}' for n in sizes)} blobs of
0.5-4 KiB random bytes, each referenced by an asset row (fsck and gc read the catalog too). 1× =
{today:,} blobs (about what the ingest benchmark's 5,154 files make with their thumbnails). Latencies
of exists/stat are per call, over 1,000 random blobs (warm page cache: nothing here drops caches).

{table(CURVE_HEADERS, rows)}

Fan-out of `{layout}` ({leaves:,} leaf folders at most):

{table(["blobs", "leaf folders", "most blobs in one folder", "mean blobs a folder", "disk bytes a blob"], fan)}

Per byte: re-hashing a 64 MiB blob runs at {res['sha256_mb_s']:.0f} MB/s here (SHA-256, one core, page
cache). fsck with verification costs {human_seconds(per_blob)} per small blob plus a byte term of
1 / that rate: a store of 10 TB takes {human_seconds(1e13 / (res['sha256_mb_s'] * 1e6))} to re-hash on one
core at that speed, before any disk limit.
"""


def section_queue(res: dict[str, Any], cmd: str, jobs: int) -> str:
    rows, raw = [], []
    for backend, data in res.items():
        pts = data["points"]
        sizes = [p["n"] for p in pts]
        for metric, show in (("submit_many /s", fmt), ("claim+finish /s", fmt), ("claim p50", human_seconds),
                             ("drain /s", fmt), ("pickup p50", human_seconds), ("pickup p95", human_seconds)):
            rows.append(curve_rows(BACKENDS[backend], metric, sizes, [p[metric] for p in pts], TODAY["queue"],
                                   show, line=not metric.endswith("/s")))
        raw.append(f"- {BACKENDS[backend]}: `{data['plan']}`")
        rows.append([BACKENDS[backend], "ran exactly once", " · ".join(p["ran once"] for p in pts), "", "", "", "", "",
                     ""])
    sizes = " · ".join(f"{p['n']:,}" for p in next(iter(res.values()))["points"])
    plans = "\n".join(raw)
    return f"""### 4. Queue rate

Command: `{cmd}`. `bench_jobs.py`'s functions on one studio per backend holding {sizes} queued jobs
(pings due in a day, half at the measured priority: in the claim's index, never runnable). At each
size: `submit_many` of {jobs:,} pings, one process looping `claim` + `finish` over them, one idle
worker draining {jobs // 3:,} (median of 3), then 30 pings arriving at 10/s (pickup = `started_at -
created_at`). The fit leaves out the empty queue (a power law has no value at 0); 1× = {TODAY['queue']:,}
queued.

{table(CURVE_HEADERS, rows)}

The claim's plan at the largest size:

{plans}
"""


def section_ray(res: dict[str, Any], cmd: str) -> str:
    pts = res["points"]
    sizes = [p["n"] for p in pts]
    rows, lin = [], []
    for key in [k for k in pts[0] if k != "n"]:
        rows.append(curve_rows(key.split(",")[0], f"wall, {key.split(', ')[1]} items", sizes,
                               [p[key] for p in pts], TODAY["ray"], human_seconds))
        rows.append(curve_rows(key.split(",")[0], f"per item, {key.split(', ')[1]}", sizes,
                               [p[key] / p["n"] for p in pts], TODAY["ray"], human_seconds))
        xs = [p["n"] for p in pts if p[key] == p[key]]
        ys = [p[key] for p in pts if p[key] == p[key]]
        fixed, per = linear_fit(xs, ys)
        lin.append([key.split(",")[0], f"{key.split(', ')[1]} items", human_seconds(fixed), human_seconds(per),
                    *(human_seconds(fixed + per * TODAY["ray"] * f) for f in FACTORS)])
    return f"""### 5. Ray fan-out

Command: `{cmd}`. `ctx.map`'s two paths over {' · '.join(map(str, sizes))} items: **ray** is
`ray_map` (one Ray task per item, `SPREAD`, results in order) on a local cluster started with
`ray.init(num_cpus=2, object_store_memory=256 MiB, include_dashboard=False)`; **pool** is
`TaskContext.map` with 2 workers (a spawn process pool made per call, as a task's `ctx.map` does).
Items are a no-op (dispatch cost only) or a 256 KiB `bytes` argument whose length comes back
(argument shipping). Medians of 2-3 calls after one warm-up call; `ray.init` itself took
{res['init_s']:.1f} s and the first 16-item map {human_seconds(res['cold_16_s'])} (Ray starting its worker
processes), neither counted. 1× = {TODAY['ray']} items.

{table(CURVE_HEADERS, rows)}

A fixed cost plus a cost per item describes a fan-out better than a power law (the pool's start-up
hides its per-item cost at small sizes): the least-squares line wall = fixed + per item × n, and
that line at 10×/100×/1000×:

{table(["path", "items", "fixed", "per item", "10×", "100×", "1000×"], lin)}
"""


# ----------------------------------------------------------------------------------------- main


def measure(args: argparse.Namespace, curves: list[str], backends: list[str], sizes: dict[str, list[int]],
            cmd: str) -> dict[str, Any]:
    res: dict[str, Any] = {"command": cmd, "machine": machine_description(), "load_before": os.getloadavg(),
                           "curves": curves, "clients": args.clients, "seconds_per_scenario": args.seconds,
                           "queue_jobs": args.queue_jobs}
    t_all = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="rf-bench-scale-"))
    def keep() -> None:  # after each curve: a later failure does not lose the earlier figures
        if args.json:
            args.json.write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")

    try:
        if "catalog" in curves or "api" in curves:
            res["catalog"] = run_catalog(args, backends, root, sizes["catalog"], with_api="api" in curves)
            keep()
        if "blobs" in curves:
            res["blobs"] = run_blobs(args, root, sizes["blobs"])
            keep()
        if "queue" in curves:
            res["queue"] = run_queue(args, backends, root, sizes["queue"])
            keep()
        if "ray" in curves:
            res["ray"] = run_ray(args, sizes["ray"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    res["load_after"] = os.getloadavg()
    res["seconds"] = time.perf_counter() - t_all
    if "postgresql" in backends:
        import psycopg

        with psycopg.connect(pg_dsn(args.pg)) as conn:
            v = conn.info.server_version
            res["pg_version"] = f", PostgreSQL {v // 10000}.{v % 10000} on the same machine"
    return res


def report(res: dict[str, Any]) -> dict[str, str]:
    """The sections of docs/scale.md, from the figures of a run (this one or a saved one)."""
    cmd, curves, out = res["command"], res["curves"], {}
    if "catalog" in res and "catalog" in curves:
        out["scale-catalog"] = section_catalog(res["catalog"], cmd)
    if "catalog" in res and "api" in curves:
        out["scale-api"] = section_api(res["catalog"], cmd, res["clients"], res["seconds_per_scenario"])
    if "blobs" in res:
        out["scale-blobs"] = section_blobs(res["blobs"], cmd)
    if "queue" in res:
        out["scale-queue"] = section_queue(res["queue"], cmd, res["queue_jobs"])
    if "ray" in res:
        out["scale-ray"] = section_ray(res["ray"], cmd)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    ap.add_argument("--curves", default="catalog,api,blobs,queue,ray")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg", default=PG_DEFAULT)
    ap.add_argument("--repeats", type=int, default=15, help="repeats of each catalog query (median)")
    ap.add_argument("--clients", type=int, default=10, help="concurrent API clients")
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per API scenario")
    ap.add_argument("--queue-jobs", type=int, default=None, help="pings per queue measurement (900; --quick 300)")
    ap.add_argument("--no-levers", action="store_true", help="skip re-measuring the catalog with its levers")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--from-json", type=Path, help="re-write the sections from an earlier run's --json")
    ap.add_argument("--no-write", action="store_true", help="print, do not rewrite docs/scale.md")
    args = ap.parse_args(argv)
    curves = [c.strip() for c in args.curves.split(",") if c.strip()]
    for c in curves:
        if c not in ("catalog", "api", "blobs", "queue", "ray"):
            ap.error(f"unknown curve {c!r}")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "postgresql" in backends and not pg_available(args.pg):
        log(f"PostgreSQL at {args.pg} is not reachable: SQLite only")
        backends.remove("postgresql")
    sizes = SIZES["quick" if args.quick else "full"]
    if args.queue_jobs is None:
        args.queue_jobs = 300 if args.quick else 900
    cmd = ".venv/bin/python benchmarks/bench_scale.py" + (" --quick" if args.quick else "") + (
        f" --curves {args.curves}" if args.curves != "catalog,api,blobs,queue,ray" else "") + (
        f" --backends {args.backends}" if args.backends != "sqlite,postgresql" else "")
    if args.from_json:
        res = json.loads(args.from_json.read_text(encoding="utf-8"))
    else:
        res = measure(args, curves, backends, sizes, cmd)
        if args.json:
            args.json.write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
    sections = report(res)
    load_before, load_after = res["load_before"], res["load_after"]
    run_line = (f"Run: {res['machine']}{res.get('pg_version', '')}; load average {load_before[0]:.1f} / "
                f"{load_before[1]:.1f} (1 / 5 min) before, {load_after[0]:.1f} / {load_after[1]:.1f} after; "
                f"{res['seconds'] / 60:.1f} min in all.")
    for name, md in sections.items():
        md = md.rstrip("\n") + "\n\n" + run_line + "\n"
        print(md)
        if not args.no_write:
            write_section(name, md, doc=SCALE_DOC)
    if not args.no_write and sections:
        log(f"wrote {', '.join(sections)} in {SCALE_DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
