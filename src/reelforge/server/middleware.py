"""ASGI middleware: forwarded headers from trusted proxies only; per request a JSON access-log line,
Prometheus counts and latency, and an audit event for every mutating API call.

Plain ASGI (not Starlette's ``BaseHTTPMiddleware``): streamed downloads and Server-Sent Events pass
through untouched, and the request's context (the acting user) stays one context.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from reelforge.access.actor import Actor, acting_as

if TYPE_CHECKING:
    from reelforge.server.config import Network
    from reelforge.server.metrics import Metrics
    from reelforge.studio import Studio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("reelforge.server.access")
log = logging.getLogger("reelforge.server")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Logins are audited by the access service itself (auth.login / auth.login_failed), with more detail.
_NOT_AUDITED = frozenset({"/api/v1/auth/login"})


_SHARE_LINK = re.compile(r"^/x/[^/]+")


def _redact(path: str) -> str:
    """A path fit for the access log: an exhibition's share link is a secret (whoever reads the log
    could open it), so its token is not written."""
    return _SHARE_LINK.sub("/x/<token>", path)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class ProxyHeadersMiddleware:
    """Believe ``X-Forwarded-For`` / ``X-Forwarded-Proto`` only from the configured proxies.

    The client address becomes the right-most address in X-Forwarded-For that is not itself a
    trusted proxy (a client can prepend anything; only what our proxies appended is true). From
    anyone else the headers are ignored, so nobody can spoof an address past the login limits.
    """

    def __init__(self, app: ASGIApp, networks: list[Network]) -> None:
        self.app, self.networks = app, networks

    def _trusted(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.networks:
            client = scope.get("client")
            if client and self._trusted(client[0]):
                forwarded = _header(scope, b"x-forwarded-for")
                if forwarded:
                    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
                    real = next((h for h in reversed(hops) if not self._trusted(h)), hops[0] if hops else None)
                    if real:
                        try:
                            scope["client"] = (str(ipaddress.ip_address(real)), 0)
                        except ValueError:
                            pass  # garbage in the header: keep the proxy's address
                proto = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
        await self.app(scope, receive, send)


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, studio: Studio, metrics: Metrics, *, log_requests: bool = True) -> None:
        self.app, self.studio, self.metrics, self.log_requests = app, studio, metrics, log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        sent = 0
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        if len(request_id) > 64 or not request_id.isprintable():
            request_id = uuid.uuid4().hex

        async def send_wrapper(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                sent += len(message.get("body") or b"")
            await send(message)

        with acting_as(None):  # nobody acts until the auth dependency says who
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                await self._after(scope, status, sent, time.perf_counter() - start, request_id)

    async def _after(self, scope: Scope, status: int, sent: int, seconds: float, request_id: str) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "<unmatched>"
        method = scope["method"]
        principal = (scope.get("state") or {}).get("principal")
        who = principal.label if principal is not None else "anonymous"
        self.metrics.observe(method, template, status, seconds)
        client = scope.get("client")
        if self.log_requests:
            access_log.info(json.dumps({
                "ts": round(time.time(), 3), "request_id": request_id, "method": method, "path": _redact(scope["path"]),
                "route": template, "status": status, "ms": round(seconds * 1000, 2), "bytes": sent,
                "client": client[0] if client else None, "actor": who,
                "token": getattr(principal, "token_id", None),
            }, separators=(",", ":")))
        path = scope["path"]
        if method in UNSAFE and path.startswith("/api/v1/") and path not in _NOT_AUDITED:
            actor = Actor(who, principal.user_id if principal is not None else None)
            try:
                await run_in_threadpool(self._audit, actor, method, template, path, status, principal)
            except Exception:  # the answer went out already; a failed audit write must be seen
                log.exception("could not write the audit event of %s %s", method, path)

    def _audit(self, actor: Actor, method: str, template: str, path: str, status: int, principal: Any) -> None:
        with acting_as(actor):
            self.studio.access.record("api.call", None, None, method=method, route=template, path=path[:500],
                                      status=status, token=getattr(principal, "token_id", None))
