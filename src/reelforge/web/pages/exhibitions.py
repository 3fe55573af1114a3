"""Exhibitions: the managers' list (``/p/{project}/exhibitions``) and the public side of a share
link (``/x/{share_token}``), which needs no account.

The public routes never read the session or any account: the link's secret is the whole
credential. They show only the board's own items (by their ids, through token-scoped media routes)
and nothing of the project; a link that is malformed, unknown, revoked or expired gets one and the
same answer. Misses are counted per client address, so guessing costs time as well as luck.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from reelforge.catalog.boards import GONE, caption
from reelforge.errors import NotFound
from reelforge.server.deps import client_address
from reelforge.server.downloads import blob_response, safe_media_type
from reelforge.web import i18n
from reelforge.web.deps import PageDep, language
from reelforge.web.render import PAGE_HEADERS, environment, static_version

router = APIRouter()

PUBLIC_HEADERS = {**PAGE_HEADERS, "X-Robots-Tag": "noindex, nofollow"}
MISS_WINDOW = 60.0  # seconds
MISSES_ALLOWED = 30  # per address and window: a person mistyping never gets near it


class _Misses:
    """Recent failed look-ups per client address (in this process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def blocked(self, address: str) -> bool:
        with self._lock:
            q = self._seen.get(address)
            if not q:
                return False
            cutoff = time.monotonic() - MISS_WINDOW
            while q and q[0] < cutoff:
                q.popleft()
            return len(q) >= MISSES_ALLOWED

    def add(self, address: str) -> None:
        with self._lock:
            if len(self._seen) > 10_000:  # many addresses: forget the oldest half
                for key in list(self._seen)[:5_000]:
                    del self._seen[key]
            self._seen.setdefault(address, deque()).append(time.monotonic())


def _misses(request: Request) -> _Misses:
    """The app's miss counter (one per app, so two studios served by one process count apart)."""
    state = request.app.state
    counter = getattr(state, "exhibition_misses", None)
    if counter is None:
        counter = state.exhibition_misses = _Misses()
    return counter


@router.get("/p/{project}/exhibitions")
def exhibitions(project: str, page: PageDep) -> HTMLResponse:
    """Every exhibition of the project with its status; writers publish, renew links and revoke."""
    proj = page.project(project)
    svc = page.studio.boards
    return page.render("exhibitions/list.html", project=proj, exhibitions=svc.exhibitions(proj.id),
                       boards=svc.list(proj.id))


# -- the public side -------------------------------------------------------------------------------
def _render_public(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    tr = i18n.translations(lang)
    html = environment().get_template(template).render(
        _=tr.gettext, gettext=tr.gettext, ngettext=tr.ngettext, lang=lang, static_v=static_version(), **context)
    return HTMLResponse(html, status_code=status, headers=PUBLIC_HEADERS)


def _gone(request: Request) -> HTMLResponse:
    return _render_public(request, "exhibitions/gone.html", status=404)


def _too_many(request: Request) -> HTMLResponse:
    response = _render_public(request, "exhibitions/gone.html", status=429, busy=True)
    response.headers["Retry-After"] = str(int(MISS_WINDOW))
    return response


def _slides(request: Request, share_token: str, board: Any) -> list[dict[str, Any]]:
    studio = request.app.state.studio
    assets = studio.assets.get_many(board.asset_ids) if board.items else []
    prov = studio.boards.provenance(assets)
    base = f"/x/{share_token}/items"
    return [{
        "src": f"{base}/{a.id}", "thumb": f"{base}/{a.id}/thumbnail" if a.thumb_sha256 else None,
        "kind": a.kind, "width": a.info.get("width"), "height": a.info.get("height"),
        "caption": caption(prov[a.id]),
    } for a in assets if a.kind in ("image", "video")]


@router.get("/x/{share_token}")
async def public_exhibition(share_token: str, request: Request) -> Response:
    """The exhibition as a fullscreen slideshow. No session is read: the link is the credential."""
    address, misses = client_address(request), _misses(request)
    if misses.blocked(address):
        return _too_many(request)
    studio = request.app.state.studio
    try:
        ex, board = await run_in_threadpool(studio.boards.open, share_token)
    except NotFound:
        misses.add(address)
        return _gone(request)
    slides = await run_in_threadpool(_slides, request, share_token, board)
    # The board's name and description are the studio's own notes: a visitor sees the title only.
    return _render_public(request, "exhibitions/public.html", exhibition=ex, slides=slides)


def _media(request: Request, share_token: str, asset_id: str, thumbnail: bool) -> Response:
    studio = request.app.state.studio
    address, misses = client_address(request), _misses(request)
    if misses.blocked(address):
        return Response("too many requests\n", status_code=429, media_type="text/plain",
                        headers={**PUBLIC_HEADERS, "Retry-After": str(int(MISS_WINDOW))})
    try:
        asset = studio.boards.exhibited_asset(share_token, asset_id)
        if thumbnail and not asset.thumb_sha256:
            raise NotFound(GONE)
    except NotFound:
        misses.add(address)
        return Response("not found\n", status_code=404, media_type="text/plain", headers=PUBLIC_HEADERS)
    if thumbnail:
        assert asset.thumb_sha256 is not None
        sha, size, media_type = asset.thumb_sha256, studio.blobs.stat(asset.thumb_sha256).size, "image/jpeg"
    else:
        sha, size, media_type = asset.sha256, asset.size, safe_media_type(asset.mime)
    # No file name (it would say more than the work); revalidated on every use, so a revoked link
    # stops showing even what a browser cached.
    response = blob_response(request, studio.blobs, sha, size, media_type=media_type, filename=None)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@router.get("/x/{share_token}/items/{asset_id}")
@router.head("/x/{share_token}/items/{asset_id}", include_in_schema=False)
def public_item(share_token: str, asset_id: str, request: Request) -> Response:
    """An item of the exhibition's board (Range honoured, for video); anything else: 404."""
    return _media(request, share_token, asset_id, thumbnail=False)


@router.get("/x/{share_token}/items/{asset_id}/thumbnail")
def public_thumbnail(share_token: str, asset_id: str, request: Request) -> Response:
    return _media(request, share_token, asset_id, thumbnail=True)
