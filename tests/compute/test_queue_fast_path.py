"""The queue's fast path: bulk submit, claim order, transactions per job, and waking idle workers.

Nothing here asserts a wall-clock time: waits have generous timeouts, and the worker tests set a
poll interval of an hour, so a job is only done in time if the wake-up really happened.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

import tests.compute.tasks_for_tests  # noqa: F401 - registers testing.* tasks
from reelforge.compute.jobs import Job, JobStatus
from reelforge.compute.wake import FifoListener
from reelforge.compute.worker import Worker, run_workers
from reelforge.errors import InvalidInput, NotFound
from reelforge.studio import Studio
from tests.conftest import make_image


@pytest.fixture
def fast_studio(tmp_path: Path, database_url: str | None) -> Iterator[Studio]:
    overrides: dict[str, Any] = {"lease_seconds": 10.0, "heartbeat_seconds": 2.0, "retry_backoff_seconds": 0.05}
    if database_url:
        overrides["database_url"] = database_url
    s = Studio.init(tmp_path / "studio", **overrides)
    yield s
    s.close()


class TxLog:
    """Every transaction begun on an engine: the thread that began it and the statements it ran."""

    def __init__(self) -> None:
        self.txs: list[tuple[str, list[str]]] = []
        self._current: dict[int, list[str]] = {}

    def begin(self, conn: Any) -> None:
        stmts: list[str] = []
        self._current[id(conn)] = stmts
        self.txs.append((threading.current_thread().name, stmts))

    def statement(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        self._current.get(id(conn), []).append(statement)

    def count(self, thread_prefix: str = "") -> int:
        return sum(1 for name, _ in self.txs if name.startswith(thread_prefix))

    def writing(self, table: str) -> int:
        return sum(1 for _, stmts in self.txs if any(s.lstrip().upper().startswith(f"INSERT INTO {table.upper()} ")
                                                       for s in stmts))


@contextmanager
def tx_log(studio: Studio) -> Iterator[TxLog]:
    log = TxLog()
    event.listen(studio.engine, "begin", log.begin)
    event.listen(studio.engine, "before_cursor_execute", log.statement)
    try:
        yield log
    finally:
        event.remove(studio.engine, "begin", log.begin)
        event.remove(studio.engine, "before_cursor_execute", log.statement)


# ------------------------------------------------------------------------------ submit_many


def test_submit_many_is_one_all_or_nothing_transaction(fast_studio: Studio, tmp_path: Path) -> None:
    s = fast_studio
    a, b = s.assets.add([make_image(tmp_path / "a.png", seed=1), make_image(tmp_path / "b.png", seed=2)]).added
    with pytest.raises(NotFound, match="job 3 of 3"):
        s.jobs.submit_many("media.proxy", [{"asset": "a.png"}, {"asset": b.id}, {"asset": "missing.png"}])
    with pytest.raises(InvalidInput, match=r"job 2 of 2: .*max_side"):
        s.jobs.submit_many("media.proxy", [{"asset": "a.png"}, {"asset": "b.png", "max_side": 3}])
    assert s.jobs.list() == [], "a bad job leaves none of its batch queued"
    assert s.jobs.submit_many("media.proxy", []) == []
    with tx_log(s) as log:
        handles = s.jobs.submit_many("media.proxy", [{"asset": "a.png"}, {"asset": "b.png"}, {"asset": "a.png"}],
                                     priority=3)
    assert log.writing("jobs") == 1 and log.writing("job_inputs") == 1 and log.writing("audit_events") == 1
    jobs = [h.job for h in handles]
    assert [j.params["asset"] for j in jobs] == [a.id, b.id, a.id], "names resolved to ids"
    assert [j.inputs for j in jobs] == [[{"id": x.id, "kind": "asset", "role": "asset"}] for x in (a, b, a)]
    assert {j.status for j in jobs} == {JobStatus.QUEUED} and {j.priority for j in jobs} == {3}
    assert len({j.seed for j in jobs}) == 3, "each job draws its own seed"
    same = s.jobs.submit_many("system.ping", [{}, {}], seed=7)
    assert [h.job.seed for h in same] == [7, 7]


def test_ping_names_the_worker(fast_studio: Studio) -> None:
    job = fast_studio.jobs.submit("system.ping", {"message": "hello"}).run()
    assert job.status == "succeeded"
    assert job.result["host"] == socket.gethostname() and job.result["pid"] == os.getpid()
    assert job.result["message"] == "hello" and job.result["outputs"] == []


# ------------------------------------------------------------------------------ claim order


def test_claim_order_and_due_times(fast_studio: Studio) -> None:
    jobs = fast_studio.jobs
    assert jobs.take("w") is None, "nothing queued"
    delayed_high = jobs.submit("system.ping", {}, priority=5, delay=3600).id
    due = jobs.take("w")
    assert isinstance(due, float) and due == jobs.get(delayed_high).run_after, "when the first job falls due"
    # Due a few seconds from now: long enough that a loaded CI machine still sees it not due below.
    late = jobs.submit("system.ping", {}, delay=3.0).id  # older id, due later
    low = jobs.submit("system.ping", {}, priority=-1).id
    now = jobs.submit("system.ping", {}).id
    flaky = jobs.submit("testing.flaky", {"fail_times": 0}).id
    assert jobs.claim("w", tasks=["testing.flaky"]).id == flaky
    got = jobs.take("w")
    assert isinstance(got, Job) and got.id == now, "delayed jobs at a higher priority do not block"
    assert jobs.claim("w", job_id=late) is None, "not due yet"
    time.sleep(max(0.0, jobs.get(late).run_after - time.time()) + 0.05)
    assert jobs.claim("w").id == late, "within a priority: the earliest due first"
    assert jobs.claim("w").id == low
    assert jobs.claim("w") is None


def test_fenced_heartbeat_writes_nothing_for_a_lost_lease(fast_studio: Studio) -> None:
    jobs = fast_studio.jobs
    h = jobs.submit("system.ping", {})
    jobs.claim("owner")
    line = [(time.time(), "info", "from a stale worker")]
    assert jobs.heartbeat(h.id, "stranger", progress=(5, 10, "no"), logs=line) == (False, True)
    assert jobs.heartbeat(h.id, "owner", progress=(1, 10, "yes"), logs=[(time.time(), "info", "ok")]) == (True, False)
    messages = [m["message"] for m in jobs.logs(h.id)]
    assert "ok" in messages and "from a stale worker" not in messages
    assert h.job.progress_done == 1
    jobs.cancel(h.id)
    assert jobs.heartbeat(h.id, "owner") == (True, True)


# ------------------------------------------------------------------- transactions per job


@pytest.mark.parametrize("steps", [0, 20])
def test_worker_loop_makes_two_transactions_per_job(fast_studio: Studio, steps: int) -> None:
    n = 30
    ids = [h.id for h in fast_studio.jobs.submit_many("system.ping", [{"steps": steps}] * n)]
    with tx_log(fast_studio) as log:
        assert Worker(fast_studio).run(max_jobs=n) == n
    # Claim and finish per job; the rest is the loop's own (announce, requeue check, listener, retire).
    assert log.count() <= 2 * n + 4, log.count()
    jobs = [fast_studio.jobs.get(i) for i in ids]
    assert all(j.status == "succeeded" and j.runs == 1 for j in jobs)
    if steps:
        # Progress and log lines written with the outcome, in order, after the start line.
        assert all(j.progress_done == j.progress_total == steps for j in jobs)
        lines = [m["message"] for m in fast_studio.jobs.logs(ids[0])]
        assert lines[0].startswith("attempt 1/") and lines[-1] == "succeeded"
        assert lines[1:-1] == [f"ping step {i}/{steps}" for i in range(1, steps + 1)]


def test_progress_writes_renew_the_lease_and_quiet_tasks_get_heartbeats(fast_studio: Studio) -> None:
    s = fast_studio
    chatty = s.jobs.submit("testing.wait_cancel", {"seconds": 1.5}).id  # progress every 50 ms
    with tx_log(s) as log:
        assert Worker(s).run(max_jobs=1) == 1
    assert log.count("heartbeat-") == 0, "its progress writes renewed the lease: no heartbeat of their own"
    assert log.count() <= 2 + 1.5 / 0.5 + 4
    job = s.jobs.get(chatty)
    assert job.status == "cancelled" or job.status == "succeeded"
    assert job.progress_done > 0

    quiet = Studio.open(s.home, heartbeat_seconds=0.1, database_url=s.settings.database_url)
    try:
        h = quiet.jobs.submit("testing.sleep", {"seconds": 1.0})
        with tx_log(quiet) as log:
            w = Worker(quiet)
            w.execute(quiet.jobs.claim(w.id))
        assert h.job.status == "succeeded"
        assert log.count("heartbeat-") >= 2, "a quiet task's lease is renewed by the heartbeat thread"
        h = quiet.jobs.submit("testing.flaky", {"fail_times": 0})
        with tx_log(quiet) as log:
            w.execute(quiet.jobs.claim(w.id))
        assert h.job.status == "succeeded"
        assert log.count("heartbeat-") == 0 and log.count() == 2, "a job shorter than a heartbeat: claim, finish"
    finally:
        quiet.close()


def test_cancel_reaches_a_running_task_through_its_reports(fast_studio: Studio) -> None:
    s = fast_studio
    h = s.jobs.submit("testing.wait_cancel", {"seconds": 60})
    t = threading.Thread(target=Worker(s).run, kwargs={"max_jobs": 1})
    t.start()
    deadline = time.monotonic() + 60
    while h.job.progress_done < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    s.jobs.cancel(h.id)
    t.join(timeout=60)
    assert not t.is_alive() and h.job.status == "cancelled"


# ----------------------------------------------------------------------------- wake-ups


def test_listener_wakes_on_submit_without_losing_one(fast_studio: Studio) -> None:
    jobs = fast_studio.jobs
    listener = jobs.listener()
    try:
        assert jobs.claim("w") is None
        jobs.submit("system.ping", {})  # committed before the wait begins: still wakes it
        assert listener.wait(60) is True
        assert jobs.claim("w") is not None
        assert listener.wait(0.05) is False, "one submit, one wake-up"
        t = threading.Thread(target=lambda: (time.sleep(0.2), jobs.submit_many("system.ping", [{}] * 3)))
        t.start()
        assert listener.wait(60) is True
        t.join()
    finally:
        listener.close()


def test_interrupt_ends_a_wait(fast_studio: Studio) -> None:
    listener = fast_studio.jobs.listener()
    out: list[bool] = []
    t = threading.Thread(target=lambda: out.append(listener.wait(3600)))
    t.start()
    time.sleep(0.1)
    listener.interrupt()
    t.join(timeout=60)
    listener.close()
    assert not t.is_alive() and out == [False]


def test_fifo_wakes_one_worker_per_byte(sqlite_studio: Studio) -> None:
    jobs = sqlite_studio.jobs
    first, second = jobs.listener(), jobs.listener()
    try:
        assert isinstance(first, FifoListener) and first.path == sqlite_studio.home / "catalog.db-wake"
        jobs.poke(1)
        assert first.wait(60) is True
        assert second.wait(0.05) is False, "the byte was taken"
        jobs.poke(2)
        assert first.wait(60) is True and second.wait(60) is True
    finally:
        first.close()
        second.close()


def test_poke_never_writes_into_a_file_planted_at_the_fifo_path(sqlite_studio: Studio) -> None:
    path = sqlite_studio.home / "catalog.db-wake"
    path.write_bytes(b"precious")
    sqlite_studio.jobs.poke(3)
    listener = sqlite_studio.jobs.listener()
    try:
        assert listener.wait(0.05) is False  # falls back to the timeout poll
    finally:
        listener.close()
    assert path.read_bytes() == b"precious"
    target = sqlite_studio.home / "target"
    target.write_bytes(b"keep")
    path.unlink()
    path.symlink_to(target)
    sqlite_studio.jobs.poke(3)
    assert target.read_bytes() == b"keep"


def _run_until(studio: Studio, job_ids: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(studio.jobs.get(i).finished for i in job_ids):
        assert time.monotonic() < deadline, "the idle worker was not woken"
        time.sleep(0.02)


def test_idle_worker_wakes_for_new_and_for_delayed_jobs(fast_studio: Studio) -> None:
    s = fast_studio
    stop = threading.Event()
    worker = Worker(s)
    t = threading.Thread(target=worker.run, kwargs={"poll": 3600, "stop": stop})
    t.start()
    try:
        while s.jobs.workers_alive() < 1:
            time.sleep(0.02)
        time.sleep(0.2)  # let it fall idle
        _run_until(s, [s.jobs.submit("system.ping", {}).id])
        # Due in a moment: the idle worker sleeps until then, not for its hour-long poll.
        _run_until(s, [s.jobs.submit("system.ping", {}, delay=0.3).id])
        _run_until(s, [h.id for h in s.jobs.submit_many("system.ping", [{}] * 5)])
    finally:
        stop.set()
        worker.interrupt()
        t.join(timeout=60)
    assert not t.is_alive()


def test_four_idle_worker_processes_drain_a_bulk_submit_exactly_once(tmp_path: Path, database_url: str | None) -> None:
    overrides: dict[str, Any] = {"poll_seconds": 3600.0}  # only wake-ups bring the workers to the jobs
    if database_url:
        overrides["database_url"] = database_url
    s = Studio.init(tmp_path / "studio", **overrides)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=run_workers, args=(str(s.home), 1)) for _ in range(4)]
    for p in procs:
        p.start()
    try:
        deadline = time.monotonic() + 120
        while s.jobs.workers_alive() < 4:
            assert time.monotonic() < deadline and all(p.is_alive() for p in procs), "workers did not start"
            time.sleep(0.1)
        time.sleep(0.5)
        ids = [h.id for h in s.jobs.submit_many("system.ping", [{"message": str(i)} for i in range(400)])]
        _run_until(s, ids, timeout=300)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0], "SIGTERM ends an idle worker cleanly"
    jobs = [s.jobs.get(i) for i in ids]
    assert Counter(j.status for j in jobs) == {"succeeded": 400}
    assert all(j.runs == 1 and j.attempt == 1 for j in jobs), "every job ran exactly once"
    assert sorted(j.result["message"] for j in jobs) == sorted(str(i) for i in range(400))
    assert len({j.result["pid"] for j in jobs}) >= 2, "work was spread over several workers"
    assert s.jobs.workers_alive() == 0
    s.close()
