"""Worker processes for real: draining a big queue exactly once, and surviving SIGKILL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from reelforge.compute.worker import Worker, run_workers
from reelforge.db.engine import session_scope
from reelforge.db.models import JobCheckpointRow
from reelforge.studio import Studio
from tests.conftest import make_image

REPO = Path(__file__).resolve().parents[2]


def test_four_workers_drain_500_jobs_exactly_once(tmp_path: Path, database_url: str | None) -> None:
    overrides = {"database_url": database_url} if database_url else {}
    s = Studio.init(tmp_path / "studio", **overrides)
    ids = [a.id for a in s.assets.add([make_image(tmp_path / f"i{i}.png", (48, 32), i) for i in range(10)]).added]
    handles = [s.jobs.submit("media.proxy", {"asset": ids[i % 10], "max_side": 64 + i % 7}) for i in range(500)]
    codes = run_workers(s.home, 4, stop_when_idle=True)
    assert codes == [0, 0, 0, 0]
    jobs = s.jobs.list(limit=1000)
    assert len(jobs) == 500
    assert Counter(j.status for j in jobs) == {"succeeded": 500}
    assert all(j.runs == 1 and j.attempt == 1 for j in jobs), "every job ran exactly once"
    owners: Counter[str] = Counter()
    for h in handles[:500]:
        starts = [m["message"] for m in s.jobs.logs(h.id) if "started on" in m["message"]]
        assert len(starts) == 1
        owners[re.sub(r".* started on ", "", starts[0])] += 1
    assert len(owners) >= 2, f"work was spread over several workers: {owners}"
    assert s.fsck(verify=False).clean
    s.close()


def _checkpoint_exists(s: Studio, job_id: str) -> bool:
    with session_scope(s.Session) as sess:
        return sess.scalar(select(JobCheckpointRow).where(JobCheckpointRow.job_id == job_id)) is not None


def test_sigkilled_worker_job_resumes_from_checkpoint_elsewhere(tmp_path: Path) -> None:
    s = Studio.init(tmp_path / "studio", lease_seconds=2.0, heartbeat_seconds=0.3)
    folder = tmp_path / "plates"
    for i in range(240):
        make_image(folder / f"p{i:03d}.png", (256, 256), i)
    s.assets.add([folder])
    ds = s.datasets.create("plates", kind="image")
    h = s.jobs.submit("media.fingerprint", {"dataset": ds.ref, "checkpoint_every": 10})
    # Reference result: the same hashing done in one uninterrupted job.
    reference = s.jobs.submit("media.fingerprint", {"dataset": ds.ref, "checkpoint_every": 10}, priority=-1)

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reelforge.cli.main", "--studio", str(s.home), "worker", "-n", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not _checkpoint_exists(s, h.id):
        assert time.monotonic() < deadline and proc.poll() is None, "no checkpoint appeared"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGSTOP)  # freeze it at once, then kill: no cleanup code runs
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    frozen = h.job
    assert frozen.status == "running" and frozen.attempt == 1, "killed while running"
    assert 0 < frozen.progress_done < 240

    # Another worker: it waits for the lease to expire, re-queues the job and resumes it.
    Worker(s, worker_id="rescuer").run(stop_when_idle=True)
    job = h.job
    assert job.status == "succeeded" and job.attempt == 2 and job.runs == 2
    logs = [m["message"] for m in s.jobs.logs(h.id)]
    assert any("expired" in m for m in logs)
    resumed = [m for m in logs if m.startswith("resuming at item")]
    assert resumed and int(resumed[0].split()[3]) >= 10
    ref = reference.job
    assert ref.status == "succeeded" and ref.attempt == 1
    import json

    report = json.loads(s.blobs.read_bytes(s.assets.get(job.result["report"]).sha256))
    ref_report = json.loads(s.blobs.read_bytes(s.assets.get(ref.result["report"]).sha256))
    assert len(report["hashes"]) == 240
    assert report["hashes"] == ref_report["hashes"]
    s.close()
