"""The claim, heartbeat and finish use the queue index however many jobs wait, on both backends.

Each worker-side call runs for real while its SQL is captured; every captured statement is then
EXPLAINed with its own parameters. No plan may scan the jobs table or sort it, with 20,000 jobs
queued and delayed at priorities above, at and below the runnable ones, before and after ANALYZE.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, inspect

from reelforge.db.engine import _alembic_config, current_revision, head_revision
from reelforge.db.models import JobRow
from reelforge.ids import new_id
from reelforge.studio import Studio

FILLER = 20_000


@contextmanager
def captured(studio: Studio) -> Iterator[list[tuple[str, Any]]]:
    out: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not executemany and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            out.append((statement, parameters))

    event.listen(studio.engine, "before_cursor_execute", grab)
    try:
        yield out
    finally:
        event.remove(studio.engine, "before_cursor_execute", grab)


def plans(studio: Studio, statements: list[tuple[str, Any]], table: str = "jobs") -> list[str]:
    """The plans of the captured statements that read ``table``, each EXPLAINed with its parameters."""
    sqlite = studio.engine.dialect.name == "sqlite"
    out = []
    with studio.engine.connect() as conn:
        for statement, params in statements:
            if table not in statement:
                continue
            rows = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, params).all()
            out.append("\n".join(str(r[-1] if sqlite else r[0]) for r in rows))
        conn.rollback()
    return out


def assert_indexed(studio: Studio, statements: list[tuple[str, Any]]) -> None:
    assert statements
    for plan in plans(studio, statements):
        if studio.engine.dialect.name == "sqlite":
            assert "SCAN jobs" not in plan and "TEMP B-TREE" not in plan, plan
        else:
            assert "Seq Scan on jobs" not in plan and "Sort" not in plan, plan


def add_filler(studio: Studio) -> None:
    project = studio.projects.get(None).id
    now = time.time()
    rows = [dict(id=new_id("job"), project_id=project, task="system.ping", params={}, status="queued",
                 priority=(1, 0, -1)[i % 3], attempt=0, max_attempts=3, seed=i, code_version="test",
                 created_at=now, run_after=now + 86400, cancel_requested=False, progress_done=0,
                 progress_total=0, progress_message="", result={}, runs=0) for i in range(FILLER)]
    with studio.engine.begin() as conn:
        conn.execute(insert(JobRow), rows)


@pytest.mark.parametrize("analyze", [False, True], ids=["no-stats", "analyzed"])
def test_worker_statements_use_the_queue_index(studio: Studio, analyze: bool) -> None:
    add_filler(studio)
    if analyze:
        with studio.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    jobs = studio.jobs
    high = jobs.submit("system.ping", {}, priority=1).id
    jobs.submit_many("system.ping", [{}] * 3)
    with captured(studio) as claim_sql:
        job = jobs.claim("w")
    assert job is not None and job.id == high, "the runnable job outranks the delayed ones at its priority"
    with captured(studio) as walk_sql:
        # The top priority (1) holds only delayed jobs: the claim walks down to priority 0.
        other = jobs.claim("w2")
    assert other is not None and other.priority == 0
    with captured(studio) as beat_sql:
        beat = jobs.heartbeat(job.id, "w", progress=(1, 2, "half"), logs=[(time.time(), "info", "x")])
    assert beat == (True, False)
    with captured(studio) as finish_sql:
        assert jobs.finish(job.id, "w", "succeeded", result={"ok": True}) == "succeeded"
    with captured(studio) as retry_sql:
        assert jobs.finish(other.id, "w2", "failed", error="boom", retryable=True) == "queued"
    while jobs.claim("w3") is not None:
        pass
    with captured(studio) as empty_sql:
        assert jobs.claim("w4") is None  # nothing runnable: every priority probed, none scanned
    for statements in (claim_sql, walk_sql, beat_sql, finish_sql, retry_sql, empty_sql):
        assert_indexed(studio, statements)


def test_upgrade_replaces_the_claim_index(studio: Studio) -> None:
    from alembic import command

    cfg = _alembic_config(studio.engine)
    with studio.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    names = {ix["name"] for ix in inspect(studio.engine).get_indexes("jobs")}
    assert "ix_jobs_claim" in names and "ix_jobs_queue" not in names
    assert current_revision(studio.engine) == "0001"
    home, url = studio.home, studio.settings.database_url
    studio.close()
    reopened = Studio.open(home, database_url=url)
    try:
        assert reopened.migrated and current_revision(reopened.engine) == head_revision(reopened.engine)
        ix = {i["name"]: i["column_names"] for i in inspect(reopened.engine).get_indexes("jobs")}
        assert ix["ix_jobs_queue"] == ["status", "priority", "run_after", "id"] and "ix_jobs_claim" not in ix
    finally:
        reopened.close()


def test_fresh_catalog_matches_the_models(tmp_path: Path) -> None:
    s = Studio.init(tmp_path / "s")
    try:
        ix = {i["name"]: i["column_names"] for i in inspect(s.engine).get_indexes("jobs")}
        assert ix["ix_jobs_queue"] == ["status", "priority", "run_after", "id"]
        assert ix["ix_jobs_lease"] == ["status", "lease_expires_at"]
    finally:
        s.close()


def test_opening_an_up_to_date_studio_does_not_import_alembic(tmp_path: Path) -> None:
    """The schema check on open reads the shipped head from the migration files; Alembic is only
    imported when there is something to upgrade (it costs every CLI command ~60 ms)."""
    import subprocess
    import sys

    from reelforge.db.engine import shipped_head
    from reelforge.studio import Studio

    s = Studio.init(tmp_path / "studio")
    assert shipped_head() == head_revision(s.engine)
    s.close()
    code = ("import sys; from reelforge.studio import Studio; "
            f"Studio.open({str(tmp_path / 'studio')!r}).close(); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
