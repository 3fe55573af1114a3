"""Assets: ingest (stage → validate → commit), listing, tags, export.

Ingest is all-or-nothing per call: every file is streamed into the blob store's staging area while
hashed, probed there (type from content, limits, one validating decode that also gives the
thumbnail; see ``staging.py``, which fans big ingests out to worker processes), and only when all
of them pass are the blobs committed (made durable as a batch) and the rows written in one
transaction, in bulk statements. A bad file, a killed process or a database error leaves no asset
and no blob behind.
"""

from __future__ import annotations

import base64
import fnmatch
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reelforge.catalog.common import audit, glob_like, now, safe_name
from reelforge.catalog.entities import Asset, IngestReport
from reelforge.catalog.exports import export_assets
from reelforge.catalog.staging import (
    IngestProgress,
    Staged,
    WorkerPlacer,
    default_workers,
    display_name,
    gc_paused,
    plan_workers,
    raw_name_bytes,
    stage_files,
)
from reelforge.catalog.walk import Collected, collect, collect_files  # noqa: F401 (re-exported)
from reelforge.db.engine import session_scope
from reelforge.db.models import AssetRow, AssetTagRow
from reelforge.errors import InvalidInput, MediaError, NotFound
from reelforge.ids import id_kind, new_id
from reelforge.storage.export import copy_stream, write_file

if TYPE_CHECKING:
    from reelforge.catalog.projects import ProjectService
    from reelforge.config import Settings
    from reelforge.db.engine import Database
    from reelforge.storage.base import BlobStore, StagedBlob

__all__ = ["KINDS", "AssetService", "IngestProgress", "IngestReport", "display_name", "raw_name_bytes"]

# "document": reports and interchange files (JSON, HTML, CSV, ...), see reelforge.media.probe_document.
KINDS = ("image", "video", "audio", "screenplay", "document")
Progress = Callable[[int, int, str], None]
_IN_CHUNK = 500  # ids or hashes per IN (...) list


def check_tag(tag: str) -> str:
    tag = tag.strip()
    if not tag or len(tag) > 200 or any(ord(c) < 32 for c in tag) or "," in tag:
        raise InvalidInput(f"invalid tag {tag!r}")
    return tag


def to_entity(row: AssetRow, tags: Sequence[str]) -> Asset:
    return Asset(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        kind=row.kind,
        format=row.format,
        mime=row.mime,
        sha256=row.sha256,
        size=row.size,
        info=dict(row.info or {}),
        meta=dict(row.meta or {}),
        tags=sorted(tags),
        thumb_sha256=row.thumb_sha256,
        source=row.source,
        created_at=row.created_at,
        created_by_job=row.created_by_job,
    )


def load_assets(s: Session, rows: Iterable[AssetRow]) -> list[Asset]:
    rows = list(rows)
    tags: dict[str, list[str]] = {r.id: [] for r in rows}
    ids = list(tags)
    for i in range(0, len(ids), 500):
        for t in s.scalars(select(AssetTagRow).where(AssetTagRow.asset_id.in_(ids[i : i + 500]))):
            tags[t.asset_id].append(t.tag)
    return [to_entity(r, tags[r.id]) for r in rows]


def _new_asset(row: dict[str, Any], tags: Sequence[str]) -> Asset:
    """The entity of a row this call inserts (built from its values: no query to read it back)."""
    return Asset(**{k: row[k] for k in _ROW_FIELDS}, tags=sorted(set(tags)))


def _dup(asset: Asset) -> Asset:
    asset.duplicate = True
    return asset


_ROW_FIELDS = ("id", "project_id", "name", "kind", "format", "mime", "sha256", "size", "info", "meta",
               "thumb_sha256", "source", "created_at", "created_by_job")


class AssetService:
    def __init__(self, db: Database, blobs: BlobStore, settings: Settings, projects: ProjectService) -> None:
        self.db, self.blobs, self.settings, self.projects = db, blobs, settings, projects

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
        created_by_job: str | None = None,
        asset_id: str | None = None,
        follow_symlinks: bool = False,
        on_progress: Callable[[IngestProgress], None] | None = None,
        workers: int | None = None,
        defer_thumbnails: bool = False,
    ) -> IngestReport:
        """Ingest files and folders. Raises on the first bad file unless ``skip_invalid``.
        Symlinks leading out of a folder given are refused unless ``follow_symlinks``.
        With ``defer_thumbnails``, big PNGs are added without a thumbnail (their check does not
        decode them; ``set_thumbnail`` adds it later: ``Studio.ingest`` queues the job).

        ``progress(done, total, message)`` counts files; ``on_progress`` gets files and bytes.
        ``workers`` caps the processes that check files (default: ``settings.ingest_workers``,
        0 = one per CPU); small ingests run in this process whatever it says."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        got = collect(paths, recursive, follow_symlinks=follow_symlinks)
        if got.refused and not skip_invalid:
            listed = "; ".join(f"{display_name(p)}: {why}" for p, why in got.refused[:3])
            more = f" (+{len(got.refused) - 3} more)" if len(got.refused) > 3 else ""
            raise InvalidInput(f"refused {len(got.refused)} path(s): {listed}{more}")
        files = got.files
        if asset_id is not None and (len(files) != 1 or id_kind(asset_id) != "ast"):
            raise InvalidInput("a preset asset id needs exactly one file and an ast_ id")
        if name is not None:
            if len(files) != 1:
                raise InvalidInput("--name applies to a single file")
            files = [(files[0][0], name)]
        if not files:
            raise InvalidInput("nothing to add: no files found")
        tags = list(dict.fromkeys(check_tag(t) for t in tags))  # a tag given twice is one tag
        proj = self.projects.get(project, create=project is None)
        report = IngestReport()
        report.rejected.extend((display_name(p), why) for p, why in got.refused)

        def tick(p: IngestProgress) -> None:
            if progress:
                progress(p.files_done, p.files_total, p.message)
            if on_progress:
                on_progress(p)

        if workers is None:
            workers = self.settings.ingest_workers
        sizes = [_size(src) for src, _ in files]
        with gc_paused():
            staged = stage_files(
                self.blobs, files, self.settings.limits, safe_name, skip_invalid=skip_invalid,
                workers=plan_workers(files, sizes, workers or default_workers()), progress=tick, sizes=sizes,
                defer_thumbnails=defer_thumbnails, followable=got.symlinks, keep_workers=True,
            )
            pending = staged.staged
            try:
                report.rejected.extend(staged.rejected)
                if asset_id is not None and pending:
                    pending[0].asset_id = asset_id
                total = sum(sizes)
                tick(IngestProgress(len(files), len(files), total, total, "committing"))
                self._commit(pending, proj.id, tags, meta or {}, created_by_job, report, staged.placer)
            finally:
                staged.close()  # the workers first: none may still be placing what is discarded here
                for p in pending:
                    p.discard()  # no-op for what was committed; the rest leaves staging
        if progress:
            progress(len(files), len(files), "done")
        return report

    def _commit(
        self,
        pending: list[Staged],
        project_id: str,
        tags: list[str],
        meta: dict[str, Any],
        created_by_job: str | None,
        report: IngestReport,
        placer: WorkerPlacer | None = None,
    ) -> None:
        if not pending:
            return
        # Blobs first: a crash between here and the DB commit leaves only unreferenced blobs,
        # which fsck reports as garbage and gc removes; never a row pointing at nothing.
        blobs: list[StagedBlob] = [b for p in pending for b in (p.blob, p.thumb) if b is not None]
        place_many = getattr(self.blobs, "place_many", None)
        if place_many is None:
            commit_many = getattr(self.blobs, "commit_many", None)
            if commit_many is not None:
                commit_many(blobs)  # durable as a batch: a few syncs instead of two per blob
            else:
                for b in blobs:
                    b.commit()
            self._write_rows_retrying(pending, project_id, tags, meta, created_by_job, report, lambda: None)
            return
        # Local files: renamed under their hashes and made durable while the rows are built and
        # inserted here; the transaction commits only once that is done, so a row never points at
        # bytes a crash could lose. A big batch is renamed in the ingest's worker processes where it
        # had them (``placer``), else here first, and then synced by one syncfs in a thread: renames
        # in that thread would contend with the rows for the interpreter's lock. A small one is
        # renamed and fsynced file by file in the thread (fsync releases the lock for its wait).
        rename = placer.rename if placer is not None else None
        here = rename is None and self.blobs.batches(len(blobs))  # type: ignore[attr-defined]
        placed = place_many(blobs) if here else None

        def sync() -> object:
            batch = placed if placed is not None else place_many(blobs, rename=rename)
            return self.blobs.sync_placed(batch, stat=False)  # type: ignore[attr-defined]

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelforge-blob-sync") as pool:
            durable = pool.submit(sync)
            self._write_rows_retrying(pending, project_id, tags, meta, created_by_job, report, durable.result)

    def _write_rows_retrying(
        self, pending: list[Staged], project_id: str, tags: list[str], meta: dict[str, Any],
        created_by_job: str | None, report: IngestReport, before_commit: Callable[[], object],
    ) -> None:
        # Two concurrent jobs may save identical outputs: on PostgreSQL the loser of that race
        # gets a unique violation; a second pass then sees the winner's row as a duplicate.
        for attempt in range(3):
            try:
                ctx = {"project_id": project_id, "tags": tags, "meta": meta, "created_by_job": created_by_job,
                       "before_commit": before_commit}
                self._write_rows(pending, ctx, report)
                return
            except IntegrityError:
                report.added.clear()
                report.duplicates.clear()
                if attempt == 2:
                    raise InvalidInput("the same files are being added concurrently; try again") from None

    def _write_rows(self, pending: list[Staged], ctx: dict[str, Any], report: IngestReport) -> None:
        project_id, tags, meta = ctx["project_id"], ctx["tags"], ctx["meta"]
        created_by_job = ctx["created_by_job"]
        with session_scope(self.db.Session) as s:
            # What the project holds already, in a few IN (...) queries rather than one per file.
            shas = sorted({p.blob.sha256 for p in pending})
            existing: dict[str, AssetRow] = {}
            for i in range(0, len(shas), _IN_CHUNK):
                q = select(AssetRow).where(AssetRow.project_id == project_id,
                                           AssetRow.sha256.in_(shas[i : i + _IN_CHUNK]))
                existing.update((r.sha256, r) for r in s.scalars(q))
            created_at = now()
            rows: list[dict[str, Any]] = []
            first: dict[str, dict[str, Any]] = {}
            old_dups: list[AssetRow] = []
            new_dups: list[dict[str, Any]] = []
            for p in pending:
                sha = p.blob.sha256
                if sha in existing:
                    old_dups.append(existing[sha])
                    continue
                if sha in first:  # the same content twice in one call: the first one is the asset
                    new_dups.append(first[sha])
                    continue
                thumb = sha if p.thumb_is_blob else (p.thumb.sha256 if p.thumb is not None else None)
                extra = {"source_name_bytes": base64.b64encode(p.raw_name).decode()} if p.raw_name is not None else {}
                row = {
                    "id": p.asset_id or new_id("ast"), "project_id": project_id, "name": p.name,
                    "kind": p.info["kind"], "format": p.info["format"], "mime": p.info["mime"],
                    "sha256": sha, "size": p.blob.size, "info": p.info, "meta": {**meta, **extra},
                    "thumb_sha256": thumb, "source": display_name(str(p.source)), "created_at": created_at,
                    "created_by_job": created_by_job,
                }
                rows.append(row)
                first[sha] = row
            # Bulk statements (executemany), a few hundred rows each, on the tables themselves: the
            # ORM's bulk path costs more per row than the database does.
            for i in range(0, len(rows), _IN_CHUNK):
                s.execute(insert(AssetRow.__table__), rows[i : i + _IN_CHUNK])
            tag_rows = [{"asset_id": r["id"], "tag": t} for r in rows for t in tags]
            for i in range(0, len(tag_rows), _IN_CHUNK):
                s.execute(insert(AssetTagRow.__table__), tag_rows[i : i + _IN_CHUNK])
            self._merge_tags_many(s, [r.id for r in old_dups], tags)
            created = [r["id"] for r in rows]
            if created:
                audit(s, "asset.add", None, project_id, assets=created[:1000], count=len(created))
            s.flush()
            report.added.extend(_new_asset(r, tags) for r in rows)
            loaded = {a.id: a for a in load_assets(s, {r.id: r for r in old_dups}.values())}
            report.duplicates.extend(_dup(loaded[r.id]) for r in old_dups)
            report.duplicates.extend(_dup(_new_asset(r, tags)) for r in new_dups)
            ctx["before_commit"]()  # the blobs are durable (or this raises and nothing commits)

    def set_thumbnail(self, asset_id: str, data: bytes) -> Asset:
        """Store a JPEG thumbnail for an asset that was added without one (a derived job made it)."""
        if not data.startswith(b"\xff\xd8\xff"):
            raise MediaError(f"thumbnail for {asset_id} is not a JPEG")
        info = self.blobs.put_bytes(data)
        with session_scope(self.db.Session) as s:
            row = s.get(AssetRow, asset_id)
            if row is None:
                raise NotFound(f"asset {asset_id!r} not found")
            row.thumb_sha256 = info.sha256
            audit(s, "asset.thumbnail", row.id, row.project_id, sha256=info.sha256)
            s.flush()
            return load_assets(s, [row])[0]

    @staticmethod
    def _merge_tags_many(s: Session, asset_ids: Sequence[str], tags: Sequence[str]) -> None:
        ids = sorted(set(asset_ids))
        if not ids or not tags:
            return
        have: set[tuple[str, str]] = set()
        for i in range(0, len(ids), _IN_CHUNK):
            q = select(AssetTagRow.asset_id, AssetTagRow.tag).where(AssetTagRow.asset_id.in_(ids[i : i + _IN_CHUNK]))
            have.update((a, t) for a, t in s.execute(q))
        s.add_all(AssetTagRow(asset_id=a, tag=t) for a in ids for t in tags if (a, t) not in have)
        s.flush()

    @staticmethod
    def _merge_tags(s: Session, asset_id: str, tags: Iterable[str]) -> None:
        have = set(s.scalars(select(AssetTagRow.tag).where(AssetTagRow.asset_id == asset_id)))
        for t in tags:
            if t not in have:
                s.add(AssetTagRow(asset_id=asset_id, tag=t))

    # -- queries -----------------------------------------------------------------------------
    def get(self, ref: str, project: str | None = None) -> Asset:
        """An asset by id, or by name within a project."""
        with session_scope(self.db.ReadSession) as s:
            if id_kind(ref) == "ast":
                row = s.get(AssetRow, ref)
            else:
                proj = self.projects.get(project)
                row = s.scalar(
                    select(AssetRow)
                    .where(AssetRow.project_id == proj.id, AssetRow.name == ref)
                    .order_by(AssetRow.id.desc())
                )
            if row is None:
                raise NotFound(f"no asset {ref!r}")
            return load_assets(s, [row])[0]

    def get_many(self, ids: Sequence[str]) -> list[Asset]:
        with session_scope(self.db.ReadSession) as s:
            rows = {r.id: r for r in s.scalars(select(AssetRow).where(AssetRow.id.in_(list(ids))))}
            missing = [i for i in ids if i not in rows]
            if missing:
                raise NotFound(f"no asset {missing[0]!r}")
            return load_assets(s, [rows[i] for i in ids])

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
        if kind is not None and kind not in KINDS:
            raise InvalidInput(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        with session_scope(self.db.ReadSession) as s:
            q = select(AssetRow).order_by(AssetRow.id)
            if project is not None:
                q = q.where(AssetRow.project_id == self.projects.get(project).id)
            if kind:
                q = q.where(AssetRow.kind == kind)
            if created_by_job:
                q = q.where(AssetRow.created_by_job == created_by_job)
            for t in tags:
                q = q.where(AssetRow.id.in_(select(AssetTagRow.asset_id).where(AssetTagRow.tag == t)))
            if name:
                # Translate the glob for a coarse SQL prefilter, then match exactly in Python.
                q = q.where(AssetRow.name.like(glob_like(name), escape="\\"))
            rows = list(s.scalars(q))
            if name:
                rows = [r for r in rows if fnmatch.fnmatchcase(r.name, name)]
            if limit is not None:
                rows = rows[:limit]
            return load_assets(s, rows)

    def tag(self, ids: Sequence[str], add: Sequence[str] = (), remove: Sequence[str] = ()) -> list[Asset]:
        add = list(dict.fromkeys(check_tag(t) for t in add))
        remove = [check_tag(t) for t in remove]
        with session_scope(self.db.Session) as s:
            rows = []
            for i in ids:
                row = s.get(AssetRow, i) if id_kind(i) == "ast" else None
                if row is None:
                    raise NotFound(f"no asset {i!r}")
                rows.append(row)
            for row in rows:
                self._merge_tags(s, row.id, add)
                for t in remove:
                    tag_row = s.get(AssetTagRow, (row.id, t))
                    if tag_row is not None:
                        s.delete(tag_row)
                audit(s, "asset.tag", row.id, row.project_id, add=list(add), remove=list(remove))
            s.flush()
            return load_assets(s, rows)

    def set_meta(self, asset_id: str, **values: Any) -> Asset:
        with session_scope(self.db.Session) as s:
            row = s.get(AssetRow, asset_id)
            if row is None:
                raise NotFound(f"no asset {asset_id!r}")
            row.meta = {**(row.meta or {}), **values}
            audit(s, "asset.meta", row.id, row.project_id, keys=sorted(values))
            s.flush()
            return load_assets(s, [row])[0]

    # -- files -------------------------------------------------------------------------------
    def local_path(self, asset: Asset) -> Path:
        """A local file with the asset's bytes (and an extension decoders recognise)."""
        suffix = Path(asset.name).suffix.lower() or f".{asset.format}"
        dest = self.settings.cache_dir / "blobs" / f"{asset.sha256}{suffix}"
        return self.blobs.materialize(asset.sha256, dest)

    def export(self, refs: Sequence[str], dest: str | Path, *, overwrite: bool = False) -> list[Path]:
        """Copy assets out under their names; refuses to clobber files unless ``overwrite``, and
        never writes outside ``dest`` (symlinks planted there are replaced, not followed)."""
        return export_assets([self.get(r) for r in refs], dest, self.copy_to, overwrite=overwrite)

    def copy_to(self, sha256: str, dest: Path, rel: str, overwrite: bool) -> Path:
        """``copy_blob`` as the export layouts call it (``catalog.exports.Copy``)."""
        return self.copy_blob(sha256, dest, rel, overwrite=overwrite)

    def copy_blob(self, sha256: str, dest: Path, rel: str, *, overwrite: bool = False) -> Path:
        """Copy (never hard-link: the user may edit the export) a blob to ``dest/rel`` atomically,
        without following symlinks in ``dest``."""
        with self.blobs.open(sha256) as src:
            return write_file(dest, rel, copy_stream(src), overwrite=overwrite)


def _size(src: Path) -> int:
    try:
        return src.stat().st_size
    except OSError:
        return 0  # staging says what is wrong with it
