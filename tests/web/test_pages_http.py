"""The shell's promises over plain HTTP (no browser): sign-in never sends a user to another site,
pages carry their security headers, errors are pages on the UI's paths and JSON on the API's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reelforge.studio import Studio
from reelforge.web.deps import safe_next
from tests.server.conftest import make_client

pytest.importorskip("fastapi")


@pytest.fixture()
def client(tmp_path: Path) -> Any:
    studio = Studio.init(tmp_path / "st")
    studio.projects.create("alpha")
    studio.access.create_user("ed", "ed-password-1")
    studio.access.grant("ed", "alpha", "editor")
    yield make_client(studio)
    studio.close()


@pytest.mark.parametrize(("target", "expected"), [
    ("/p/alpha", "/p/alpha"), ("/p/alpha?x=1", "/p/alpha?x=1"), (None, "/"), ("", "/"),
    ("https://evil.example/", "/"), ("//evil.example/x", "/"), ("/\\evil.example", "/"), ("javascript:alert(1)", "/"),
])
def test_after_sign_in_only_paths_of_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_sign_in_ignores_a_foreign_next_and_pages_carry_their_headers(client: Any) -> None:
    r = client.post("/login", data={"username": "ed", "password": "ed-password-1", "next": "//evil.example/"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    page = client.get("/p/alpha")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it
    static = client.get("/static/js/app.js")
    assert static.status_code == 200 and static.headers["x-content-type-options"] == "nosniff"


def test_errors_are_pages_on_ui_paths_and_json_on_the_api(client: Any) -> None:
    anonymous = client.get("/p/alpha", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=/p/alpha")
    client.post("/login", data={"username": "ed", "password": "ed-password-1"})
    missing = client.get("/p/nope")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "no project" in missing.text
    api = client.get("/api/v1/projects/nope")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    bad = client.post("/login", data={"username": "ed", "password": "wrong"})
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text


def test_logout_needs_the_session_csrf_token(client: Any) -> None:
    client.post("/login", data={"username": "ed", "password": "ed-password-1"})
    session, csrf = client.cookies.get("reelforge_session"), client.cookies.get("reelforge_csrf")

    def put_back() -> None:  # the answer drops the cookies either way: is the session itself alive?
        client.cookies.set("reelforge_session", session)
        client.cookies.set("reelforge_csrf", csrf)

    client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    put_back()
    assert client.get("/p/alpha", follow_redirects=False).status_code == 200  # a forged token ends nothing
    client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    put_back()
    assert client.get("/p/alpha", follow_redirects=False).status_code == 303  # the real one does
