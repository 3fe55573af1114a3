"""Editorial tests that speak lines need the espeak-ng binary (Debian's `espeak-ng`; `.ci/run` installs
it). Without it they skip with that reason, unless REELFORGE_REQUIRE_ESPEAK=1 (CI), which makes the
missing binary a failure instead."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Modules whose tests synthesise speech (directly or through clipmaker / speech_cases).
_SPEAKING = ("espeak", "speech_cases", "clipmaker", "generate_dailies", "speak(")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shutil.which("espeak-ng") or os.environ.get("REELFORGE_REQUIRE_ESPEAK") == "1":
        return
    skip = pytest.mark.skip(reason="espeak-ng is not installed (apt-get install espeak-ng)")
    here = Path(__file__).resolve().parent
    speaking: dict[Path, bool] = {}
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if path.parent != here and path.name != "test_edit_tasks.py":
            continue
        if path not in speaking:
            text = path.read_text(encoding="utf-8")
            speaking[path] = any(word in text for word in _SPEAKING)
        if speaking[path]:
            item.add_marker(skip)
