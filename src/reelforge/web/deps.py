"""What every page works with: the signed-in caller (or a redirect to the sign-in page), the
studio, the guard, the language and the current project.

Pages only read. Every change a page offers goes through the REST API (``/api/v1``) from the
page's script with the session's CSRF token, so the browser is held to exactly the permissions,
limits and audit of every other client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from reelforge.access.policy import WRITE, Principal
from reelforge.errors import ReelforgeError, Unauthenticated
from reelforge.server.deps import CSRF_COOKIE, principal
from reelforge.web import i18n
from reelforge.web.render import PAGE_HEADERS, environment, static_version

if TYPE_CHECKING:
    from reelforge.access.guard import Guard
    from reelforge.catalog.entities import Project
    from reelforge.server.config import ServerConfig
    from reelforge.studio import Studio

PROJECT_COOKIE = "reelforge_project"


class LoginRequired(ReelforgeError):
    """A page asked for without a session: answered by a redirect to /login?next=…"""

    http_status = 401


def safe_next(target: str | None) -> str:
    """A local path to go back to after signing in (never another site: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@dataclass
class Page:
    """A request for a page by a signed-in caller."""

    p: Principal
    studio: Studio
    guard: Guard
    config: ServerConfig
    request: Request
    lang: str
    _projects: list[Project] | None = field(default=None, repr=False)

    def _(self, message: str) -> str:
        return i18n.translations(self.lang).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return i18n.translations(self.lang).ngettext(singular, plural, n)

    @property
    def projects(self) -> list[Project]:
        """The projects the caller may see (the project switcher)."""
        if self._projects is None:
            self._projects = self.guard.visible_projects(self.p)
        return self._projects

    def project(self, ref: str, level: int = 1) -> Project:
        """A project the caller may see at ``level`` (404 otherwise, as in the API)."""
        return self.guard.project(self.p, ref, level)

    def can_write(self, project_id: str) -> bool:
        return self.p.level(project_id) >= WRITE

    def render(self, template: str, *, status: int = 200, project: Project | None = None,
               **context: Any) -> HTMLResponse:
        """Render ``template`` with the page's common context: the caller, the project switcher,
        the language, the CSRF token for the page's script, and gettext as ``_``."""
        tr = i18n.translations(self.lang)
        html = environment().get_template(template).render(
            _=tr.gettext, gettext=tr.gettext, ngettext=tr.ngettext,
            page=self, user=self.p, project=project, projects=self.projects,
            can_write=self.can_write(project.id) if project is not None else False,
            lang=self.lang, languages=i18n.LANGUAGES, static_v=static_version(),
            path=self.request.url.path, full_path=_full_path(self.request),
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
        if project is not None:
            response.set_cookie(PROJECT_COOKIE, project.id, max_age=365 * 86400, samesite="strict",
                                httponly=True, secure=self.config.cookie_secure, path="/")
        return response


def _full_path(request: Request) -> str:
    q = request.url.query
    return request.url.path + (f"?{q}" if q else "")


def language(request: Request) -> str:
    return i18n.negotiate(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language"))


async def page(request: Request) -> Page:
    """The signed-in caller of a page; without a (valid) session, LoginRequired → /login."""
    try:
        p = await principal(request)
    except Unauthenticated:
        raise LoginRequired(quote(_full_path(request), safe="/?=&")) from None
    state = request.app.state
    return Page(p, state.studio, state.guard, state.config, request, language(request))


PageDep = Annotated[Page, Depends(page)]


async def in_thread(fn: Any, *args: Any, **kw: Any) -> Any:
    return await run_in_threadpool(fn, *args, **kw)


__all__ = ["CSRF_COOKIE", "LoginRequired", "Page", "PageDep", "in_thread", "language", "safe_next"]
