"""The gallery of generated work (every image and video a job made, newest first, with what made
it), and boards: ordered selections of a project's assets, the stuff exhibitions are made of.

Provenance comes from the catalog (job, model, dataset: ``BoardService.provenance``); the "run
again" links follow the launcher's prefill contract (``web/pages/run.py``): ``?from_job=ID``,
``&seed=random`` to vary the seed, ``?params={json}&seed=N`` for settings read from a PNG.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from reelforge.access.policy import READ
from reelforge.errors import NotFound
from reelforge.web.deps import PageDep

if TYPE_CHECKING:
    from reelforge.catalog.entities import Asset

router = APIRouter()
PAGE_SIZE = 48


def run_links(project_name: str, summary: dict[str, Any]) -> dict[str, str]:
    """Links to the launcher that repeat an output's job: as it was, with a new seed, and (for a
    sampled image) just that one image again from its own seed."""
    task, job = summary.get("task"), summary.get("job_id")
    if not task or not job:
        return {}
    base = f"/p/{quote(project_name, safe='')}/run/{quote(task, safe='')}"
    links = {"again": f"{base}?from_job={quote(job)}", "vary": f"{base}?from_job={quote(job)}&seed=random"}
    if task == "gan.sample" and summary.get("index") is not None and summary.get("seed") is not None:
        params = {**(summary.get("params") or {}), "n": 1, "sheet": False}
        links["recreate"] = f"{base}?" + urlencode({"params": json.dumps(params, separators=(",", ":")),
                                                   "seed": summary["seed"]})
    return links


def _card(project_name: str, a: Asset, summary: dict[str, Any], boards: list[str] | None = None) -> dict[str, Any]:
    """What a page's script needs of one output (the provenance dialog, the board actions)."""
    return {
        "id": a.id, "name": a.name, "kind": a.kind, "format": a.format, "size": a.size,
        "width": a.info.get("width"), "height": a.info.get("height"), "duration": a.info.get("duration"),
        "created_at": a.created_at, "tags": a.tags, "thumb": bool(a.thumb_sha256),
        "content": f"/api/v1/assets/{a.id}/content", "thumbnail": f"/api/v1/assets/{a.id}/thumbnail",
        "prov": summary, "links": run_links(project_name, summary), "boards": boards or [],
    }


@router.get("/p/{project}/gallery")
def gallery(
    project: str, page: PageDep, kind: str | None = None, sheets: bool = False,
    cursor: str | None = Query(None, max_length=200),
) -> HTMLResponse:
    proj = page.project(project)
    svc = page.studio.boards
    kind = kind if kind in ("image", "video") else None
    got = svc.generated(proj.id, kind=kind, include_sheets=sheets, limit=PAGE_SIZE, cursor=cursor or None)
    prov = svc.provenance(got.items)
    on = svc.boards_of([a.id for a in got.items])
    cards = [_card(proj.name, a, prov[a.id], on.get(a.id)) for a in got.items]
    boards = svc.list(proj.id)
    query = {k: v for k, v in (("kind", kind), ("sheets", "1" if sheets else None)) if v}
    older = "?" + urlencode({**query, "cursor": got.next_cursor}) if got.next_cursor else None
    newest = ("?" + urlencode(query)) if query else "?"
    return page.render("gallery/index.html", project=proj, items=got.items, cards=cards, boards=boards,
                       kind=kind, sheets=sheets, older=older, newest=newest if cursor else None,
                       total=svc.count_generated(proj.id))


@router.get("/boards/{board_id}")
def board(board_id: str, page: PageDep) -> HTMLResponse:
    """One board: its items in order (reorder by drag or by the keyboard buttons, remove), and its
    exhibitions. A board of a project the caller cannot see does not exist for them."""
    missing = f"no board {board_id!r}"
    svc = page.studio.boards
    try:
        b = svc.get(board_id)
    except NotFound:
        raise NotFound(missing) from None
    page.guard.check(page.p, b.project_id, READ, missing)
    proj = page.project(b.project_id)
    assets = page.studio.assets.get_many(b.asset_ids) if b.items else []
    prov = svc.provenance(assets)
    cards = [_card(proj.name, a, prov[a.id]) for a in assets]
    exhibitions = svc.exhibitions(proj.id, board_id=b.id)
    return page.render("gallery/board.html", project=proj, board=b, assets=assets, cards=cards,
                       exhibitions=exhibitions, boards=svc.list(proj.id))
