"""The web studio: server-rendered pages (Jinja, gettext) with a little vendored JavaScript,
served by the same app as the REST API. ``install(app)`` adds the pages and ``/static``.

Pages read through the studio's services and the same ``Guard`` as the API; every change goes
through ``/api/v1`` from the page's script (see ``deps.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    from reelforge.web.errors import install_html_errors
    from reelforge.web.pages import ROUTERS
    from reelforge.web.static import StaticFiles

    app.mount("/static", StaticFiles(), name="static")
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    install_html_errors(app)
