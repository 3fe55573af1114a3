"""A studio that cannot be made leaves nothing behind, so the corrected command works."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.errors import ReelforgeError
from reelforge.studio import Studio

BAD = "s3://bucket/prefix?endpoint=http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "REELFORGE_S3_ACCESS_KEY_ID",
                 "REELFORGE_S3_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def test_failed_init_removes_the_folder_it_made(tmp_path: Path) -> None:
    home = tmp_path / "studio"
    with pytest.raises(ReelforgeError, match="credentials"):
        Studio.init(home, blob_url=BAD)
    assert not home.exists()
    Studio.init(home).close()  # the corrected command is not told "a studio already exists"
    assert (home / "reelforge.toml").is_file()


def test_failed_init_in_an_existing_folder_keeps_what_was_there(tmp_path: Path) -> None:
    home = tmp_path / "studio"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    with pytest.raises(ReelforgeError):
        Studio.init(home, blob_url=BAD)
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]
