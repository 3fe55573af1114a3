"""``RemoteStudio``: a studio server seen through its API, shaped like the local ``Studio``.

Each service here answers what its local twin answers (``reelforge.catalog``, ``reelforge.compute``):
the same method names and arguments, the same entity dataclasses, the same ``reelforge.errors``.
``project=None`` means the studio's default project, as it does locally (the server says which),
and listings without a project cover every project the caller can see.

Where the network changes what can be promised, the difference is the caller's to know:

- ``assets.add`` walks the paths given by the local rules (``catalog/walk.py``: no symlink out of a
  folder unless ``follow_symlinks``), then uploads each file, streamed, as its own ingest: a refused
  file stops the call (or is listed, with ``skip_invalid``) but the files uploaded before it stay.
- Jobs run on the server's workers, never in this process: ``handle.wait()`` waits for them and
  ``handle.run()`` is refused.
- Downloads (exports, ``local_path``) are checked against the catalog's sha256 as they arrive.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from reelforge.catalog.entities import (
    Asset,
    DatasetVersion,
    IngestReport,
    LineageGraph,
    Model,
    Project,
)
from reelforge.compute.jobs import Job, JobStatus
from reelforge.errors import InvalidInput, MediaError, NotFound, ReelforgeError
from reelforge.ids import id_kind
from reelforge.sdk import convert
from reelforge.sdk.http import Http, seg

if TYPE_CHECKING:
    from reelforge.catalog.staging import IngestProgress
    from reelforge.compute.registry import ParamField, Resources

Progress = Callable[[int, int, str], None]
CHUNK = 1024 * 1024
_GLOB = set("*?[")


def cache_dir() -> Path:
    """Where downloads that stand in for the store's blobs are kept (``$XDG_CACHE_HOME/reelforge``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reelforge"


class RemoteStudio:
    """What ``reelforge.connect(url, token)`` returns: ``projects``, ``assets``, ``datasets``,
    ``models``, ``jobs``, ``lineage``, ``search`` (and ``tasks``), as on a local ``Studio``."""

    home: Path | None = None  # a remote studio has no folder here

    def __init__(self, http: Http, *, project: str | None = None) -> None:
        self.http = http
        self._project = project
        self._me: dict[str, Any] | None = None
        self.projects = RemoteProjects(self)
        self.assets = RemoteAssets(self)
        self.datasets = RemoteDatasets(self)
        self.models = RemoteModels(self)
        self.jobs = RemoteJobs(self)
        self.lineage = RemoteLineage(self)
        self.search = RemoteSearch(self)
        self.tasks = RemoteTasks(self)

    @property
    def url(self) -> str:
        return self.http.url

    def __repr__(self) -> str:
        return f"RemoteStudio({self.url!r})"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RemoteStudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def me(self, *, refresh: bool = False) -> dict[str, Any]:
        """Who this connection is (``GET /auth/me``): user, scopes, projects and their access."""
        if self._me is None or refresh:
            self._me = self.http.get("/auth/me")
        return self._me

    def project_ref(self, project: str | None) -> str:
        """``project`` or, for None, the default one: given to ``connect``, else the studio's."""
        if project is not None:
            return project
        if self._project is None:
            self._project = str(self.me()["default_project"])
        return self._project

    def project_ids(self, project: str | None) -> list[str]:
        """The project asked for, or (None) every project the caller can see, as local listings
        without a project cover the whole studio."""
        if project is not None:
            return [self.projects.get(project).id]
        return [p.id for p in self.projects.list()]

    def ingest(self, paths: Any, *, project: str | None = None, **kw: Any) -> IngestReport:
        """``assets.add``; the server queues the derived jobs (video proxies), listed in ``report.jobs``."""
        return self.assets.add(paths, project=project, **kw)


class _Service:
    def __init__(self, studio: RemoteStudio) -> None:
        self.studio, self.http = studio, studio.http


class RemoteProjects(_Service):
    def list(self) -> list[Project]:
        return [convert.project(p) for p in self.http.get("/projects")["items"]]

    def get(self, ref: str | None = None, *, create: bool = False) -> Project:
        ref = self.studio.project_ref(ref)
        try:
            return convert.project(self.http.get(f"/projects/{seg(ref)}"))
        except NotFound:
            if not create:
                raise
        return self.create(ref)

    def create(self, name: str, description: str = "") -> Project:
        return convert.project(self.http.json("POST", "/projects", json={"name": name, "description": description}))


def _open_regular(path: Path) -> BinaryIO:
    """A file to upload: opened once, and refused unless it is a regular file (no FIFO, device)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidInput(f"{path}: not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _verified_fill(chunks: Iterator[bytes], sha256: str, what: str) -> Callable[[BinaryIO], None]:
    """Write the downloaded bytes, then check they hash to what the catalog says (else nothing is
    kept: ``write_file`` removes its temporary file when this raises)."""

    def fill(out: BinaryIO) -> None:
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
        if digest.hexdigest() != sha256:
            raise MediaError(f"{what}: the downloaded bytes do not match the catalog's sha256")

    return fill


class RemoteAssets(_Service):
    # -- ingest ------------------------------------------------------------------------------
    def add(
        self,
        paths: Sequence[str | Path] | str | Path,
        *,
        project: str | None = None,
        tags: Sequence[str] = (),
        meta: dict[str, Any] | None = None,
        name: str | None = None,
        recursive: bool = True,
        skip_invalid: bool = False,
        progress: Progress | None = None,
        follow_symlinks: bool = False,
        on_progress: Callable[[IngestProgress], None] | None = None,
        workers: int | None = None,  # the server decides how it checks files
    ) -> IngestReport:
        """Upload files and folders (walked as ``reelforge add`` walks them), each streamed from
        disk, and validated by the server as a local ingest would be."""
        from reelforge.catalog.staging import IngestProgress, display_name
        from reelforge.catalog.walk import collect

        if isinstance(paths, (str, Path)):
            paths = [paths]
        got = collect(paths, recursive, follow_symlinks=follow_symlinks)
        if got.refused and not skip_invalid:
            listed = "; ".join(f"{display_name(p)}: {why}" for p, why in got.refused[:3])
            more = f" (+{len(got.refused) - 3} more)" if len(got.refused) > 3 else ""
            raise InvalidInput(f"refused {len(got.refused)} path(s): {listed}{more}")
        files = got.files
        if name is not None:
            if len(files) != 1:
                raise InvalidInput("--name applies to a single file")
            files = [(files[0][0], name)]
        if not files:
            raise InvalidInput("nothing to add: no files found")
        proj = self.studio.project_ref(project)
        fields = {"tags": ",".join(tags)} if tags else {}
        if meta:
            fields["meta"] = json.dumps(meta)
        report = IngestReport(rejected=[(display_name(p), why) for p, why in got.refused])
        sizes = [_size(src) for src, _ in files]
        done_bytes = 0
        for i, ((src, rel), size) in enumerate(zip(files, sizes, strict=True)):
            shown = display_name(rel)
            try:
                body, added = self._upload(proj, src, shown, fields)
            except InvalidInput as exc:  # the file's own fault (type, limits, decode): others may go on
                if not skip_invalid:
                    raise
                report.rejected.append((display_name(str(src)), str(exc)))
            else:
                asset = convert.asset(body)
                if added:
                    report.added.append(asset)
                else:
                    asset.duplicate = True
                    report.duplicates.append(asset)
                report.jobs.extend(body.get("jobs", []))
            done_bytes += size
            if progress:
                progress(i + 1, len(files), shown)
            if on_progress:
                on_progress(IngestProgress(i + 1, len(files), done_bytes, sum(sizes), shown))
        return report

    def _upload(self, project: str, src: Path, name: str, fields: dict[str, str]) -> tuple[dict[str, Any], bool]:
        with _open_regular(src) as fh:
            # The declared type says nothing the content does not: the server sniffs it.
            files = {"file": (PurePosixPath(name).name, fh, "application/octet-stream")}
            r = self.http.request("POST", f"/projects/{seg(project)}/assets", files=files,
                                  data={**fields, "name": name})
        return r.json(), r.status_code == 201

    # -- queries -----------------------------------------------------------------------------
    def get(self, ref: str, project: str | None = None) -> Asset:
        """An asset by id, or by name within a project."""
        if id_kind(ref) == "ast":
            return convert.asset(self.http.get(f"/assets/{seg(ref)}"))
        # Exact name: glob characters become '?' for the server, the exact match is made here.
        pattern = "".join("?" if c in _GLOB else c for c in ref)
        proj = self.studio.project_ref(project)
        found = [convert.asset(a) for a in self.http.pages(f"/projects/{seg(proj)}/assets",
                                                            {"name": pattern, "sort": "id", "order": "desc"})]
        for a in found:
            if a.name == ref:
                return a
        raise NotFound(f"no asset {ref!r}")

    def get_many(self, ids: Sequence[str]) -> list[Asset]:
        return [self.get(i) for i in ids]

    def list(
        self,
        *,
        project: str | None = None,
        kind: str | None = None,
        tags: Sequence[str] = (),
        name: str | None = None,
        created_by_job: str | None = None,
        limit: int | None = None,
    ) -> list[Asset]:
        params = {"kind": kind, "tag": list(tags), "name": name, "job": created_by_job, "sort": "id"}
        out: list[Asset] = []
        for pid in self.studio.project_ids(project):
            out.extend(convert.asset(a) for a in self.http.pages(f"/projects/{seg(pid)}/assets", params, limit=limit))
        out.sort(key=lambda a: a.id)  # as locally: one listing in id order, whatever the project
        return out[:limit] if limit is not None else out

    def tag(self, ids: Sequence[str], add: Sequence[str] = (), remove: Sequence[str] = ()) -> list[Asset]:
        for i in ids:  # every asset must exist before any is changed, as locally
            if id_kind(i) != "ast":
                raise NotFound(f"no asset {i!r}")
            self.get(i)
        body = {"add_tags": list(add), "remove_tags": list(remove)}
        return [convert.asset(self.http.json("PATCH", f"/assets/{seg(i)}", json=body)) for i in ids]

    def set_meta(self, asset_id: str, **values: Any) -> Asset:
        return convert.asset(self.http.json("PATCH", f"/assets/{seg(asset_id)}", json={"meta": values}))

    # -- files -------------------------------------------------------------------------------
    def download(self, asset: Asset | str) -> Iterator[bytes]:
        """The asset's bytes as they arrive (not checked: ``export`` and ``local_path`` check)."""
        asset_id = asset.id if isinstance(asset, Asset) else asset
        with self.http.stream("GET", f"/assets/{seg(asset_id)}/content") as r:
            yield from r.iter_bytes(CHUNK)

    def local_path(self, asset: Asset) -> Path:
        """A local file with the asset's bytes (downloaded once into the cache, checked)."""
        from reelforge.storage.export import write_file

        suffix = Path(asset.name).suffix.lower() or f".{asset.format}"
        folder = cache_dir() / "blobs"
        name = f"{asset.sha256}{suffix}"
        if not (folder / name).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            write_file(folder, name, _verified_fill(self.download(asset), asset.sha256, asset.name), overwrite=True)
        return folder / name

    def export(self, refs: Sequence[str], dest: str | Path, *, overwrite: bool = False) -> list[Path]:
        """Download assets under their names; the same refusals as a local export."""
        from reelforge.catalog.exports import export_assets

        assets = [self.get(r) for r in refs]
        return export_assets(assets, dest, self._copier(assets), overwrite=overwrite)

    def _copier(self, assets: Sequence[Asset]) -> Callable[[str, Path, str, bool], Path]:
        by_sha = {a.sha256: a for a in assets}

        def copy(sha256: str, dest: Path, rel: str, overwrite: bool) -> Path:
            from reelforge.storage.export import write_file

            a = by_sha[sha256]
            return write_file(dest, rel, _verified_fill(self.download(a), sha256, a.name), overwrite=overwrite)

        return copy


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _split_ref(ref: str, what: str) -> tuple[str, int | None]:
    from reelforge.catalog.names import split_version

    return split_version(ref, what)


class RemoteDatasets(_Service):
    def create(
        self,
        name: str,
        *,
        project: str | None = None,
        assets: Sequence[str | Asset] | None = None,
        kind: str | None = None,
        tags: Sequence[str] = (),
        name_glob: str | None = None,
        labels: dict[str, str] | None = None,
        label_from: str | None = None,
        captions: dict[str, str] | None = None,
        splits: str | Sequence[float] = (0.8, 0.1, 0.1),
        seed: int = 0,
        description: str = "",
    ) -> DatasetVersion:
        """A new version of dataset ``name`` from explicit assets or a filter (see the local one)."""
        if isinstance(splits, str):
            try:
                splits = [float(x) for x in splits.split(",")]
            except ValueError:
                raise InvalidInput(f"invalid split ratios {splits!r}: expected e.g. 0.8,0.1,0.1") from None
        body = {
            "name": name, "kind": kind, "tags": list(tags), "name_glob": name_glob, "labels": labels,
            "label_from": label_from, "captions": captions, "splits": list(splits), "seed": seed,
            "description": description,
            "assets": None if assets is None else [a.id if isinstance(a, Asset) else a for a in assets],
        }
        proj = self.studio.project_ref(project)
        made = self.http.json("POST", f"/projects/{seg(proj)}/datasets", json=body)
        return self.get(made["id"])  # with its items, as the local create returns it

    def get(self, ref: str, project: str | None = None, *, with_items: bool = True) -> DatasetVersion:
        """``dsv_…`` (a version), ``dst_…`` or ``NAME`` (its latest version), ``NAME@N``."""
        name, version = _split_ref(ref, "dataset")
        if id_kind(ref) == "dsv" or id_kind(name) == "dst":
            return convert.dataset(self.http.get(f"/datasets/{seg(ref)}", items=str(with_items).lower()))
        found = [v for v in self.list(self.studio.project_ref(project))
                 if v.dataset_name == name and (version is None or v.version == version)]
        if not found:
            raise NotFound(f"no dataset {ref!r}")
        latest = max(found, key=lambda v: v.version)
        return self.get(latest.id, with_items=with_items) if with_items else latest

    def list(self, project: str | None = None) -> list[DatasetVersion]:
        """Every version of every dataset (newest version first within a dataset)."""
        out: list[DatasetVersion] = []
        for pid in self.studio.project_ids(project):
            out.extend(convert.dataset(v) for v in self.http.get(f"/projects/{seg(pid)}/datasets")["items"])
        out.sort(key=lambda v: (v.dataset_name, -v.version))
        return out

    def export(self, ref: str, dest: str | Path, *, overwrite: bool = False) -> Path:
        """The local layout (``split/label/name`` plus ``manifest.csv``, ``dataset.json``), downloaded."""
        from reelforge.catalog.exports import export_dataset

        dv = self.get(ref)
        want = {i.asset_id for i in dv.items}
        assets: dict[str, Asset] = {}
        if len(want) > 20:  # a big dataset: its project's listing, 500 a page, beats one request each
            for a in self.http.pages(f"/projects/{seg(dv.project_id)}/assets", {"sort": "id"}):
                if a["id"] in want:
                    assets[a["id"]] = convert.asset(a)
                    if len(assets) == len(want):
                        break
        for asset_id in sorted(want - set(assets)):
            assets[asset_id] = self.studio.assets.get(asset_id)
        return export_dataset(dv, assets, dest, self.studio.assets._copier(list(assets.values())),
                              overwrite=overwrite)


class RemoteModels(_Service):
    def get(self, ref: str, project: str | None = None) -> Model:
        """``mdl_…``, ``NAME`` (latest version) or ``NAME@N``."""
        if id_kind(ref) == "mdl":
            return convert.model(self.http.get(f"/models/{seg(ref)}"))
        name, version = _split_ref(ref, "model")
        found = [m for m in self.list(self.studio.project_ref(project))
                 if m.name == name and (version is None or m.version == version)]
        if not found:
            raise NotFound(f"no model {ref!r}")
        return max(found, key=lambda m: m.version)

    def list(self, project: str | None = None) -> list[Model]:
        out: list[Model] = []
        for pid in self.studio.project_ids(project):
            out.extend(convert.model(m) for m in self.http.get(f"/projects/{seg(pid)}/models")["items"])
        out.sort(key=lambda m: (m.name, -m.version))
        return out

    def _copier(self, model: Model) -> Callable[[str, Path, str, bool], Path]:
        by_sha = {f.sha256: f for f in model.files}

        def copy(sha256: str, dest: Path, rel: str, overwrite: bool) -> Path:
            from reelforge.storage.export import write_file

            f = by_sha[sha256]
            return write_file(dest, rel, _verified_fill(self._file(model, f.name), sha256, f.name),
                              overwrite=overwrite)

        return copy

    def _file(self, model: Model, name: str) -> Iterator[bytes]:
        with self.http.stream("GET", f"/models/{seg(model.id)}/files/{seg(name)}") as r:
            yield from r.iter_bytes(CHUNK)

    def export(self, ref: str, dest: str | Path, *, overwrite: bool = False) -> Path:
        """Weights and a model card into ``dest``, downloaded and checked."""
        from reelforge.catalog.exports import export_model

        model = self.get(ref)
        return export_model(model, dest, self._copier(model), overwrite=overwrite)

    def materialize(self, ref: str | Model) -> Path:
        """A local folder holding the model's files (a cache shared by every connection)."""
        model = ref if isinstance(ref, Model) else self.get(ref)
        folder = cache_dir() / "models" / model.id
        copy = self._copier(model)
        folder.mkdir(parents=True, exist_ok=True)
        for f in model.files:
            if not (folder / f.name).is_file():
                copy(f.sha256, folder, f.name, True)
        return folder


@dataclass
class JobEvent:
    """One Server-Sent Event of a job: ``progress``, ``log``, ``metric`` or ``end``."""

    kind: str
    data: Any
    id: str | None = None


class RemoteJobHandle:
    """What ``jobs.submit`` returns for a remote studio: follow or wait for a job its server runs."""

    def __init__(self, jobs: RemoteJobs, job_id: str) -> None:
        self._jobs, self.id = jobs, job_id

    def __repr__(self) -> str:
        return f"RemoteJobHandle({self.id})"

    @property
    def job(self) -> Job:
        return self._jobs.get(self.id)

    def run(self) -> Job:
        raise InvalidInput("a remote studio's jobs run on its server's workers, not in this process (use wait)")

    def wait(self, timeout: float | None = None, poll: float = 0.25, inline: bool | None = None,
             on_progress: Callable[[Job], None] | None = None) -> Job:
        """Wait until the job is finished (succeeded, failed or cancelled) and return it;
        ``on_progress(job)`` sees each change of its progress on the way."""
        if inline:
            self.run()
        deadline = None if timeout is None else time.monotonic() + timeout
        last: tuple[Any, ...] | None = None
        delay = min(poll, 0.05)  # short jobs finish in milliseconds: look again soon, then back off
        while True:
            job = self.job
            state = (job.status, job.attempt, job.progress_done, job.progress_total, job.progress_message)
            if on_progress is not None and state != last:
                on_progress(job)
            last = state
            if job.finished:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.id} still {job.status} after {timeout}s")
            time.sleep(delay)
            delay = min(poll, delay * 2)

    def cancel(self) -> Job:
        return self._jobs.cancel(self.id)

    def events(self) -> Iterator[JobEvent]:
        return self._jobs.events(self.id)


class RemoteJobs(_Service):
    def submit(
        self,
        task: str,
        params: dict[str, Any] | None = None,
        *,
        project: str | None = None,
        priority: int = 0,
        max_attempts: int | None = None,
        seed: int | None = None,
    ) -> RemoteJobHandle:
        """Queue a job on the server (params are checked there against the task's schema)."""
        proj = self.studio.project_ref(project)
        body = {"task": task, "params": params or {}, "priority": priority, "seed": seed, "max_attempts": max_attempts}
        job = self.http.json("POST", f"/projects/{seg(proj)}/jobs", json=body)
        return RemoteJobHandle(self, job["id"])

    def get(self, job_id: str) -> Job:
        if id_kind(job_id) != "job":
            raise NotFound(f"no job {job_id!r}")
        return convert.job(self.http.get(f"/jobs/{seg(job_id)}"))

    def handle(self, job_id: str) -> RemoteJobHandle:
        self.get(job_id)
        return RemoteJobHandle(self, job_id)

    def list(self, *, status: str | None = None, task: str | None = None, project: str | None = None,
             limit: int = 50) -> list[Job]:
        """Newest first, across every visible project unless one is named."""
        if status is not None:
            status = JobStatus.parse(status).value
        params = {"status": status, "task": task, "sort": "id", "order": "desc"}
        out: list[Job] = []
        for pid in self.studio.project_ids(project):
            out.extend(convert.job(j) for j in self.http.pages(f"/projects/{seg(pid)}/jobs", params, limit=limit))
        out.sort(key=lambda j: j.id, reverse=True)
        return out[:limit]

    def logs(self, job_id: str, after_id: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        page = self.http.get(f"/jobs/{seg(job_id)}/logs", after=after_id, limit=max(1, min(limit, 10_000)))
        return list(page["items"])

    def metrics(self, job_id: str, name: str | None = None) -> dict[str, list[tuple[int, float]]]:
        series = self.http.get(f"/jobs/{seg(job_id)}/metrics", name=name)["series"]
        return {k: [(p["step"], p["value"]) for p in pts] for k, pts in series.items()}

    def cancel(self, job_id: str) -> Job:
        return convert.job(self.http.json("POST", f"/jobs/{seg(job_id)}/cancel"))

    def retry(self, job_id: str) -> Job:
        return convert.job(self.http.json("POST", f"/jobs/{seg(job_id)}/retry"))

    def set_priority(self, job_id: str, priority: int) -> Job:
        return convert.job(self.http.json("PATCH", f"/jobs/{seg(job_id)}", json={"priority": priority}))

    def queue_state(self) -> dict[str, Any]:
        return dict(self.http.json("GET", "/queue"))

    def pause(self) -> dict[str, Any]:
        return dict(self.http.json("POST", "/queue/pause"))

    def resume(self) -> dict[str, Any]:
        return dict(self.http.json("POST", "/queue/resume"))

    def workers_alive(self) -> int:
        """Workers the server's catalog heard from recently (a queued job waits for one)."""
        return int(self.http.get("/workers")["alive"])

    def events(self, job_id: str, *, after_log: int = 0, reconnects: int = 5) -> Iterator[JobEvent]:
        """The job's live progress, log lines and metrics (Server-Sent Events) until its ``end``
        event; a dropped stream is resumed after the last log line seen."""
        from reelforge.errors import Unavailable

        last_id = str(after_log)
        tries = 0
        while True:
            try:
                for ev in self._stream(job_id, last_id):
                    if ev.id is not None:
                        last_id = ev.id
                    yield ev
                    if ev.kind == "end":
                        return
                tries += 1  # the stream ended without "end": the connection was cut
            except Unavailable:
                tries += 1
                if tries > reconnects:
                    raise
            if tries > reconnects:
                raise ReelforgeError(f"the event stream of {job_id} kept closing before the job ended")
            time.sleep(min(2.0, 0.2 * tries))

    def _stream(self, job_id: str, last_id: str) -> Iterator[JobEvent]:
        headers = {"Accept": "text/event-stream", "Last-Event-ID": last_id}
        # The server sends a keep-alive every 15 s: a read waiting longer than that means a dead link.
        timeout = self.http.timeout(read=60.0)
        with self.http.stream("GET", f"/jobs/{seg(job_id)}/events", headers=headers, timeout=timeout) as r:
            kind, data, ev_id = "message", [], None
            for line in r.iter_lines():
                if not line:
                    if data:
                        yield JobEvent(kind, json.loads("\n".join(data)), ev_id)
                    kind, data, ev_id = "message", [], None
                elif line.startswith(":"):
                    continue  # keep-alive comment
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        kind = value
                    elif field == "data":
                        data.append(value)
                    elif field == "id":
                        ev_id = value


class RemoteLineage(_Service):
    def graph(self, ref: str, max_depth: int = 50) -> LineageGraph:
        """The graph from ``ref`` back to raw assets; names of datasets, models and assets are
        resolved in the default project, as locally."""
        if id_kind(ref) is None:
            ref = self._resolve_name(ref)
        return convert.lineage(self.http.get(f"/lineage/{seg(ref)}", depth=max(0, min(max_depth, 200))))

    def _resolve_name(self, ref: str) -> str:
        for getter in (self.studio.datasets.get, self.studio.models.get, self.studio.assets.get):
            try:
                return getter(ref).id  # type: ignore[operator]
            except (NotFound, InvalidInput):
                continue
        raise NotFound(f"nothing named {ref!r}")


class RemoteSearch(_Service):
    def query(self, query: str, *, k: int = 10, kind: str | None = None, project: str | None = None,
              reindex: bool = True) -> list[dict[str, Any]]:
        """Best matches first. The server re-indexes first for callers who may write to the project
        (``reindex`` is its decision, not the caller's)."""
        if not query.strip():
            raise InvalidInput("empty search query")
        proj = self.studio.project_ref(project)
        return list(self.http.get(f"/projects/{seg(proj)}/search", q=query, k=k, kind=kind)["items"])


@dataclass
class RemoteTaskSpec:
    """A task as the server describes it: what the CLI needs to parse ``reelforge run`` arguments
    and print help (the server validates the parameters)."""

    name: str
    description: str
    inputs: dict[str, str]
    outputs: tuple[str, ...]
    resources: Resources
    resumable: bool
    params_schema: dict[str, Any]
    fields: list[ParamField]

    def param_fields(self) -> list[ParamField]:
        return list(self.fields)

    def json_schema(self) -> dict[str, Any]:
        return self.params_schema

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "inputs": self.inputs,
                "outputs": list(self.outputs), "resources": vars(self.resources), "resumable": self.resumable,
                "params": self.params_schema}


class RemoteTasks(_Service):
    def list(self) -> list[RemoteTaskSpec]:
        return [self._spec(t, None) for t in self.http.get("/tasks")["items"]]

    def get(self, name: str) -> RemoteTaskSpec:
        data = self.http.get(f"/tasks/{seg(name)}")
        return self._spec(data, data.get("fields") or [])

    @staticmethod
    def _spec(data: dict[str, Any], fields: list[dict[str, Any]] | None) -> RemoteTaskSpec:
        from reelforge.compute.registry import ParamField, Resources

        known = set(ParamField.__dataclass_fields__)
        params = [ParamField(**{**{k: v for k, v in f.items() if k in known}, "choices": tuple(f.get("choices") or ())})
                  for f in fields or []]
        return RemoteTaskSpec(
            name=data["name"], description=data.get("description", ""), inputs=dict(data.get("inputs") or {}),
            outputs=tuple(data.get("outputs") or ()), resources=Resources(**(data.get("resources") or {})),
            resumable=bool(data.get("resumable")), params_schema=data.get("params") or {}, fields=params,
        )


__all__ = ["JobEvent", "RemoteJobHandle", "RemoteStudio", "RemoteTaskSpec"]
