"""The way in: ``/`` goes to the last project used (or the first the caller may see); a project's
home shows recent assets, running and queued jobs, and the latest outputs."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reelforge.errors import NotFound
from reelforge.web.deps import PROJECT_COOKIE, PageDep

router = APIRouter()


@router.get("/")
def root(page: PageDep) -> Response:
    projects = page.projects
    if not projects:
        return page.render("home/empty.html")
    wanted = page.request.cookies.get(PROJECT_COOKIE)
    target = next((p for p in projects if p.id == wanted), projects[0])
    return RedirectResponse(f"/p/{target.name}", status_code=303)


@router.get("/p/{project}")
def project_home(project: str, page: PageDep) -> HTMLResponse:
    proj = page.project(project)
    browse = page.studio.browse
    recent = browse.assets(proj.id, sort="created_at", order="desc", limit=12).items
    running = browse.jobs(proj.id, status="running", limit=10).items
    queued = browse.jobs(proj.id, status="queued", limit=10).items
    recent_jobs = browse.jobs(proj.id, limit=8).items
    outputs = [a for a in browse.assets(proj.id, sort="created_at", order="desc", limit=200).items
               if a.created_by_job][:8]
    try:
        models = sorted(page.studio.models.list(project=proj.id), key=lambda m: m.created_at, reverse=True)[:4]
    except NotFound:
        models = []
    return page.render("home/project.html", project=proj, recent=recent, running=running, queued=queued,
                       recent_jobs=recent_jobs, outputs=outputs, models=models)
