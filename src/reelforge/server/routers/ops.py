"""Operations: liveness, readiness and Prometheus metrics (no authentication: probes and scrapers
reach them; they tell counts, never content)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """The catalog database and the blob store answer: 200, else 503 with what failed."""
    studio = request.app.state.studio
    checks: dict[str, str] = {}
    try:
        studio.access.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        # A real read of the store: this studio's own registration (see Studio.__init__) is there.
        if studio.catalog_key not in studio.blobs.catalogs():
            studio.blobs.register_catalog(studio.catalog_key, {"home": str(studio.home.resolve())})
        checks["blobs"] = "ok" if studio.catalog_key in studio.blobs.catalogs() else "error: store not readable"
    except Exception as exc:
        checks["blobs"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    data, content_type = await run_in_threadpool(request.app.state.metrics.render)
    return Response(data, media_type=content_type)
