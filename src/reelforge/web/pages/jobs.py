"""The queue and the job page.

``/p/{project}/jobs`` is the live queue: running jobs with progress, queued jobs in the order the
workers will take them (drag or move up/down to reorder), the queue's pause state, and the history
(paged, filtered by status). ``/jobs/{id}`` is one job: its record, a live progress bar, log tail,
metric plots and training sample grids. Both read here; every change goes through the API from
``jobs.js``, which also keeps them live (polling the API, or the job's Server-Sent Events).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from reelforge.access.policy import READ
from reelforge.compute.jobs import JobStatus
from reelforge.errors import InvalidInput, NotFound
from reelforge.web.deps import Page, PageDep

if TYPE_CHECKING:
    from reelforge.catalog.entities import Project
    from reelforge.compute.jobs import Job

router = APIRouter()

HISTORY_PAGE = 25
QUEUE_SHOWN = 200  # queued jobs shown (in run order); the count says when there are more
STATUSES = tuple(s.value for s in JobStatus)


def job_json(job: Job, submitters: dict[str, str | None]) -> dict[str, Any]:
    """A job as the API shows it (what the page's script keeps rendering from the API)."""
    return {**job.to_dict(), "submitted_by": submitters.get(job.id)}


def _queued_in_run_order(page: Page, project_id: str) -> tuple[list[Job], bool]:
    """Queued jobs as the workers will take them: priority (highest first), then due time, then id."""
    got = page.studio.browse.jobs(project_id, status="queued", sort="priority", order="desc", limit=QUEUE_SHOWN)
    return sorted(got.items, key=lambda j: (-j.priority, j.run_after, j.id)), got.next_cursor is not None


def _history(page: Page, proj: Project, status: str | None, cursor: str | None) -> dict[str, Any]:
    if status and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
    got = page.studio.browse.jobs(proj.id, status=status or None, limit=HISTORY_PAGE, cursor=cursor or None)
    return {"history": got.items, "next_cursor": got.next_cursor, "filter_status": status or "", "cursor": cursor or "",
            "submitters": page.studio.access.submitters([j.id for j in got.items]), "statuses": STATUSES}


@router.get("/p/{project}/jobs")
def queue(project: str, page: PageDep, status: str | None = None, cursor: str | None = None) -> HTMLResponse:
    proj = page.project(project)
    running = page.studio.browse.jobs(proj.id, status="running", limit=100).items
    queued, more = _queued_in_run_order(page, proj.id)
    who = page.studio.access.submitters([j.id for j in running + queued])
    state = page.studio.jobs.queue_state()
    # As GET /api/v1/queue shows it: whether and since when, not who (that is for the audit log).
    live = {"running": [job_json(j, who) for j in running], "queued": [job_json(j, who) for j in queued],
            "more_queued": more, "queue": {"paused": state["paused"], "changed_at": state["changed_at"]},
            "workers": page.studio.jobs.workers_alive()}
    return page.render("jobs/queue.html", project=proj, live=live, studio_admin=page.p.studio_admin,
                       fmt_duration=duration_text, **_history(page, proj, status, cursor))


@router.get("/p/{project}/jobs/history")
def history(project: str, page: PageDep, status: str | None = None, cursor: str | None = None) -> HTMLResponse:
    """The history table alone (the queue page swaps it in when jobs finish)."""
    proj = page.project(project)
    return page.render("jobs/_history.html", project=proj, fmt_duration=duration_text,
                       **_history(page, proj, status, cursor))


def _job_context(page: Page, job_id: str) -> dict[str, Any]:
    job = page.guard.job(page.p, job_id, READ)
    proj = page.studio.projects.get(job.project_id)
    outputs = page.studio.browse.assets(proj.id, created_by_job=job.id, sort="created_at", order="desc", limit=48)
    try:
        models = [m for m in page.studio.models.list(project=proj.id) if m.created_by_job == job.id]
    except NotFound:
        models = []
    inputs = job.inputs or page.studio.jobs.inputs(job.id)
    end = job.finished_at or (time.time() if job.started_at else None)
    return {
        "project": proj, "job": job, "submitter": page.studio.access.submitters([job.id]).get(job.id),
        "params_text": json.dumps(job.params, indent=2, ensure_ascii=False, default=str),
        "result_text": json.dumps(job.result, indent=2, ensure_ascii=False, default=str) if job.result else "",
        "outputs": outputs.items, "more_outputs": outputs.next_cursor is not None, "models": models,
        "inputs": inputs, "duration": (end - job.started_at) if end and job.started_at else None,
        "waited": ((job.started_at or time.time()) - job.created_at) if job.created_at else None,
        "fmt_duration": duration_text,
    }


@router.get("/jobs/{job_id}")
def job_page(job_id: str, page: PageDep) -> HTMLResponse:
    ctx = _job_context(page, job_id)
    return page.render("jobs/job.html", **ctx)


@router.get("/jobs/{job_id}/summary")
def job_summary(job_id: str, page: PageDep, part: str = Query("details", pattern="^(details|outputs)$")) -> HTMLResponse:
    """One panel of the job page (swapped in by the page's script when the job ends)."""
    ctx = _job_context(page, job_id)
    return page.render(f"jobs/_{part}.html", **ctx)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 0.1:
        return "< 0.1 s"
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


__all__ = ["duration_text", "router"]
