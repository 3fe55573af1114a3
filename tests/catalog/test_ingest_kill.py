"""A process killed in the middle of copying a big file leaves no asset and fsck stays clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from reelforge.studio import Studio
from tests.conftest import make_image

SCRIPT = """
import sys
from reelforge.studio import Studio
s = Studio.open(sys.argv[1])
s.assets.add([sys.argv[2]])
"""


def test_sigkill_mid_copy_leaves_no_partial_asset(sqlite_studio: Studio, tmp_path: Path) -> None:
    studio = sqlite_studio
    studio.assets.add([make_image(tmp_path / "ok.png")])
    big = tmp_path / "big.png"
    # A real (valid) PNG large enough that copying takes a while: noise does not compress.
    make_image(big, size=(4000, 4000), seed=3)
    before_assets = [a.id for a in studio.assets.list()]
    before_blobs = sorted(b.sha256 for b in studio.blobs.iter_blobs())
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(studio.home), str(big)])
    staging = studio.blobs.tmp  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    # Kill as soon as the staged copy exists but is not complete.
    while time.monotonic() < deadline:
        files = list(staging.iterdir())
        if files and files[0].stat().st_size < big.stat().st_size:
            os.kill(proc.pid, signal.SIGKILL)
            break
        if proc.poll() is not None:
            break
        time.sleep(0.0005)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    assert [a.id for a in studio.assets.list()] == before_assets
    assert sorted(b.sha256 for b in studio.blobs.iter_blobs()) == before_blobs
    report = studio.fsck()
    assert report.clean and not report.missing and not report.corrupt
    # The leftover staging file is garbage that gc removes once it is old enough.
    assert studio.gc(grace_seconds=0) == []
    assert not list(staging.iterdir())
    # And the same file ingests fine afterwards.
    assert studio.assets.add([big]).added[0].info["width"] == 4000
