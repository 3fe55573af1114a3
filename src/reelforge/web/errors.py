"""Errors on pages answer as pages: a missing session goes to the sign-in page, anything else gets
an error page with the same one-line message the API would give (and the same status)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.responses import HTMLResponse, RedirectResponse

from reelforge.errors import ReelforgeError
from reelforge.web.deps import LoginRequired, language
from reelforge.web.render import PAGE_HEADERS, environment, static_version

if TYPE_CHECKING:
    from fastapi import FastAPI, Request


def is_page(path: str) -> bool:
    """Paths the UI answers (everything but the API, the ops endpoints and static files)."""
    return not path.startswith(("/api/", "/static/", "/healthz", "/readyz", "/metrics"))


def html_error(request: Request, exc: ReelforgeError) -> HTMLResponse | RedirectResponse:
    if isinstance(exc, LoginRequired):
        return RedirectResponse(f"/login?next={exc}", status_code=303)
    from reelforge.server.errors import code_of
    from reelforge.web import i18n

    lang = language(request)
    tr = i18n.translations(lang)
    html = environment().get_template("error.html").render(
        _=tr.gettext, gettext=tr.gettext, ngettext=tr.ngettext, status=exc.http_status, code=code_of(exc),
        message=str(exc), lang=lang, static_v=static_version(), user=None, project=None, projects=[],
        languages=i18n.LANGUAGES, path=request.url.path, full_path=request.url.path,
    )
    return HTMLResponse(html, status_code=exc.http_status, headers=PAGE_HEADERS)


def install_html_errors(app: FastAPI) -> None:
    app.state.html_error = html_error
