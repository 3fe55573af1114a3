"""Pages: a project's asset browser (filters, sorting, pages of thumbnails by keyset cursor, multi-
select, tagging, upload of files and folders) and the page of one asset (a preview by kind, its
metadata, lineage graph and embedded provenance).

Both only read: uploads and tag changes go through ``/api/v1`` from ``static/js/assets*.js``. A
project may hold 10,000 assets and more: the browser reads one page of ``studio.browse.assets``
at a time and its thumbnails load lazily.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from reelforge.access.policy import READ
from reelforge.catalog.assets import KINDS
from reelforge.errors import InvalidInput, NotFound, ReelforgeError
from reelforge.web.deps import PageDep
from reelforge.web.pages.assets_layout import ScriptLayout, layout_lineage, layout_screenplay

if TYPE_CHECKING:
    from reelforge.catalog.entities import Asset, Project
    from reelforge.web.deps import Page

router = APIRouter()

PAGE_SIZE = 100
SORTS = {"date": "created_at", "name": "name", "size": "size"}
# What a browser draws itself; other images (TIFF, EXR, ...) are previewed by their thumbnail.
BROWSER_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
SCRIPT_PAGES_PER_VIEW = 10
LINEAGE_DEPTH = 30


@dataclass
class Filters:
    kind: str = ""
    tag: str = ""
    name: str = ""
    dataset: str = ""
    generated: str = ""  # "", "yes" or "no"
    sort: str = "date"
    order: str = "desc"

    @property
    def tags(self) -> list[str]:
        return [t.strip() for t in self.tag.split(",") if t.strip()]

    @property
    def active(self) -> bool:
        return bool(self.kind or self.tags or self.name or self.dataset or self.generated)

    def query(self, **extra: str | None) -> str:
        values = {"kind": self.kind, "tag": self.tag, "name": self.name, "dataset": self.dataset,
                  "generated": self.generated, "sort": self.sort, "order": self.order, **extra}
        return urlencode({k: v for k, v in values.items() if v})

    def dataset_query(self) -> str:
        """The filter as the new-dataset page takes it (kind, tag, name)."""
        return urlencode({k: v for k, v in (("kind", self.kind), ("tag", self.tag), ("name", self.name)) if v})


@router.get("/p/{project}/assets")
def browser(
    project: str,
    page: PageDep,
    kind: str = Query("", max_length=32),
    tag: str = Query("", max_length=1000),
    name: str = Query("", max_length=1024),
    dataset: str = Query("", max_length=200),
    generated: str = Query("", max_length=8),
    sort: str = Query("date", max_length=16),
    order: str = Query("desc", max_length=8),
    cursor: str = Query("", max_length=4096),
    partial: int = Query(0, ge=0, le=1),
) -> HTMLResponse:
    proj = page.project(project)
    f = Filters(kind.strip(), tag.strip(), name.strip(), dataset.strip(), generated.strip(), sort, order)
    error = None
    items: list[Asset] = []
    next_cursor = None
    try:
        items, next_cursor = _list(page, proj, f, cursor or None)
    except (InvalidInput, NotFound) as exc:
        error = str(exc)
    next_url = f"/p/{proj.name}/assets?{f.query(cursor=next_cursor)}" if next_cursor else None
    if partial:
        return page.render("assets/_cards.html", project=proj, items=items, next_url=next_url, error=error)
    datasets = page.studio.datasets.list(project=proj.id)
    return page.render(
        "assets/browser.html", project=proj, items=items, f=f, error=error, next_url=next_url,
        first_url=f"/p/{proj.name}/assets?{f.query()}" if cursor else None, kinds=KINDS, datasets=datasets,
        sorts=[("date", page._("Date added")), ("name", page._("Name")), ("size", page._("Size"))],
        dataset_filter_url=f"/p/{proj.name}/datasets/new?{f.dataset_query()}",
    )


def _list(page: Page, proj: Project, f: Filters, cursor: str | None) -> tuple[list[Asset], str | None]:
    if f.sort not in SORTS:
        raise InvalidInput(page._("Sort by name, date or size."))
    if f.kind and f.kind not in KINDS:
        raise InvalidInput(page._("Unknown kind %(kind)s.") % {"kind": f.kind})
    if f.generated not in ("", "yes", "no"):
        raise InvalidInput(page._("Origin is generated (yes), ingested (no) or any."))
    generated = None if not f.generated else f.generated == "yes"
    dsv = page.guard.dataset(page.p, f.dataset).id if f.dataset else None
    result = page.studio.browse.assets(
        proj.id, kind=f.kind or None, tags=f.tags, name=f.name or None, dataset_version=dsv,
        generated=generated, sort=SORTS[f.sort], order=f.order, limit=PAGE_SIZE, cursor=cursor,
    )
    return result.items, result.next_cursor


# -- the page of one asset ---------------------------------------------------------------------------
@router.get("/assets/{asset_id}")
def asset_page(asset_id: str, page: PageDep, sp: int = Query(1, ge=1, le=10_000_000)) -> HTMLResponse:
    asset = page.guard.asset(page.p, asset_id, READ)
    proj = page.project(asset.project_id)
    studio = page.studio
    ctx: dict[str, Any] = {"asset": asset, "info_rows": _info_rows(page, asset)}
    ctx["job"] = _readable_job(page, asset.created_by_job)
    try:
        graph = page.guard.lineage(page.p, studio.lineage.graph(asset.id, max_depth=LINEAGE_DEPTH))
        ctx["lineage"] = layout_lineage(graph.to_dict())
        datasets_used = [n for n in graph.nodes.values() if n.kind == "dataset"]
        models_used = [n for n in graph.nodes.values() if n.kind == "model"]
    except NotFound:
        ctx["lineage"], datasets_used, models_used = None, [], []
    derived = studio.browse.assets(proj.id, derived_from=asset.id, sort="created_at", order="desc", limit=12)
    ctx["derived"] = derived.items
    ctx["more_derived"] = derived.next_cursor is not None
    ctx["preview"] = "none"
    if asset.kind == "image":
        ctx["preview"] = "image" if asset.mime in BROWSER_IMAGES else ("thumbnail" if asset.thumb_sha256 else "none")
        ctx["provenance"] = _provenance(page, proj, asset, datasets_used, models_used)
    elif asset.kind == "video":
        ctx["preview"] = "video"
        ctx["proxy"] = _proxy(page, proj, asset)
    elif asset.kind == "audio":
        ctx["preview"] = "audio"
    elif asset.kind == "screenplay":
        ctx["preview"] = "screenplay"
        ctx.update(_script_view(page, asset, sp))
    generation = asset.meta.get("generation") if isinstance(asset.meta.get("generation"), dict) else None
    ctx["meta_rows"] = {k: v for k, v in asset.meta.items() if k not in ("provenance", "generation")}
    ctx["generation"] = generation
    ctx["view"] = {
        "id": asset.id, "kind": asset.kind, "fps": asset.info.get("fps"), "duration": asset.info.get("duration"),
        "frames": asset.info.get("frames"), "size": asset.size, "tags": asset.tags,
        "content": f"/api/v1/assets/{asset.id}/content",
    }
    return page.render("assets/asset.html", project=proj, **ctx)


def _readable_job(page: Page, job_id: str | None) -> Any:
    if not job_id:
        return None
    try:
        return page.guard.job(page.p, job_id, READ)
    except NotFound:
        return None


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return ""
    m, s = divmod(float(seconds), 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:05.2f}" if h else f"{m}:{s:05.2f}"


def _info_rows(page: Page, a: Asset) -> list[tuple[str, str]]:
    """The probed facts worth a line, in words (the raw ``info`` is shown below them)."""
    i = a.info
    rows: list[tuple[str, str]] = []
    if i.get("width") and i.get("height"):
        rows.append((page._("Dimensions"), f"{i['width']} × {i['height']}"))
    if i.get("duration"):
        rows.append((page._("Duration"), _duration(i["duration"])))
    if i.get("fps"):
        rows.append((page._("Frame rate"), f"{float(i['fps']):.3f}".rstrip("0").rstrip(".") + " fps"))
    if i.get("frames") and a.kind == "video":
        rows.append((page._("Frames"), str(i["frames"])))
    if i.get("codec"):
        rows.append((page._("Codec"), str(i["codec"])))
    if i.get("sample_rate"):
        rows.append((page._("Sample rate"), f"{i['sample_rate']} Hz"))
    if i.get("channels"):
        rows.append((page._("Channels"), str(i["channels"])))
    if i.get("mode"):
        rows.append((page._("Mode"), str(i["mode"])))
    if i.get("line_count"):
        rows.append((page._("Lines"), str(i["line_count"])))
    return rows


def _proxy(page: Page, proj: Project, asset: Asset) -> Asset | None:
    """The web proxy media.proxy / media.proxies made of this video: an asset made by a job that
    read this one, tagged ``proxy``, whose meta says ``proxy_of`` this asset (newest first)."""
    found = page.studio.browse.assets(proj.id, kind="video", tags=["proxy"], derived_from=asset.id,
                                      sort="created_at", order="desc", limit=20)
    return next((a for a in found.items if a.meta.get("proxy_of") == asset.id), None)


def _provenance(page: Page, proj: Project, asset: Asset, datasets: list[Any], models: list[Any]) -> dict[str, Any] | None:
    """The provenance record a generated PNG carries, and whether the catalog agrees with it."""
    if asset.format != "png" or not (asset.created_by_job or asset.meta.get("provenance")):
        return None
    from reelforge.catalog.provenance import read_record, verify

    studio = page.studio
    try:
        path = studio.assets.local_path(asset)
        record = read_record(path, studio.settings.limits)
        if record is None:
            return None
        v = page.guard.verification(verify(studio, path, check_watermark=False), proj.id, asset.name)
    except (ReelforgeError, OSError):
        return None
    generation = asset.meta.get("generation") if isinstance(asset.meta.get("generation"), dict) else {}
    model_id = record.get("model") or generation.get("model")
    model = next((m for m in models if m.id == model_id), None)
    inputs = [i for i in record.get("inputs") or [] if isinstance(i, dict)]
    dataset_ids = [i.get("id") for i in inputs if i.get("kind") == "dataset"]
    shown_datasets = [d for d in datasets if d.id in dataset_ids] or datasets
    return {
        "record": record, "verified": v.verified, "problems": v.problems,
        "model": {"id": model.id, "label": model.label} if model else (
            {"id": model_id, "label": record.get("model_ref") or model_id} if model_id else None),
        "datasets": [{"id": d.id, "label": d.label} for d in shown_datasets],
        "seed": record.get("seed"), "latent_seed": record.get("latent_seed"), "task": record.get("task"),
        "job_id": record.get("job_id"), "params": record.get("params"),
        "source_type": record.get("digital_source_type"), "schema": record.get("schema"),
        "created_at": record.get("created_at"),
    }


# -- screenplays -------------------------------------------------------------------------------------
_SCRIPTS: OrderedDict[str, ScriptLayout | str] = OrderedDict()
_SCRIPTS_LOCK = threading.Lock()
_SCRIPTS_KEPT = 8


def _script_layout(page: Page, asset: Asset) -> ScriptLayout | str:
    """The paginated screenplay (or the parser's one-line complaint), cached by content: a long
    script is parsed and set once, then each view draws ten of its pages."""
    key = f"{asset.sha256}:{asset.name.rsplit('.', 1)[-1].lower()}"
    with _SCRIPTS_LOCK:
        if key in _SCRIPTS:
            _SCRIPTS.move_to_end(key)
            return _SCRIPTS[key]
    from reelforge.script.formats import MAX_SCRIPT_BYTES, parse_any

    try:
        with page.studio.blobs.open(asset.sha256) as fh:
            data = fh.read(MAX_SCRIPT_BYTES + 1)
        result: ScriptLayout | str = layout_screenplay(parse_any(data, asset.name))
    except ReelforgeError as exc:
        result = str(exc)
    with _SCRIPTS_LOCK:
        _SCRIPTS[key] = result
        while len(_SCRIPTS) > _SCRIPTS_KEPT:
            _SCRIPTS.popitem(last=False)
    return result


def _script_view(page: Page, asset: Asset, sp: int) -> dict[str, Any]:
    got = _script_layout(page, asset)
    if isinstance(got, str):
        return {"script_error": got}
    n = got.n_pages
    start = min(max(1, sp), max(1, n))
    start = (start - 1) // SCRIPT_PAGES_PER_VIEW * SCRIPT_PAGES_PER_VIEW + 1
    end = min(n, start + SCRIPT_PAGES_PER_VIEW - 1)
    base = f"/assets/{asset.id}"
    window = SCRIPT_PAGES_PER_VIEW
    return {
        "script": got,
        "script_pages": got.pages[start - 1:end],
        "script_first": start, "script_last": end,
        "script_prev": f"{base}?sp={start - window}#script" if start > 1 else None,
        "script_next": f"{base}?sp={start + window}#script" if end < n else None,
        "script_scene_links": [
            (f"{base}?sp={s['page']}#{s['anchor']}", s) for s in got.scenes
        ],
        "script_show_title": start == 1 and got.title_page is not None,
    }
