"""Projects the caller can see, their members (roles) and their audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from reelforge.access.policy import ADMIN, LEVEL_NAMES, READ
from reelforge.errors import NotFound
from reelforge.server.deps import API_PREFIX, CtxDep
from reelforge.server.routers.common import audit_page
from reelforge.server.schemas import ProjectIn, RoleIn

router = APIRouter(prefix=API_PREFIX, tags=["projects"])


def _project(c: CtxDep, proj: Any) -> dict[str, Any]:
    return {**proj.to_dict(), "access": LEVEL_NAMES.get(c.p.level(proj.id))}


@router.get("/projects")
def list_projects(c: CtxDep) -> dict[str, Any]:
    """Only the projects the caller holds a role in (all of them for a studio admin)."""
    return {"items": [_project(c, p) for p in c.guard.visible_projects(c.p)]}


@router.post("/projects", status_code=201)
def create_project(body: ProjectIn, c: CtxDep) -> dict[str, Any]:
    """Studio admins create projects, then grant roles in them."""
    c.guard.require_studio_admin(c.p)
    return _project(c, c.studio.projects.create(body.name, body.description))


@router.get("/projects/{project}")
def get_project(project: str, c: CtxDep) -> dict[str, Any]:
    return _project(c, c.guard.project(c.p, project, READ))


@router.get("/projects/{project}/members")
def members(project: str, c: CtxDep) -> dict[str, Any]:
    proj = c.guard.project(c.p, project, READ)
    return {"items": [m.to_dict() for m in c.studio.access.members(proj.id)]}


@router.put("/projects/{project}/members/{user}")
def grant(project: str, user: str, body: RoleIn, c: CtxDep) -> dict[str, Any]:
    proj = c.guard.project(c.p, project, ADMIN)
    return c.studio.access.grant(user, proj.id, body.role).to_dict()


@router.delete("/projects/{project}/members/{user}", status_code=204)
def revoke(project: str, user: str, c: CtxDep) -> None:
    proj = c.guard.project(c.p, project, ADMIN)
    if not c.studio.access.revoke(user, proj.id):
        raise NotFound(f"{user!r} holds no role in this project")


@router.get("/projects/{project}/audit")
def project_audit(
    project: str, c: CtxDep, actor: str | None = None, action: str | None = None, target: str | None = None,
    since: float | None = None, until: float | None = None, cursor: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The project's audit events (project admins)."""
    proj = c.guard.project(c.p, project, ADMIN)
    return audit_page(c, actor=actor, action=action, project_id=proj.id, target=target, since=since,
                      until=until, cursor=cursor, limit=limit)
