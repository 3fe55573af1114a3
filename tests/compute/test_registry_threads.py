"""The task registry loads once, whichever thread asks first: a server's threads asking at the same
moment all find the tasks (they once saw "no task" while the first was still importing them)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import threading
from reelforge.compute.registry import get_task
barrier = threading.Barrier(16)
failures = []
def ask():
    barrier.wait()
    try:
        get_task("system.ping")
    except Exception as exc:
        failures.append(repr(exc))
threads = [threading.Thread(target=ask) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print(len(failures), failures[:1])
"""


def test_threads_asking_at_once_all_find_the_task() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().startswith("0 "), out.stdout
