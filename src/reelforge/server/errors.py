"""The one mapping from errors to HTTP answers: ``{"error": {"code", "message"}}`` with the status
the error class carries (``reelforge.errors``: ``http_status``).

Request validation (FastAPI's 422) is answered 400 ``invalid_input`` like every other bad input;
routing errors (unknown path, wrong method) get the same body; anything unexpected is a 500 whose
message says nothing of the internals (the traceback goes to the server log).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidInput, RateLimited, ReelforgeError, Unauthenticated

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

log = logging.getLogger("reelforge.server")


class UnsupportedMediaType(InvalidInput):
    """A request body of a type this route does not take (not multipart, an upload whose declared
    type contradicts its content)."""

    http_status = 415


_HTTP_CODES = {400: "invalid_input", 401: "unauthenticated", 403: "permission_denied", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "limit_exceeded", 415: "unsupported_media_type",
               416: "range_not_satisfiable", 422: "media_error", 429: "rate_limited"}


def code_of(exc: ReelforgeError) -> str:
    """``NotFound`` → ``not_found``, ``LimitExceeded`` → ``limit_exceeded``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(exc: ReelforgeError) -> JSONResponse:
    from fastapi.responses import JSONResponse

    headers: dict[str, str] = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="reelforge"'
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, int(exc.retry_after)))
    return JSONResponse(body(code_of(exc), str(exc)), status_code=exc.http_status, headers=headers)


def install(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @app.exception_handler(ReelforgeError)
    async def _reelforge(request: Request, exc: ReelforgeError) -> Any:
        # Pages of the web UI (reelforge.web) answer with a page or a redirect to the sign-in page.
        html_error = getattr(request.app.state, "html_error", None)
        if html_error is not None and not request.url.path.startswith(("/api/", "/healthz", "/readyz", "/metrics")):
            return html_error(request, exc)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        message = " ".join(f"{where}: {first.get('msg', 'invalid')}{more}".split())
        return JSONResponse(body("invalid_input", message), status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Any:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        html_error = getattr(request.app.state, "html_error", None)
        if (html_error is not None and exc.status_code == 404 and request.method == "GET"
                and not request.url.path.startswith(("/api/", "/static/"))):
            from reelforge.errors import NotFound

            return html_error(request, NotFound(f"no page {request.url.path!r}"))
        return JSONResponse(body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(body("internal", "internal error"), status_code=500)
