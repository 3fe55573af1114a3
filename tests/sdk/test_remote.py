"""What is the remote SDK's own: its layering, the error mapping, events, downloads checked against
the catalog, projects, and the credentials file. (The operations it shares with the local studio
are checked on both in ``tests/test_sdk.py``.)"""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import reelforge
from reelforge import errors
from reelforge.errors import InvalidInput, MediaError, NotFound, PermissionDenied, RateLimited, Unavailable
from reelforge.studio import Studio
from tests.conftest import make_image

SDK = Path(__file__).resolve().parents[2] / "src" / "reelforge" / "sdk"
FORBIDDEN = ("reelforge.db", "reelforge.tasks", "reelforge.server", "reelforge.studio", "sqlalchemy", "alembic")


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_no_sdk_module_imports_the_catalog_database_tasks_or_server() -> None:
    files = sorted(SDK.rglob("*.py"))
    assert len(files) >= 5
    bad = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{path.name}:{node.lineno} imports {n}" for n in names if _forbidden(n)]
    assert not bad, bad


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    pytest.importorskip("uvicorn")
    from tests.live_server import live_server

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    studio = Studio.init(tmp_path / "studio")
    try:
        with live_server(studio) as server:
            yield server
    finally:
        studio.close()


def test_a_whole_session_loads_no_database_layer_or_task(live: Any, tmp_path: Path) -> None:
    """Not only the imports: a process that adds, lists, exports, runs a job and reads lineage
    through the SDK never loads SQLAlchemy, the catalog's database layer or a task module."""
    make_image(tmp_path / "in" / "a" / "1.png", seed=1)
    make_image(tmp_path / "in" / "b" / "2.png", seed=2)
    code = f"""
import json, sys, reelforge
s = reelforge.connect({live.url!r}, {live.token!r})
r = s.assets.add([{str(tmp_path / 'in')!r}])
dv = s.datasets.create("d", label_from="folder", splits=(1, 0, 0))
s.datasets.export("d", {str(tmp_path / 'out')!r})
job = s.jobs.submit("media.contact_sheet", {{"dataset": dv.id}}).wait(timeout=120)
assert job.status == "succeeded", job.error
s.lineage.graph(job.result["contact_sheet"])
s.tasks.get("system.ping")
print(json.dumps(sorted(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache2")})
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = [m for m in json.loads(out.stdout.strip().splitlines()[-1]) if _forbidden(m)]
    assert loaded == []
    assert (tmp_path / "out" / "manifest.csv").is_file()


def test_every_error_class_comes_back_as_itself() -> None:
    from reelforge.sdk.http import _BY_CODE, error_code
    from reelforge.server.errors import code_of

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.ReelforgeError)]
    assert len(classes) >= 12
    for cls in classes:
        exc = cls("x", 3) if cls is errors.ScriptParseError else cls("x")
        assert error_code(cls) == code_of(exc) and _BY_CODE[code_of(exc)] is cls


def _mock(handler: Any) -> Any:
    import httpx

    def wrapped(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/me":
            return httpx.Response(200, json={"username": "m", "default_project": "default", "projects": {}})
        return handler(request)

    return reelforge.connect("http://testserver", "rf_x", transport=httpx.MockTransport(wrapped))


def test_answers_map_to_errors_by_code_then_status() -> None:
    import httpx

    from reelforge.ids import new_id

    ids = {n: new_id("job") for n in range(1, 7)}
    answers = {
        f"/api/v1/jobs/{ids[1]}": httpx.Response(429, json={"error": {"code": "rate_limited", "message": "slow down"}},
                                             headers={"Retry-After": "7"}),
        f"/api/v1/jobs/{ids[2]}": httpx.Response(500, json={"error": {"code": "internal", "message": "internal error"}}),
        f"/api/v1/jobs/{ids[3]}": httpx.Response(502, text="<html>bad gateway</html>"),
        f"/api/v1/jobs/{ids[4]}": httpx.Response(415, json={"error": {"code": "unsupported_media_type", "message": "no"}}),
        f"/api/v1/jobs/{ids[5]}": httpx.Response(404, json={"error": {"code": "not_found", "message": "no such job"}}),
        f"/api/v1/jobs/{ids[6]}": httpx.Response(307, headers={"Location": "https://elsewhere/"}),
    }
    s = _mock(lambda r: answers[r.url.path])
    with pytest.raises(RateLimited) as limited:
        s.jobs.get(ids[1])
    assert limited.value.retry_after == 7 and str(limited.value) == "slow down"
    with pytest.raises(errors.ReelforgeError, match=r"the server failed \(HTTP 500\): internal error") as failed:
        s.jobs.get(ids[2])
    assert type(failed.value) is errors.ReelforgeError
    with pytest.raises(Unavailable):
        s.jobs.get(ids[3])
    with pytest.raises(InvalidInput):
        s.jobs.get(ids[4])
    with pytest.raises(NotFound, match="no such job"):
        s.jobs.get(ids[5])
    with pytest.raises(Unavailable, match="redirect"):
        s.jobs.get(ids[6])


def test_downloads_are_checked_against_the_catalog(tmp_path: Path) -> None:
    import hashlib

    import httpx

    from reelforge.ids import new_id

    real = b"the real bytes"
    asset = {"id": new_id("ast"), "project_id": "prj_1", "name": "a.png", "kind": "image", "format": "png",
             "mime": "image/png", "sha256": hashlib.sha256(real).hexdigest(), "size": len(real), "info": {},
             "meta": {}, "tags": [], "thumb_sha256": None, "source": "upload", "created_at": 1.0,
             "created_by_job": None, "duplicate": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/content"):
            return httpx.Response(200, content=b"tampered bytes")
        return httpx.Response(200, json=asset)

    s = _mock(handler)
    with pytest.raises(MediaError, match="do not match"):
        s.assets.export([asset["id"]], tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-written is left


def test_events_wait_and_what_a_remote_job_refuses(live: Any) -> None:
    s = reelforge.connect(live.url, live.token)
    seen: list[str] = []
    handle = s.jobs.submit("system.ping", {"steps": 3})
    job = handle.wait(timeout=60, on_progress=lambda j: seen.append(str(j.status)))
    assert job.status == "succeeded" and seen[-1] == "succeeded"
    events = list(handle.events())
    kinds = [e.kind for e in events]
    assert kinds[-1] == "end" and events[-1].data["status"] == "succeeded"
    assert [e.data["message"] for e in events if e.kind == "log" and "step" in e.data["message"]] == [
        "ping step 1/3", "ping step 2/3", "ping step 3/3"]
    assert "progress" in kinds
    with pytest.raises(InvalidInput):
        handle.run()
    with pytest.raises(InvalidInput):
        s.jobs.submit("system.ping", {}).wait(inline=True)
    assert s.jobs.workers_alive() == 1


def test_projects_default_and_visibility(live: Any, tmp_path: Path) -> None:
    studio: Studio = live.studio
    studio.projects.get()  # the default project
    studio.projects.create("beta")
    studio.assets.add([make_image(tmp_path / "d.png", seed=1)])
    studio.assets.add([make_image(tmp_path / "b.png", seed=2)], project="beta")
    admin = reelforge.connect(live.url, live.token)
    assert [a.name for a in admin.assets.list()] == ["d.png", "b.png"]  # every project, in id order
    assert [a.name for a in admin.assets.list(project="beta")] == ["b.png"]
    beta = reelforge.connect(live.url, live.token, project="beta")
    assert [a.name for a in beta.assets.list(project=None)][:1] == ["d.png"]
    assert beta.assets.add([make_image(tmp_path / "b2.png", seed=3)]).added[0].project_id == studio.projects.get("beta").id
    made = admin.projects.create("gamma", "made over http")
    assert made.description == "made over http" and admin.projects.get("gamma").id == made.id

    studio.access.create_user("vera", "vera-password-1")
    studio.access.grant("vera", "beta", "viewer")
    viewer = reelforge.connect(live.url, studio.access.create_token("vera", "t", scopes=["read"])[1])
    assert [p.name for p in viewer.projects.list()] == ["beta"]
    assert {a.name for a in viewer.assets.list()} == {"b.png", "b2.png"}
    with pytest.raises(NotFound):  # another project's asset does not exist for her
        viewer.assets.get(admin.assets.list(project="default")[0].id)
    with pytest.raises(PermissionDenied):
        viewer.assets.add([make_image(tmp_path / "v.png", seed=4)], project="beta")


def test_credentials_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reelforge.sdk import credentials

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("REELFORGE_TOKEN", raising=False)
    path = credentials.save("http://h:8750/", "rf_one", username="ed", token_id="tok_1")
    credentials.save("https://other", "rf_two")
    assert path == tmp_path / "cfg" / "reelforge" / "credentials.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert credentials.lookup("http://h:8750/api/v1")["token"] == "rf_one"  # the same server, spelled otherwise
    assert credentials.resolve_token("http://h:8750") == "rf_one"
    monkeypatch.setenv("REELFORGE_TOKEN", "rf_env")
    assert credentials.resolve_token("http://h:8750") == "rf_env"
    assert credentials.resolve_token("http://h:8750", "rf_given") == "rf_given"
    assert credentials.forget("http://h:8750")["token_id"] == "tok_1"
    assert credentials.lookup("http://h:8750") is None and credentials.lookup("https://other")["token"] == "rf_two"
    path.chmod(0o640)
    with pytest.raises(PermissionDenied, match="chmod 600"):
        credentials.load_all()
    for bad in ("ftp://h", "http://user:pw@h", "http://h/?q=1", "h:8750"):
        with pytest.raises(InvalidInput):
            credentials.lookup(bad)
