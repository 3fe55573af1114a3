"""Assets: ingest (stage → validate → commit), listing, tags, export.

Ingest is all-or-nothing per call: every file is streamed into the blob store's staging area while
hashed, probed there (type from content, limits, full decode), and only when all of them pass are
the blobs committed and the rows written in one transaction. A bad file, a killed process or a
database error leaves no asset and no blob behind.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reelforge.catalog.common import audit, now, safe_name
from reelforge.catalog.entities import Asset
from reelforge.db.engine import session_scope
from reelforge.db.models import AssetRow, AssetTagRow
from reelforge.errors import InvalidInput, NotFound, ReelforgeError
from reelforge.ids import id_kind, new_id

if TYPE_CHECKING:
    from reelforge.storage.base import StagedBlob
    from reelforge.studio import Studio

KINDS = ("image", "video", "audio", "screenplay", "document")
# Reports and interchange files that tasks write (and users may add): validated as UTF-8 text.
DOCUMENT_TYPES = {
    ".json": "application/json", ".html": "text/html", ".csv": "text/csv", ".srt": "application/x-subrip",
    ".vtt": "text/vtt", ".edl": "text/plain", ".otio": "application/json", ".md": "text/markdown",
    ".fcpxml": "application/xml", ".xml": "application/xml",
}


@dataclass
class DocumentInfo:
    format: str
    mime: str
    size_bytes: int
    line_count: int
    kind: str = "document"

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def probe_document(path: Path, name: str, max_bytes: int) -> DocumentInfo:
    suffix = Path(name).suffix.lower()
    size = path.stat().st_size
    if size == 0:
        raise InvalidInput("empty file")
    if size > max_bytes:
        raise InvalidInput(f"document is larger than the limit of {max_bytes} bytes")
    data = path.read_bytes()
    if b"\x00" in data:
        raise InvalidInput("binary data in a text document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"document is not UTF-8 text (byte {exc.start})") from None
    if suffix in (".json", ".otio"):
        import json

        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    return DocumentInfo(suffix[1:], DOCUMENT_TYPES[suffix], size, text.count("\n") + 1)
Progress = Callable[[int, int, str], None]


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


@dataclass
class IngestReport:
    added: list[Asset] = field(default_factory=list)
    duplicates: list[Asset] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)

    @property
    def assets(self) -> list[Asset]:
        return self.added + self.duplicates


@dataclass
class _Pending:
    source: Path
    name: str
    staged: StagedBlob
    info: Any = None
    thumb: bytes | None = None
    asset_id: str | None = None


def _is_fdx(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return b"<FinalDraft" in head


def collect_files(paths: Sequence[str | Path], recursive: bool = True) -> list[tuple[Path, str]]:
    """(file, catalog name) pairs: a folder's files are named by their path inside the folder."""
    out: list[tuple[Path, str]] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise NotFound(f"{raw}: no such file or directory")
        if p.is_dir():
            walker = sorted(p.rglob("*")) if recursive else sorted(p.iterdir())
            for f in walker:
                rel = f.relative_to(p)
                if any(part.startswith(".") for part in rel.parts):
                    continue  # hidden files and folders (.DS_Store, .git) are never media
                if f.is_file():
                    out.append((f, rel.as_posix()))
        elif p.is_file():
            out.append((p, p.name))
        else:
            raise InvalidInput(f"{raw}: not a regular file")
    return out


class AssetService:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio

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
    ) -> IngestReport:
        """Ingest files and folders. Raises on the first bad file unless ``skip_invalid``."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        files = collect_files(paths, recursive)
        if asset_id is not None and (len(files) != 1 or id_kind(asset_id) != "ast"):
            raise InvalidInput("a preset asset id needs exactly one file and an ast_ id")
        if name is not None:
            if len(files) != 1:
                raise InvalidInput("--name applies to a single file")
            files = [(files[0][0], name)]
        if not files:
            raise InvalidInput("nothing to add: no files found")
        tags = [check_tag(t) for t in tags]
        proj = self.studio.projects.get(project, create=project is None)
        report = IngestReport()
        pending: list[_Pending] = []
        try:
            for i, (src, raw_name) in enumerate(files):
                if progress:
                    progress(i, len(files), f"checking {raw_name}")
                try:
                    pending.append(self._stage(src, raw_name))
                    pending[-1].asset_id = asset_id
                except ReelforgeError as exc:
                    if not skip_invalid:
                        raise type(exc)(f"{src}: {exc}") from None
                    report.rejected.append((str(src), str(exc)))
            self._commit(pending, proj.id, tags, meta or {}, created_by_job, report)
        finally:
            for p in pending:
                p.staged.discard()
        if progress:
            progress(len(files), len(files), "done")
        return report

    def _stage(self, src: Path, raw_name: str) -> _Pending:
        from reelforge.media import probe_with_thumbnail

        limits = self.studio.settings.limits
        name = safe_name(raw_name)
        staged = self.studio.blobs.stage_file(src, max_bytes=limits.max_bytes)
        try:
            # Probe the staged copy, not the source: what we validate is exactly what we keep.
            thumb = None
            if Path(name).suffix.lower() in DOCUMENT_TYPES and not _is_fdx(staged.path):
                info: Any = probe_document(staged.path, name, limits.max_text_bytes)
            else:
                info, thumb = probe_with_thumbnail(staged.path, limits, 256)
        except ReelforgeError as exc:
            staged.discard()
            # Decoders name the file they read (the staged copy); the user knows it by its own name.
            msg = str(exc).replace(f"{staged.path}: ", "").replace(f"{staged.path.name}: ", "")
            raise type(exc)(msg.replace(str(staged.path), src.name).replace(staged.path.name, src.name)) from None
        except BaseException:
            staged.discard()
            raise
        return _Pending(src, name, staged, info, thumb)

    def _commit(
        self,
        pending: list[_Pending],
        project_id: str,
        tags: list[str],
        meta: dict[str, Any],
        created_by_job: str | None,
        report: IngestReport,
    ) -> None:
        if not pending:
            return
        # Blobs first: a crash between here and the DB commit leaves only unreferenced blobs,
        # which fsck reports as garbage and gc removes; never a row pointing at nothing.
        thumbs: dict[int, str] = {}
        for i, p in enumerate(pending):
            if p.thumb is not None:
                thumbs[i] = self.studio.blobs.put_bytes(p.thumb).sha256
            p.staged.commit()
        # Two concurrent jobs may save identical outputs: on PostgreSQL the loser of that race
        # gets a unique violation; a second pass then sees the winner's row as a duplicate.
        for attempt in range(3):
            try:
                ctx = {"project_id": project_id, "tags": tags, "meta": meta, "created_by_job": created_by_job,
                       "thumbs": thumbs}
                self._write_rows(pending, ctx, report)
                return
            except IntegrityError:
                report.added.clear()
                report.duplicates.clear()
                if attempt == 2:
                    raise InvalidInput("the same files are being added concurrently; try again") from None

    def _write_rows(self, pending: list[_Pending], ctx: dict[str, Any], report: IngestReport) -> None:
        project_id, tags, meta = ctx["project_id"], ctx["tags"], ctx["meta"]
        created_by_job, thumbs = ctx["created_by_job"], ctx["thumbs"]
        created: list[str] = []
        with session_scope(self.studio.Session) as s:
            seen: dict[str, AssetRow] = {}
            for i, p in enumerate(pending):
                existing = seen.get(p.staged.sha256) or s.scalar(
                    select(AssetRow).where(AssetRow.project_id == project_id, AssetRow.sha256 == p.staged.sha256)
                )
                if existing is not None:
                    self._merge_tags(s, existing.id, tags)
                    asset = load_assets(s, [existing])[0]
                    asset.duplicate = True
                    report.duplicates.append(asset)
                    continue
                info = p.info.to_dict()
                row = AssetRow(
                    id=p.asset_id or new_id("ast"),
                    project_id=project_id,
                    name=p.name,
                    kind=info["kind"],
                    format=info["format"],
                    mime=info["mime"],
                    sha256=p.staged.sha256,
                    size=p.staged.size,
                    info=info,
                    meta=dict(meta),
                    thumb_sha256=thumbs.get(i),
                    source=str(p.source),
                    created_at=now(),
                    created_by_job=created_by_job,
                )
                s.add(row)
                seen[row.sha256] = row
                created.append(row.id)
                for t in tags:
                    s.add(AssetTagRow(asset_id=row.id, tag=t))
            s.flush()
            if created:
                audit(s, "asset.add", None, project_id, assets=created[:1000], count=len(created))
            rows = [s.get(AssetRow, i) for i in created]
            report.added.extend(load_assets(s, [r for r in rows if r is not None]))

    @staticmethod
    def _merge_tags(s: Session, asset_id: str, tags: Iterable[str]) -> None:
        have = set(s.scalars(select(AssetTagRow.tag).where(AssetTagRow.asset_id == asset_id)))
        for t in tags:
            if t not in have:
                s.add(AssetTagRow(asset_id=asset_id, tag=t))

    # -- queries -----------------------------------------------------------------------------
    def get(self, ref: str, project: str | None = None) -> Asset:
        """An asset by id, or by name within a project."""
        with session_scope(self.studio.ReadSession) as s:
            if id_kind(ref) == "ast":
                row = s.get(AssetRow, ref)
            else:
                proj = self.studio.projects.get(project)
                row = s.scalar(
                    select(AssetRow)
                    .where(AssetRow.project_id == proj.id, AssetRow.name == ref)
                    .order_by(AssetRow.id.desc())
                )
            if row is None:
                raise NotFound(f"no asset {ref!r}")
            return load_assets(s, [row])[0]

    def get_many(self, ids: Sequence[str]) -> list[Asset]:
        with session_scope(self.studio.ReadSession) as s:
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
        with session_scope(self.studio.ReadSession) as s:
            q = select(AssetRow).order_by(AssetRow.id)
            if project is not None:
                q = q.where(AssetRow.project_id == self.studio.projects.get(project).id)
            if kind:
                q = q.where(AssetRow.kind == kind)
            if created_by_job:
                q = q.where(AssetRow.created_by_job == created_by_job)
            for t in tags:
                q = q.where(AssetRow.id.in_(select(AssetTagRow.asset_id).where(AssetTagRow.tag == t)))
            if name:
                # Translate the glob for a coarse SQL prefilter, then match exactly in Python.
                like = name.replace("%", r"\%").replace("_", r"\_").replace("*", "%").replace("?", "_")
                q = q.where(AssetRow.name.like(like, escape="\\"))
            rows = list(s.scalars(q))
            if name:
                rows = [r for r in rows if fnmatch.fnmatchcase(r.name, name)]
            if limit is not None:
                rows = rows[:limit]
            return load_assets(s, rows)

    def tag(self, ids: Sequence[str], add: Sequence[str] = (), remove: Sequence[str] = ()) -> list[Asset]:
        add = [check_tag(t) for t in add]
        remove = [check_tag(t) for t in remove]
        with session_scope(self.studio.Session) as s:
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
        with session_scope(self.studio.Session) as s:
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
        dest = self.studio.settings.cache_dir / "blobs" / f"{asset.sha256}{suffix}"
        return self.studio.blobs.materialize(asset.sha256, dest)

    def export(self, refs: Sequence[str], dest: str | Path, *, overwrite: bool = False) -> list[Path]:
        """Copy assets out under their names; refuses to clobber files unless ``overwrite``."""
        dest = Path(dest)
        assets = [self.get(r) for r in refs]
        targets = []
        for a in assets:
            target = (dest / safe_name(a.name)).resolve()
            if dest.resolve() not in target.parents:
                raise InvalidInput(f"asset name {a.name!r} escapes the export folder")
            if target.exists() and not overwrite:
                raise InvalidInput(f"{target} exists (use --overwrite)")
            targets.append(target)
        written = []
        for a, target in zip(assets, targets, strict=True):
            self.copy_blob(a.sha256, target)
            written.append(target)
        return written

    def copy_blob(self, sha256: str, target: Path) -> Path:
        """Copy (never hard-link: the user may edit the export) a blob to ``target`` atomically."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        try:
            with self.studio.blobs.open(sha256) as src, open(tmp, "wb") as out:
                while chunk := src.read(1024 * 1024):
                    out.write(chunk)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return target
