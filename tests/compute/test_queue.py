from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import tests.compute.tasks_for_tests  # noqa: F401 - registers testing.* tasks
from reelforge.compute.worker import Worker
from reelforge.errors import Conflict, InvalidInput, NotFound
from reelforge.studio import Studio
from tests.conftest import make_image


@pytest.fixture
def fast_studio(tmp_path: Path, database_url: str | None) -> Studio:
    overrides: dict = {"lease_seconds": 1.0, "heartbeat_seconds": 0.2, "retry_backoff_seconds": 0.05}
    if database_url:
        overrides["database_url"] = database_url
    s = Studio.init(tmp_path / "studio", **overrides)
    yield s
    s.close()


def test_submit_validates_and_resolves_inputs(fast_studio: Studio, tmp_path: Path) -> None:
    s = fast_studio
    a = s.assets.add([make_image(tmp_path / "hero.png")]).added[0]
    with pytest.raises(NotFound):
        s.jobs.submit("no.such_task", {})
    with pytest.raises(InvalidInput, match="max_side"):
        s.jobs.submit("media.proxy", {"asset": a.id, "max_side": 3})
    with pytest.raises(InvalidInput, match="colour: Extra inputs"):
        s.jobs.submit("media.proxy", {"asset": a.id, "colour": "red"})
    with pytest.raises(NotFound):
        s.jobs.submit("media.proxy", {"asset": "missing.png"})
    assert s.jobs.list() == []
    job = s.jobs.submit("media.proxy", {"asset": "hero.png"}, seed=5).job
    assert job.params["asset"] == a.id, "names are resolved to ids so the job is reproducible"
    assert job.inputs == [{"id": a.id, "kind": "asset", "role": "asset"}]
    assert (job.status, job.attempt, job.seed) == ("queued", 0, 5)


def test_claim_order_priority_and_exclusivity(fast_studio: Studio) -> None:
    s = fast_studio
    low = s.jobs.submit("testing.flaky", {"fail_times": 0})
    high = s.jobs.submit("testing.flaky", {"fail_times": 0}, priority=10)
    later = s.jobs.submit("testing.flaky", {"fail_times": 0}, delay=60)
    assert s.jobs.claim("w1").id == high.id
    assert s.jobs.claim("w2").id == low.id
    assert s.jobs.claim("w3") is None, "a delayed job is not runnable yet"
    assert later.job.status == "queued"


def test_expired_lease_is_requeued_and_old_owner_is_fenced(fast_studio: Studio) -> None:
    s = fast_studio
    h = s.jobs.submit("testing.flaky", {"fail_times": 0}, max_attempts=3)
    job = s.jobs.claim("dead-worker")
    assert job.attempt == 1
    assert s.jobs.requeue_expired() == 0
    time.sleep(1.2)
    assert s.jobs.requeue_expired() == 1
    assert h.job.status == "queued"
    job2 = s.jobs.claim("live-worker")
    assert job2.attempt == 2 and job2.runs == 2
    # The stalled worker wakes up: it can neither heartbeat nor finish the job it lost.
    assert s.jobs.heartbeat(h.id, "dead-worker") == (False, True)
    assert s.jobs.finish(h.id, "dead-worker", "succeeded") == "lost"
    assert s.jobs.finish(h.id, "live-worker", "succeeded") == "succeeded"


def test_lease_expiry_on_last_attempt_fails_the_job(fast_studio: Studio) -> None:
    s = fast_studio
    h = s.jobs.submit("testing.flaky", {"fail_times": 0}, max_attempts=1)
    s.jobs.claim("w")
    time.sleep(1.2)
    s.jobs.requeue_expired()
    job = h.job
    assert job.status == "failed" and "lease expired" in (job.error or "")


def test_retries_with_backoff_then_success(fast_studio: Studio) -> None:
    s = fast_studio
    h = s.jobs.submit("testing.flaky", {"fail_times": 2}, max_attempts=3)
    job = h.run()
    assert job.status == "succeeded" and job.attempt == 3 and job.result["attempt"] == 3
    messages = [line["message"] for line in s.jobs.logs(h.id)]
    assert sum("retrying in" in m for m in messages) == 2
    assert any("retrying in 0.1s" in m for m in messages), "backoff doubles: 0.05s then 0.1s"
    assert any("RuntimeError: transient failure on attempt 1" in m for m in messages)


def test_attempts_exhausted_and_bad_input_not_retried(fast_studio: Studio) -> None:
    s = fast_studio
    job = s.jobs.submit("testing.flaky", {"fail_times": 5}, max_attempts=2).run()
    assert job.status == "failed" and job.attempt == 2
    assert job.error == "RuntimeError: transient failure on attempt 2"
    job = s.jobs.submit("testing.bad_input", {}, max_attempts=3).run()
    assert job.status == "failed" and job.attempt == 1 and job.error == "this input will never work"
    # A failed job can be retried by hand.
    again = s.jobs.retry(job.id)
    assert again.status == "queued"
    with pytest.raises(Conflict):
        s.jobs.retry(s.jobs.submit("testing.flaky", {"fail_times": 0}).id)


def test_cancel_queued_and_running(fast_studio: Studio) -> None:
    s = fast_studio
    queued = s.jobs.submit("testing.wait_cancel", {})
    assert s.jobs.cancel(queued.id).status == "cancelled"
    with pytest.raises(Conflict):
        s.jobs.cancel(queued.id)
    running = s.jobs.submit("testing.wait_cancel", {"seconds": 30})
    t = threading.Thread(target=Worker(s).run_job, args=(running.id,))
    t.start()
    deadline = time.monotonic() + 20
    while running.job.progress_done < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.job.status == "running"
    s.jobs.cancel(running.id)
    t.join(timeout=20)
    job = running.job
    assert job.status == "cancelled" and job.finished_at is not None


def test_progress_logs_and_metrics_are_stored(fast_studio: Studio, tmp_path: Path) -> None:
    s = fast_studio
    a = s.assets.add([make_image(tmp_path / "a.png", size=(300, 200))]).added[0]
    job = s.jobs.submit("media.proxy", {"asset": a.id, "max_side": 100}).run()
    assert job.status == "succeeded" and job.progress_done == job.progress_total == 1
    out = s.assets.get(job.result["outputs"][0])
    assert out.created_by_job == job.id and max(out.info["width"], out.info["height"]) == 100
    assert out.format == "jpeg" and out.tags == ["proxy"]
    assert any("started on" in line["message"] for line in s.jobs.logs(job.id))


def test_job_acts_as_the_account_that_submitted_it(tmp_path: Path) -> None:
    from sqlalchemy import select

    from reelforge.access.actor import Actor, acting_as
    from reelforge.db.engine import session_scope
    from reelforge.db.models import AuditEventRow

    s = Studio.init(tmp_path / "studio")
    a = s.assets.add([make_image(tmp_path / "a.png", seed=1)]).added[0]
    with acting_as(Actor("user:alice", "usr_alice")):
        h = s.jobs.submit("media.proxy", {"asset": a.id})
    assert h.job.submitted_by == "usr_alice"
    job = h.wait()  # runs inline, outside any request context
    assert job.status == "succeeded"
    with session_scope(s.ReadSession) as sess:
        actors = set(sess.scalars(select(AuditEventRow.actor).where(AuditEventRow.action == "asset.add")))
    assert f"job:{job.id} for usr_alice" in actors
    s.close()


def test_pause_resume_and_reorder(studio: Studio) -> None:
    low = studio.jobs.submit("testing.sleep", {}, priority=0)
    high = studio.jobs.submit("testing.sleep", {}, priority=0)
    assert studio.jobs.pause()["paused"] and studio.jobs.queue_state()["changed_by"]
    assert studio.jobs.claim("w1") is None  # workers take nothing while paused
    studio.jobs.set_priority(high.id, 5)
    assert studio.jobs.get(high.id).priority == 5
    assert studio.jobs.resume()["paused"] is False
    first = studio.jobs.claim("w1")
    assert first is not None and first.id == high.id  # reordered ahead of the older job
    with pytest.raises(Conflict):
        studio.jobs.set_priority(high.id, 1)  # running now
    with pytest.raises(InvalidInput):
        studio.jobs.set_priority(low.id, 10_000)
    with pytest.raises(NotFound):
        studio.jobs.set_priority("job_nope", 1)
    # An explicit job still runs inline while the queue is paused (`reelforge run` with no worker).
    studio.jobs.pause()
    assert studio.jobs.claim("w2", job_id=low.id) is not None
