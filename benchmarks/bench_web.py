"""Web UI: the asset browser page (``GET /p/{project}/assets``, server-rendered HTML of a page of 100
cards) on a project of 10,000 assets, against the REST listing it is built on
(``GET /api/v1/projects/{project}/assets``, the baseline), on the same server in the same run.

For each backend (SQLite, PostgreSQL), in one run:

* the studio of ``bench_server.py``: ``--assets`` (10,000) assets in the default project, inserted
  with one bulk SQL insert (not measured), an editor and their API token (pages take a bearer
  token as the API does, so no sign-in is needed);
* ``reelforge serve`` in its own process (one uvicorn process, no embedded workers);
* ``--clients`` (10) concurrent keep-alive clients loop one request each for ``--seconds`` (6)
  after a 1 s warm-up, per scenario, newest first (the browser's default order):

  - **baseline** the API's first page of 100 (``sort=created_at&order=desc&limit=100``);
  - the API at a random page deep in the 10,000 (keyset cursors collected beforehand);
  - the browser page, first page of 100 cards;
  - the browser page at a random deep page (the same cursors: the page takes the API's);
  - the "load more" fragment (``&partial=1``: the cards only) at a random deep page.

    .venv/bin/python benchmarks/bench_web.py

``--backends sqlite`` skips PostgreSQL (reached at ``--pg``, default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pg import fresh_pg_database, pg_available
from _report import machine_description, table, write_section
from bench_server import PG_DEFAULT, http_request, load, log, make_studio, serve

API = "/api/v1/projects/default/assets?sort=created_at&order=desc&limit=100"
PAGE = "/p/default/assets?sort=date&order=desc"


def cursors(url: str, token: str) -> list[str]:
    """Every page's cursor of the newest-first listing (100 a page)."""
    import httpx

    out: list[str] = []
    cursor = None
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        while True:
            page = c.get(API + (f"&cursor={cursor}" if cursor else "")).json()
            cursor = page["next_cursor"]
            if not cursor:
                return out
            out.append(cursor)


def check_page(url: str, token: str, cursor: str) -> None:
    """The page answers 100 cards and a link to the next page (what is measured is a real page)."""
    import httpx

    h = {"Authorization": f"Bearer {token}"}
    for path in (PAGE, f"{PAGE}&cursor={cursor}"):
        r = httpx.get(url + path, headers=h, timeout=30)
        r.raise_for_status()
        assert r.text.count('class="card asset-card') == 100 and 'id="load-more"' in r.text, path


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix=f"rf-bench-web-{backend}-"))
    try:
        with contextlib.ExitStack() as stack:
            db_url = f"{args.pg}/" + stack.enter_context(fresh_pg_database(args.pg, "rf_bench_web")) if backend == "postgres" else None
            log(f"[{backend}] studio with {args.assets:,} assets")
            token = make_studio(tmp / "studio", db_url, args.assets)
            url = stack.enter_context(serve(tmp / "studio"))
            host = url.split("//", 1)[1]
            auth = {"Authorization": f"Bearer {token}"}
            pages = cursors(url, token)
            assert len(pages) == args.assets // 100 - 1, len(pages)
            check_page(url, token, pages[len(pages) // 2])
            rng = random.Random(0)
            api_first = http_request("GET", API, host, auth)
            api_deep = [http_request("GET", f"{API}&cursor={c}", host, auth) for c in pages]
            page_first = http_request("GET", PAGE, host, auth)
            page_deep = [http_request("GET", f"{PAGE}&cursor={c}", host, auth) for c in pages]
            more_deep = [http_request("GET", f"{PAGE}&cursor={c}&partial=1", host, auth) for c in pages]
            scenarios = {
                "baseline: API, first page of 100": lambda: api_first,
                "API, a random deep page of 100": lambda: rng.choice(api_deep),
                "browser page, first page of 100 cards": lambda: page_first,
                "browser page, a random deep page": lambda: rng.choice(page_deep),
                "load more fragment, a random deep page": lambda: rng.choice(more_deep),
            }
            asyncio.run(load(url, lambda: page_first, clients=args.clients, seconds=1.0))  # warm caches
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
    ap.add_argument("--clients", type=int, default=10)
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
        base = res["baseline: API, first page of 100"]
        for name, r in res.items():
            rows.append([backend, name, f"{r['rps']:,.0f}", f"{r['rps'] / base['rps']:.2f}", f"{r['p50_ms']:.1f}",
                         f"{r['p99_ms']:.1f}", f"{r['p50_ms'] / base['p50_ms']:.1f}×"])
    cmd = ".venv/bin/python benchmarks/bench_web.py" + (
        f" --backends {args.backends}" if args.backends != "sqlite,postgres" else "")
    text = f"""## Web UI: the asset browser on {args.assets:,} assets against the REST listing

Command: `{cmd}` ({args.assets:,} assets, {args.clients} concurrent clients, {args.seconds:g} s per
scenario after a 1 s warm-up, all on loopback). Machine:
{machine_description()}.

The server and the load generator are those of the server benchmark above (`reelforge serve` in its
own process, keep-alive clients on one asyncio loop, bearer-token auth, which pages take too). The
**baseline** is the REST listing the page is built on, `GET /api/v1/projects/default/assets` newest
first, 100 a page, on the same server in the same run. The browser page (`GET /p/default/assets`)
reads the same one page of 100 through `studio.browse.assets` and renders 100 cards, the filter
form and the page around them; *load more* is the fragment the page's script appends (`&partial=1`:
the cards only). Deep pages use keyset cursors collected beforehand, the same ones for both.
*vs baseline* is a scenario's requests/s over the baseline's; *p50 vs baseline* its median latency
over the baseline's.

{table(["backend", "scenario", "req/s", "vs baseline", "p50 ms", "p99 ms", "p50 vs baseline"], rows)}

Reading it: the page never reads more than one page of assets, so its cost does not grow with the
project and a deep page costs what the first one does. The *load more* fragment (the same 100 assets
as HTML cards instead of JSON) costs about what the API's answer does; the whole page adds the page
around the cards (the caller's projects, the project's datasets for the filter, the base template).
Thumbnails are not in these figures: the browser fetches them lazily, one request each, as cards
scroll into view. Other processes shared the 2 cores during this run: compare the ratios, not the
absolute figures, with the server section above.
"""
    if not args.no_write:
        write_section("web", text)
        log("wrote the web section of docs/benchmarks.md")
    print(text)


if __name__ == "__main__":
    main()
