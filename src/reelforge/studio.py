"""The ``Studio`` facade: the one object the CLI, the server and the SDK hold."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from reelforge.catalog.assets import AssetService
from reelforge.catalog.datasets import DatasetService
from reelforge.catalog.lineage import LineageService
from reelforge.catalog.models import ModelService
from reelforge.catalog.projects import ProjectService
from reelforge.compute.queue import JobService
from reelforge.config import CONFIG_NAME, Settings, find_home, load_settings
from reelforge.db.engine import make_engine, read_engine, session_scope, upgrade
from reelforge.db.models import AssetRow, JobCheckpointRow, ModelFileRow
from reelforge.errors import Conflict
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


class Studio:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.migrated = upgrade(self.engine)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        # Read-only work goes through ReadSession: on SQLite it does not queue for the write lock.
        self.ReadSession = sessionmaker(read_engine(self.engine), expire_on_commit=False)
        self.blobs = open_blob_store(settings.blob_url)
        assert settings.cache_dir is not None
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        self.projects = ProjectService(self)
        self.assets = AssetService(self)
        self.datasets = DatasetService(self)
        self.models = ModelService(self)
        self.jobs = JobService(self)
        self.lineage = LineageService(self)

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
        home.mkdir(parents=True, exist_ok=True)
        settings = load_settings(home, overrides)
        settings.write()
        for sub in ("blobs", "cache"):
            (home / sub).mkdir(exist_ok=True)
        studio = cls(settings)
        studio.projects.get(None)
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

    def gc(self, *, grace_seconds: float = 3600.0, dry_run: bool = False) -> list[str]:
        """Remove blobs nothing references (older than the grace period, so an ingest in flight
        between committing its blob and its row is never collected) and stale staging files."""
        import time

        refs = self.referenced_blobs()
        cutoff = time.time() - grace_seconds
        removed = [b.sha256 for b in self.blobs.iter_blobs() if b.sha256 not in refs and b.mtime < cutoff]
        if not dry_run:
            for sha in removed:
                self.blobs.delete(sha)
            for p in self.blobs.stale_staging(older_than=grace_seconds):
                os.unlink(p)
        return removed
