"""DB-backed job queue: submit, atomic claim, leases and heartbeats, retries with backoff, cancel.

Every state change a worker makes is conditional on it still holding the lease
(``lease_owner = me AND status = 'running'``), so a worker that lost its lease (it stalled, the job
was re-queued and claimed by another) can never overwrite the new owner's work.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, func, select, update

from reelforge.catalog.common import audit
from reelforge.compute.jobs import FINAL_STATUSES, LOST, InlineRunner, Job, JobHandle, JobStatus
from reelforge.compute.registry import TaskSpec, get_task, validate_params
from reelforge.db.engine import session_scope
from reelforge.db.models import JobCheckpointRow, JobInputRow, JobLogRow, JobMetricRow, JobRow
from reelforge.errors import Conflict, InvalidInput, NotFound
from reelforge.ids import id_kind, new_id
from reelforge.version import code_version

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from reelforge.catalog.assets import AssetService
    from reelforge.catalog.datasets import DatasetService
    from reelforge.catalog.models import ModelService
    from reelforge.catalog.projects import ProjectService
    from reelforge.config import Settings
    from reelforge.db.engine import Database
    from reelforge.storage.base import BlobStore

def to_entity(row: JobRow, inputs: Sequence[JobInputRow] = ()) -> Job:
    return Job(
        id=row.id, project_id=row.project_id, task=row.task, params=dict(row.params or {}),
        status=JobStatus(row.status), priority=row.priority, attempt=row.attempt, max_attempts=row.max_attempts,
        seed=row.seed, code_version=row.code_version, created_at=row.created_at, run_after=row.run_after,
        started_at=row.started_at, finished_at=row.finished_at, lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at, cancel_requested=row.cancel_requested,
        progress_done=row.progress_done, progress_total=row.progress_total,
        progress_message=row.progress_message, error=row.error, result=dict(row.result or {}), runs=row.runs,
        inputs=[{"id": i.ref_id, "kind": i.ref_kind, "role": i.role} for i in inputs],
    )


class JobService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        settings: Settings,
        *,
        projects: ProjectService,
        assets: AssetService,
        datasets: DatasetService,
        models: ModelService,
    ) -> None:
        self.db, self.blobs, self.settings = db, blobs, settings
        self.projects, self.assets, self.datasets, self.models = projects, assets, datasets, models
        # Set by the Studio: runs a job in this process (the inline executor lives in worker.py,
        # which needs the whole studio to build task contexts).
        self.inline_runner: InlineRunner | None = None

    def run_inline(self, job_id: str) -> None:
        if self.inline_runner is None:
            raise RuntimeError("this job service has no inline executor")
        self.inline_runner(job_id)

    # -- submit ------------------------------------------------------------------------------
    def _resolve_inputs(self, spec: TaskSpec, params: dict[str, Any], project: str) -> list[tuple[str, str, str]]:
        """Replace names (``plates@2``) by ids so the job is reproducible; list its input edges."""
        edges: list[tuple[str, str, str]] = []
        for fld, kind in spec.inputs.items():
            value = params.get(fld)
            if value is None:
                continue
            if kind == "asset":
                a = self.assets.get(value, project)
                params[fld] = a.id
                edges.append((a.id, "asset", fld))
            elif kind == "assets":
                ids = [self.assets.get(v, project).id for v in value]
                params[fld] = ids
                edges.extend((i, "asset", fld) for i in ids)
            elif kind == "dataset":
                d = self.datasets.get(value, project, with_items=False)
                params[fld] = d.id
                edges.append((d.id, "dataset", fld))
            elif kind == "model":
                m = self.models.get(value, project)
                params[fld] = m.id
                edges.append((m.id, "model", fld))
        return edges

    def submit(
        self,
        task: str,
        params: dict[str, Any] | None = None,
        *,
        project: str | None = None,
        priority: int = 0,
        max_attempts: int | None = None,
        seed: int | None = None,
        delay: float = 0.0,
    ) -> JobHandle:
        spec = get_task(task)
        proj = self.projects.get(project)
        validated = validate_params(spec, dict(params or {}))
        resolved = validated.model_dump(mode="json")
        edges = self._resolve_inputs(spec, resolved, proj.id)
        validate_params(spec, resolved)
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
        if not 0 <= seed < 2**63:
            raise InvalidInput("seed must be a non-negative 63-bit integer")
        attempts = max_attempts if max_attempts is not None else self.settings.max_attempts
        if attempts < 1:
            raise InvalidInput("max attempts must be at least 1")
        now = time.time()
        with session_scope(self.db.Session) as s:
            row = JobRow(
                id=new_id("job"), project_id=proj.id, task=spec.name, params=resolved, status=JobStatus.QUEUED,
                priority=priority, attempt=0, max_attempts=attempts, seed=seed, code_version=code_version(),
                created_at=now, run_after=now + delay, cancel_requested=False, progress_done=0,
                progress_total=0, progress_message="", result={}, runs=0,
            )
            s.add(row)
            s.flush()
            seen = set()
            for ref_id, kind, role in edges:
                if ref_id not in seen:
                    seen.add(ref_id)
                    s.add(JobInputRow(job_id=row.id, ref_id=ref_id, ref_kind=kind, role=role))
            audit(s, "job.submit", row.id, proj.id, task=spec.name)
            job_id = row.id
        return JobHandle(self, job_id)

    def submit_many(self, task: str, params_list: Sequence[dict[str, Any]], **kw: Any) -> list[JobHandle]:
        return [self.submit(task, p, **kw) for p in params_list]

    # -- queries -----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        if id_kind(job_id) != "job":
            raise NotFound(f"no job {job_id!r}")
        with session_scope(self.db.ReadSession) as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFound(f"no job {job_id!r}")
            inputs = list(s.scalars(select(JobInputRow).where(JobInputRow.job_id == job_id)))
            return to_entity(row, inputs)

    def handle(self, job_id: str) -> JobHandle:
        self.get(job_id)
        return JobHandle(self, job_id)

    def list(
        self, *, status: str | None = None, task: str | None = None, project: str | None = None, limit: int = 50
    ) -> list[Job]:
        if status is not None:
            status = JobStatus.parse(status)
        with session_scope(self.db.ReadSession) as s:
            q = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
            if status:
                q = q.where(JobRow.status == status)
            if task:
                q = q.where(JobRow.task == task)
            if project:
                q = q.where(JobRow.project_id == self.projects.get(project).id)
            return [to_entity(r) for r in s.scalars(q)]

    def counts(self) -> dict[str, int]:
        with session_scope(self.db.ReadSession) as s:
            return dict(s.execute(select(JobRow.status, func.count()).group_by(JobRow.status)).all())  # type: ignore[arg-type]

    def logs(self, job_id: str, after_id: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        self.get(job_id)
        with session_scope(self.db.ReadSession) as s:
            q = (
                select(JobLogRow)
                .where(JobLogRow.job_id == job_id, JobLogRow.id > after_id)
                .order_by(JobLogRow.id)
                .limit(limit)
            )
            return [
                {"id": r.id, "ts": r.ts, "level": r.level, "attempt": r.attempt, "message": r.message}
                for r in s.scalars(q)
            ]

    def metrics(self, job_id: str, name: str | None = None) -> dict[str, list[tuple[int, float]]]:
        with session_scope(self.db.ReadSession) as s:
            q = select(JobMetricRow).where(JobMetricRow.job_id == job_id).order_by(JobMetricRow.name, JobMetricRow.step, JobMetricRow.id)
            if name:
                q = q.where(JobMetricRow.name == name)
            out: dict[str, list[tuple[int, float]]] = {}
            for r in s.scalars(q):
                out.setdefault(r.name, []).append((r.step, r.value))
            return out

    # -- user actions ------------------------------------------------------------------------
    def cancel(self, job_id: str) -> Job:
        """Queued jobs stop at once; running ones are asked to stop (cooperative)."""
        with session_scope(self.db.Session) as s:
            row = s.get(JobRow, job_id) if id_kind(job_id) == "job" else None
            if row is None:
                raise NotFound(f"no job {job_id!r}")
            if row.status in FINAL_STATUSES:
                raise Conflict(f"job {job_id} already {row.status}")
            if row.status == JobStatus.QUEUED:
                row.status, row.finished_at = JobStatus.CANCELLED, time.time()
            else:
                row.cancel_requested = True
            audit(s, "job.cancel", row.id, row.project_id)
        return self.get(job_id)

    def retry(self, job_id: str) -> Job:
        """Put a failed or cancelled job back in the queue; it resumes from its last checkpoint."""
        with session_scope(self.db.Session) as s:
            row = s.get(JobRow, job_id) if id_kind(job_id) == "job" else None
            if row is None:
                raise NotFound(f"no job {job_id!r}")
            if row.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
                raise Conflict(f"job {job_id} is {row.status}; only failed or cancelled jobs can be retried")
            row.status, row.error, row.cancel_requested = JobStatus.QUEUED, None, False
            row.run_after, row.finished_at = time.time(), None
            row.max_attempts = max(row.max_attempts, row.attempt + 1)
            audit(s, "job.retry", row.id, row.project_id)
        return self.get(job_id)

    def workers_alive(self, within: float | None = None) -> int:
        """How many workers announced themselves recently."""
        from reelforge.db.models import WorkerRow

        within = within if within is not None else max(3 * self.settings.heartbeat_seconds, 10.0)
        with session_scope(self.db.ReadSession) as s:
            q = select(func.count()).select_from(WorkerRow).where(WorkerRow.heartbeat_at > time.time() - within)
            return int(s.scalar(q) or 0)

    # -- worker side -------------------------------------------------------------------------
    def claim(self, worker_id: str, job_id: str | None = None, tasks: Sequence[str] | None = None) -> Job | None:
        """Atomically take the most urgent runnable job (or a given one) and lease it."""
        now = time.time()
        lease = self.settings.lease_seconds
        with session_scope(self.db.Session) as s:
            q = select(JobRow).where(JobRow.status == JobStatus.QUEUED, JobRow.run_after <= now)
            if job_id is not None:
                q = q.where(JobRow.id == job_id)
            if tasks:
                q = q.where(JobRow.task.in_(list(tasks)))
            # SQLite: our transactions start with BEGIN IMMEDIATE, so select+update is serialised.
            # PostgreSQL: FOR UPDATE SKIP LOCKED lets concurrent workers take different rows.
            q = q.order_by(JobRow.priority.desc(), JobRow.id).limit(1).with_for_update(skip_locked=True)
            row = s.scalar(q)
            if row is None:
                return None
            row.status, row.lease_owner = JobStatus.RUNNING, worker_id
            row.lease_expires_at, row.heartbeat_at = now + lease, now
            row.attempt += 1
            row.runs += 1
            row.started_at = row.started_at or now
            s.add(JobLogRow(job_id=row.id, ts=now, level="info", attempt=row.attempt,
                            message=f"attempt {row.attempt}/{row.max_attempts} started on {worker_id}"))
            s.flush()
            # Inputs come with the claim so the task context need not look them up again.
            inputs = list(s.scalars(select(JobInputRow).where(JobInputRow.job_id == row.id)))
            return to_entity(row, inputs)

    def _owned(self, s: Session, job_id: str, worker_id: str) -> Any:
        return update(JobRow).where(
            JobRow.id == job_id, JobRow.lease_owner == worker_id, JobRow.status == JobStatus.RUNNING
        )

    def heartbeat(self, job_id: str, worker_id: str) -> tuple[bool, bool]:
        """Renew the lease. Returns (still ours, cancel requested)."""
        now = time.time()
        with session_scope(self.db.Session) as s:
            res = s.execute(
                self._owned(s, job_id, worker_id).values(
                    lease_expires_at=now + self.settings.lease_seconds, heartbeat_at=now
                )
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                return False, True
            cancel = s.scalar(select(JobRow.cancel_requested).where(JobRow.id == job_id))
            return True, bool(cancel)

    def report(
        self,
        job_id: str,
        worker_id: str,
        attempt: int,
        progress: tuple[float, float, str] | None,
        logs: Sequence[tuple[float, str, str]],
        metrics: Sequence[tuple[str, int, float, float]],
    ) -> bool:
        """Write buffered progress, log lines and metrics in one transaction."""
        with session_scope(self.db.Session) as s:
            if progress is not None:
                res = s.execute(
                    self._owned(s, job_id, worker_id).values(
                        progress_done=progress[0], progress_total=progress[1], progress_message=progress[2][:500]
                    )
                )
                if res.rowcount != 1:  # type: ignore[attr-defined]
                    return False
            for ts, level, msg in logs:
                s.add(JobLogRow(job_id=job_id, ts=ts, level=level, attempt=attempt, message=msg))
            for name, step, value, ts in metrics:
                s.add(JobMetricRow(job_id=job_id, name=name, step=step, value=value, ts=ts))
        return True

    def finish(
        self, job_id: str, worker_id: str, status: JobStatus, *, error: str | None = None,
        result: dict[str, Any] | None = None, retryable: bool = False,
    ) -> JobStatus | Literal["lost"]:
        """End an attempt; the job's new status, or "lost" when this worker no longer holds the lease.
        A retryable failure with attempts left goes back to the queue with backoff."""
        status = JobStatus(status)
        now = time.time()
        with session_scope(self.db.Session) as s:
            row = s.scalar(
                select(JobRow).where(JobRow.id == job_id, JobRow.lease_owner == worker_id, JobRow.status == JobStatus.RUNNING)
                .with_for_update()
            )
            if row is None:
                return LOST
            if status == JobStatus.FAILED and retryable and row.attempt < row.max_attempts and not row.cancel_requested:
                delay = self.settings.retry_backoff_seconds * (2 ** (row.attempt - 1))
                row.status, row.run_after = JobStatus.QUEUED, now + delay
                row.lease_owner = row.lease_expires_at = None
                s.add(JobLogRow(job_id=job_id, ts=now, level="warning", attempt=row.attempt,
                                message=f"attempt {row.attempt} failed: {error}; retrying in {delay:.1f}s"))
                return JobStatus.QUEUED
            row.status, row.finished_at, row.error = status, now, error
            row.lease_owner = row.lease_expires_at = None
            if result is not None:
                row.result = result
            if status == JobStatus.SUCCEEDED:
                row.progress_done = row.progress_total or row.progress_done
            s.add(JobLogRow(job_id=job_id, ts=now, level="error" if status == JobStatus.FAILED else "info",
                            attempt=row.attempt, message=f"{status.value}" + (f": {error}" if error else "")))
            return status

    def requeue_expired(self) -> int:
        """Jobs whose worker stopped heartbeating go back to the queue (or fail when out of attempts)."""
        now = time.time()
        n = 0
        with session_scope(self.db.Session) as s:
            q = (
                select(JobRow)
                .where(JobRow.status == JobStatus.RUNNING, JobRow.lease_expires_at < now)
                .with_for_update(skip_locked=True)
            )
            for row in s.scalars(q):
                n += 1
                owner = row.lease_owner
                row.lease_owner = row.lease_expires_at = None
                if row.cancel_requested:
                    row.status, row.finished_at = JobStatus.CANCELLED, now
                elif row.attempt < row.max_attempts:
                    row.status, row.run_after = JobStatus.QUEUED, now
                else:
                    row.status, row.finished_at = JobStatus.FAILED, now
                    row.error = f"lease expired on attempt {row.attempt} of {row.max_attempts} (worker {owner} lost)"
                s.add(JobLogRow(job_id=row.id, ts=now, level="warning", attempt=row.attempt,
                                message=f"lease of {owner} expired; job {row.status}"))
        return n

    # -- lineage of a running job ------------------------------------------------------------
    def record_input(self, job_id: str, ref_id: str, kind: str, role: str = "read") -> None:
        """A running task read ``ref_id``: add it to the job's inputs (lineage) once."""
        with session_scope(self.db.Session) as s:
            if s.get(JobInputRow, (job_id, ref_id)) is None:
                s.add(JobInputRow(job_id=job_id, ref_id=ref_id, ref_kind=kind, role=role))

    def inputs(self, job_id: str) -> list[dict[str, str]]:
        with session_scope(self.db.ReadSession) as s:
            q = select(JobInputRow).where(JobInputRow.job_id == job_id).order_by(JobInputRow.ref_id)
            return [{"id": r.ref_id, "kind": r.ref_kind, "role": r.role} for r in s.scalars(q)]

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, job_id: str, worker_id: str, data: bytes) -> None:
        info = self.blobs.put_bytes(data)
        with session_scope(self.db.Session) as s:
            row = s.scalar(select(JobRow).where(JobRow.id == job_id, JobRow.lease_owner == worker_id,
                                                JobRow.status == JobStatus.RUNNING))
            if row is None:
                return  # lease lost: the new owner's checkpoints win
            s.execute(delete(JobCheckpointRow).where(JobCheckpointRow.job_id == job_id))
            s.add(JobCheckpointRow(job_id=job_id, sha256=info.sha256, size=info.size, attempt=row.attempt,
                                   created_at=time.time()))

    def load_checkpoint(self, job_id: str) -> bytes | None:
        with session_scope(self.db.ReadSession) as s:
            row = s.get(JobCheckpointRow, job_id)
            sha = row.sha256 if row else None
        return self.blobs.read_bytes(sha) if sha else None
