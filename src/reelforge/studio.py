"""The ``Studio`` facade: the one object the CLI, the server and the SDK hold."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from reelforge.access.service import AccessService
from reelforge.catalog.assets import AssetService, IngestReport
from reelforge.catalog.boards import BoardService
from reelforge.catalog.browse import BrowseService
from reelforge.catalog.datasets import DatasetService
from reelforge.catalog.lineage import LineageService
from reelforge.catalog.models import ModelService
from reelforge.catalog.projects import ProjectService
from reelforge.catalog.search import ScriptSearchService
from reelforge.compute.queue import JobService
from reelforge.config import CONFIG_NAME, Settings, find_home, load_settings
from reelforge.db.engine import Database, session_scope, upgrade
from reelforge.db.models import AssetRow, JobCheckpointRow, ModelFileRow
from reelforge.errors import Conflict, InvalidInput
from reelforge.storage import open_blob_store


@dataclass
class FsckReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)  # referenced by the catalog, not in the store
    corrupt: list[str] = field(default_factory=list)  # bytes no longer hash to their name
    unreferenced: list[str] = field(default_factory=list)  # garbage: gc removes
    stale_staging: list[str] = field(default_factory=list)  # leftovers of killed writers

    @property
    def clean(self) -> bool:
        return not self.missing and not self.corrupt

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "clean": self.clean}


class GcResult(list[str]):
    """Blobs that gc removed (or would remove), plus the staging leftovers in ``staging``."""

    staging: list[str]

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.staging = []


class Studio:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = db = Database.open(settings.database_url)
        self.engine = db.engine
        self.migrated = upgrade(self.engine)
        # Read-only work goes through ReadSession: on SQLite it does not queue for the write lock.
        self.Session, self.ReadSession = db.Session, db.ReadSession
        self.blobs = blobs = open_blob_store(settings.blob_url)
        if settings.encryption:  # blobs encrypted at rest; the catalog keeps plaintext hashes
            from reelforge.storage.encrypted import encrypt_store

            self.blobs = blobs = encrypt_store(blobs, settings.home, settings.key_file)
        assert settings.cache_dir is not None
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        # Services get their collaborators, not the Studio: no service imports studio.py.
        self.projects = ProjectService(db, settings)
        self.assets = AssetService(db, blobs, settings, self.projects)
        self.datasets = DatasetService(db, self.projects, self.assets)
        self.models = ModelService(db, blobs, settings, self.projects, self.assets)
        self.jobs = JobService(db, blobs, settings, projects=self.projects, assets=self.assets,
                               datasets=self.datasets, models=self.models)
        self.jobs.inline_runner = self._run_inline
        self.lineage = LineageService(db, self.assets, self.datasets, self.models)
        self.search = ScriptSearchService(self.assets, self.models, self.jobs)
        self.access = AccessService(db, settings, self.projects)  # accounts, roles, audit log (server, CLI)
        self.browse = BrowseService(db)  # paged listings for the server
        self.boards = BoardService(db, self.projects, self.assets)  # boards, exhibitions, the gallery
        # A blob store knows every catalog that references it, so gc in one studio never removes
        # what another studio sharing the store still needs.
        self.catalog_key = hashlib.sha256(str(settings.home.resolve()).encode()).hexdigest()[:20]
        with contextlib.suppress(OSError):
            self.blobs.register_catalog(self.catalog_key, {"home": str(settings.home.resolve())})

    def _run_inline(self, job_id: str) -> None:
        from reelforge.compute.worker import Worker

        Worker(self).run_job(job_id)

    def __repr__(self) -> str:
        return f"Studio({str(self.settings.home)!r})"

    @property
    def home(self) -> Path:
        return self.settings.home

    # -- lifecycle ---------------------------------------------------------------------------
    @classmethod
    def init(cls, path: str | Path, *, exist_ok: bool = False, **overrides: Any) -> Studio:
        home = Path(path).resolve()
        if (home / CONFIG_NAME).exists():
            if not exist_ok:
                raise Conflict(f"a studio already exists at {home}")
            return cls.open(home)
        if home.exists() and not home.is_dir():
            raise Conflict(f"{home} exists and is not a folder")
        made_home = not home.exists()
        home.mkdir(parents=True, exist_ok=True)
        before = set(home.iterdir())
        try:
            settings = load_settings(home, overrides)
            settings.write()
            if settings.encryption:  # a new encrypted studio makes its key (unless REELFORGE_STUDIO_KEY is set)
                from reelforge.storage.encrypted import load_studio_key, studio_key_path

                load_studio_key(studio_key_path(home, settings.key_file), create=True)
            for sub in ("blobs", "cache"):
                (home / sub).mkdir(exist_ok=True)
            from reelforge.catalog.signing import create_identity

            create_identity(home)  # keys/: the C2PA signing certificate and the watermark key
            studio = cls(settings)
            studio.projects.get(None)
        except BaseException:
            # A bad blob store URL, missing credentials or a bad key: nothing is left behind, so the
            # corrected command works (it used to answer "a studio already exists").
            _remove_new(home, before, made_home)
            raise
        return studio

    @classmethod
    def open(cls, path: str | Path | None = None, **overrides: Any) -> Studio:
        return cls(load_settings(find_home(path), overrides))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest ------------------------------------------------------------------------------
    def ingest(self, paths: Any, *, project: str | None = None, **kw: Any) -> IngestReport:
        """``assets.add`` (what ``reelforge add`` runs), then the derived work queued as jobs, never
        done in the ingest path: a ``media.proxies`` job for the videos added, unless
        ``settings.ingest_video_proxies`` is off, and a ``media.thumbnails`` job for the images added
        without a thumbnail (big PNGs, unless ``settings.ingest_defer_thumbnails`` is off). Their
        ids are in ``report.jobs``. (Wired here: the asset service must not know the job service.)"""
        kw.setdefault("defer_thumbnails", self.settings.ingest_defer_thumbnails)
        report = self.assets.add(paths, project=project, **kw)
        unthumbed = [a.id for a in report.added if a.kind == "image" and not a.thumb_sha256]
        if unthumbed:
            job = self.jobs.submit("media.thumbnails", {"assets": unthumbed}, project=project)
            report.jobs.append(job.id)
        videos = [a.id for a in report.added if a.kind == "video"]
        if videos and self.settings.ingest_video_proxies:
            job = self.jobs.submit("media.proxies", {"assets": videos}, project=project)
            report.jobs.append(job.id)
        return report

    # -- maintenance -------------------------------------------------------------------------
    def referenced_blobs(self) -> set[str]:
        with session_scope(self.ReadSession) as s:
            refs = set(s.scalars(select(AssetRow.sha256)))
            refs |= {t for t in s.scalars(select(AssetRow.thumb_sha256)) if t}
            refs |= set(s.scalars(select(ModelFileRow.sha256)))
            refs |= set(s.scalars(select(JobCheckpointRow.sha256)))
        return refs

    def fsck(self, *, verify: bool = True, progress: Any = None) -> FsckReport:
        """Find referenced blobs that are missing or whose bytes no longer match their hash."""
        report = FsckReport()
        refs = self.referenced_blobs()
        stored = {b.sha256 for b in self.blobs.iter_blobs()}
        report.missing = sorted(refs - stored)
        report.unreferenced = sorted(stored - refs)
        todo = sorted(refs & stored)
        for i, sha in enumerate(todo):
            if progress:
                progress(i, len(todo), sha[:12])
            report.checked += 1
            if verify and not self.blobs.verify(sha):
                report.corrupt.append(sha)
        report.stale_staging = [str(p) for p in self.blobs.stale_staging(older_than=3600)]
        return report

    def shared_with(self) -> list[str]:
        """Homes of the other studios whose catalogs reference this studio's blob store."""
        return [info.get("home", key) for key, info in self.blobs.catalogs().items() if key != self.catalog_key]

    def _other_references(self) -> set[str]:
        """Blobs referenced by the other catalogs registered with this store. Refuses (rather
        than guessing) when one of them cannot be read: deleting its data is not recoverable."""
        refs: set[str] = set()
        for key, info in self.blobs.catalogs().items():
            if key == self.catalog_key:
                continue
            home = Path(info.get("home", ""))
            if not (home / CONFIG_NAME).is_file():
                raise Conflict(
                    f"this blob store is shared with a studio at {home} that cannot be found; gc would "
                    f"delete blobs it may reference (if that studio is gone for good: reelforge gc --forget {home})"
                )
            other = Studio.open(home)
            try:
                if other.blobs.url != self.blobs.url:
                    continue  # it moved to another store since it registered
                refs |= other.referenced_blobs()
            finally:
                other.close()
        return refs

    def forget_catalog(self, home: str | Path) -> bool:
        """Unregister a studio that no longer exists from this blob store."""
        want = str(Path(home).resolve())
        for key, info in self.blobs.catalogs().items():
            if key != self.catalog_key and info.get("home") == want:
                if (Path(want) / CONFIG_NAME).is_file():
                    raise InvalidInput(f"a studio still exists at {want}; it cannot be forgotten")
                self.blobs.unregister_catalog(key)
                return True
        return False

    def gc(self, *, grace_seconds: float = 3600.0, dry_run: bool = False) -> GcResult:
        """Remove blobs no catalog sharing the store references (older than the grace period, so
        an ingest in flight between committing its blob and its row is never collected) and
        stale staging files; the result lists removed blobs, ``.staging`` the staging files."""
        import time

        refs = self.referenced_blobs() | self._other_references()
        cutoff = time.time() - grace_seconds
        result = GcResult(b.sha256 for b in self.blobs.iter_blobs() if b.sha256 not in refs and b.mtime < cutoff)
        result.staging = [str(p) for p in self.blobs.stale_staging(older_than=grace_seconds)]
        if not dry_run:
            for sha in result:
                self.blobs.delete(sha)
            for p in result.staging:
                with contextlib.suppress(FileNotFoundError):  # its writer finished meanwhile
                    os.unlink(p)
        return result


def _remove_new(home: Path, before: set[Path], made_home: bool) -> None:
    """Undo a failed ``Studio.init``: what it created in ``home`` (and ``home`` if it made it)."""
    import shutil

    for p in set(home.iterdir()) - before:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    if made_home:
        try:
            home.rmdir()
        except OSError:
            pass
