"""Jobs: submit (params checked against the task's schema, inputs against the caller's access),
list, get, cancel, retry, logs, metrics, and live events (SSE); the task registry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from reelforge.access.policy import READ, WRITE
from reelforge.compute.registry import all_tasks, get_task, validate_params
from reelforge.server.deps import API_PREFIX, CtxDep
from reelforge.server.routers.common import job_dict
from reelforge.server.schemas import JobIn, JobPatch
from reelforge.server.sse import job_events

router = APIRouter(prefix=API_PREFIX, tags=["jobs"])


@router.post("/projects/{project}/jobs", status_code=201)
def submit(project: str, body: JobIn, c: CtxDep) -> dict[str, Any]:
    """Queue a job. It runs with the submitter's permissions: every input it names must be readable
    by them, in this project."""
    proj = c.guard.project(c.p, project, WRITE)
    spec = get_task(body.task)
    params = validate_params(spec, dict(body.params)).model_dump(mode="json")
    c.guard.check_job_inputs(c.p, spec, params, proj.id)
    handle = c.studio.jobs.submit(spec.name, params, project=proj.id, priority=body.priority, seed=body.seed,
                                  max_attempts=body.max_attempts)
    return job_dict(c, handle.job)


@router.get("/projects/{project}/jobs")
def list_jobs(
    project: str, c: CtxDep, status: str | None = None, task: str | None = None,
    sort: str = Query("id", description="id, created_at or priority"), order: str = Query("desc"),
    limit: int = Query(50, ge=1, le=500), cursor: str | None = None,
) -> dict[str, Any]:
    proj = c.guard.project(c.p, project, READ)
    page = c.studio.browse.jobs(proj.id, status=status, task=task, sort=sort, order=order, limit=limit, cursor=cursor)
    who = c.studio.access.submitters([j.id for j in page.items])
    return {"items": [job_dict(c, j, who) for j in page.items], "next_cursor": page.next_cursor}


@router.get("/jobs/{job_id}")
def get_job(job_id: str, c: CtxDep) -> dict[str, Any]:
    return job_dict(c, c.guard.job(c.p, job_id, READ))


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: str, c: CtxDep) -> dict[str, Any]:
    c.guard.job(c.p, job_id, WRITE)
    return job_dict(c, c.studio.jobs.cancel(job_id))


@router.post("/jobs/{job_id}/retry")
def retry(job_id: str, c: CtxDep) -> dict[str, Any]:
    c.guard.job(c.p, job_id, WRITE)
    return job_dict(c, c.studio.jobs.retry(job_id))


@router.get("/jobs/{job_id}/logs")
def logs(job_id: str, c: CtxDep, after: int = Query(0, ge=0, le=2**63 - 1),  # a 64-bit id column
         limit: int = Query(1000, ge=1, le=10_000)) -> dict[str, Any]:
    c.guard.job(c.p, job_id, READ)
    lines = c.studio.jobs.logs(job_id, after, limit)
    return {"items": lines, "next_after": lines[-1]["id"] if len(lines) == limit else None}


@router.get("/jobs/{job_id}/metrics")
def metrics(job_id: str, c: CtxDep, name: str | None = None) -> dict[str, Any]:
    c.guard.job(c.p, job_id, READ)
    series = c.studio.jobs.metrics(job_id, name)
    return {"series": {k: [{"step": s, "value": v} for s, v in pts] for k, pts in series.items()}}


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}})
def events(job_id: str, request: Request, c: CtxDep,
           after: int = Query(0, ge=0, le=2**63 - 1, description="log lines after this id only (a page that "
                              "read the log first); a reconnect's Last-Event-ID wins")) -> StreamingResponse:
    """Live progress, log lines and metrics until the job finishes (Server-Sent Events)."""
    c.guard.job(c.p, job_id, READ)
    last = request.headers.get("last-event-id", "")
    # ASCII digits that fit the id column: "²" is a digit to isdigit() and no number to int().
    if last.isascii() and last.isdigit() and len(last) <= 18:
        after = int(last)
    return StreamingResponse(job_events(c.studio.jobs, job_id, after_log=after), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.patch("/jobs/{job_id}")
def reorder(job_id: str, body: JobPatch, c: CtxDep) -> dict[str, Any]:
    """Change a queued job's priority (409 once it has started)."""
    c.guard.job(c.p, job_id, WRITE)
    return job_dict(c, c.studio.jobs.set_priority(job_id, body.priority))


@router.get("/queue", tags=["jobs"])
def queue_state(c: CtxDep) -> dict[str, Any]:
    """Whether workers are taking new jobs."""
    state = c.studio.jobs.queue_state()
    return {"paused": state["paused"], "changed_at": state["changed_at"]}


@router.post("/queue/pause", tags=["jobs"])
def pause_queue(c: CtxDep) -> dict[str, Any]:
    """Studio admins: workers take no new job until resumed (running jobs go on)."""
    c.guard.require_studio_admin(c.p)
    return c.studio.jobs.pause()


@router.post("/queue/resume", tags=["jobs"])
def resume_queue(c: CtxDep) -> dict[str, Any]:
    c.guard.require_studio_admin(c.p)
    return c.studio.jobs.resume()


@router.get("/workers", tags=["jobs"])
def workers(c: CtxDep) -> dict[str, Any]:
    """How many workers announced themselves recently: whether a queued job will be taken (a count,
    never who or where)."""
    return {"alive": c.studio.jobs.workers_alive()}


@router.get("/tasks", tags=["tasks"])
def tasks(c: CtxDep) -> dict[str, Any]:
    """Every registered task, with its parameters' JSON Schema."""
    return {"items": [t.to_dict() for t in all_tasks()]}


@router.get("/tasks/{name}", tags=["tasks"])
def task(name: str, c: CtxDep) -> dict[str, Any]:
    spec = get_task(name)
    return {**spec.to_dict(), "fields": [f.to_dict() for f in spec.param_fields()]}
