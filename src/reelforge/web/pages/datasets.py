"""Pages: the project's datasets, building a new version (from a selection or a filter), a
version's items, and the diff between two versions.

Building goes through ``POST /api/v1/projects/{p}/datasets`` from the page's script (with
``?dry_run=true`` for the live preview), so the page is held to the API's checks.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from reelforge.access.policy import READ, WRITE
from reelforge.catalog.assets import KINDS
from reelforge.catalog.datasets import SPLITS
from reelforge.errors import InvalidInput, NotFound, PermissionDenied
from reelforge.ids import id_kind
from reelforge.web.deps import Page, PageDep

if TYPE_CHECKING:
    from reelforge.catalog.entities import Asset, DatasetVersion, Project

router = APIRouter()
ITEMS_PER_PAGE = 48
LIST_THUMBS = 8  # thumbnails of a dataset's latest version in the list
DIFF_SHOWN = 60  # items shown per kind of change (the counts say how many there are)


def writer_project(page: Page, project: str) -> Project:
    """A project the caller may change; a page only writers may open is absent for the others
    (404, like a page that does not exist), not forbidden."""
    try:
        return page.project(project, WRITE)
    except PermissionDenied:
        raise NotFound(page._("Not found")) from None


def split_names(page: Page) -> dict[str, str]:
    return {"train": page._("train"), "val": page._("val"), "test": page._("test")}


def _creators(page: Page, project_id: str) -> dict[str, str]:
    """Version id → who made it (the audit log's actor of ``dataset.create``)."""
    out: dict[str, str] = {}
    for e in page.studio.access.audit_events(action="dataset.create", project_id=project_id, limit=2000):
        if e.target_id and e.target_id not in out:
            out[e.target_id] = e.actor.removeprefix("user:")
    return out


def _grouped(versions: list[DatasetVersion]) -> list[dict[str, Any]]:
    by: dict[str, list[DatasetVersion]] = defaultdict(list)
    for v in versions:
        by[v.dataset_id].append(v)
    groups = [{"id": k, "name": vs[0].dataset_name, "versions": vs, "latest": vs[0]} for k, vs in by.items()]
    return sorted(groups, key=lambda g: g["name"])


@router.get("/p/{project}/datasets")
def datasets(project: str, page: PageDep) -> HTMLResponse:
    proj = page.project(project)
    groups = _grouped(page.studio.datasets.list(proj.id))
    for g in groups:
        g["sample"] = page.studio.datasets.items(g["latest"].id, limit=LIST_THUMBS)[0]
    assets = _assets_of(page, list(dict.fromkeys(i.asset_id for g in groups for i in g["sample"])))
    return page.render("datasets/list.html", project=proj, groups=groups, assets=assets,
                       creators=_creators(page, proj.id),
                       splits=SPLITS, split_names=split_names(page))


@router.get("/p/{project}/datasets/new")
def new_dataset(
    project: str, page: PageDep, assets: str | None = None, from_: str | None = Query(None, alias="from"),
    kind: str | None = None, tag: list[str] = Query([]), name: str | None = None,
    dataset: str | None = Query(None, max_length=200),
) -> HTMLResponse:
    proj = writer_project(page, project)
    existing: dict[str, int] = {}
    latest: dict[str, DatasetVersion] = {}
    for v in page.studio.datasets.list(proj.id):
        if v.version > existing.get(v.dataset_name, 0):
            existing[v.dataset_name], latest[v.dataset_name] = v.version, v
    ids = [i.strip() for i in (assets or "").split(",") if i.strip()][:100_000]
    prefill: dict[str, Any] = {
        "assets": ids, "from_selection": from_ == "selection", "source": "filter",
        "kind": kind if kind in KINDS else "", "tags": [t for t in tag if t], "name_glob": name or "",
        "dataset": dataset or "", "label_mode": "none", "tag_prefix": "class:", "meta_key": "label",
        "splits": [0.8, 0.1, 0.1], "seed": 0,
    }
    given = bool(ids or from_ or kind or prefill["tags"] or name)
    prev = latest.get(dataset or "")
    if prev is not None:
        # A new version of a dataset starts from its latest recipe; what the link names wins.
        spec = prev.spec
        label_from = spec.get("label_from") or ""
        prefill.update(splits=[round(float(x), 4) for x in spec.get("splits") or prefill["splits"]],
                       seed=int(spec.get("seed") or 0))
        if label_from == "folder":
            prefill["label_mode"] = "folder"
        elif label_from.startswith("tag:"):
            prefill.update(label_mode="tag", tag_prefix=label_from[4:])
        elif label_from.startswith("meta:"):
            prefill.update(label_mode="meta", meta_key=label_from[5:])
        if not given:
            if spec.get("explicit"):
                prefill["assets"] = [i.asset_id for i in page.studio.datasets.items(prev.id, limit=100_000)[0]]
            else:
                prefill.update(kind=spec.get("kind") or "", tags=list(spec.get("tags") or []),
                               name_glob=spec.get("name_glob") or "")
    prefill["source"] = "selection" if prefill["assets"] or from_ == "selection" else "filter"
    return page.render("datasets/new.html", project=proj, existing=existing, prefill=prefill, kinds=KINDS)


@router.get("/p/{project}/datasets/{ref}")
def dataset_by_name(project: str, ref: str, page: PageDep) -> RedirectResponse:
    """``NAME`` (latest) or ``NAME@N`` inside a project: the version's page."""
    proj = page.project(project)
    try:
        dv = page.studio.datasets.get(ref, proj.id, with_items=False)
    except (NotFound, InvalidInput):
        raise NotFound(f"no dataset {ref!r}") from None
    if dv.project_id != proj.id:
        raise NotFound(f"no dataset {ref!r}")
    return RedirectResponse(f"/datasets/{dv.id}", status_code=303)


def _version(page: Page, ref: str, *, with_items: bool) -> DatasetVersion:
    return page.guard.dataset(page.p, ref, READ, with_items=with_items)


def _history(page: Page, dv: DatasetVersion) -> list[DatasetVersion]:
    return [v for v in page.studio.datasets.list(dv.project_id) if v.dataset_id == dv.dataset_id]


def _assets_of(page: Page, ids: list[str]) -> dict[str, Asset]:
    return {a.id: a for a in page.studio.assets.get_many(ids)} if ids else {}


@router.get("/datasets/{ref}")
def dataset_version(
    ref: str, page: PageDep, split: str | None = None, label: str | None = None,
    n: int = Query(1, ge=1, le=100_000, alias="page"),
) -> HTMLResponse:
    dv = _version(page, ref, with_items=False)
    proj = page.project(dv.project_id)
    split = split if split in SPLITS else None
    shown, total = page.studio.datasets.items(dv.id, split=split, label=label, offset=(n - 1) * ITEMS_PER_PAGE,
                                              limit=ITEMS_PER_PAGE)
    pages = max(1, -(-total // ITEMS_PER_PAGE))
    if n > pages:  # past the end (the filter changed): the last page
        n = pages
        shown, total = page.studio.datasets.items(dv.id, split=split, label=label,
                                                  offset=(n - 1) * ITEMS_PER_PAGE, limit=ITEMS_PER_PAGE)
    assets = _assets_of(page, [i.asset_id for i in shown])
    history = _history(page, dv)
    label_counts = sorted((dv.counts.get("labels") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    job = None
    if dv.created_by_job:
        try:
            job = page.guard.job(page.p, dv.created_by_job, READ)
        except NotFound:
            job = None
    creator = next((e.actor.removeprefix("user:") for e in page.studio.access.audit_events(
        action="dataset.create", target=dv.id, limit=1)), None)

    def link(**kw: Any) -> str:
        q = {"split": split, "label": label, "page": n} | kw
        parts = [f"{k}={quote(str(v))}" for k, v in q.items() if v not in (None, "") and not (k == "page" and v == 1)]
        return f"/datasets/{dv.id}" + ("?" + "&".join(parts) if parts else "")

    return page.render(
        "datasets/version.html", project=proj, dv=dv, items=shown, assets=assets, history=history,
        label_counts=label_counts, splits=SPLITS, split=split, label=label, n=n, pages=pages, total=total,
        link=link, job=job, creator=creator, split_names=split_names(page),
    )


def _resolve_against(page: Page, dv: DatasetVersion, against: str) -> DatasetVersion:
    """Another version: ``N`` (of the same dataset), ``dsv_…``, ``dst_…@N`` or ``NAME@N`` in the
    version's project."""
    against = against.strip()
    if against.isdigit():
        against = f"{dv.dataset_id}@{against}"
    head = against.split("@")[0]
    if id_kind(head) in ("dst", "dsv"):
        return _version(page, against, with_items=False)
    try:
        other = page.studio.datasets.get(against, dv.project_id, with_items=False)
    except (NotFound, InvalidInput):
        raise NotFound(f"no dataset {against!r}") from None
    return _version(page, other.id, with_items=False)


@router.get("/datasets/{ref}/diff")
def dataset_diff(ref: str, page: PageDep, against: str = Query(..., min_length=1, max_length=200)) -> HTMLResponse:
    dv = _version(page, ref, with_items=False)
    proj = page.project(dv.project_id)
    old = _resolve_against(page, dv, against)
    diff = page.studio.datasets.diff(dv.id, old.id)
    shown: dict[str, list[Any]] = {
        "added": diff.added[:DIFF_SHOWN], "removed": diff.removed[:DIFF_SHOWN],
        "relabelled": diff.relabelled[:DIFF_SHOWN], "moved": diff.moved[:DIFF_SHOWN],
    }
    ids = list(dict.fromkeys(x.asset_id for xs in shown.values() for x in xs))
    assets = _assets_of(page, ids)
    counts = {"added": len(diff.added), "removed": len(diff.removed), "relabelled": len(diff.relabelled),
              "moved": len(diff.moved), "unchanged": diff.unchanged}
    moves: dict[tuple[str | None, str | None], int] = defaultdict(int)
    for c in diff.moved:
        moves[(c.before, c.after)] += 1
    return page.render("datasets/diff.html", project=proj, dv=dv, old=old, diff=diff, shown=shown, assets=assets,
                       counts=counts, moves=sorted(moves.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))),
                       history=_history(page, dv), limit=DIFF_SHOWN, split_names=split_names(page))
