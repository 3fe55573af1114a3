"""Pages: the project's model registry and one model: its config and metrics, the training curves
(drawn by the page's script from ``/api/v1/jobs/{id}/metrics``), the sample grids saved while it
trained, its files and where it came from, and links to the job launcher for what it can do."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from reelforge.access.policy import READ
from reelforge.errors import InvalidInput, NotFound
from reelforge.web.deps import Page, PageDep
from reelforge.web.i18n import N_

if TYPE_CHECKING:
    from reelforge.catalog.entities import Asset, DatasetVersion, Model

router = APIRouter()
MAX_SAMPLES = 500  # sample grids shown on the strip (a long run saves one every sample_every steps)
_STEP = re.compile(r"step_(\d+)")

# What a model of a kind can be used for: (task, its model parameter, label key). The launcher
# fills any ?<param>=<value> it is given.
ACTIONS: dict[str, list[tuple[str, str]]] = {
    "gan": [("gan.sample", N_("Sample")), ("gan.walk", N_("Walk")), ("gan.evaluate", N_("Evaluate"))],
    "dialogue-lm": [("script.generate", N_("Generate dialogue"))],
}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def key_metrics(model: Model, n: int = 3) -> list[tuple[str, Any]]:
    """The few numbers worth a column in a list: losses and scores first, counts last."""
    nums = [(k, v) for k, v in model.metrics.items() if _number(v)]
    counts = ("images", "steps", "documents", "embedded_now", "characters")
    nums.sort(key=lambda kv: (kv[0] in counts, kv[0]))
    return nums[:n]


def fmt_metric(v: Any) -> str:
    if isinstance(v, bool) or not _number(v):
        return str(v)
    if isinstance(v, int) or (float(v).is_integer() and abs(v) >= 1):
        return f"{int(v):,}"
    return f"{v:.4g}"


def _step_of(a: Asset) -> int:
    gen = a.meta.get("generation") if isinstance(a.meta.get("generation"), dict) else {}
    step = gen.get("step") if gen else None
    if _number(step):
        return int(step)
    m = _STEP.search(a.name)
    return int(m.group(1)) if m else 0


@router.get("/p/{project}/models")
def models(project: str, page: PageDep) -> HTMLResponse:
    proj = page.project(project)
    items = page.studio.models.list(proj.id)
    latest: dict[str, int] = {}
    for m in items:
        latest[m.name] = max(latest.get(m.name, 0), m.version)
    kinds = sorted({m.kind for m in items})
    return page.render("models/list.html", project=proj, models=items, latest=latest, kinds=kinds,
                       key_metrics=key_metrics, fmt=fmt_metric)


def _split_config(config: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[tuple[str, dict[str, Any]]]]:
    flat = [(k, v) for k, v in config.items() if not isinstance(v, dict)]
    nested = [(k, v) for k, v in config.items() if isinstance(v, dict)]
    return flat, nested


def _dataset(page: Page, ref: str, project_id: str) -> DatasetVersion | None:
    """The dataset version a model trained on (an id, or a NAME@N of its project), if visible."""
    try:
        if ref.split("@")[0][:4] not in ("dst_", "dsv_"):
            ref = page.studio.datasets.get(ref, project_id, with_items=False).id
        return page.guard.dataset(page.p, ref, READ)
    except (NotFound, InvalidInput):
        return None


@router.get("/models/{model_id}")
def model(model_id: str, page: PageDep) -> HTMLResponse:
    m = page.guard.model(page.p, model_id, READ)
    proj = page.project(m.project_id)
    job = dataset = None
    samples: list[Asset] = []
    if m.created_by_job:
        try:
            job = page.guard.job(page.p, m.created_by_job, READ)
        except NotFound:
            job = None
    if job is not None:
        found = page.studio.browse.assets(proj.id, created_by_job=job.id, tags=["training-sample"],
                                          limit=MAX_SAMPLES).items
        samples = sorted(found, key=lambda a: (_step_of(a), a.id))
    ds_ref = m.config.get("dataset") or (job.params.get("dataset") if job else None)
    if isinstance(ds_ref, str) and ds_ref:
        dataset = _dataset(page, ds_ref, proj.id)
    versions = [x for x in page.studio.models.list(proj.id) if x.name == m.name]
    actions = [(task, page._(label)) for task, label in ACTIONS.get(m.kind, [])]
    flat, nested = _split_config(m.config)
    metrics = sorted(m.metrics.items())
    strip = [{"id": a.id, "step": _step_of(a), "name": a.name, "thumb": bool(a.thumb_sha256)} for a in samples]
    return page.render(
        "models/model.html", project=proj, model=m, job=job, dataset=dataset, samples=samples, strip=strip,
        steps_of=_step_of, versions=versions, actions=actions, flat=flat, nested=nested, metrics=metrics,
        fmt=fmt_metric, total_size=sum(f.size for f in m.files),
    )
