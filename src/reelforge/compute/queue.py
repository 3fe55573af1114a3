"""DB-backed job queue: submit, atomic claim, leases and heartbeats, retries with backoff, cancel.

Every state change a worker makes is conditional on it still holding the lease
(``lease_owner = me AND status = 'running'``), so a worker that lost its lease (it stalled, the job
was re-queued and claimed by another) can never overwrite the new owner's work.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import bindparam, case, delete, func, insert, select, update

from reelforge.catalog.common import audit, current_actor
from reelforge.compute.jobs import FINAL_STATUSES, LOST, InlineRunner, Job, JobHandle, JobStatus
from reelforge.compute.registry import TaskSpec, get_task, validate_params
from reelforge.compute.wake import Listener, WakeChannel
from reelforge.db.engine import session_scope
from reelforge.db.models import (
    AuditEventRow,
    JobCheckpointRow,
    JobInputRow,
    JobLogRow,
    JobMetricRow,
    JobRow,
    QueueStateRow,
)
from reelforge.errors import Conflict, InvalidInput, NotFound, ReelforgeError
from reelforge.ids import id_kind, new_id
from reelforge.version import code_version

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

    from reelforge.catalog.assets import AssetService
    from reelforge.catalog.datasets import DatasetService
    from reelforge.catalog.models import ModelService
    from reelforge.catalog.projects import ProjectService
    from reelforge.config import Settings
    from reelforge.db.engine import Database
    from reelforge.storage.base import BlobStore

QUEUED, RUNNING = JobStatus.QUEUED.value, JobStatus.RUNNING.value


@functools.cache
def _sql() -> SimpleNamespace:
    """The worker side's statements, built once: a claim or a finish runs a few short statements,
    and building and cache-keying them anew each time cost more than the database did."""
    t, b = JobRow.__table__, bindparam
    queued = t.c.status == QUEUED
    owned = (t.c.id == b("job_id"), t.c.lease_owner == b("owner"), t.c.status == RUNNING)
    top = select(t.c.priority).where(queued).order_by(t.c.priority.desc()).limit(1)

    def runnable(prio: Any, only: bool) -> Any:
        q = select(t.c.id).where(queued, t.c.priority == prio, t.c.run_after <= b("now"))
        if only:
            q = q.where(t.c.task.in_(b("tasks", expanding=True)))
        return q.order_by(t.c.run_after, t.c.id).limit(1).with_for_update(skip_locked=True)

    def due_at(only: bool) -> Any:
        q = select(t.c.run_after).where(queued, t.c.priority == b("prio"), t.c.run_after > b("now"))
        if only:
            q = q.where(t.c.task.in_(b("tasks", expanding=True)))
        return q.order_by(t.c.run_after).limit(1)

    lease = dict(status=RUNNING, lease_owner=b("owner"), lease_expires_at=b("expires"), heartbeat_at=b("now"),
                 attempt=t.c.attempt + 1, runs=t.c.runs + 1, started_at=func.coalesce(t.c.started_at, b("now")))
    progress = dict(progress_done=b("pdone", type_=t.c.progress_done.type),
                    progress_total=b("ptotal", type_=t.c.progress_total.type),
                    progress_message=b("pmsg", type_=t.c.progress_message.type))
    renew = dict(lease_expires_at=b("expires"), heartbeat_at=b("now"))
    # A success completes the progress bar: done = total, when there is a total.
    complete = dict(progress_done=case((t.c.progress_total != 0, t.c.progress_total), else_=t.c.progress_done))
    released = dict(lease_owner=None, lease_expires_at=None, **progress)
    qs = QueueStateRow.__table__
    return SimpleNamespace(
        paused=select(qs.c.paused).where(qs.c.id == 1),
        top=top,
        lower=select(t.c.priority).where(queued, t.c.priority < b("prio")).order_by(t.c.priority.desc()).limit(1),
        runnable={only: runnable(b("prio"), only) for only in (False, True)},
        due_at={only: due_at(only) for only in (False, True)},
        one=select(t.c.id, t.c.run_after).where(queued, t.c.id == b("job_id")).with_for_update(skip_locked=True),
        # The usual claim in one statement: the top priority's first due job, leased.
        claim_top={only: update(t).where(t.c.id == runnable(top.scalar_subquery(), only).scalar_subquery(), queued)
                   .values(**lease).returning(*t.c) for only in (False, True)},
        claim_id=update(t).where(t.c.id == b("cand"), queued).values(**lease).returning(*t.c),
        inputs=select(JobInputRow.__table__.c.ref_id, JobInputRow.__table__.c.ref_kind, JobInputRow.__table__.c.role)
        .where(JobInputRow.__table__.c.job_id == b("job_id")),
        log=insert(JobLogRow.__table__),
        metric=insert(JobMetricRow.__table__),
        heartbeat={p: update(t).where(*owned).values(**renew, **(progress if p else {}))
                   .returning(t.c.attempt, t.c.cancel_requested) for p in (False, True)},
        fenced=select(t.c.attempt, t.c.max_attempts, t.c.cancel_requested, t.c.progress_done, t.c.progress_total,
                      t.c.progress_message).where(*owned).with_for_update(),
        retry=update(t).where(t.c.id == b("job_id")).values(status=QUEUED, run_after=b("due"), **released),
        # The usual finish in one fenced statement; variants: (buffered progress?, result?, success?).
        final={(p, r, ok): update(t).where(*owned).values(
            status=b("st", type_=t.c.status.type), finished_at=b("now"), error=b("err", type_=t.c.error.type),
            lease_owner=None, lease_expires_at=None, **(progress if p else complete if ok else {}),
            **({"result": b("res", type_=t.c.result.type)} if r else {}),
        ).returning(t.c.attempt) for p in (False, True) for r in (False, True) for ok in (False, True)},
    )


def to_entity(row: JobRow | Row[Any], inputs: Sequence[JobInputRow | Row[Any]] = ()) -> Job:
    """The one ``JobRow`` (or a row of the jobs table) to ``Job`` conversion."""
    return Job(
        id=row.id, project_id=row.project_id, task=row.task, params=dict(row.params or {}),
        status=JobStatus(row.status), priority=row.priority, attempt=row.attempt, max_attempts=row.max_attempts,
        seed=row.seed, code_version=row.code_version, created_at=row.created_at, run_after=row.run_after,
        started_at=row.started_at, finished_at=row.finished_at, lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at, cancel_requested=row.cancel_requested,
        progress_done=row.progress_done, progress_total=row.progress_total,
        progress_message=row.progress_message, error=row.error, result=dict(row.result or {}), runs=row.runs,
        submitted_by=row.submitted_by,
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
        self._pg = db.engine.dialect.name == "postgresql"
        # Submitters wake idle workers through this instead of workers polling the queue.
        self.wake = WakeChannel(db.engine)
        self.projects, self.assets, self.datasets, self.models = projects, assets, datasets, models
        # Set by the Studio: runs a job in this process (the inline executor lives in worker.py,
        # which needs the whole studio to build task contexts).
        self.inline_runner: InlineRunner | None = None

    def run_inline(self, job_id: str) -> None:
        if self.inline_runner is None:
            raise RuntimeError("this job service has no inline executor")
        self.inline_runner(job_id)

    # -- submit ------------------------------------------------------------------------------
    def _resolve_inputs(
        self, spec: TaskSpec, params: dict[str, Any], project: str, cache: dict[tuple[str, str], str] | None = None,
    ) -> list[tuple[str, str, str]]:
        """Replace names (``plates@2``) by ids so the job is reproducible; list its input edges.
        ``cache`` remembers resolutions across the jobs of one ``submit_many``."""
        cache = {} if cache is None else cache

        def resolve(kind: str, ref: str) -> str:
            key = (kind, ref)
            if key not in cache:
                if kind == "asset":
                    cache[key] = self.assets.get(ref, project).id
                elif kind == "dataset":
                    cache[key] = self.datasets.get(ref, project, with_items=False).id
                else:
                    cache[key] = self.models.get(ref, project).id
            return cache[key]

        edges: list[tuple[str, str, str]] = []
        for fld, kind in spec.inputs.items():
            value = params.get(fld)
            if value is None:
                continue
            if kind == "assets":
                ids = [resolve("asset", v) for v in value]
                params[fld] = ids
                edges.extend((i, "asset", fld) for i in ids)
            else:
                params[fld] = resolve(kind, value)
                edges.append((params[fld], kind, fld))
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
        return self.submit_many(task, [params or {}], project=project, priority=priority,
                                max_attempts=max_attempts, seed=seed, delay=delay)[0]

    def submit_many(
        self,
        task: str,
        params_list: Sequence[dict[str, Any]],
        *,
        project: str | None = None,
        priority: int = 0,
        max_attempts: int | None = None,
        seed: int | None = None,
        delay: float = 0.0,
    ) -> list[JobHandle]:
        """Queue one job per params dict in ONE transaction: every job's params are validated and
        its inputs resolved first, so either all are queued or none is."""
        spec = get_task(task)
        proj = self.projects.get(project)
        if seed is not None and not 0 <= seed < 2**63:
            raise InvalidInput("seed must be a non-negative 63-bit integer")
        attempts = max_attempts if max_attempts is not None else self.settings.max_attempts
        if attempts < 1:
            raise InvalidInput("max attempts must be at least 1")
        cache: dict[tuple[str, str], str] = {}
        prepared: list[tuple[dict[str, Any], list[tuple[str, str, str]]]] = []
        for i, params in enumerate(params_list):
            try:
                resolved = validate_params(spec, dict(params or {})).model_dump(mode="json")
                edges = self._resolve_inputs(spec, resolved, proj.id, cache)
                validate_params(spec, resolved)
            except ReelforgeError as exc:
                if len(params_list) == 1:
                    raise
                raise type(exc)(f"job {i + 1} of {len(params_list)}: {exc}") from None
            prepared.append((resolved, edges))
        if not prepared:
            return []
        now, version, actor = time.time(), code_version(), current_actor()
        rng = random.SystemRandom()
        jobs, inputs, events = [], [], []
        for resolved, edges in prepared:
            job_id = new_id("job")
            jobs.append(dict(
                id=job_id, project_id=proj.id, task=spec.name, params=resolved, status=JobStatus.QUEUED.value,
                priority=priority, attempt=0, max_attempts=attempts,
                seed=rng.randrange(2**31) if seed is None else seed, code_version=version, created_at=now,
                run_after=now + delay, cancel_requested=False, progress_done=0.0, progress_total=0.0,
                progress_message="", result={}, runs=0,
            ))
            seen: set[str] = set()
            for ref_id, kind, role in edges:
                if ref_id not in seen:
                    seen.add(ref_id)
                    inputs.append(dict(job_id=job_id, ref_id=ref_id, ref_kind=kind, role=role))
            events.append(dict(id=new_id("evt"), ts=now, actor=actor, action="job.submit", target_id=job_id,
                               project_id=proj.id, detail={"task": spec.name}))
        with self.db.engine.begin() as conn:
            conn.execute(insert(JobRow), jobs)
            if inputs:
                conn.execute(insert(JobInputRow), inputs)
            conn.execute(insert(AuditEventRow), events)
            self.wake.notify(conn)
        self.wake.poke(len(jobs))
        return [JobHandle(self, j["id"]) for j in jobs]

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
            self.wake.notify(s)
        self.wake.poke()
        return self.get(job_id)

    # -- steering the queue ------------------------------------------------------------------
    def queue_state(self) -> dict[str, Any]:
        """Whether the queue is paused, by whom and since when."""
        with session_scope(self.db.ReadSession) as s:
            row = s.get(QueueStateRow, 1)
            return {"paused": bool(row and row.paused), "changed_by": row.changed_by if row else None,
                    "changed_at": row.changed_at if row else None}

    def _set_paused(self, paused: bool) -> dict[str, Any]:
        with session_scope(self.db.Session) as s:
            row = s.get(QueueStateRow, 1)
            if row is None:
                row = QueueStateRow(id=1)
                s.add(row)
            row.paused, row.changed_by, row.changed_at = paused, current_actor(), time.time()
            audit(s, "queue.pause" if paused else "queue.resume", None, None)
            if not paused:
                self.wake.notify(s)
        if not paused:
            self.wake.poke()
        return self.queue_state()

    def pause(self) -> dict[str, Any]:
        """Workers take no new job until ``resume``; running jobs go on (cancel them to stop them)."""
        return self._set_paused(True)

    def resume(self) -> dict[str, Any]:
        return self._set_paused(False)

    def set_priority(self, job_id: str, priority: int) -> Job:
        """Reorder a queued job: higher priorities are taken first."""
        if isinstance(priority, bool) or not isinstance(priority, int) or not -1000 <= priority <= 1000:
            raise InvalidInput("priority must be an integer from -1000 to 1000")
        with session_scope(self.db.Session) as s:
            row = s.get(JobRow, job_id) if id_kind(job_id) == "job" else None
            if row is None:
                raise NotFound(f"no job {job_id!r}")
            if row.status != JobStatus.QUEUED:
                raise Conflict(f"job {job_id} is {row.status}; only a queued job's priority can change")
            old, row.priority = row.priority, priority
            audit(s, "job.priority", row.id, row.project_id, old=old, new=priority)
            self.wake.notify(s)
        self.wake.poke()
        return self.get(job_id)

    def workers_alive(self, within: float | None = None) -> int:
        """How many workers announced themselves recently."""
        from reelforge.db.models import WorkerRow

        within = within if within is not None else max(3 * self.settings.heartbeat_seconds, 10.0)
        with session_scope(self.db.ReadSession) as s:
            q = select(func.count()).select_from(WorkerRow).where(WorkerRow.heartbeat_at > time.time() - within)
            return int(s.scalar(q) or 0)

    # -- worker side -------------------------------------------------------------------------
    def listener(self) -> Listener:
        """What an idle worker waits on until a job is submitted (see ``compute/wake.py``)."""
        return self.wake.listener()

    def poke(self, n: int = 1) -> None:
        """Wake up to ``n`` more idle workers on this machine (SQLite; PostgreSQL wakes them all)."""
        self.wake.poke(n)

    def pending(self) -> bool:
        """Whether any job is queued (due or not) or running: a draining worker stays until none is."""
        with self.db.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            q = select(JobRow.id).where(JobRow.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])).limit(1)
            return conn.execute(q).first() is not None

    def _relaxed(self, conn: Connection) -> None:
        """PostgreSQL: this transaction's commit need not wait for the WAL flush. Used for claims and
        heartbeats: WAL is flushed in order, so any later synchronous commit (an output, the finish)
        makes them durable too; a server crash before that only loses a lease, and the job is run
        again like after any lost lease."""
        if self._pg:
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    def _walk(
        self, conn: Connection, params: dict[str, Any], only: bool
    ) -> tuple[str | None, float | None]:
        """The id of the most urgent runnable job (row-locked on PostgreSQL), else when the first
        queued job falls due (None: no queued job).

        Order: priority (highest first), then run_after (when it became due), then id. The jobs
        index is (status, priority, run_after, id) and the priorities are walked one at a time (a
        loose index scan), so each probe is a short index range however many jobs wait, including
        jobs delayed at a higher priority, which one ORDER BY over the whole queue would wade
        through before reaching a runnable one.
        """
        sql = _sql()
        due: float | None = None
        prio = conn.execute(sql.top).scalar()
        while prio is not None:
            cand = conn.execute(sql.runnable[only], {**params, "prio": prio}).scalar()
            if cand is not None:
                return cand, None
            nxt = conn.execute(sql.due_at[only], {**params, "prio": prio}).scalar()
            if nxt is not None and (due is None or nxt < due):
                due = nxt
            prio = conn.execute(sql.lower, {"prio": prio}).scalar()
        return None, due

    def take(self, worker_id: str, tasks: Sequence[str] | None = None, job_id: str | None = None) -> Job | float | None:
        """Atomically lease the most urgent runnable job (or the given one) in ONE transaction:
        the job, else the epoch time the first queued job falls due, else None (nothing queued)."""
        sql = _sql()
        now = time.time()
        only = bool(tasks)
        params: dict[str, Any] = {"now": now, **({"tasks": list(tasks or ())} if only else {})}
        lease = {"owner": worker_id, "now": now, "expires": now + self.settings.lease_seconds}
        with self.db.engine.begin() as conn:
            # SQLite: our transactions start with BEGIN IMMEDIATE, so pick + update is serialised.
            # PostgreSQL: FOR UPDATE SKIP LOCKED lets concurrent workers take different rows.
            self._relaxed(conn)
            row = None
            if job_id is None:
                # A paused queue gives workers nothing (one primary-key read in the same transaction);
                # an explicit job id (the inline executor, `reelforge run`) still runs.
                if conn.execute(sql.paused).scalar():
                    return None
                row = conn.execute(sql.claim_top[only], {**params, **lease}).first()
            if row is None:
                if job_id is not None:
                    one = conn.execute(sql.one, {"job_id": job_id}).first()
                    cand, due = (None, None) if one is None else \
                        (one.id, None) if one.run_after <= now else (None, one.run_after)
                else:
                    cand, due = self._walk(conn, params, only)
                if cand is None:
                    return due
                row = conn.execute(sql.claim_id, {"cand": cand, **lease}).one()
            conn.execute(sql.log, {"job_id": row.id, "ts": now, "level": "info", "attempt": row.attempt,
                                   "message": f"attempt {row.attempt}/{row.max_attempts} started on {worker_id}"})
            # Inputs come with the claim so the task context need not look them up again.
            inputs = conn.execute(sql.inputs, {"job_id": row.id}).all()
            return to_entity(row, inputs)

    def claim(self, worker_id: str, job_id: str | None = None, tasks: Sequence[str] | None = None) -> Job | None:
        """Atomically take the most urgent runnable job (or a given one) and lease it."""
        got = self.take(worker_id, tasks, job_id)
        return got if isinstance(got, Job) else None

    def _write_buffers(self, conn: Connection, job_id: str, attempt: int, logs: Sequence[tuple[float, str, str]],
                       metrics: Sequence[tuple[str, int, float, float]]) -> None:
        sql = _sql()
        if logs:
            conn.execute(sql.log, [{"job_id": job_id, "ts": ts, "level": level, "attempt": attempt, "message": msg}
                                   for ts, level, msg in logs])
        if metrics:
            conn.execute(sql.metric, [{"job_id": job_id, "name": name, "step": step, "value": value, "ts": ts}
                                      for name, step, value, ts in metrics])

    def heartbeat(
        self,
        job_id: str,
        worker_id: str,
        *,
        progress: tuple[float, float, str] | None = None,
        logs: Sequence[tuple[float, str, str]] = (),
        metrics: Sequence[tuple[str, int, float, float]] = (),
    ) -> tuple[bool, bool]:
        """Renew the lease and write buffered progress, log lines and metrics, in ONE transaction.
        Returns (still ours, cancel requested); nothing is written when the lease is not ours."""
        now = time.time()
        params: dict[str, Any] = {"job_id": job_id, "owner": worker_id, "now": now,
                                  "expires": now + self.settings.lease_seconds}
        if progress is not None:
            params.update(pdone=progress[0], ptotal=progress[1], pmsg=progress[2][:500])
        with self.db.engine.begin() as conn:
            self._relaxed(conn)
            row = conn.execute(_sql().heartbeat[progress is not None], params).first()
            if row is None:
                return False, True
            self._write_buffers(conn, job_id, row.attempt, logs, metrics)
            return True, bool(row.cancel_requested)

    def report(
        self,
        job_id: str,
        worker_id: str,
        attempt: int,
        progress: tuple[float, float, str] | None,
        logs: Sequence[tuple[float, str, str]],
        metrics: Sequence[tuple[str, int, float, float]],
    ) -> bool:
        """Write buffered progress, log lines and metrics (renewing the lease); False when lost."""
        return self.heartbeat(job_id, worker_id, progress=progress, logs=logs, metrics=metrics)[0]

    def finish(
        self, job_id: str, worker_id: str, status: JobStatus, *, error: str | None = None,
        result: dict[str, Any] | None = None, retryable: bool = False,
        progress: tuple[float, float, str] | None = None,
        logs: Sequence[tuple[float, str, str]] = (),
        metrics: Sequence[tuple[str, int, float, float]] = (),
    ) -> JobStatus | Literal["lost"]:
        """End an attempt, writing the last buffered progress, logs and metrics in the same
        transaction; the job's new status, or "lost" when this worker no longer holds the lease.
        A retryable failure with attempts left goes back to the queue with backoff."""
        sql = _sql()
        status = JobStatus(status)
        now = time.time()
        if status == JobStatus.FAILED and retryable:
            return self._fail_or_retry(job_id, worker_id, error, result, progress, logs, metrics)
        params: dict[str, Any] = {"job_id": job_id, "owner": worker_id, "now": now, "st": status.value, "err": error}
        if progress is not None:
            params.update(pdone=progress[0], ptotal=progress[1], pmsg=progress[2][:500])
            if status == JobStatus.SUCCEEDED and progress[1]:
                params["pdone"] = progress[1]
        if result is not None:
            params["res"] = result
        with self.db.engine.begin() as conn:
            # One fenced UPDATE: it matches nothing when this worker no longer holds the lease.
            variant = progress is not None, result is not None, status == JobStatus.SUCCEEDED
            row = conn.execute(sql.final[variant], params).first()
            if row is None:
                return LOST
            final_line = (now, "error" if status == JobStatus.FAILED else "info",
                          f"{status.value}" + (f": {error}" if error else ""))
            self._write_buffers(conn, job_id, row.attempt, [*logs, final_line], metrics)
            return status

    def _fail_or_retry(
        self, job_id: str, worker_id: str, error: str | None, result: dict[str, Any] | None,
        progress: tuple[float, float, str] | None, logs: Sequence[tuple[float, str, str]],
        metrics: Sequence[tuple[str, int, float, float]],
    ) -> JobStatus | Literal["lost"]:
        """An unexpected failure: back to the queue with backoff while attempts (and no cancel) are left."""
        sql = _sql()
        now = time.time()
        with self.db.engine.begin() as conn:
            row = conn.execute(sql.fenced, {"job_id": job_id, "owner": worker_id}).first()
            if row is None:
                return LOST
            if row.attempt >= row.max_attempts or row.cancel_requested:
                # Out of attempts: the plain finish (this transaction holds the row, so it still matches).
                params: dict[str, Any] = {"job_id": job_id, "owner": worker_id, "now": now,
                                          "st": JobStatus.FAILED.value, "err": error}
                if progress is not None:
                    params.update(pdone=progress[0], ptotal=progress[1], pmsg=progress[2][:500])
                if result is not None:
                    params["res"] = result
                conn.execute(sql.final[progress is not None, result is not None, False], params)
                line = (now, "error", f"failed: {error}")
                self._write_buffers(conn, job_id, row.attempt, [*logs, line], metrics)
                return JobStatus.FAILED
            done, total, message = progress if progress is not None else \
                (row.progress_done, row.progress_total, row.progress_message)
            delay = self.settings.retry_backoff_seconds * (2 ** (row.attempt - 1))
            conn.execute(sql.retry, {"job_id": job_id, "due": now + delay, "pdone": done, "ptotal": total,
                                     "pmsg": message[:500]})
            line = (now, "warning", f"attempt {row.attempt} failed: {error}; retrying in {delay:.1f}s")
            self._write_buffers(conn, job_id, row.attempt, [*logs, line], metrics)
            return JobStatus.QUEUED

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
            if n:
                self.wake.notify(s)
        if n:
            self.wake.poke(n)
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
