"""The Ray executor: the queue in the database stays the source of truth, Ray places the work.

``RayWorker`` is a worker loop like ``Worker``, except that each job it claims runs as a Ray task
(``num_cpus``/``num_gpus``/``memory`` from the task's declared ``Resources``) on any node of the
cluster, several at once (one per CPU of the cluster by default). On the node, the task opens the
studio from the driver's settings (database URL, blob store, home: on one machine, or with shared
storage, every node sees the same files) and runs the attempt exactly as a local worker does
(``Worker.execute``): progress, logs, metrics, checkpoints and the outcome go straight from the
node to the database, fenced on the lease, and ``ctx.map`` fans out as Ray tasks (``ray_map``).

Leases. Each claim gets its own lease owner (``<driver id>/<n>``), so a late write from a dead
attempt can never land on a later attempt of the same job. The lease is renewed from both ends:

* the driver renews every in-flight job each heartbeat, so a job Ray has not started yet (the
  cluster is full) keeps its lease while it waits;
* the task renews it from its node with the local worker's heartbeat thread: that is how a
  running task hears of a cancel or of a lost lease, and writes its progress.

A node that dies (raylet gone) fails its Ray task; the driver hears it from Ray within seconds and
hands the attempt back to the queue as a retryable failure (attempt + 1 after the usual backoff),
and the next attempt, wherever Ray puts it, resumes from the job's last checkpoint. Ray's own task
retries are off (``max_retries=0``) so that attempts are counted once, by the queue. A driver that
dies takes its Ray tasks with it (Ray's ownership), its leases expire and any worker re-queues them.
``ctx.map`` items are pure functions, so Ray may retry those itself.

Ray is imported only here, and this module only when a Ray worker is asked for: ``import
reelforge`` and the CLI stay light.
"""

from __future__ import annotations

import importlib
import itertools
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import ray

from reelforge.compute.jobs import LOST, Job, JobStatus
from reelforge.compute.registry import Resources, get_task
from reelforge.compute.worker import Worker
from reelforge.errors import ReelforgeError, Unavailable

if TYPE_CHECKING:
    from reelforge.compute.context import TaskContext
    from reelforge.config import Settings
    from reelforge.studio import Studio

GiB = 2**30


# -- on the node ---------------------------------------------------------------------------------
_studios: dict[str, Studio] = {}
_studios_lock = threading.Lock()


def _studio(settings: Settings) -> Studio:
    """The studio for these settings, opened once per Ray worker process (Ray reuses them)."""
    from reelforge.studio import Studio

    key = repr(settings)  # every setting: a driver with other settings gets its own studio
    with _studios_lock:
        if key not in _studios:
            _studios[key] = Studio(settings)
        return _studios[key]


def node_id() -> str:
    """This process's Ray node id ('' outside Ray)."""
    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""


class NodeWorker(Worker):
    """Runs one attempt the driver claimed, on a Ray node, under the driver's lease owner."""

    def __init__(self, studio: Studio, owner: str, notes: Sequence[str] = ()) -> None:
        super().__init__(studio, worker_id=owner)
        self.notes = list(notes)

    def make_context(self, ctx: TaskContext) -> TaskContext:
        ctx.set_fanout(ray_map)
        ctx.log(f"running on ray node {node_id()} (host {socket.gethostname()}, pid {os.getpid()})")
        for note in self.notes:
            ctx.log(note, "warning")
        return ctx

    def execute(self, job: Job) -> JobStatus | Literal["lost"]:
        # The task may have waited in Ray's queue: first make sure the job is still ours and wanted.
        ours, cancel = self.studio.jobs.heartbeat(job.id, self.id)
        if not ours:
            return LOST
        if cancel:
            return self.studio.jobs.finish(job.id, self.id, JobStatus.CANCELLED, error="cancelled before it started")
        return super().execute(job)


def run_attempt(settings: Settings, job: Job, owner: str, task_module: str, notes: Sequence[str] = ()) -> str:
    """The Ray task: run one claimed attempt of ``job`` on this node; its status ("lost": lease lost)."""
    if task_module:
        # A task registered by a module the node has not imported (a plugin, a test) registers here.
        try:
            importlib.import_module(task_module)
        except ImportError:
            pass  # get_task says which task is missing
    return str(NodeWorker(_studio(settings), owner, notes).execute(job))


_remote_attempt = ray.remote(run_attempt)


def ray_map(ctx: TaskContext, fn: Callable[[Any], Any], items: list[Any], message: str) -> list[Any]:
    """``ctx.map`` under Ray: one task per item spread over the nodes, results in input order,
    progress as items finish, and a cancel (or lost lease) cancels what has not finished."""
    remote = ray.remote(fn).options(num_cpus=1, scheduling_strategy="SPREAD")
    refs = [remote.remote(item) for item in items]
    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    pending, done = list(refs), 0
    try:
        while pending:
            # Waiting in ray.wait lends this task's CPU to its items (no deadlock on a small cluster).
            ready, pending = ray.wait(pending, num_returns=1, timeout=0.25)
            if ready and pending:
                more, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
                ready += more
            try:
                values = ray.get(ready)
            except ray.exceptions.RayTaskError as exc:
                # The item's own exception, as the local pool gives it (a bad input stays a bad input).
                raise (exc.cause if isinstance(exc.cause, BaseException) else exc) from None
            for ref, value in zip(ready, values, strict=True):
                results[index[ref]] = value
            done += len(ready)
            if ready:
                ctx.progress(done, len(refs), message)
            ctx.check_cancelled()
    except BaseException:
        for ref in pending:
            ray.cancel(ref)
        raise
    return results


# -- on the driver -------------------------------------------------------------------------------
@dataclass
class _Flight:
    job: Job
    owner: str
    ref: Any  # ray.ObjectRef
    renewed: float = field(default_factory=time.monotonic)
    lost: bool = False


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def ray_options(resources: Resources, capacity: Mapping[str, float]) -> tuple[dict[str, Any], list[str]]:
    """Ray task options for a task's declared resources, capped at the largest node's capacity
    (a request no node can meet would wait forever; locally it would just run): (options, notes)."""
    want = {"CPU": float(resources.cpus), "GPU": float(resources.gpus), "memory": float(resources.memory_gb) * GiB}
    got: dict[str, float] = {}
    notes: list[str] = []
    for kind, amount in want.items():
        cap = capacity.get(kind, 0.0)
        if amount > cap and (cap > 0 or kind == "GPU"):
            shown = (lambda v: f"{v / GiB:.1f} GiB") if kind == "memory" else (lambda v: f"{v:g}")
            notes.append(f"asked for {shown(amount)} {kind}; the largest ray node has {shown(cap)}: using that")
            amount = cap
        got[kind] = amount
    opts: dict[str, Any] = {"num_cpus": got["CPU"], "num_gpus": got["GPU"], "max_retries": 0}
    if got["memory"] > 0:
        opts["memory"] = int(got["memory"])
    return opts, notes


def node_capacity() -> dict[str, float]:
    """The most CPU, GPU and memory any one alive node offers."""
    cap: dict[str, float] = {"CPU": 0.0, "GPU": 0.0, "memory": 0.0}
    for node in ray.nodes():
        if node.get("Alive"):
            for kind in cap:
                cap[kind] = max(cap[kind], float(node.get("Resources", {}).get(kind, 0.0)))
    return cap


def connect(address: str | None = None, **init_kwargs: Any) -> None:
    """Join the Ray cluster at ``address`` (None: ``RAY_ADDRESS``, else a local Ray instance)."""
    if ray.is_initialized():
        return
    init_kwargs.setdefault("include_dashboard", False)
    init_kwargs.setdefault("log_to_driver", False)
    try:
        ray.init(address=address, **init_kwargs)
    except (ConnectionError, TimeoutError) as exc:
        raise Unavailable(f"no Ray cluster at {address or 'RAY_ADDRESS'}: {_one_line(exc)}") from None


class RayWorker(Worker):
    """The worker loop with a Ray cluster as its executor (``reelforge worker --executor ray``)."""

    def __init__(
        self,
        studio: Studio,
        *,
        address: str | None = None,
        worker_id: str | None = None,
        tasks: Sequence[str] | None = None,
        max_in_flight: int | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(studio, worker_id=worker_id or f"ray@{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}",
                         tasks=tasks)
        self.address, self.init_kwargs = address, dict(init_kwargs or {})
        self.max_in_flight = max_in_flight
        self._seq = itertools.count(1)
        self._flights: dict[Any, _Flight] = {}

    # -- dispatch ----------------------------------------------------------------------------
    def _claim(self) -> Job | float | None:
        now = time.monotonic()
        if now - self._last_requeue >= self.studio.settings.lease_seconds / 4:
            self.studio.jobs.requeue_expired()
            self._last_requeue = now
        # A lease owner per attempt: a late write from a lost attempt matches no later attempt.
        return self.studio.jobs.take(f"{self.id}/{next(self._seq)}", tasks=self.tasks)

    def dispatch(self, job: Job) -> None:
        assert job.lease_owner is not None
        try:
            spec = get_task(job.task)
            module, resources = spec.fn.__module__, spec.resources
        except ReelforgeError:
            module, resources = "", Resources()  # the node fails it with the reason
        opts, notes = ray_options(resources, node_capacity())
        try:
            ref = _remote_attempt.options(**opts).remote(self.studio.settings, job, job.lease_owner, module, notes)
        except Exception as exc:  # Ray refused the task: give the attempt back rather than sit on its lease
            self.studio.jobs.finish(job.id, job.lease_owner, JobStatus.FAILED, retryable=True,
                                    error=f"could not hand the job to ray: {_one_line(exc)}")
            self.jobs_done += 1
            return
        self._flights[ref] = _Flight(job, job.lease_owner, ref)

    def _settle(self, ref: Any) -> None:
        """An attempt's Ray task ended: it recorded the outcome itself, unless Ray lost it."""
        flight = self._flights.pop(ref)
        self.jobs_done += 1
        try:
            ray.get(ref)
            return
        except ray.exceptions.RayTaskError as exc:  # the attempt itself broke on its node (e.g. no database)
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            error = f"the attempt failed on its ray node: {_one_line(cause)}"
        except Exception as exc:  # the node, its worker process or the object was lost
            error = f"ray lost the attempt: {_one_line(exc)}"
        # Fenced on this attempt's owner: a no-op when the node did record an outcome.
        self.studio.jobs.finish(flight.job.id, flight.owner, JobStatus.FAILED, error=error, retryable=True)

    def _renew(self) -> None:
        """Keep the leases of in-flight jobs (also those Ray has not started yet)."""
        interval = self.studio.settings.heartbeat_seconds
        for flight in list(self._flights.values()):
            if flight.lost or time.monotonic() - flight.renewed < interval:
                continue
            flight.renewed = time.monotonic()
            try:
                ours, _cancel = self.studio.jobs.heartbeat(flight.job.id, flight.owner)
            except Exception:  # a database hiccup: the lease has slack, try again next beat
                continue
            # Not ours: finished by its node, or expired; the node's own check stops the task.
            flight.lost = not ours

    def _room(self) -> int:
        if self.max_in_flight is None:
            self.max_in_flight = max(1, int(ray.cluster_resources().get("CPU", 1)))
        return self.max_in_flight - len(self._flights)

    # -- the loop ----------------------------------------------------------------------------
    def run(
        self,
        *,
        stop_when_idle: bool = False,
        max_jobs: int | None = None,
        poll: float | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Claim jobs and run them on the cluster until ``stop`` (or idle / ``max_jobs``); returns
        the number of attempts that ended here. On stop, waits for the attempts in flight."""
        connect(self.address, **self.init_kwargs)
        stop = stop or threading.Event()
        poll = poll if poll is not None else self.studio.settings.poll_seconds
        self._listener = self.studio.jobs.listener()
        claimed = 0
        try:
            self.announce()
            last_seen = time.monotonic()
            while True:
                self._reap(0.0)
                self._renew()
                if time.monotonic() - last_seen > self.studio.settings.heartbeat_seconds:
                    self.announce(next((f.job.id for f in self._flights.values()), None))
                    last_seen = time.monotonic()
                if stop.is_set():
                    if not self._flights:
                        break
                    self._reap(min(poll, 0.25))
                    continue
                due: float | None = None
                while self._room() > 0 and (max_jobs is None or claimed < max_jobs):
                    got = self._claim()
                    if not isinstance(got, Job):
                        due = got
                        break
                    self.dispatch(got)
                    claimed += 1
                if not self._flights:
                    if max_jobs is not None and claimed >= max_jobs:
                        break
                    if stop_when_idle and not self.studio.jobs.pending():
                        break
                    timeout = poll * random.uniform(0.75, 1.25)
                    if due is not None:
                        timeout = min(timeout, max(0.0, due - time.time()))
                    self._wait(timeout, stop)
                else:
                    # Busy: wake for the first attempt to end, a heartbeat, or a poll for more work.
                    self._reap(min(poll, self.studio.settings.heartbeat_seconds / 2))
        finally:
            self._listener.close()
            self._listener = None
            self.retire()
        return self.jobs_done

    def _reap(self, timeout: float) -> None:
        if not self._flights:
            return
        refs = list(self._flights)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            more, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            ready = list({*ready, *more})
        for ref in ready:
            self._settle(ref)


def run_ray_worker(
    home: str, *, address: str | None = None, stop_when_idle: bool = False, tasks: Sequence[str] | None = None,
    max_jobs: int | None = None, max_in_flight: int | None = None,
) -> int:
    """``reelforge worker --executor ray``: one driver process feeding the Ray cluster at ``address``."""
    import signal

    from reelforge.studio import Studio

    stop = threading.Event()
    worker: RayWorker | None = None

    def _term(*_: object) -> None:
        stop.set()
        if worker is not None:
            worker.interrupt()

    previous = {sig: signal.signal(sig, _term) for sig in (signal.SIGTERM, signal.SIGINT)}
    studio = Studio.open(home)
    # The flag, else the studio's ``ray_address`` setting, else RAY_ADDRESS / a local Ray.
    address = address or getattr(studio.settings, "ray_address", "") or None
    worker = RayWorker(studio, address=address, tasks=tasks, max_in_flight=max_in_flight)
    try:
        return worker.run(stop_when_idle=stop_when_idle, max_jobs=max_jobs, stop=stop)
    finally:
        studio.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["RayWorker", "connect", "node_id", "ray_map", "run_attempt", "run_ray_worker"]
