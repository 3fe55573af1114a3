"""Datasets (immutable versions of a set of assets) and the model registry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from reelforge.access.policy import READ, WRITE
from reelforge.errors import InvalidInput, NotFound
from reelforge.server.deps import API_PREFIX, CtxDep
from reelforge.server.downloads import blob_response, counts_as_download
from reelforge.server.schemas import DatasetIn

router = APIRouter(prefix=API_PREFIX, tags=["datasets", "models"])


def _version(dv: Any, items: bool) -> dict[str, Any]:
    d = dv.to_dict()
    if not items:
        d.pop("items", None)
    return d


@router.get("/projects/{project}/datasets")
def list_datasets(project: str, c: CtxDep) -> dict[str, Any]:
    """Every version of every dataset of the project (newest version first within a dataset)."""
    proj = c.guard.project(c.p, project, READ)
    return {"items": [_version(v, False) for v in c.studio.datasets.list(proj.id)]}


@router.post("/projects/{project}/datasets", status_code=201, responses={200: {
    "description": "dry_run=true: what would be made (nothing is)",
    "content": {"application/json": {"schema": {"type": "object"}}}}})
def create_dataset(project: str, body: DatasetIn, c: CtxDep, response: Response,
                   dry_run: bool = Query(False, description="only say what would be made (200)")) -> dict[str, Any]:
    """A new version of dataset ``name``: from explicit asset ids (all of this project) or the
    project's assets matching the filters. ``splits`` are train/val/test ratios summing to 1."""
    proj = c.guard.project(c.p, project, WRITE)
    if abs(sum(body.splits) - 1.0) > 1e-6:
        # Said, not silently rescaled: 0.5/0.2/0.1 is a typo more often than a wish for 5/8.
        shown = "/".join(f"{x:g}" for x in body.splits)
        raise InvalidInput(f"split ratios {shown} sum to {sum(body.splits):g}, not 1")
    if body.assets is not None:
        found = {a.id: a for a in c.studio.assets.get_many(body.assets)} if body.assets else {}
        for asset_id in body.assets:
            if found[asset_id].project_id != proj.id:
                raise NotFound(f"no asset {asset_id!r}")  # as if absent: another project's asset
    spec = {"project": proj.id, "assets": body.assets, "kind": body.kind, "tags": body.tags,
            "name_glob": body.name_glob, "labels": body.labels, "label_from": body.label_from,
            "captions": body.captions, "splits": body.splits, "seed": body.seed}
    if dry_run:
        response.status_code = 200
        return {"dry_run": True, **c.studio.datasets.preview(body.name, **spec).to_dict()}
    dv = c.studio.datasets.create(body.name, description=body.description, **spec)
    return _version(dv, False)


@router.get("/datasets/{ref}")
def get_dataset(ref: str, c: CtxDep, items: bool = False) -> dict[str, Any]:
    """A version by ``dsv_…``, or a dataset's latest (``dst_…``) or Nth (``dst_…@N``) version."""
    return _version(c.guard.dataset(c.p, ref, READ, with_items=items), items)


@router.get("/datasets/{ref}/diff")
def dataset_diff(ref: str, c: CtxDep, against: str = Query(..., max_length=200,
                                                            description="the version to compare with (dsv_… or dst_…@N)")
                 ) -> dict[str, Any]:
    """Items added, removed, relabelled and moved between splits from ``against`` to ``ref``."""
    new = c.guard.dataset(c.p, ref, READ)
    old = c.guard.dataset(c.p, against, READ)
    return c.studio.datasets.diff(new.id, old.id).to_dict()


@router.get("/datasets/{dataset_id}/versions")
def dataset_versions(dataset_id: str, c: CtxDep) -> dict[str, Any]:
    latest = c.guard.dataset(c.p, dataset_id, READ)
    versions = [v for v in c.studio.datasets.list(latest.project_id) if v.dataset_id == latest.dataset_id]
    return {"items": [_version(v, False) for v in versions]}


@router.get("/projects/{project}/models")
def list_models(project: str, c: CtxDep) -> dict[str, Any]:
    proj = c.guard.project(c.p, project, READ)
    return {"items": [m.to_dict() for m in c.studio.models.list(proj.id)]}


@router.get("/models/{model_id}")
def get_model(model_id: str, c: CtxDep) -> dict[str, Any]:
    return c.guard.model(c.p, model_id, READ).to_dict()


@router.get("/models/{model_id}/files/{name}")
@router.head("/models/{model_id}/files/{name}", include_in_schema=False)
def model_file(model_id: str, name: str, request: Request, c: CtxDep) -> Response:
    """One file of a model (weights, config), audited like asset downloads."""
    model = c.guard.model(c.p, model_id, READ)
    f = next((f for f in model.files if f.name == name), None)
    if f is None:
        raise NotFound(f"model {model_id!r} has no file {name!r}")
    response = blob_response(request, c.studio.blobs, f.sha256, f.size, media_type="application/octet-stream",
                             filename=f.name)
    if counts_as_download(request, response.status_code):
        c.studio.access.record("model.download", model.id, model.project_id, file=f.name)
    return response
