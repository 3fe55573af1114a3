"""Browser sessions over the API: secure cookies, CSRF on unsafe methods, logout, and login rate
limits per account and per address, every attempt in the audit log. Both catalog backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reelforge.studio import Studio
from tests.server.conftest import make_client

pytest.importorskip("fastapi")  # the server extra: pip install -e ".[server]"


@pytest.fixture
def site(studio: Studio) -> Iterator[tuple[Studio, Any]]:
    studio.projects.create("alpha")
    studio.access.create_user("alice", "correct horse battery")
    studio.access.grant("alice", "alpha", "editor")
    yield studio, make_client(studio, login_per_account=3, login_per_address=6)


def _login(client: Any, user: str = "alice", password: str = "correct horse battery") -> Any:
    return client.post("/api/v1/auth/login", json={"username": user, "password": password})


def test_session_cookie_and_csrf(site: tuple[Studio, Any]) -> None:
    studio, client = site
    r = _login(client)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    csrf = r.json()["csrf_token"]
    cookies = [v for k, v in r.headers.multi_items() if k == "set-cookie"]
    session = next(c for c in cookies if c.startswith("reelforge_session="))
    lowered = session.lower()
    assert "httponly" in lowered and "secure" in lowered and "samesite=strict" in lowered
    assert "httponly" not in next(c for c in cookies if c.startswith("reelforge_csrf=")).lower()
    # Reads need only the cookie.
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["via"] == "session"
    # Writes need the CSRF token as well: a cross-site form cannot send it.
    body = {"task": "system.ping"}
    r = client.post("/api/v1/projects/alpha/jobs", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
    r = client.post("/api/v1/projects/alpha/jobs", json=body, headers={"X-CSRF-Token": csrf + "x"})
    assert r.status_code == 403
    r = client.post("/api/v1/projects/alpha/jobs", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201 and r.json()["submitted_by"] == "alice"
    # A bearer token needs no CSRF token (browsers never add one on their own).
    _, token = studio.access.create_token("alice")
    fresh = make_client(studio)
    assert fresh.post("/api/v1/projects/alpha/jobs", json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 201
    # Logout ends the session on the server, not only in this browser.
    stolen = client.cookies.get("reelforge_session")
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    thief = make_client(studio)
    thief.cookies.set("reelforge_session", stolen)
    assert thief.get("/api/v1/auth/me").status_code == 401


def test_a_new_password_or_disabling_ends_sessions(site: tuple[Studio, Any]) -> None:
    studio, client = site
    _login(client)
    assert client.get("/api/v1/auth/me").status_code == 200
    studio.access.set_password("alice", "another long password")
    assert client.get("/api/v1/auth/me").status_code == 401
    assert _login(client, password="another long password").status_code == 200
    studio.access.set_disabled("alice")
    assert client.get("/api/v1/auth/me").status_code == 401


def test_login_rate_limits_per_account_and_per_address(site: tuple[Studio, Any]) -> None:
    studio, client = site
    for _ in range(3):
        assert _login(client, password="wrong password!").status_code == 401
    r = _login(client)  # the right password, but the account is locked for the window
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert r.json()["error"]["code"] == "rate_limited"
    # Another account from the same address still may, until the address has failed too often.
    studio.access.create_user("bob", "bob's long password")
    for name in ("carol", "dave", "erin"):
        assert _login(client, user=name, password="guess guess").status_code == 401
    assert _login(client, user="bob", password="bob's long password").status_code == 429
    events = studio.access.audit_events(action="auth.*")
    kinds = [e.action for e in reversed(events)]
    assert kinds == ["auth.login_failed"] * 3 + ["auth.login_limited"] + ["auth.login_failed"] * 3 \
        + ["auth.login_limited"]
    assert events[-1].actor == "anonymous" and events[-1].detail["username"] == "alice"


def test_good_logins_are_audited_and_reset_the_account_count(site: tuple[Studio, Any]) -> None:
    studio, client = site
    for _ in range(2):
        _login(client, password="wrong password!")
    assert _login(client).status_code == 200
    for _ in range(2):
        _login(client, password="wrong password!")
    assert _login(client).status_code == 200  # 2 failures since the last good login: under the limit
    ok = studio.access.audit_events(action="auth.login")
    assert len(ok) == 2 and ok[0].actor == "user:alice" and ok[0].detail["address"] == "testclient"


def test_login_takes_json_only(site: tuple[Studio, Any]) -> None:
    _, client = site
    r = client.post("/api/v1/auth/login", data={"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 400 and not client.cookies.get("reelforge_session")
