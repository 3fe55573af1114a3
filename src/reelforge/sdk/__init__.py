"""The remote SDK: a studio server through its HTTP API, shaped like a local ``Studio``::

    import reelforge
    studio = reelforge.connect("http://127.0.0.1:8750", token="rf_…")
    report = studio.assets.add(["plates/"], tags=["day1"])
    job = studio.jobs.submit("media.contact_sheet", {"assets": [a.id for a in report.added]}).wait()

A door, like ``cli/`` and ``server/``: it holds no catalog, imports no task module and nothing of
``reelforge.db`` (checked by ``tests/sdk/test_remote.py``); it speaks to ``/api/v1`` with httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.sdk.remote import RemoteStudio

__all__ = ["connect", "login"]


def connect(url: str, token: str | None = None, *, project: str | None = None, timeout: float = 60.0,
            transport: Any = None, verify: Any = True) -> RemoteStudio:
    """A studio server at ``url`` (``http(s)://host:port``). The token is the one given, else
    ``REELFORGE_TOKEN``, else the one ``reelforge login URL`` stored. ``project`` is what
    ``project=None`` means (default: the studio's default project). The token is checked now, so a
    wrong one fails here (``Unauthenticated``), not at the first call."""
    from reelforge.errors import Unauthenticated
    from reelforge.sdk.credentials import resolve_token
    from reelforge.sdk.http import Http
    from reelforge.sdk.remote import RemoteStudio

    secret = resolve_token(url, token)
    if not secret:
        raise Unauthenticated(f"no token for {url}: pass token=..., set REELFORGE_TOKEN or run `reelforge login {url}`")
    studio = RemoteStudio(Http(url, secret, timeout=timeout, transport=transport, verify=verify), project=project)
    try:
        studio.me()
    except BaseException:
        studio.close()
        raise
    return studio


def login(url: str, username: str, password: str, *, name: str = "reelforge-sdk",
          scopes: tuple[str, ...] = ("read", "write"), expires_in_days: float | None = None,
          transport: Any = None) -> dict[str, Any]:
    """A new API token for ``username``: sign in (a session), create the token, end the session.
    Returns the token as the server describes it, its secret in ``["token"]`` (shown only now)."""
    from reelforge.sdk.http import Http

    http = Http(url, None, transport=transport)
    try:
        r = http.request("POST", "/auth/login", json={"username": username, "password": password})
        # The session cookie is Secure: sent by hand, as a cookie jar would not over plain http.
        cookie = r.cookies.get("reelforge_session") or ""
        headers = {"Cookie": f"reelforge_session={cookie}", "X-CSRF-Token": r.json()["csrf_token"]}
        body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        try:
            token: dict[str, Any] = http.json("POST", "/auth/tokens", json=body, headers=headers)
        finally:
            http.request("POST", "/auth/logout", headers=headers)
        return token
    finally:
        http.close()
