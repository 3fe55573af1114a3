"""``--server URL``: the same commands against a studio server (a real uvicorn on 127.0.0.1), and
``reelforge login`` / ``logout``."""

from __future__ import annotations

import io
import json
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelforge.cli.main import main
from reelforge.studio import Studio
from tests.conftest import make_image

pytest.importorskip("uvicorn")  # the server extra: pip install -e ".[server]"


def rf(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, Studio]]:
    from tests.live_server import live_server

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("REELFORGE_SERVER", raising=False)
    monkeypatch.delenv("REELFORGE_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    studio = Studio.init(tmp_path / "studio")
    try:
        studio.access.create_user("ed", "ed-password-1")
        studio.access.grant("ed", "default", "editor")
        with live_server(studio) as server:
            yield server.url, server.token, studio
    finally:
        studio.close()


def test_the_commands_work_against_a_server(live: tuple[str, str, Studio], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    url, token, studio = live
    monkeypatch.setenv("REELFORGE_TOKEN", token)
    S = ("--server", url)
    for i in range(2):
        make_image(tmp_path / "pets" / "cats" / f"c{i}.png", seed=i)
        make_image(tmp_path / "pets" / "dogs" / f"d{i}.png", seed=10 + i)
    code, out, err = rf(capsys, *S, "--json", "add", tmp_path / "pets", "--tag", "pet")
    assert code == 0, err
    added = json.loads(out)["added"]
    assert sorted(a["name"] for a in added) == ["cats/c0.png", "cats/c1.png", "dogs/d0.png", "dogs/d1.png"]
    assert {a.name for a in studio.assets.list()} == {a["name"] for a in added}  # really on the server

    code, out, _ = rf(capsys, *S, "--json", "ls", "--tag", "pet", "--name", "cats/*")
    assert code == 0 and [a["name"] for a in json.loads(out)] == ["cats/c0.png", "cats/c1.png"]
    code, out, _ = rf(capsys, *S, "show", added[0]["id"])
    assert code == 0 and json.loads(out)["id"] == added[0]["id"]
    code, out, err = rf(capsys, *S, "export", added[0]["id"], tmp_path / "out")
    assert code == 0, err
    assert (tmp_path / "out" / added[0]["name"]).read_bytes() == (tmp_path / "pets" / added[0]["name"]).read_bytes()
    assert rf(capsys, *S, "tag", added[0]["id"], "--add", "hero")[0] == 0
    assert rf(capsys, *S, "meta", added[0]["id"], "take=3")[0] == 0
    assert studio.assets.get(added[0]["id"]).meta["take"] == 3

    code, out, err = rf(capsys, *S, "dataset", "create", "pets", "--kind", "image", "--label-from", "folder")
    assert code == 0 and "created pets@1" in out, err
    code, out, _ = rf(capsys, *S, "--json", "dataset", "ls")
    assert [v["dataset_name"] for v in json.loads(out)] == ["pets"]
    assert rf(capsys, *S, "dataset", "show", "pets")[0] == 0
    assert rf(capsys, *S, "dataset", "export", "pets", tmp_path / "ds")[0] == 0
    assert (tmp_path / "ds" / "manifest.csv").is_file()

    code, out, err = rf(capsys, *S, "--json", "run", "system.ping", "--steps", "2", "--message", "over http")
    assert code == 0, err
    job = json.loads(out)
    assert job["status"] == "succeeded" and job["result"]["message"] == "over http"
    code, out, _ = rf(capsys, *S, "run", "system.ping", "--help")
    assert code == 0 and "--steps" in out
    code, _, err = rf(capsys, *S, "run", "system.ping", "--stepz", "2")
    assert code == 2 and "--steps" in err  # parsed from the server's description of the task
    code, out, _ = rf(capsys, *S, "--json", "jobs", "ls")
    assert code == 0 and job["id"] in [j["id"] for j in json.loads(out)]
    code, out, _ = rf(capsys, *S, "jobs", "logs", job["id"])
    assert code == 0 and "ping step 2/2" in out
    assert rf(capsys, *S, "jobs", "show", job["id"])[0] == 0
    code, _, err = rf(capsys, *S, "jobs", "cancel", job["id"])
    assert code == 5 and err.startswith("error: job")  # Conflict, from the server, with its exit code
    code, out, _ = rf(capsys, *S, "--json", "tasks")
    assert code == 0 and "system.ping" in [t["name"] for t in json.loads(out)]
    assert rf(capsys, *S, "tasks", "system.ping")[0] == 0
    code, out, _ = rf(capsys, *S, "--json", "lineage", job["id"])
    assert code == 0 and json.loads(out)["root"] == job["id"]

    code, out, err = rf(capsys, *S, "model", "ls")
    assert code == 0, err
    (tmp_path / "scene.fountain").write_text("INT. HOUSE - DAY\n\nAnna waits by the window.\n", encoding="utf-8")
    assert rf(capsys, *S, "add", tmp_path / "scene.fountain")[0] == 0
    code, out, err = rf(capsys, *S, "--json", "script", "search", "window")
    assert code == 0 and json.loads(out), err
    code, _, err = rf(capsys, *S, "show", "ast_00000000000000000000000000")
    assert code == 3 and err.startswith("error: no asset")


@pytest.mark.parametrize("command", [["init", "x"], ["fsck"], ["gc"], ["worker", "--drain"], ["serve"],
                                     ["user", "ls"], ["token", "ls", "ed"], ["audit", "ls"], ["demo"]])
def test_local_only_commands_say_so(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = rf(capsys, "--server", "http://127.0.0.1:9", *command)
    assert code == 2 and not out
    assert err.strip() == (f"error: `reelforge {command[0]}` works on a local studio only; drop --server "
                           "(or unset REELFORGE_SERVER)")


def test_unreachable_server_and_missing_token(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("REELFORGE_TOKEN", raising=False)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = rf(capsys, "--server", f"http://127.0.0.1:{port}", "ls")
    assert code == 4 and "reelforge login" in err  # no token anywhere
    monkeypatch.setenv("REELFORGE_TOKEN", "rf_whatever")
    code, _, err = rf(capsys, "--server", f"http://127.0.0.1:{port}", "ls")
    assert code == 69 and err.startswith("error: cannot reach the server") and len(err.strip().splitlines()) == 1
    code, _, err = rf(capsys, "--server", "ftp://example", "ls")
    assert code == 2 and "invalid server URL" in err
    code, _, err = rf(capsys, "--server", f"http://127.0.0.1:{port}", "--studio", tmp_path, "ls")
    assert code == 2


def test_login_stores_a_private_token_and_logout_revokes_it(live: tuple[str, str, Studio], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    url, _, studio = live
    monkeypatch.delenv("REELFORGE_TOKEN", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO("wrong-password\n"))
    code, _, err = rf(capsys, "login", url, "--username", "ed", "--password-stdin")
    assert code == 4 and err.startswith("error:")
    monkeypatch.setattr(sys, "stdin", io.StringIO("ed-password-1\n"))
    code, out, err = rf(capsys, "login", url, "-u", "ed", "--password-stdin", "--name", "laptop")
    assert code == 0 and "logged in" in out, err
    creds = tmp_path / "config" / "reelforge" / "credentials.toml"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600 and stat.S_IMODE(creds.parent.stat().st_mode) == 0o700
    (token,) = [t for t in studio.access.list_tokens("ed") if t.name == "laptop"]
    assert token.id in creds.read_text(encoding="utf-8")

    code, out, err = rf(capsys, "--server", url, "--json", "ls")  # no REELFORGE_TOKEN: the stored one
    assert code == 0 and json.loads(out) == [], err
    assert studio.access.list_users()  # the session login made is over; only the token is left
    creds.chmod(0o644)
    code, _, err = rf(capsys, "--server", url, "ls")
    assert code == 4 and "chmod 600" in err
    creds.chmod(0o600)

    code, out, err = rf(capsys, "--server", url, "logout")
    assert code == 0 and "token revoked" in out, err
    assert studio.access.get_token(token.id).revoked_at is not None
    assert url not in creds.read_text(encoding="utf-8")
    code, out, _ = rf(capsys, "logout", url)
    assert code == 0 and "not logged in" in out
    code, _, err = rf(capsys, "--server", url, "ls")
    assert code == 4
