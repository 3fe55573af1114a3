"""Sign-in and the caller's own credentials: login/logout (browser sessions), who am I, own tokens."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from reelforge.access.policy import SCOPES, WRITE
from reelforge.errors import NotFound, PermissionDenied
from reelforge.server.deps import API_PREFIX, CSRF_COOKIE, SESSION_COOKIE, CtxDep, client_address
from reelforge.server.schemas import LoginIn, TokenIn

router = APIRouter(prefix=API_PREFIX, tags=["auth"])


@router.post("/auth/login")
async def login(body: LoginIn, request: Request, response: Response) -> dict[str, Any]:
    """Start a browser session: an HttpOnly, SameSite=Strict cookie, and a CSRF token that every
    unsafe request of the session must send back as ``X-CSRF-Token``. Failed logins are limited
    per account and per address."""
    state = request.app.state
    access, config = state.studio.access, state.config
    user = await run_in_threadpool(access.login, body.username, body.password, client_address(request))
    lifetime = config.session_hours * 3600
    session = await run_in_threadpool(access.create_session, user.id, client_address(request), lifetime)
    cookie = {"max_age": int(lifetime), "secure": config.cookie_secure, "samesite": "strict", "path": "/"}
    response.set_cookie(SESSION_COOKIE, session.secret, httponly=True, **cookie)  # type: ignore[arg-type]
    # Readable by the page's script (double submit): it proves the request came from our pages.
    response.set_cookie(CSRF_COOKIE, session.csrf, httponly=False, **cookie)  # type: ignore[arg-type]
    response.headers["Cache-Control"] = "no-store"
    return {"user": user.to_dict(), "csrf_token": session.csrf, "expires_at": session.expires_at}


@router.post("/auth/logout", status_code=204)
def logout(c: CtxDep) -> Response:
    cookie = c.request.cookies.get(SESSION_COOKIE)
    if cookie and c.p.via == "session":
        c.studio.access.end_session(cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/auth/me")
def me(c: CtxDep) -> dict[str, Any]:
    projects = {proj.id: {"name": proj.name, "access": c.p.level(proj.id)} for proj in c.guard.visible_projects(c.p)}
    return {
        "user_id": c.p.user_id, "username": c.p.username, "studio_admin": c.p.is_admin,
        "scopes": sorted(c.p.scopes, key=SCOPES.__getitem__), "via": c.p.via, "token_id": c.p.token_id,
        "roles": dict(c.p.roles), "projects": projects,
        # What ``project=None`` means to clients (the SDK, ``--server``), as it does locally.
        "default_project": c.studio.settings.default_project,
    }


@router.get("/auth/tokens")
def my_tokens(c: CtxDep) -> dict[str, Any]:
    return {"items": [t.to_dict() for t in c.studio.access.list_tokens(c.p.user_id)]}


@router.post("/auth/tokens", status_code=201)
def create_token(body: TokenIn, c: CtxDep) -> dict[str, Any]:
    """A new token for the caller. Its secret is in this answer only. A credential cannot mint a
    token stronger than itself, and a read-only one mints none."""
    if c.p.scope_level < WRITE:
        raise PermissionDenied("a read-only credential cannot create tokens")
    if max(SCOPES[s] for s in body.scopes) > c.p.scope_level:
        raise PermissionDenied("a token cannot have a scope its creator's credential lacks")
    expires = body.expires_in_days * 86400 if body.expires_in_days else None
    token, secret = c.studio.access.create_token(c.p.user_id, body.name, scopes=body.scopes, expires_in=expires)
    return {**token.to_dict(), "token": secret, "created": time.time()}


@router.delete("/auth/tokens/{token_id}")
def revoke_token(token_id: str, c: CtxDep) -> dict[str, Any]:
    """Revoke one of the caller's tokens (a studio admin may revoke anyone's)."""
    try:
        token = c.studio.access.get_token(token_id)
    except NotFound:
        token = None
    if token is None or (token.user_id != c.p.user_id and not c.p.studio_admin):
        raise NotFound(f"no token {token_id!r}")
    if c.p.scope_level < WRITE:
        raise PermissionDenied("a read-only credential cannot revoke tokens")
    return c.studio.access.revoke_token(token_id).to_dict()
