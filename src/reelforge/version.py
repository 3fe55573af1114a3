"""The code version recorded on every job and provenance record: package version + git commit."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

from reelforge import __version__


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit when running from a checkout."""
    src = Path(__file__).resolve().parents[2]
    if not (src / ".git").exists():
        return __version__
    try:
        sha = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__
