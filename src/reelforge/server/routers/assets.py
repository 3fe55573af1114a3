"""Assets: paged listing with filters, streamed upload (the same checks as ``reelforge add``),
details, tags and metadata, downloads (Range, ETag) and thumbnails."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from reelforge.access.policy import READ, WRITE
from reelforge.errors import InvalidInput, LimitExceeded, NotFound, ReelforgeError
from reelforge.ids import id_kind
from reelforge.server import uploads
from reelforge.server.deps import API_PREFIX, Ctx, CtxDep
from reelforge.server.downloads import blob_response, counts_as_download, safe_media_type
from reelforge.server.errors import UnsupportedMediaType
from reelforge.server.routers.common import asset_dict
from reelforge.server.schemas import AssetPatch, AssetTagsIn

router = APIRouter(prefix=API_PREFIX, tags=["assets"])
_CHECKED_MAJORS = ("image", "video", "audio", "text")
MAX_META_BYTES = 64 * 1024


@router.get("/projects/{project}/assets")
def list_assets(
    project: str,
    c: CtxDep,
    kind: str | None = None,
    tag: list[str] = Query([], description="assets carrying every one of these tags"),
    name: str | None = Query(None, description="glob on the catalog name, e.g. plates/*.png"),
    job: str | None = Query(None, description="made by this job"),
    dataset: str | None = Query(None, description="members of this dataset version (dsv_…, or dst_… / dst_…@N)"),
    generated: bool | None = Query(None, description="true: made by a job; false: ingested"),
    derived_from: str | None = Query(None, description="made by a job that read this asset, dataset version or model"),
    sort: str = Query("id", description="id, name, size or created_at"),
    order: str = Query("asc", description="asc or desc"),
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = None,
) -> dict[str, Any]:
    proj = c.guard.project(c.p, project, READ)
    # A dataset the caller cannot read answers 404 like any other; one of another project lists nothing.
    dsv = c.guard.dataset(c.p, dataset).id if dataset else None
    page = c.studio.browse.assets(proj.id, kind=kind, tags=tag, name=name, created_by_job=job, dataset_version=dsv,
                                  generated=generated, derived_from=derived_from, sort=sort, order=order,
                                  limit=limit, cursor=cursor)
    # Plain JSON values already: answered as they are, without FastAPI's generic re-encoding of
    # every value of every asset (the hot path of browsing a big project).
    return JSONResponse({"items": [asset_dict(c, a) for a in page.items], "next_cursor": page.next_cursor})  # type: ignore[return-value]


def _declared_type_agrees(c: Ctx, up: uploads.Upload) -> None:
    """A part declared image/video/audio/text must hold that: a text file sent as image/png is
    refused (415) before the ingest, whatever its name."""
    from reelforge.media.sniff import sniff

    assert up.path is not None
    declared = (up.content_type or "").split(";")[0].strip().lower()
    major = declared.split("/")[0]
    if major not in _CHECKED_MAJORS:
        return
    try:
        kind = sniff(up.path, c.studio.settings.limits).kind
    except LimitExceeded:
        raise
    except ReelforgeError:
        return  # the ingest says what is wrong with it
    actual = "text" if kind == "screenplay" else kind
    if actual != major:
        raise UnsupportedMediaType(f"the upload is declared {declared} but its content is {kind}")


def _ingest(c: Ctx, project_id: str, up: uploads.Upload) -> tuple[dict[str, Any], bool]:
    if up.path is None or up.size == 0:
        raise InvalidInput("no file: send it as a non-empty multipart part named 'file'")
    name = up.field("name") or up.filename
    if not name:
        raise InvalidInput("the upload needs a file name (the part's filename or a 'name' field)")
    tags = [t.strip() for v in up.fields.get("tags", []) for t in v.split(",") if t.strip()]
    meta: dict[str, Any] = {}
    if up.field("meta"):
        try:
            meta = json.loads(up.field("meta") or "")
        except json.JSONDecodeError:
            raise InvalidInput("meta must be a JSON object") from None
        if not isinstance(meta, dict):
            raise InvalidInput("meta must be a JSON object")
    _declared_type_agrees(c, up)
    try:
        # One file someone waits on in a gallery: its thumbnail now, whatever its size (a job for
        # it would leave a placeholder until a worker comes round).
        report = c.studio.ingest(up.path, project=project_id, tags=tags, meta=meta, name=name,
                                 defer_thumbnails=False)
    except ReelforgeError as exc:
        # The checks name the file they read: the server's temporary copy. Say the upload's name
        # (the path says nothing to the caller and something about the server).
        exc.args = (str(exc).replace(str(up.path), name),)
        raise
    asset = (report.added or report.duplicates)[0]
    return {**asset_dict(c, asset), "jobs": report.jobs}, bool(report.added)


@router.post("/projects/{project}/assets", status_code=201,
             openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"], "properties": {
                     "file": {"type": "string", "format": "binary"},
                     "name": {"type": "string", "description": "catalog name (default: the file name)"},
                     "tags": {"type": "string", "description": "comma-separated tags"},
                     "meta": {"type": "string", "description": "a JSON object"}}}}}}})
async def upload(project: str, request: Request, response: Response, c: CtxDep) -> dict[str, Any]:
    """Add one file. Streamed to disk against the size limit, then validated like ``reelforge add``
    (content sniffing, media limits, a decode); refused uploads leave nothing behind. 201 when
    added, 200 when the project already held these bytes."""
    proj = await run_in_threadpool(c.guard.project, c.p, project, WRITE)
    max_bytes = c.config.max_upload_bytes or c.studio.settings.limits.max_bytes
    assert c.studio.settings.cache_dir is not None
    root = c.studio.settings.cache_dir / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="up-", dir=root))
    try:
        up = await uploads.receive(request, folder, max_bytes)
        body, added = await run_in_threadpool(_ingest, c, proj.id, up)
    finally:
        await run_in_threadpool(shutil.rmtree, folder, True)
    if not added:
        response.status_code = 200
    return body


@router.post("/projects/{project}/assets/tags")
def tag_assets(project: str, body: AssetTagsIn, c: CtxDep) -> dict[str, Any]:
    """Add and remove tags on many assets of a project at once: all of them or none (an id that is
    not an asset of this project answers 404, a bad tag 400, and nothing changes)."""
    proj = c.guard.project(c.p, project, WRITE)
    if not body.add and not body.remove:
        raise InvalidInput("give tags to add or to remove")
    ids = list(dict.fromkeys(body.asset_ids))
    for i in ids:
        if id_kind(i) != "ast":
            raise NotFound(f"no asset {i!r}")
    for a in c.studio.assets.get_many(ids):
        if a.project_id != proj.id:  # another project's asset does not exist here
            raise NotFound(f"no asset {a.id!r}")
    changed = c.studio.assets.tag(ids, add=body.add, remove=body.remove)
    return JSONResponse({"items": [asset_dict(c, a) for a in changed]})  # type: ignore[return-value]


@router.get("/assets/{asset_id}")
def get_asset(asset_id: str, c: CtxDep) -> dict[str, Any]:
    return asset_dict(c, c.guard.asset(c.p, asset_id, READ))


@router.patch("/assets/{asset_id}")
def update_asset(asset_id: str, body: AssetPatch, c: CtxDep) -> dict[str, Any]:
    """Add or remove tags, merge keys into the metadata."""
    asset = c.guard.asset(c.p, asset_id, WRITE)
    if body.meta:
        if len(json.dumps(body.meta, default=str)) > MAX_META_BYTES:
            raise LimitExceeded(f"metadata over {MAX_META_BYTES} bytes")
        if "asset_id" in body.meta:  # the service's own parameter name
            raise InvalidInput("metadata key 'asset_id' is reserved")
        asset = c.studio.assets.set_meta(asset.id, **body.meta)
    if body.add_tags or body.remove_tags:
        asset = c.studio.assets.tag([asset.id], add=body.add_tags, remove=body.remove_tags)[0]
    return asset_dict(c, asset)


@router.get("/assets/{asset_id}/content")
@router.head("/assets/{asset_id}/content", include_in_schema=False)
def download(asset_id: str, request: Request, c: CtxDep) -> Response:
    """The asset's bytes (Range and If-None-Match honoured). Every download from the start of the
    file is in the audit log."""
    asset = c.guard.asset(c.p, asset_id, READ)
    response = blob_response(request, c.studio.blobs, asset.sha256, asset.size,
                             media_type=safe_media_type(asset.mime), filename=asset.name)
    if counts_as_download(request, response.status_code):
        c.studio.access.record("asset.download", asset.id, asset.project_id, bytes=response.headers.get("content-length"))
    return response


@router.get("/assets/{asset_id}/thumbnail")
def thumbnail(asset_id: str, request: Request, c: CtxDep) -> Response:
    asset = c.guard.asset(c.p, asset_id, READ)
    if not asset.thumb_sha256:
        raise NotFound(f"asset {asset_id!r} has no thumbnail")
    size = c.studio.blobs.stat(asset.thumb_sha256).size
    return blob_response(request, c.studio.blobs, asset.thumb_sha256, size, media_type="image/jpeg",
                         filename=None, cache="private, max-age=3600")
