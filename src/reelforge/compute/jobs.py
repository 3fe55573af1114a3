"""Job entities: the status enum, the plain ``Job`` object and the ``JobHandle`` doors hold.

The status enum is a ``StrEnum`` so rows, JSON and comparisons with plain strings keep working,
while code asks the enum which states are final instead of repeating string tuples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from reelforge.compute.queue import JobService


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES

    @classmethod
    def parse(cls, value: str) -> JobStatus:
        from reelforge.errors import InvalidInput

        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(f"unknown status {value!r} (one of {', '.join(s.value for s in cls)})") from None


# What ``JobService.finish`` answers a worker that no longer holds the job's lease.
LOST: Literal["lost"] = "lost"

FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass
class Job:
    id: str
    project_id: str
    task: str
    params: dict[str, Any]
    status: JobStatus
    priority: int
    attempt: int
    max_attempts: int
    seed: int
    code_version: str
    created_at: float
    run_after: float
    started_at: float | None
    finished_at: float | None
    lease_owner: str | None
    lease_expires_at: float | None
    cancel_requested: bool
    progress_done: float
    progress_total: float
    progress_message: str
    error: str | None
    result: dict[str, Any]
    runs: int
    inputs: list[dict[str, str]] = field(default_factory=list)
    submitted_by: str | None = None  # the studio account (usr_…) that submitted it; None: local

    @property
    def finished(self) -> bool:
        return self.status.final

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d


class JobHandle:
    """What ``studio.jobs.submit`` returns: follow, wait for or run a job."""

    def __init__(self, jobs: JobService, job_id: str) -> None:
        self._jobs, self.id = jobs, job_id

    def __repr__(self) -> str:
        return f"JobHandle({self.id})"

    @property
    def job(self) -> Job:
        return self._jobs.get(self.id)

    def run(self) -> Job:
        """Execute it here and now (inline executor) and return the finished job."""
        self._jobs.run_inline(self.id)
        return self.job

    def wait(self, timeout: float | None = None, poll: float = 0.2, inline: bool | None = None) -> Job:
        """Wait until finished. With ``inline`` (default: when no worker holds it) run it here."""
        deadline = None if timeout is None else time.monotonic() + timeout
        job = self.job
        if inline is None:
            inline = job.status == JobStatus.QUEUED and not self._jobs.workers_alive()
        if inline and job.status == JobStatus.QUEUED:
            self._jobs.run_inline(self.id)
        while True:
            job = self.job
            if job.finished:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.id} still {job.status} after {timeout}s")
            time.sleep(poll)

    def cancel(self) -> Job:
        return self._jobs.cancel(self.id)


InlineRunner = Callable[[str], Any]
