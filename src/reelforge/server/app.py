"""The FastAPI app of one studio: ``create_app(studio)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from reelforge import __version__
from reelforge.access.guard import Guard
from reelforge.access.service import LoginLimits
from reelforge.server import errors, openapi
from reelforge.server.config import ServerConfig
from reelforge.server.deps import API_PREFIX
from reelforge.server.metrics import Metrics
from reelforge.server.middleware import ObservabilityMiddleware, ProxyHeadersMiddleware
from reelforge.server.routers import admin, assets, auth, boards, datasets, jobs, lineage, ops, projects

if TYPE_CHECKING:
    from collections.abc import Callable

    from reelforge.studio import Studio


# Every router of the API (the permission-matrix test walks their routes).
ROUTERS = tuple(m.router for m in (ops, auth, projects, assets, datasets, jobs, lineage, admin, boards))


def create_app(studio: Studio, config: ServerConfig | None = None,
               embedded_workers: Callable[[], int] = lambda: 0) -> FastAPI:
    """The API over ``studio``'s services. The app holds the studio; whoever made the studio closes it."""
    config = config or ServerConfig.load(studio.settings)
    studio.access.login_limits = LoginLimits(window=config.login_window_seconds, per_account=config.login_per_account,
                                             per_address=config.login_per_address)
    app = FastAPI(
        title="reelforge", version=__version__,
        description="The studio server: projects, assets, datasets, models, jobs and lineage of one studio.",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,  # no CDN assets: no network
    )
    app.state.studio = studio
    app.state.config = config
    app.state.guard = Guard(studio.projects, studio.assets, studio.datasets, studio.models, studio.jobs)
    app.state.metrics = metrics = Metrics(studio.jobs, embedded_workers)
    errors.install(app)
    openapi.install(app)  # the document states the error answers and binary types too
    # Each router carries the /api/v1 prefix itself, so its routes' paths (the metrics' and
    # access log's route labels) are the full templates.
    for router in ROUTERS:
        app.include_router(router)
    if config.web_ui:
        from reelforge.web import install as install_web

        install_web(app)  # the browser UI: pages and /static, outside the API's schema
    # Added last = outermost: the proxy middleware fixes the client address before anything reads it.
    app.add_middleware(ObservabilityMiddleware, studio=studio, metrics=metrics, log_requests=config.access_log)
    app.add_middleware(ProxyHeadersMiddleware, networks=config.networks())
    return app
