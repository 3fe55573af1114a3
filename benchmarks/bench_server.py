"""Studio server: requests/s and latency of asset listing and job submission under 50 concurrent
clients, against the framework's own ceiling measured on the same server in the same run.

For each backend (SQLite, PostgreSQL), in one run:

* a fresh studio whose default project holds ``--assets`` (10,000) assets, inserted with one bulk
  SQL insert (set up, not measured: rows like an ingest writes, their blobs absent, which a listing
  never reads), and an editor with an API token;
* ``reelforge serve`` in its own process (one uvicorn process, no embedded workers, its JSON access
  log on as in production, sent to /dev/null), on 127.0.0.1;
* ``--clients`` (50) concurrent clients (keep-alive connections driven by one asyncio loop in this
  process, a minimal HTTP/1.1 writer/reader) loop one request each for ``--seconds`` (6) after a 1 s
  warm-up, per scenario:

  - **baseline** ``GET /healthz``: no auth, no database, the smallest answer: what FastAPI,
    uvicorn and our middleware cost per request on this machine (the ceiling every route is
    compared with);
  - ``GET /api/v1/auth/me``: the bearer-token check (one indexed lookup) plus a small answer;
  - **asset listing** ``GET /api/v1/projects/default/assets?limit=100``: the first page of 100;
  - the same at a random page of the 10,000 (keyset cursors collected beforehand);
  - **job submission** ``POST /api/v1/projects/default/jobs`` ``{"task": "system.ping"}``: params
    checked, job row, input edges, audit event, queue wake-up (nothing runs them: no worker).

Each figure is given with its ratio to the baseline of the same backend in the same run.

    .venv/bin/python benchmarks/bench_server.py

``--backends sqlite`` skips PostgreSQL (reached at ``--pg``, default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pg import fresh_pg_database, pg_available
from _report import machine_description, table, write_section

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432"
REELFORGE = str(Path(sys.executable).with_name("reelforge"))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def make_studio(home: Path, database_url: str | None, n_assets: int) -> str:
    """A studio with ``n_assets`` assets in its default project and an editor's token."""
    from sqlalchemy import insert

    from reelforge.db.models import AssetRow, AssetTagRow
    from reelforge.ids import new_id
    from reelforge.studio import Studio

    studio = Studio.init(home, **({"database_url": database_url} if database_url else {}))
    try:
        proj = studio.projects.get()
        now = time.time()
        rows, tags = [], []
        for i in range(n_assets):
            asset_id = new_id("ast")
            rows.append(dict(
                id=asset_id, project_id=proj.id, name=f"plates/shot_{i // 100:03d}/frame_{i:05d}.png", kind="image",
                format="png", mime="image/png", sha256=secrets.token_hex(32), size=40_000 + i,
                info={"kind": "image", "format": "png", "width": 1920, "height": 1080, "mode": "RGB", "frames": 1},
                meta={}, thumb_sha256=None, source=f"/plates/frame_{i:05d}.png", created_at=now + i * 1e-3,
                created_by_job=None,
            ))
            tags.append(dict(asset_id=asset_id, tag=f"shot{i // 100:03d}"))
        with studio.engine.begin() as conn:
            for i in range(0, n_assets, 2000):
                conn.execute(insert(AssetRow), rows[i : i + 2000])
                conn.execute(insert(AssetTagRow), tags[i : i + 2000])
        studio.access.create_user("ed", None)
        studio.access.grant("ed", proj.id, "editor")
        return studio.access.create_token("ed", "bench", scopes=["read", "write"])[1]
    finally:
        studio.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(home: Path) -> Iterator[str]:
    import httpx

    port = free_port()
    env = {**os.environ, "REELFORGE_SERVER_COOKIE_SECURE": "true"}
    proc = subprocess.Popen([REELFORGE, "--studio", str(home), "serve", "--port", str(port), "--workers", "0",
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start (exit code {proc.poll()})")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Conn:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for these routes
    (answers with Content-Length). A full client (httpx) costs the load generator more CPU per
    request than the server's trivial route does; on a machine whose cores both sides share, that
    would measure the client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        return cls(*await asyncio.open_connection(host, port))

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def http_request(method: str, path: str, host: str, headers: dict[str, str] | None = None,
                 body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def load(url: str, make: Any, *, clients: int, seconds: float, warmup: float = 1.0) -> dict[str, Any]:
    """``clients`` connections, each looping the request ``make()`` builds until the end; latencies
    are kept for requests started after the warm-up."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conns = [await Conn.open(parts.hostname or "127.0.0.1", parts.port or 80) for _ in range(clients)]
    latencies: list[float] = []
    errors: dict[int, int] = {}
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def one(conn: Conn) -> None:
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            status = await conn.request(make())
            t1 = time.perf_counter()
            if status >= 400:
                errors[status] = errors.get(status, 0) + 1
            if t0 >= measure_from:
                latencies.append(t1 - t0)

    try:
        await asyncio.gather(*(one(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    return {"requests": len(latencies), "rps": len(latencies) / seconds, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * pct(latencies, 0.99), "errors": errors}


def cursors(url: str, token: str) -> list[str]:
    """Every page's cursor of the listing (100 a page)."""
    import httpx

    out: list[str] = []
    cursor = None
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = c.get("/api/v1/projects/default/assets", params=params).json()
            assert len(page["items"]) == 100 or not page["next_cursor"], page
            cursor = page["next_cursor"]
            if not cursor:
                return out
            out.append(cursor)


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix=f"rf-bench-server-{backend}-"))
    try:
        with contextlib.ExitStack() as stack:
            db_url = f"{args.pg}/" + stack.enter_context(fresh_pg_database(args.pg, "rf_bench_server")) if backend == "postgres" else None
            log(f"[{backend}] studio with {args.assets:,} assets")
            token = make_studio(tmp / "studio", db_url, args.assets)
            url = stack.enter_context(serve(tmp / "studio"))
            host = url.split("//", 1)[1]
            auth = {"Authorization": f"Bearer {token}"}
            pages = cursors(url, token)
            assert len(pages) == args.assets // 100 - 1, len(pages)
            rng = random.Random(0)
            listing = "/api/v1/projects/default/assets?limit=100"
            healthz = http_request("GET", "/healthz", host)
            me = http_request("GET", "/api/v1/auth/me", host, auth)
            first = http_request("GET", listing, host, auth)
            at_random = [http_request("GET", f"{listing}&cursor={c}", host, auth) for c in pages]
            submit = http_request("POST", "/api/v1/projects/default/jobs", host, auth, b'{"task": "system.ping"}')
            scenarios = {
                "baseline: GET /healthz": lambda: healthz,
                "GET /api/v1/auth/me (token check)": lambda: me,
                "asset listing, first page of 100": lambda: first,
                "asset listing, a random page of 100": lambda: rng.choice(at_random),
                "job submission (system.ping)": lambda: submit,
            }
            # The server's first requests warm its caches (imports, the task registry, pools).
            asyncio.run(load(url, lambda: first, clients=args.clients, seconds=1.0))
            out = {}
            for name, make in scenarios.items():
                r = asyncio.run(load(url, make, clients=args.clients, seconds=args.seconds))
                log(f"[{backend}] {name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms"
                    + (f", errors {r['errors']}" if r["errors"] else ""))
                if r["errors"]:
                    raise SystemExit(f"{name}: error answers {r['errors']}")
                out[name] = r
            return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--pg", default=PG_DEFAULT)
    ap.add_argument("--assets", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--json", type=Path, help="also save the figures here")
    ap.add_argument("--no-write", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = ap.parse_args()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgres" and not pg_available(args.pg):
            log(f"PostgreSQL not reachable at {args.pg}: skipped")
            continue
        results[backend] = run_backend(backend, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    rows = []
    for backend, res in results.items():
        base = res["baseline: GET /healthz"]
        for name, r in res.items():
            rows.append([backend, name, f"{r['rps']:,.0f}", f"{r['rps'] / base['rps']:.2f}", f"{r['p50_ms']:.1f}",
                         f"{r['p99_ms']:.1f}", f"{r['p50_ms'] / base['p50_ms']:.1f}×"])
    cmd = ".venv/bin/python benchmarks/bench_server.py" + (
        f" --backends {args.backends}" if args.backends != "sqlite,postgres" else "")
    text = f"""## Studio server: asset listing and job submission under {args.clients} clients

Command: `{cmd}` ({args.assets:,} assets, {args.clients} concurrent clients, {args.seconds:g} s per
scenario after a 1 s warm-up, all on loopback). Machine:
{machine_description()}.

The clients are {args.clients} keep-alive connections driven by one asyncio loop with a minimal
HTTP/1.1 writer/reader (a full client library would cost more CPU per request than the trivial
route it measures). `reelforge serve` runs in its own process: one uvicorn process, no embedded workers, its JSON access
log on (to /dev/null), bearer-token auth. The **baseline** is `GET /healthz` on that same server in the
same run: no auth, no database, the smallest answer — what FastAPI, uvicorn and our middleware cost
per request here, the ceiling any route can reach. *vs baseline* is a route's requests/s over the
baseline's; *p50 vs baseline* its median latency over the baseline's. Load generator and server share
the machine's cores, so the absolute figures are a floor; the ratios are what compare across runs.

{table(["backend", "scenario", "req/s", "vs baseline", "p50 ms", "p99 ms", "p50 vs baseline"], rows)}

Reading it: an authenticated route pays the token check (the token's and its user's roles' lookups,
`auth/me`); a page of 100
assets adds the keyset query and the JSON of 100 assets, and costs the same at any depth of the
10,000 (keyset cursors, not OFFSET). A job submission is one write transaction (job row, audit
event) plus the queue's wake-up; on SQLite every such write takes the database's one write lock.
"""
    if not args.no_write:
        write_section("server", text)
        log("wrote the server section of docs/benchmarks.md")
    print(text)


if __name__ == "__main__":
    main()
