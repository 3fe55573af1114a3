"""`reelforge backup`, `backups` and `restore-backup`, driven as a user would: exit codes, JSON, one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reelforge.cli.main import main
from tests.conftest import make_image


def rf(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_backup_incremental_list_restore_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home, dest = tmp_path / "studio", tmp_path / "backup"
    assert rf(capsys, "init", home)[0] == 0
    imgs = [make_image(tmp_path / "src" / f"{i}.png", seed=i) for i in range(3)]
    assert rf(capsys, "--studio", home, "add", *imgs)[0] == 0

    code, out, err = rf(capsys, "--studio", home, "--json", "backup", dest)
    assert code == 0, err
    first = json.loads(out)
    assert first["blobs"]["copied"] == first["blobs"]["blobs"] == 6  # 3 images + 3 thumbnails
    assert rf(capsys, "--studio", home, "add", make_image(tmp_path / "src" / "new.png", seed=9))[0] == 0
    code, out, err = rf(capsys, "--studio", home, "backup", dest)
    assert code == 0, err
    assert "copied 2" in out and "already in the backup 6" in out

    code, out, _ = rf(capsys, "--json", "backups", dest)
    snaps = json.loads(out)
    assert code == 0 and len(snaps) == 2 and snaps[0]["id"] == first["snapshot"]
    assert snaps[1]["blobs"]["count"] == 8 and snaps[1]["schema_revision"]

    code, out, err = rf(capsys, "--json", "restore-backup", dest, tmp_path / "restored")
    assert code == 0, err
    done = json.loads(out)
    assert done["snapshot"] == snaps[1]["id"] and done["fsck"]["clean"] and done["fsck"]["checked"] == 8
    code, out, _ = rf(capsys, "--studio", tmp_path / "restored", "--json", "ls")
    assert code == 0 and sorted(a["name"] for a in json.loads(out)) == ["0.png", "1.png", "2.png", "new.png"]
    code, out, err = rf(capsys, "restore-backup", dest, tmp_path / "older", "--snapshot", first["snapshot"])
    assert code == 0 and "fsck clean" in out, err

    # Refusals: one line on stderr, an exit code, nothing left behind.
    code, _, err = rf(capsys, "restore-backup", dest, tmp_path / "restored")
    assert code == 5 and err.count("\n") == 1 and "not empty" in err
    code, _, err = rf(capsys, "restore-backup", tmp_path / "nowhere", tmp_path / "x")
    assert code == 3 and err.count("\n") == 1 and "does not exist" in err
    victim = next(p for p in (dest / "blobs").rglob("*") if p.is_file() and len(p.name) == 64)
    os.chmod(victim, 0o644)
    victim.write_bytes(b"rot")
    code, _, err = rf(capsys, "restore-backup", dest, tmp_path / "broken")
    last = err.strip().splitlines()[-1]  # the progress bar drawn so far, then the one-line error
    assert code == 1 and last.startswith("error: backup blob " + victim.name) and "corrupt" in last, err
    assert not (tmp_path / "broken").exists()
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name]


def test_backup_needs_the_local_studio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = rf(capsys, "--server", "http://127.0.0.1:9", "backup", tmp_path / "b")
    assert code == 2 and "drop --server" in err and err.count("\n") == 1
