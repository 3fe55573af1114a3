"""The Ray executor on a real local Ray cluster (loopback): a head with no CPUs and two worker
nodes with one CPU each, as separate raylet processes. Jobs go through the queue in the database,
run as Ray tasks on the nodes, fan out over both nodes, and survive the loss of the node running
them by resuming from their checkpoint on the other node.

One cluster serves the whole module (starting Ray costs seconds). Skipped when Ray is not
installed, unless ``REELFORGE_REQUIRE_RAY=1``: then it fails. Select with ``-m ray``.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reelforge.compute import checkpoint as ckpt
from reelforge.compute.jobs import JobStatus
from reelforge.studio import Studio
from tests.compute.ray_tasks import expected_total
from tests.conftest import make_image

pytestmark = pytest.mark.ray

try:
    import ray
    from ray.cluster_utils import Cluster
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("REELFORGE_REQUIRE_RAY") == "1":
        pytest.fail("ray is not importable (REELFORGE_REQUIRE_RAY=1)", pytrace=False)
    pytest.skip("ray is not installed (extra `ray`)", allow_module_level=True)

from reelforge.compute.ray_executor import RayWorker, ray_options, run_ray_worker  # noqa: E402 - needs ray
from reelforge.compute.registry import Resources  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TASKS = "tests.compute.ray_tasks"


@dataclass
class RayCluster:
    cluster: Any  # ray.cluster_utils.Cluster
    nodes: dict[str, Any]  # node id → ray._private.node.Node, the two CPU nodes


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    # Short paths: Ray's Unix sockets live under the temp dir (107-character limit).
    tmp = tempfile.mkdtemp(prefix="rf-ray-", dir="/tmp")
    saved = {k: os.environ.get(k) for k in ("RAY_TMPDIR", "RAY_USAGE_STATS_ENABLED", "PYTHONPATH",
                                            "REELFORGE_TASK_MODULES")}
    os.environ["RAY_TMPDIR"] = tmp  # Ray writes its "current cluster" file here, not /tmp/ray
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # The nodes' worker processes import the test tasks by name.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), saved["PYTHONPATH"]]))
    os.environ["REELFORGE_TASK_MODULES"] = TASKS
    temp_dir = os.path.join(tmp, "ray")
    os.makedirs(temp_dir)
    # Every node on this machine's own address (Ray maps 127.0.0.1 to it anyway; mixing the two hangs).
    common = {"object_store_memory": 80 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={
        **common, "num_cpus": 0, "temp_dir": temp_dir, "include_dashboard": False,
        # Notice a dead node within a few seconds instead of tens.
        "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4},
    })
    try:
        nodes = [cluster.add_node(**common, num_cpus=1, resources={f"rf_node_{i}": 1}) for i in range(2)]
        ray.init(address=cluster.address, log_to_driver=False)
        yield RayCluster(cluster, {n.node_id: n for n in nodes})
    finally:
        ray.shutdown()
        cluster.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


def test_declared_resources_become_ray_options_capped_at_the_largest_node() -> None:
    gib = 2**30
    cap = {"CPU": 4.0, "GPU": 0.0, "memory": 8.0 * gib}
    opts, notes = ray_options(Resources(cpus=2, gpus=0, memory_gb=1.5), cap)
    assert opts == {"num_cpus": 2.0, "num_gpus": 0.0, "memory": int(1.5 * gib), "max_retries": 0}
    assert notes == []
    # More than any node has: capped (it would wait forever), and the job's log says so.
    opts, notes = ray_options(Resources(cpus=8, gpus=1, memory_gb=16), cap)
    assert (opts["num_cpus"], opts["num_gpus"], opts["memory"]) == (4.0, 0.0, 8 * gib)
    assert len(notes) == 3 and "GPU" in notes[1] and "largest ray node has 0" in notes[1]
    opts, _ = ray_options(Resources(cpus=1, gpus=1, memory_gb=0), {**cap, "GPU": 2.0})
    assert opts["num_gpus"] == 1.0 and "memory" not in opts


def _studio(path: Path, **overrides: Any) -> Studio:
    return Studio.init(path, lease_seconds=10.0, heartbeat_seconds=0.5, retry_backoff_seconds=0.2,
                       poll_seconds=0.2, **overrides)


def _drain(s: Studio) -> int:
    return RayWorker(s, worker_id="ray-driver").run(stop_when_idle=True)


def _messages(s: Studio, job_id: str) -> list[str]:
    return [m["message"] for m in s.jobs.logs(job_id)]


def test_jobs_run_as_ray_tasks_on_the_nodes_with_lineage(ray_cluster: RayCluster, tmp_path: Path) -> None:
    s = _studio(tmp_path / "studio")
    src = s.assets.add([make_image(tmp_path / "plate.png", (40, 30), 3)]).added[0]
    handles = [s.jobs.submit("testing.ray_steps", {"steps": 6 + i, "step_seconds": 0.02, "asset": src.id})
               for i in range(3)]
    assert _drain(s) == 3
    for i, h in enumerate(handles):
        job = h.job
        assert job.status == JobStatus.SUCCEEDED and job.attempt == 1, (job.error, _messages(s, h.id))
        assert job.result["total"] == expected_total(6 + i, float(src.size))
        assert job.result["node"] in ray_cluster.nodes, "ran on one of the CPU nodes, not in the driver"
        assert job.result["pid"] != os.getpid()
        assert job.progress_done == job.progress_total == 6 + i
        log = _messages(s, h.id)
        assert any(f"running on ray node {job.result['node']}" in m for m in log), log
        # Lineage: the input the task read on the node, and the one output it made.
        assert [i["id"] for i in job.inputs] == [src.id]
        out = s.assets.get(job.result["output"])
        assert out.created_by_job == h.id
        graph = s.lineage.graph(out.id)
        assert h.id in graph.nodes and src.id in graph.nodes
        assert graph.raw_assets() == [src.id]
    s.close()


def test_ctx_map_fans_out_over_both_nodes_in_order(ray_cluster: RayCluster, tmp_path: Path) -> None:
    s = _studio(tmp_path / "studio")
    h = s.jobs.submit("testing.ray_fanout", {"n": 10, "item_seconds": 0.3})
    _drain(s)
    job = h.job
    assert job.status == JobStatus.SUCCEEDED, (job.error, _messages(s, h.id))
    items = job.result["items"]
    assert [it["i"] for it in items] == list(range(10)), "results keep input order"
    assert [it["square"] for it in items] == [i * i for i in range(10)]
    nodes = {it["node"] for it in items}
    assert nodes == set(ray_cluster.nodes), f"items ran on both nodes: {nodes}"
    assert job.result["node"] in ray_cluster.nodes
    assert len({it["pid"] for it in items}) >= 2
    assert job.progress_done == job.progress_total == 10

    # The same task run inline (no Ray executor) uses the local process pool.
    local = s.jobs.submit("testing.ray_fanout", {"n": 4, "item_seconds": 0.0, "workers": 2}).run()
    assert local.status == JobStatus.SUCCEEDED, local.error
    assert [it["i"] for it in local.result["items"]] == [0, 1, 2, 3]
    assert {it["node"] for it in local.result["items"]} == {"local"}
    assert all(it["pid"] != os.getpid() for it in local.result["items"])
    s.close()


def test_ray_executor_on_postgres(ray_cluster: RayCluster, tmp_path: Path, pg_url: str) -> None:
    s = _studio(tmp_path / "studio", database_url=pg_url)
    h = s.jobs.submit("testing.ray_steps", {"steps": 8, "step_seconds": 0.02, "checkpoint_every": 3})
    # What `reelforge worker --executor ray` runs: it opens the studio by its home (database URL
    # from reelforge.toml) and joins the cluster this process is connected to.
    assert run_ray_worker(str(s.home), stop_when_idle=True) == 1
    job = h.job
    assert job.status == JobStatus.SUCCEEDED and job.attempt == 1, (job.error, _messages(s, h.id))
    assert job.result["total"] == expected_total(8)
    assert job.result["node"] in ray_cluster.nodes
    s.close()


def test_cli_worker_with_the_ray_executor(ray_cluster: RayCluster, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`reelforge worker --executor ray --drain` (in process: it joins the cluster this process is on)."""
    from reelforge.cli.main import main

    s = _studio(tmp_path / "studio")
    h = s.jobs.submit("testing.ray_steps", {"steps": 4, "step_seconds": 0.01, "checkpoint_every": 2})
    assert main(["--studio", str(s.home), "worker", "--executor", "ray", "--drain"]) == 0
    assert "feeding the Ray cluster" in capsys.readouterr().out
    job = h.job
    assert job.status == JobStatus.SUCCEEDED, (job.error, _messages(s, h.id))
    assert job.result["node"] in ray_cluster.nodes
    assert main(["--studio", str(s.home), "worker", "--executor", "slurm", "--drain"]) == 2
    assert "unknown executor 'slurm'" in capsys.readouterr().err
    s.close()


def _wait_for(what: str, check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_cancel_stops_a_ray_fanout_mid_way(ray_cluster: RayCluster, tmp_path: Path) -> None:
    s = _studio(tmp_path / "studio")
    h = s.jobs.submit("testing.ray_fanout", {"n": 40, "item_seconds": 0.4})
    stop = threading.Event()
    thread = threading.Thread(target=lambda: RayWorker(s, worker_id="ray-driver").run(stop_when_idle=True, stop=stop),
                              daemon=True)
    thread.start()
    try:
        _wait_for("some items to finish", lambda: (h.job.progress_done or 0) >= 2)
        h.cancel()
        thread.join(timeout=60)
        assert not thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=30)
    job = h.job
    assert job.status == JobStatus.CANCELLED, (job.error, _messages(s, h.id))
    assert job.progress_done < 40, "the items not yet run were cancelled"
    s.close()


def _checkpoint_step(s: Studio, job_id: str) -> int:
    data = s.jobs.load_checkpoint(job_id)
    return int(ckpt.loads(data)["step"]) if data else 0


# Kills one of the module's nodes: keep it last in the module.
def test_lost_node_job_resumes_from_checkpoint_on_the_other_node(ray_cluster: RayCluster, tmp_path: Path) -> None:
    s = _studio(tmp_path / "studio")
    steps = 60
    h = s.jobs.submit("testing.ray_steps", {"steps": steps, "step_seconds": 0.1, "checkpoint_every": 5})
    stop = threading.Event()
    driver = RayWorker(s, worker_id="ray-driver")
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(driver.run(stop_when_idle=True, stop=stop)), daemon=True)
    thread.start()
    try:
        line = _wait_for("the job to start on a node",
                         lambda: next((m for m in _messages(s, h.id) if m.startswith("running on ray node")), None))
        victim_id = line.split()[4]
        victim_pid = int(line.rsplit("pid ", 1)[1].rstrip(")"))
        _wait_for("a checkpoint at step 10 or later", lambda: _checkpoint_step(s, h.id) >= 10)
        before = h.job
        assert before.status == JobStatus.RUNNING and before.attempt == 1

        # The node dies: its task's process and its raylet are SIGKILLed, nothing cleans up.
        os.kill(victim_pid, signal.SIGKILL)
        ray_cluster.cluster.remove_node(ray_cluster.nodes.pop(victim_id), allow_graceful=False)

        thread.join(timeout=180)
        assert not thread.is_alive(), "the driver finished the queue"
    finally:
        stop.set()
        thread.join(timeout=30)
    job = h.job
    log = _messages(s, h.id)
    assert job.status == JobStatus.SUCCEEDED, (job.error, log)
    assert job.attempt == 2 and job.runs == 2, log
    assert any("attempt 1 failed: ray lost the attempt" in m for m in log), log
    resumed = [m for m in log if m.startswith("resuming at step")]
    assert len(resumed) == 1 and int(resumed[0].split()[3]) >= 10, log
    assert job.result["start"] == int(resumed[0].split()[3])
    survivor = job.result["node"]
    assert survivor != victim_id and survivor in ray_cluster.nodes, "finished on the remaining node"
    # Exactly once in effect: every step counted once, and one output.
    assert job.result["total"] == expected_total(steps)
    outputs = s.assets.list(project=job.project_id, created_by_job=h.id)
    assert [a.id for a in outputs] == [job.result["output"]]
    s.close()
