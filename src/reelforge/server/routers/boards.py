"""Boards (ordered collections of a project's assets) and exhibitions (boards published read-only
behind a share link). Reading needs read access to the board's project, changing needs write; a
board or exhibition of a project the caller cannot see is answered as missing.

The public side of an exhibition (``/x/{share_token}``, no account) is a page of the web UI:
``reelforge.web.pages.exhibitions``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from reelforge.access.policy import READ, WRITE
from reelforge.catalog.boards import MAX_EXPIRY_DAYS, MAX_ITEMS, Board, Exhibition, Share
from reelforge.errors import NotFound
from reelforge.server.deps import API_PREFIX, Ctx, CtxDep
from reelforge.server.schemas import Body

router = APIRouter(prefix=API_PREFIX, tags=["boards"])


class BoardIn(Body):
    name: str = Field(..., max_length=200)
    description: str = Field("", max_length=10_000)
    asset_ids: list[str] = Field(default_factory=list, max_length=MAX_ITEMS, description="assets of the project")


class BoardPatch(Body):
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    order: list[str] | None = Field(None, max_length=MAX_ITEMS,
                                    description="every item of the board, each once, in the new order")


class ItemsIn(Body):
    asset_ids: list[str] = Field(..., min_length=1, max_length=MAX_ITEMS)
    position: int | None = Field(None, ge=0, description="insert before this position (none: at the end)")


class ExhibitionIn(Body):
    title: str = Field(..., max_length=200)
    expires_in_days: float | None = Field(None, gt=0, le=MAX_EXPIRY_DAYS, description="none: until revoked")


def _board(c: Ctx, board_id: str, need: int) -> Board:
    missing = f"no board {board_id!r}"
    try:
        board = c.studio.boards.get(board_id)
    except NotFound:
        raise NotFound(missing) from None
    c.guard.check(c.p, board.project_id, need, missing)
    return board


def _exhibition(c: Ctx, exhibition_id: str, need: int) -> Exhibition:
    missing = f"no exhibition {exhibition_id!r}"
    try:
        ex = c.studio.boards.get_exhibition(exhibition_id)
    except NotFound:
        raise NotFound(missing) from None
    c.guard.check(c.p, ex.project_id, need, missing)
    return ex


def _share(c: Ctx, share: Share) -> dict[str, Any]:
    """An exhibition with its link: the only time the link's secret is shown."""
    base = str(c.request.base_url).rstrip("/")
    return {**share.exhibition.to_dict(), "token": share.token, "path": share.path, "url": base + share.path}


@router.get("/projects/{project}/boards")
def list_boards(project: str, c: CtxDep) -> dict[str, Any]:
    """The project's boards, most recently changed first (items counted, the first few as a cover)."""
    proj = c.guard.project(c.p, project, READ)
    return {"items": [b.to_dict(items=False) for b in c.studio.boards.list(proj.id)]}


@router.post("/projects/{project}/boards", status_code=201)
def create_board(project: str, body: BoardIn, c: CtxDep) -> dict[str, Any]:
    proj = c.guard.project(c.p, project, WRITE)
    return c.studio.boards.create(proj.id, body.name, body.description, body.asset_ids).to_dict()


@router.get("/boards/{board_id}")
def get_board(board_id: str, c: CtxDep) -> dict[str, Any]:
    return _board(c, board_id, READ).to_dict()


@router.patch("/boards/{board_id}")
def update_board(board_id: str, body: BoardPatch, c: CtxDep) -> dict[str, Any]:
    """Rename, describe or reorder (``order``: the board's items, each once, in the new order)."""
    board = _board(c, board_id, WRITE)
    boards = c.studio.boards
    if body.name is not None or body.description is not None:
        board = boards.update(board.id, name=body.name, description=body.description)
    if body.order is not None:
        board = boards.reorder(board.id, body.order)
    return board.to_dict()


@router.delete("/boards/{board_id}", status_code=204)
def delete_board(board_id: str, c: CtxDep) -> Response:
    """Delete a board and end its exhibitions (their links then answer like unknown ones)."""
    board = _board(c, board_id, WRITE)
    c.studio.boards.delete(board.id)
    return Response(status_code=204)


@router.post("/boards/{board_id}/items")
def add_items(board_id: str, body: ItemsIn, c: CtxDep) -> dict[str, Any]:
    """Add assets of the board's project; another project's asset is answered as missing."""
    board = _board(c, board_id, WRITE)
    return c.studio.boards.add_items(board.id, body.asset_ids, position=body.position).to_dict()


@router.delete("/boards/{board_id}/items/{asset_id}")
def remove_item(board_id: str, asset_id: str, c: CtxDep) -> dict[str, Any]:
    """Take an asset off the board (one that is not on it: nothing changes)."""
    board = _board(c, board_id, WRITE)
    return c.studio.boards.remove_items(board.id, [asset_id]).to_dict()


@router.post("/boards/{board_id}/exhibitions", status_code=201)
def publish(board_id: str, body: ExhibitionIn, c: CtxDep) -> dict[str, Any]:
    """Publish the board read-only behind an unguessable link. The answer's ``url`` is the only
    copy of the link (the catalog keeps its hash); ``POST /exhibitions/{id}/link`` makes a new one."""
    board = _board(c, board_id, WRITE)
    return _share(c, c.studio.boards.publish(board.id, body.title, expires_in_days=body.expires_in_days))


@router.get("/projects/{project}/exhibitions")
def list_exhibitions(project: str, c: CtxDep, board: str | None = Query(None, description="only this board's")
                     ) -> dict[str, Any]:
    """Every exhibition of the project with its status (live, expired or revoked); no links."""
    proj = c.guard.project(c.p, project, READ)
    return {"items": [e.to_dict() for e in c.studio.boards.exhibitions(proj.id, board_id=board)]}


@router.delete("/exhibitions/{exhibition_id}")
def revoke(exhibition_id: str, c: CtxDep) -> dict[str, Any]:
    """Revoke now: the link then answers exactly like one that never existed."""
    ex = _exhibition(c, exhibition_id, WRITE)
    return c.studio.boards.revoke(ex.id).to_dict()


@router.post("/exhibitions/{exhibition_id}/link")
def new_link(exhibition_id: str, c: CtxDep) -> dict[str, Any]:
    """A new link for a live exhibition; the previous link stops working."""
    ex = _exhibition(c, exhibition_id, WRITE)
    return _share(c, c.studio.boards.new_link(ex.id))
