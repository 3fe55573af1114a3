"""The published OpenAPI document says every answer the server gives: FastAPI documents the success
and its own 422, while this server answers bad input with 400 and every refusal with the one error
body of ``errors.py``. ``install`` rewrites the generated document once: the ``Error`` schema, the
error statuses each kind of operation can answer, and the real types of binary and text answers.
``tests/server/test_schemathesis.py`` holds the document to the server's answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["code", "message"], "additionalProperties": False,
        "properties": {"code": {"type": "string", "description": "not_found, invalid_input, conflict, ..."},
                       "message": {"type": "string", "description": "one line for a person"}},
    }},
}
_DESCRIPTIONS = {
    400: "Bad input (a parameter, a body, a cursor)", 401: "No valid credentials",
    403: "The credential's role or scopes do not allow it (or a missing CSRF token)",
    404: "No such thing, or one the caller may not see", 409: "Conflicts with the current state",
    413: "Over a size limit", 415: "Not multipart, or declared as another type than its content",
    416: "The range asked for is not in the file", 422: "The file is not valid media",
    429: "Too many attempts", 503: "Not ready",
}
_BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
_DOWNLOADS = ("/api/v1/assets/{asset_id}/content", "/api/v1/assets/{asset_id}/thumbnail",
              "/api/v1/models/{model_id}/files/{name}")
_UPLOADS = ("/api/v1/projects/{project}/assets", "/api/v1/projects/{project}/provenance")


def _error(status: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"description": _DESCRIPTIONS[status], "content": {"application/json": {"schema": ERROR_REF}}}
    if status == 401:
        doc["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    if status == 429:
        doc["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}
    return doc


def statuses(path: str, method: str) -> set[int]:
    """The error statuses an operation can answer."""
    if not path.startswith("/api/v1/"):
        return set()  # probes and the scraper: no auth, no input
    out = {400, 401, 403, 404}
    if method != "get":
        out.add(409)
    if path == "/api/v1/auth/login":
        out = {400, 401, 403, 429}
    if path in _UPLOADS and method == "post":
        out |= {413, 415, 422}
    if path in _DOWNLOADS:
        out.add(416)
    return out


def rewrite(doc: dict[str, Any]) -> dict[str, Any]:
    doc.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    schemas = doc["components"]["schemas"]
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's validation answer: this server says 400 instead
            for status in sorted(statuses(path, method)):
                responses.setdefault(str(status), _error(status))
            if path in _DOWNLOADS:
                ok = responses.setdefault("200", {"description": "The bytes"})
                ok["content"] = dict(_BINARY)
                responses["206"] = {"description": "The range asked for", "content": dict(_BINARY)}
                responses["304"] = {"description": "Not modified (If-None-Match)"}
            if path == "/api/v1/projects/{project}/assets" and method == "post" and "201" in responses:
                responses["200"] = {**responses["201"], "description": "The project already held these bytes: that asset"}
            if path == "/metrics":
                responses["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
            if path == "/readyz":
                ready = {"application/json": {"schema": {"type": "object"}}}
                responses["200"]["content"] = ready
                responses["503"] = {"description": _DESCRIPTIONS[503], "content": ready}
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)  # referenced only by the 422s removed above
    return doc


def install(app: FastAPI) -> None:
    """Serve the rewritten document (built once, on first request)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = rewrite(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                openapi_version=app.openapi_version,
            ))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
