"""Studio administration: accounts and the studio-wide audit log (studio admins only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from reelforge.server.deps import API_PREFIX, CtxDep
from reelforge.server.routers.common import audit_page
from reelforge.server.schemas import UserIn, UserPatch

router = APIRouter(prefix=API_PREFIX, tags=["admin"])


@router.get("/users")
def list_users(c: CtxDep) -> dict[str, Any]:
    c.guard.require_studio_admin(c.p)
    return {"items": [u.to_dict() for u in c.studio.access.list_users()]}


@router.post("/users", status_code=201)
def create_user(body: UserIn, c: CtxDep) -> dict[str, Any]:
    c.guard.require_studio_admin(c.p)
    return c.studio.access.create_user(body.username, body.password, admin=body.admin).to_dict()


@router.get("/users/{user}")
def get_user(user: str, c: CtxDep) -> dict[str, Any]:
    c.guard.require_studio_admin(c.p)
    found = c.studio.access.get_user(user)
    return {**found.to_dict(), "roles": c.studio.access.roles_of(found.id),
            "tokens": [t.to_dict() for t in c.studio.access.list_tokens(found.id)]}


@router.patch("/users/{user}")
def update_user(user: str, body: UserPatch, c: CtxDep) -> dict[str, Any]:
    c.guard.require_studio_admin(c.p)
    access = c.studio.access
    found = access.get_user(user)
    if body.password is not None:
        found = access.set_password(found.id, body.password)
    if body.disabled is not None:
        found = access.set_disabled(found.id, body.disabled)
    if body.admin is not None:
        found = access.set_admin(found.id, body.admin)
    return found.to_dict()


@router.get("/audit")
def audit(
    c: CtxDep,
    actor: str | None = None,
    action: str | None = Query(None, description="exact, or a prefix ending in * (asset.*)"),
    project: str | None = None,
    target: str | None = None,
    since: float | None = Query(None, description="epoch seconds"),
    until: float | None = Query(None, description="epoch seconds"),
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    c.guard.require_studio_admin(c.p)
    project_id = c.guard.project(c.p, project).id if project else None
    return audit_page(c, actor=actor, action=action, project_id=project_id, target=target, since=since,
                      until=until, cursor=cursor, limit=limit)
