"""Sign in and out, and the language switch.

The sign-in form posts here (it works without script); it sets the same HttpOnly session cookie
and readable CSRF cookie as ``POST /api/v1/auth/login``, under the same login limits.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from reelforge.errors import RateLimited, ReelforgeError, Unauthenticated
from reelforge.server.deps import CSRF_COOKIE, SESSION_COOKIE, client_address
from reelforge.web import i18n
from reelforge.web.deps import language, safe_next
from reelforge.web.render import PAGE_HEADERS, environment, static_version

router = APIRouter()


def _login_page(request: Request, *, error: str | None = None, status: int = 200, username: str = "") -> HTMLResponse:
    lang = language(request)
    tr = i18n.translations(lang)
    html = environment().get_template("login.html").render(
        _=tr.gettext, gettext=tr.gettext, ngettext=tr.ngettext, lang=lang, languages=i18n.LANGUAGES,
        static_v=static_version(), user=None, project=None, projects=[], error=error, username=username,
        next=safe_next(request.query_params.get("next")), path="/login", full_path="/login",
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login")
async def login(request: Request, username: Annotated[str, Form(max_length=200)] = "",
                password: Annotated[str, Form(max_length=1024)] = "",
                next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    state = request.app.state
    access, config = state.studio.access, state.config
    tr = i18n.translations(language(request))
    try:
        user = await run_in_threadpool(access.login, username, password, client_address(request))
    except RateLimited:
        return _login_page(request, error=tr.gettext("Too many failed attempts. Wait a few minutes and try again."),
                           status=429, username=username)
    except (Unauthenticated, ReelforgeError):
        return _login_page(request, error=tr.gettext("Wrong user name or password."), status=401, username=username)
    lifetime = config.session_hours * 3600
    session = await run_in_threadpool(access.create_session, user.id, client_address(request), lifetime)
    response = RedirectResponse(safe_next(next), status_code=303)
    cookie = {"max_age": int(lifetime), "secure": config.cookie_secure, "samesite": "strict", "path": "/"}
    response.set_cookie(SESSION_COOKIE, session.secret, httponly=True, **cookie)  # type: ignore[arg-type]
    response.set_cookie(CSRF_COOKIE, session.csrf, httponly=False, **cookie)  # type: ignore[arg-type]
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Sign out (the form carries the CSRF token: no other site can sign a user out)."""
    access = request.app.state.studio.access
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            _, csrf_hash = await run_in_threadpool(access.authenticate_session, cookie)
        except Unauthenticated:
            csrf_hash = None
        if csrf_hash is not None and access.csrf_matches(csrf_hash, csrf):
            await run_in_threadpool(access.end_session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def set_language(code: str, request: Request) -> Response:
    """Switch the UI's language (a preference cookie), then back to the page."""
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    if code in i18n.LANGUAGES:
        response.set_cookie(i18n.LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response
