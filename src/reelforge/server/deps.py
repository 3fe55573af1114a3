"""Auth dependencies: who is calling (a bearer token or a session cookie with its CSRF header),
and the per-request objects routes need.

``principal`` is ``async`` on purpose: it sets the acting user (``reelforge.access.actor``) in the
request's own context, which the sync routes FastAPI runs in threads inherit, so every audit event
and job a request causes names its user. (A sync dependency would set it in a thread's copy of the
context, where it would be lost.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from reelforge.access.actor import Actor, set_actor
from reelforge.access.policy import Principal
from reelforge.errors import PermissionDenied, Unauthenticated

if TYPE_CHECKING:
    from reelforge.access.guard import Guard
    from reelforge.server.config import ServerConfig
    from reelforge.studio import Studio

API_PREFIX = "/api/v1"
SESSION_COOKIE = "reelforge_session"
CSRF_COOKIE = "reelforge_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def principal(request: Request) -> Principal:
    """The authenticated caller, or 401. Token callers need no CSRF token (a browser never adds an
    Authorization header by itself); session callers must echo theirs on unsafe methods."""
    studio: Studio = request.app.state.studio
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated("use the header Authorization: Bearer <token>")
        p = await run_in_threadpool(studio.access.authenticate_token, credential.strip())
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthenticated("authentication required: a bearer token or a session (POST /api/v1/auth/login)")
        p, csrf_hash = await run_in_threadpool(studio.access.authenticate_session, cookie)
        if request.method not in SAFE_METHODS and not studio.access.csrf_matches(
            csrf_hash, request.headers.get(CSRF_HEADER)
        ):
            raise PermissionDenied("missing or wrong CSRF token (send the X-CSRF-Token header of your session)")
    request.state.principal = p
    set_actor(Actor(p.label, p.user_id))
    return p


@dataclass
class Ctx:
    """What a route works with: the caller, the studio's services and the guard."""

    p: Principal
    studio: Studio
    guard: Guard
    config: ServerConfig
    request: Request


async def ctx(request: Request, p: Annotated[Principal, Depends(principal)]) -> Ctx:
    state = request.app.state
    return Ctx(p, state.studio, state.guard, state.config, request)


CtxDep = Annotated[Ctx, Depends(ctx)]


def client_address(request: Request) -> str:
    """The caller's address (already the forwarded one when it came through a trusted proxy)."""
    return request.client.host if request.client else ""
