"""The account commands (user, token, role, audit) and `reelforge serve` end to end."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reelforge.cli.main import main

pytest.importorskip("uvicorn")  # the server extra: pip install -e ".[server]"


def rf(capsys: pytest.CaptureFixture[str], *args: object, stdin: str | None = None,
       monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    capsys.readouterr()
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    h = tmp_path / "studio"
    assert rf(capsys, "init", h)[0] == 0
    return h


def test_user_token_role_and_audit_commands(home: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    S = ("--studio", home)
    code, out, _ = rf(capsys, *S, "user", "add", "alice", "--password-stdin", stdin="correct horse battery\n",
                      monkeypatch=monkeypatch)
    assert code == 0 and "alice" in out
    assert rf(capsys, *S, "user", "add", "root", "--admin", "--no-password")[0] == 0
    code, _, err = rf(capsys, *S, "user", "add", "alice", "--password-stdin", stdin="correct horse battery\n",
                      monkeypatch=monkeypatch)
    assert code == 5 and err.startswith("error: user 'alice' already exists")
    code, _, err = rf(capsys, *S, "user", "add", "bob", "--password-stdin", stdin="short\n", monkeypatch=monkeypatch)
    assert code == 2 and "at least 8" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal and no --password-stdin
    code, _, err = rf(capsys, *S, "user", "add", "bob")
    assert code == 2 and "--password-stdin" in err
    users = json.loads(rf(capsys, *S, "--json", "user", "ls")[1])
    assert [(u["username"], u["is_admin"], u["has_password"]) for u in users] == [("alice", False, True),
                                                                                 ("root", True, False)]
    code, out, err = rf(capsys, *S, "token", "create", "--user", "alice", "--scope", "read", "--expires", "30d",
                        "--name", "ci")
    secret = out.strip()
    assert code == 0 and secret.startswith("rf_") and "shown only now" in err
    tokens = json.loads(rf(capsys, *S, "--json", "token", "ls", "--user", "alice")[1])
    assert len(tokens) == 1 and tokens[0]["scopes"] == ["read"] and tokens[0]["expires_at"] > time.time() + 29 * 86400
    assert secret not in json.dumps(tokens)
    assert rf(capsys, *S, "token", "revoke", tokens[0]["id"])[0] == 0
    assert json.loads(rf(capsys, *S, "--json", "token", "ls")[1])[0]["revoked_at"] is not None
    assert rf(capsys, *S, "role", "grant", "alice", "default", "editor")[0] == 0
    code, _, err = rf(capsys, *S, "role", "grant", "alice", "default", "owner")
    assert code == 2 and "unknown role" in err
    assert rf(capsys, *S, "role", "grant", "alice", "nowhere", "viewer")[0] == 3
    roles = json.loads(rf(capsys, *S, "--json", "role", "ls")[1])
    assert roles == [{"user": "alice", "project": "default", "role": "editor"}]
    assert rf(capsys, *S, "user", "passwd", "alice", "--password-stdin", stdin="a new long password\n",
              monkeypatch=monkeypatch)[0] == 0
    assert rf(capsys, *S, "user", "disable", "alice")[0] == 0
    assert json.loads(rf(capsys, *S, "--json", "user", "ls")[1])[0]["disabled"] is True
    assert rf(capsys, *S, "role", "revoke", "alice", "default")[0] == 0
    assert rf(capsys, *S, "role", "revoke", "alice", "default")[0] == 3
    events = json.loads(rf(capsys, *S, "--json", "audit", "ls", "--action", "user.*", "--since", "1h")[1])
    assert [e["action"] for e in events] == ["user.disable", "user.passwd", "user.create", "user.create"]
    assert all(e["actor"].startswith("local:") for e in events)
    assert json.loads(rf(capsys, *S, "--json", "audit", "ls", "--until", "2000-01-01")[1]) == []
    code, out, _ = rf(capsys, *S, "audit", "ls", "--action", "role.*")
    assert code == 0 and "role.grant" in out and "role.revoke" in out
    assert rf(capsys, *S, "audit", "ls", "--since", "yesterday-ish")[0] == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_jobs_with_embedded_workers_and_stops_cleanly(home: Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    rf(capsys, "--studio", home, "user", "add", "root", "--admin", "--no-password")
    secret = rf(capsys, "--studio", home, "token", "create", "--user", "root", "--scope", "read",
                "--scope", "write")[1].strip()
    port = _free_port()
    env = {**os.environ, "REELFORGE_SERVER_ACCESS_LOG": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "reelforge.cli.main", "--studio", str(home), "serve",
                             "--port", str(port), "--workers", "1", "--worker-mode", "thread"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.2)
        h = {"Authorization": f"Bearer {secret}"}
        job = httpx.post(f"{base}/api/v1/projects/default/jobs", headers=h, json={"task": "system.ping"}).json()
        while job["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
            job = httpx.get(f"{base}/api/v1/jobs/{job['id']}", headers=h).json()
        assert job["status"] == "succeeded" and job["submitted_by"] == "root"
        assert "reelforge_embedded_workers 1.0" in httpx.get(f"{base}/metrics").text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err.decode()
    access = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert any(a["route"] == "/api/v1/projects/{project}/jobs" and a["status"] == 201 for a in access)
