"""The remote SDK's transport: one httpx client per connection, bearer-token auth, and the server's
``{"error": {"code", "message"}}`` answers turned back into the ``reelforge.errors`` class that
raised them on the server, so a caller handles a remote ``NotFound`` like a local one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from reelforge import __version__, errors

if TYPE_CHECKING:
    import httpx

API_PREFIX = "/api/v1"

# An unknown code is mapped by its HTTP status (a newer server may know classes this client lacks).
_BY_STATUS: dict[int, type[errors.ReelforgeError]] = {
    400: errors.InvalidInput, 401: errors.Unauthenticated, 403: errors.PermissionDenied, 404: errors.NotFound,
    405: errors.InvalidInput, 409: errors.Conflict, 413: errors.LimitExceeded, 415: errors.InvalidInput,
    416: errors.InvalidInput, 422: errors.MediaError, 429: errors.RateLimited, 502: errors.Unavailable,
    503: errors.Unavailable, 504: errors.Unavailable,
}


def error_code(cls: type[BaseException]) -> str:
    """``NotFound`` → ``not_found``: the code the server sends for a class (``server/errors.py``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def _error_classes() -> dict[str, type[errors.ReelforgeError]]:
    """Every class of ``reelforge.errors`` by its code (only that module's: what a server may send
    must not depend on what else this process imported)."""
    found: dict[str, type[errors.ReelforgeError]] = {}
    todo: list[type[errors.ReelforgeError]] = [errors.ReelforgeError]
    while todo:
        cls = todo.pop()
        if cls.__module__ == errors.__name__:
            found[error_code(cls)] = cls
        todo.extend(cls.__subclasses__())
    return found


_BY_CODE = _error_classes()


def error_from(response: httpx.Response) -> errors.ReelforgeError:
    """The exception a failed answer stands for, with the server's one-line message."""
    status = response.status_code
    code: str | None = None
    message = ""
    try:
        body = response.json()["error"]
        code, message = str(body["code"]), str(body["message"])
    except Exception:  # not our error body (a proxy's page, a truncated answer)
        message = f"HTTP {status} {response.reason_phrase}".strip()
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status)
    if cls is None:
        # A 500 is the server's bug: its message says nothing of the internals, so say where it came from.
        return errors.ReelforgeError(f"the server failed (HTTP {status}): {message}")
    if issubclass(cls, errors.RateLimited):
        try:
            retry = float(response.headers.get("retry-after", "60"))
        except ValueError:
            retry = 60.0
        return cls(message, retry_after=retry)
    return cls(message)


def seg(value: str) -> str:
    """One path segment (a project name may hold spaces, '#' or '?')."""
    return quote(str(value), safe="")


def normalise_url(url: str) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing slash or ``/api/v1``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise errors.InvalidInput(f"invalid server URL {url!r}: expected http(s)://host[:port]")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise errors.InvalidInput(f"invalid server URL {url!r}: no credentials, query or fragment in it")
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


class Http:
    """Requests to one server's ``/api/v1``. Transport failures are ``Unavailable``; error answers
    raise their ``reelforge.errors`` class."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 60.0, transport: Any = None,
                 verify: Any = True) -> None:
        try:
            import httpx
        except ImportError:
            raise errors.InvalidInput("connecting to a server needs httpx: pip install 'reelforge[server]'") from None
        self.url = normalise_url(url)
        headers = {"User-Agent": f"reelforge-sdk/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._httpx = httpx
        self.client = httpx.Client(
            base_url=self.url + API_PREFIX, headers=headers, transport=transport, verify=verify,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), follow_redirects=False,
        )

    def timeout(self, *, read: float) -> httpx.Timeout:
        return self._httpx.Timeout(read, connect=10.0)

    def close(self) -> None:
        self.client.close()

    def _check(self, r: httpx.Response) -> httpx.Response:
        if r.status_code >= 400:
            if r.is_stream_consumed is False:
                r.read()
            raise error_from(r)
        if 300 <= r.status_code < 400:
            raise errors.Unavailable(f"{self.url} answered with a redirect to {r.headers.get('location', '?')!r} "
                                     "(use that address)")
        return r

    def _unavailable(self, exc: Exception) -> errors.Unavailable:
        what = "no answer in time" if isinstance(exc, self._httpx.TimeoutException) else str(exc) or type(exc).__name__
        return errors.Unavailable(f"cannot reach the server at {self.url}: {what}")

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self.client.request(method, path, **kw)
        except self._httpx.TransportError as exc:
            raise self._unavailable(exc) from None
        return self._check(r)

    def json(self, method: str, path: str, **kw: Any) -> Any:
        r = self.request(method, path, **kw)
        return None if r.status_code == 204 or not r.content else r.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.json("GET", path, params={k: v for k, v in params.items() if v is not None} or None)

    @contextmanager
    def stream(self, method: str, path: str, **kw: Any) -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives (downloads, Server-Sent Events)."""
        try:
            with self.client.stream(method, path, **kw) as r:
                self._check(r)
                yield r
        except self._httpx.TransportError as exc:
            raise self._unavailable(exc) from None

    def pages(self, path: str, params: dict[str, Any], *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paged listing (``items`` + ``next_cursor``), at most ``limit``."""
        params = {k: v for k, v in params.items() if v is not None and v != []}
        params.setdefault("limit", 500)  # the servers' largest page: fewest round trips
        given = 0
        while True:
            if limit is not None:
                params["limit"] = max(1, min(500, limit - given))
            page = self.json("GET", path, params=params)
            for item in page["items"]:
                if limit is not None and given >= limit:
                    return
                given += 1
                yield item
            cursor = page.get("next_cursor")
            if not cursor or (limit is not None and given >= limit):
                return
            params["cursor"] = cursor
