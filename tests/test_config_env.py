"""Settings from the environment: tables are not overridden by a same-named variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.config import load_settings


def test_remote_server_url_is_not_the_server_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # REELFORGE_SERVER is the CLI's remote-server URL; it used to replace the [server] table
    monkeypatch.setenv("REELFORGE_SERVER", "http://127.0.0.1:9")
    monkeypatch.setenv("REELFORGE_POLL_SECONDS", "0.25")
    settings = load_settings(tmp_path)
    assert isinstance(settings.server, dict)
    assert settings.poll_seconds == 0.25
