"""``TaskContext``: everything a task may touch — typed params, inputs, outputs, progress, resume."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reelforge.catalog.entities import Asset, DatasetItem, DatasetVersion, Model
from reelforge.compute import checkpoint as ckpt
from reelforge.compute.jobs import Job
from reelforge.errors import Cancelled

if TYPE_CHECKING:
    from PIL import Image
    from pydantic import BaseModel

    from reelforge.catalog.assets import AssetService
    from reelforge.catalog.datasets import DatasetService
    from reelforge.catalog.models import ModelService
    from reelforge.catalog.signing import Identity
    from reelforge.compute.queue import JobService
    from reelforge.compute.registry import TaskSpec
    from reelforge.config import Settings
    from reelforge.media.limits import MediaLimits

T = TypeVar("T")
R = TypeVar("R")
# An executor's ``map``: (context, fn, items, progress message) -> results in input order.
Fanout = Callable[["TaskContext", Callable[[Any], Any], list[Any], str], list[Any]]


@dataclass
class AssetInput:
    asset: Asset
    path: Path

    def __getattr__(self, name: str) -> Any:
        return getattr(self.asset, name)


@dataclass
class DatasetInputItem:
    asset: Asset
    path: Path
    label: str | None
    split: str
    caption: str | None


@dataclass
class DatasetInput:
    version: DatasetVersion
    items: list[DatasetInputItem]

    @property
    def id(self) -> str:
        return self.version.id

    @property
    def labels(self) -> list[str]:
        return self.version.labels

    def split(self, name: str) -> list[DatasetInputItem]:
        return [i for i in self.items if i.split == name]


@dataclass
class ModelInput:
    model: Model
    dir: Path

    @property
    def id(self) -> str:
        return self.model.id

    def path(self, name: str) -> Path:
        return self.dir / name


class Reporter:
    """Buffers progress, logs and metrics. They are written with a lease renewal (one transaction)
    at most every ``interval`` seconds, by the heartbeat thread when the task is quiet, and with the
    job's outcome at the end: a short job makes no write of its own between its claim and finish."""

    def __init__(
        self, jobs: JobService, job: Job, worker_id: str, interval: float = 0.5,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.jobs, self.job, self.worker_id, self.interval = jobs, job, worker_id, interval
        self.on_stop = on_stop  # called when the lease is lost or a cancel was requested
        self._lock = threading.Lock()  # guards the buffers
        self._io = threading.Lock()  # one write at a time, so log lines keep their order
        self._progress: tuple[float, float, str] | None = None
        self._logs: list[tuple[float, str, str]] = []
        self._metrics: list[tuple[str, int, float, float]] = []
        # The claim just renewed the lease: the first write is due an interval from now.
        self._last = time.monotonic()
        self.lost = False
        self.cancel_requested = False

    def progress(self, done: float, total: float, message: str) -> None:
        with self._lock:
            self._progress = (float(done), float(total), message)
        self.maybe_flush()

    def log(self, level: str, message: str) -> None:
        with self._lock:
            self._logs.append((time.time(), level, message))
        self.maybe_flush()

    def metric(self, name: str, value: float, step: int) -> None:
        with self._lock:
            self._metrics.append((name, int(step), float(value), time.time()))
        self.maybe_flush()

    def maybe_flush(self) -> None:
        if time.monotonic() - self._last >= self.interval:
            self.flush()

    def take(self) -> tuple[tuple[float, float, str] | None, list[tuple[float, str, str]],
                            list[tuple[str, int, float, float]]]:
        """Hand over what is buffered (the worker writes it with the job's outcome)."""
        with self._lock:
            out = self._progress, self._logs, self._metrics
            self._progress, self._logs, self._metrics = None, [], []
            return out

    def _put_back(self, progress: tuple[float, float, str] | None, logs: list[tuple[float, str, str]],
                  metrics: list[tuple[str, int, float, float]]) -> None:
        with self._lock:
            self._progress = self._progress or progress
            self._logs[:0], self._metrics[:0] = logs, metrics

    def flush(self, *, renew: bool = False) -> None:
        """Write what is buffered (with a lease renewal); with ``renew``, renew even when nothing is."""
        if self.lost:
            return
        with self._io:
            progress, logs, metrics = self.take()
            self._last = time.monotonic()
            if progress is None and not logs and not metrics and not renew:
                return
            try:
                ours, cancel = self.jobs.heartbeat(self.job.id, self.worker_id, progress=progress, logs=logs,
                                                   metrics=metrics)
            except BaseException:
                self._put_back(progress, logs, metrics)  # kept for the next write, or the outcome
                raise
        if not ours:
            self.lost = True
        if cancel:
            self.cancel_requested = True
        if (not ours or cancel) and self.on_stop is not None:
            self.on_stop()

    def beat(self, max_age: float) -> None:
        """Heartbeat thread: renew the lease unless a write did within ``max_age`` seconds."""
        if time.monotonic() - self._last >= max_age:
            self.flush(renew=True)


@dataclass
class TaskServices:
    """The collaborators a task context works through (never the whole Studio)."""

    settings: Settings
    assets: AssetService
    datasets: DatasetService
    models: ModelService
    jobs: JobService


class TaskContext:
    """Everything a task may touch. Tasks never see the studio: inputs, outputs, settings they
    need (``limits``, threads), progress and the stop check all come through here."""

    def __init__(
        self, services: TaskServices, job: Job, spec: TaskSpec, params: BaseModel, worker_id: str,
        reporter: Reporter,
    ) -> None:
        self._svc, self.job, self.spec, self.params = services, job, spec, params
        self.worker_id, self._reporter = worker_id, reporter
        self._cancel = threading.Event()
        reporter.on_stop = self.request_stop  # a lost lease or a cancel request stops the task
        self._recorded_inputs: set[str] = {i["id"] for i in job.inputs}
        self.outputs: list[str] = []
        self.result: dict[str, Any] = {}
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._identity: Identity | None = None
        self._fanout: Fanout | None = None

    # -- identity ----------------------------------------------------------------------------
    @property
    def job_id(self) -> str:
        return self.job.id

    @property
    def seed(self) -> int:
        return self.job.seed

    @property
    def attempt(self) -> int:
        return self.job.attempt

    @property
    def device(self) -> str:
        """'cuda' when the task asks for a GPU and one is visible, else 'cpu'."""
        if self.spec.resources.gpus > 0:
            try:
                import torch

                if torch.cuda.is_available():
                    return "cuda"
            except ImportError:
                pass
        return "cpu"

    @property
    def workdir(self) -> Path:
        """A private scratch folder, removed when the attempt ends."""
        if self._workdir is None:
            assert self._svc.settings.cache_dir is not None
            base = self._svc.settings.cache_dir / "work"
            base.mkdir(parents=True, exist_ok=True)
            self._workdir = tempfile.TemporaryDirectory(prefix=f"{self.job.id}-", dir=base)
        return Path(self._workdir.name)

    def _signing_identity(self) -> Identity:
        """The studio's signing certificate and watermark key (made at first use); for the output
        methods only, never handed to a task."""
        if self._identity is None:
            from reelforge.catalog.signing import load_identity

            self._identity = load_identity(self._svc.settings)
        return self._identity

    @property
    def limits(self) -> MediaLimits:
        """The studio's media limits, for every decode a task does of user files."""
        return self._svc.settings.limits

    @property
    def diffusion_models(self) -> dict[str, Path]:
        """The studio's named local diffusers pipeline folders (setting ``diffusion_models``)."""
        home = self._svc.settings.home
        return {name: home / Path(path).expanduser() for name, path in self._svc.settings.diffusion_models.items()}

    @property
    def threads(self) -> int:
        """How many CPU threads/processes this job may use (the studio's worker concurrency)."""
        return max(1, int(self._svc.settings.worker_concurrency))

    def set_threads(self, n: int | None = None) -> int:
        """Set torch's intra-op threads to ``n`` (default: ``threads``); returns what was set."""
        n = max(1, n or self.threads)
        import torch

        torch.set_num_threads(n)
        return n

    def find_assets(
        self, *, kind: str | None = None, tags: Sequence[str] = (), name: str | None = None
    ) -> list[Asset]:
        """Assets of this job's project (not recorded as inputs until read with ``asset()``)."""
        return self._svc.assets.list(project=self.job.project_id, kind=kind, tags=tags, name=name)

    # -- driven by the worker ----------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the task to stop at its next check (cancel requested or lease lost)."""
        self._cancel.set()

    def set_fanout(self, fanout: Fanout | None) -> None:
        """Run ``map`` through ``fanout`` (the Ray executor's tasks) instead of a local process pool."""
        self._fanout = fanout

    def flush(self) -> None:
        """Write buffered progress, logs and metrics now."""
        self._reporter.flush()

    def close(self) -> None:
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    # -- inputs ------------------------------------------------------------------------------
    def _record_input(self, ref_id: str, kind: str) -> None:
        if ref_id in self._recorded_inputs:
            return
        self._recorded_inputs.add(ref_id)
        self._svc.jobs.record_input(self.job.id, ref_id, kind)

    def asset(self, ref: str) -> AssetInput:
        a = self._svc.assets.get(ref, self.job.project_id)
        self._record_input(a.id, "asset")
        return AssetInput(a, self._svc.assets.local_path(a))

    def dataset(self, ref: str) -> DatasetInput:
        v = self._svc.datasets.get(ref, self.job.project_id)
        self._record_input(v.id, "dataset")
        assets = {a.id: a for a in self._svc.assets.get_many([i.asset_id for i in v.items])}
        items = [self._item(assets[i.asset_id], i) for i in v.items]
        return DatasetInput(v, items)

    def _item(self, a: Asset, it: DatasetItem) -> DatasetInputItem:
        return DatasetInputItem(a, self._svc.assets.local_path(a), it.label, it.split, it.caption)

    def model(self, ref: str) -> ModelInput:
        m = self._svc.models.get(ref, self.job.project_id)
        self._record_input(m.id, "model")
        return ModelInput(m, self._svc.models.materialize(m))

    # -- outputs -----------------------------------------------------------------------------
    def provenance_record(self, **extra: Any) -> dict[str, Any]:
        inputs = self._svc.jobs.inputs(self.job.id)
        return {
            "job_id": self.job.id,
            "task": self.job.task,
            "params": self.job.params,
            "seed": self.job.seed,
            "inputs": inputs,
            "code_version": self.job.code_version,
            "created_at": time.time(),
            **extra,
        }

    def save_asset(
        self,
        src: Path | bytes,
        name: str,
        *,
        tags: Sequence[str] = (),
        meta: dict[str, Any] | None = None,
        asset_id: str | None = None,
        source_type: str | None = None,
    ) -> Asset:
        """Ingest an output file (validated like any upload); lineage points at this job.

        ``source_type`` (IPTC digital source type) marks a generated file (MP4, GIF, ...): it is
        C2PA-signed with this job's provenance record before it is stored."""
        if isinstance(src, bytes):
            path = self.workdir / f"out-{len(self.outputs)}{Path(name).suffix}"
            path.write_bytes(src)
            src = path
        if source_type is not None:
            from reelforge.catalog.provenance import sign_output
            from reelforge.ids import new_id

            asset_id = asset_id or new_id("ast")
            signed = self.workdir / f"signed-{len(self.outputs)}{Path(name).suffix.lower()}"
            shutil.copyfile(src, signed)  # sign a copy: never the task's own file
            record = {**self.provenance_record(), "asset_id": asset_id}
            if sign_output(signed, record, source_type, self._signing_identity()):
                src = signed
            meta = {**(meta or {}), "provenance": {"digital_source_type": source_type, "c2pa": src == signed}}
        report = self._svc.assets.add(
            [src], project=self.job.project_id, name=name, tags=tags, meta=meta,
            created_by_job=self.job.id, asset_id=asset_id,
        )
        asset = report.assets[0]
        self.outputs.append(asset.id)
        return asset

    def set_thumbnail(self, ref: str, data: bytes) -> Asset:
        """Give an input asset (added without one: see ``Studio.ingest``) its JPEG thumbnail."""
        asset = self.asset(ref).asset
        return self._svc.assets.set_thumbnail(asset.id, data)

    def save_image(
        self,
        image: Image.Image,
        name: str,
        *,
        source_type: str | None = None,
        record: dict[str, Any] | None = None,
        tags: Sequence[str] = (),
        meta: dict[str, Any] | None = None,
    ) -> Asset:
        """Save a PNG that embeds its provenance (job, inputs, params, seed; IPTC source type). With a
        ``source_type`` (a generated image) it is also watermarked and C2PA-signed by the studio."""
        from reelforge.catalog.provenance import write_output_png
        from reelforge.ids import new_id

        if not name.lower().endswith(".png"):
            name += ".png"
        asset_id = new_id("ast")
        path = self.workdir / f"{asset_id}.png"
        full, signed = write_output_png(image, path, {**self.provenance_record(**(record or {})), "asset_id": asset_id},
                                        source_type, self._signing_identity())
        return self.save_asset(path, name, tags=tags, meta={**(meta or {}), "provenance": {
            **{k: full[k] for k in ("schema", "digital_source_type", "pixel_sha256", "watermark") if k in full},
            "c2pa": signed,
        }, **({"generation": record} if record else {})}, asset_id=asset_id)

    def save_model(
        self,
        name: str,
        files: dict[str, Path | bytes],
        *,
        kind: str,
        config: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> Model:
        model = self._svc.models.register(
            name, files, kind=kind, config=config, metrics=metrics, project=self.job.project_id,
            created_by_job=self.job.id,
        )
        self.outputs.append(model.id)
        return model

    def save_dataset(self, name: str, assets: Sequence[str], **kw: Any) -> DatasetVersion:
        v = self._svc.datasets.create(name, project=self.job.project_id, assets=list(assets),
                                        created_by_job=self.job.id, **kw)
        self.outputs.append(v.id)
        return v

    # -- reporting ---------------------------------------------------------------------------
    def progress(self, done: float, total: float, message: str = "") -> None:
        self._reporter.progress(done, total, message)
        if self._reporter.lost:
            self._cancel.set()

    def log(self, message: str, level: str = "info") -> None:
        self._reporter.log(level, str(message))

    def metric(self, name: str, value: float, step: int) -> None:
        self._reporter.metric(name, value, step)

    # -- resume ------------------------------------------------------------------------------
    def checkpoint(self, state: dict[str, Any]) -> None:
        """Persist resumable state (tensors, arrays, numbers, strings; no pickle)."""
        self._reporter.flush()
        self._svc.jobs.save_checkpoint(self.job.id, self.worker_id, ckpt.dumps(state))

    def restore(self) -> dict[str, Any] | None:
        data = self._svc.jobs.load_checkpoint(self.job.id)
        if data is None:
            return None
        self.log(f"resuming from checkpoint ({len(data)} bytes)")
        return ckpt.loads(data)

    # -- cancel ------------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def should_stop(self) -> bool:
        """The stop check as a plain callable, for library code (``should_stop=ctx.should_stop``)."""
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled(f"job {self.job.id} was cancelled")

    # -- fan-out -----------------------------------------------------------------------------
    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        workers: int | None = None,
        progress_message: str = "",
    ) -> list[R]:
        """Apply a picklable top-level ``fn`` over items, results in input order: as Ray tasks over
        the cluster when the job runs under the Ray executor, else in a local process pool."""
        items = list(items)
        if self._fanout is not None and len(items) > 1:
            return self._fanout(self, fn, items, progress_message)
        n = workers or self.threads
        if n <= 1 or len(items) <= 1:
            out = []
            for i, item in enumerate(items):
                self.check_cancelled()
                out.append(fn(item))
                self.progress(i + 1, len(items), progress_message)
            return out
        results: list[Any] = [None] * len(items)
        mp = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=min(n, len(items)), mp_context=mp) as pool:
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            done = 0
            try:
                for fut in cf.as_completed(futures):
                    results[futures[fut]] = fut.result()
                    done += 1
                    self.progress(done, len(items), progress_message)
                    self.check_cancelled()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return results

