"""Lineage, provenance checks of uploaded files, and screenplay search."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from reelforge.access.policy import READ, WRITE
from reelforge.errors import InvalidInput, NotFound
from reelforge.ids import id_kind
from reelforge.server import uploads
from reelforge.server.deps import API_PREFIX, CtxDep

router = APIRouter(prefix=API_PREFIX, tags=["lineage"])


@router.get("/lineage/{ref}")
def lineage(ref: str, c: CtxDep, depth: int = Query(50, ge=0, le=200)) -> dict[str, Any]:
    """The graph from an asset, dataset version, model or job back to raw assets; nodes of
    projects the caller cannot read are left out."""
    if id_kind(ref) not in ("ast", "dsv", "mdl", "job"):
        raise NotFound(f"nothing with id {ref!r}")
    graph = c.guard.lineage(c.p, c.studio.lineage.graph(ref, max_depth=depth))
    return {**graph.to_dict(), "raw_assets": graph.raw_assets()}


@router.post("/projects/{project}/provenance", tags=["provenance"],
             openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"],
                 "properties": {"file": {"type": "string", "format": "binary"}}}}}}})
async def provenance(project: str, request: Request, c: CtxDep) -> dict[str, Any]:
    """Check an uploaded file's embedded provenance against this project's catalog. Nothing is
    stored; the file is read under the studio's media limits."""
    from reelforge.catalog.provenance import verify

    proj = await run_in_threadpool(c.guard.project, c.p, project, READ)
    max_bytes = c.config.max_upload_bytes or c.studio.settings.limits.max_bytes
    assert c.studio.settings.cache_dir is not None
    root = c.studio.settings.cache_dir / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="prov-", dir=root))
    try:
        up = await uploads.receive(request, folder, max_bytes)
        if up.path is None or up.size == 0:
            raise InvalidInput("no file: send it as a non-empty multipart part named 'file'")
        v = await run_in_threadpool(verify, c.studio, up.path)
        shown = (up.filename or "upload").rsplit("/", 1)[-1][:255]
        v = await run_in_threadpool(c.guard.verification, v, proj.id, shown)
    finally:
        await run_in_threadpool(shutil.rmtree, folder, True)
    return v.to_dict()


@router.get("/projects/{project}/search", tags=["search"])
def search(
    project: str, c: CtxDep, q: str = Query(..., min_length=1, max_length=1000), k: int = Query(10, ge=1, le=100),
    kind: str | None = Query(None, description="scene or line"),
) -> dict[str, Any]:
    """Semantic search over the project's screenplays. An editor's search re-indexes first when
    screenplays changed (a ``script.index`` job); a viewer's uses the index as it is."""
    proj = c.guard.project(c.p, project, READ)
    hits = c.studio.search.query(q, k=k, kind=kind, project=proj.id, reindex=c.p.can(proj.id, WRITE))
    return {"items": hits}
