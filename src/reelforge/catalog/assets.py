"""Assets: ingest (stage → validate → commit), listing, tags, export.

Ingest is all-or-nothing per call: every file is streamed into the blob store's staging area while
hashed, probed there (type from content, limits, full decode), and only when all of them pass are
the blobs committed and the rows written in one transaction. A bad file, a killed process or a
database error leaves no asset and no blob behind.
"""

from __future__ import annotations

import base64
import fnmatch
import os
import stat
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
from reelforge.errors import InvalidInput, LimitExceeded, NotFound, ReelforgeError
from reelforge.ids import id_kind, new_id
from reelforge.storage.export import copy_stream, occupied, prepare_folder, write_file

if TYPE_CHECKING:
    from reelforge.catalog.projects import ProjectService
    from reelforge.config import Settings
    from reelforge.db.engine import Database
    from reelforge.storage.base import BlobStore, StagedBlob

# "document": reports and interchange files (JSON, HTML, CSV, ...), see reelforge.media.probe_document.
KINDS = ("image", "video", "audio", "screenplay", "document")
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
    raw_name: bytes | None = None  # the file's name as bytes, when they are not UTF-8


def display_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (os.fsdecode's surrogates) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def raw_name_bytes(name: str) -> bytes | None:
    """The original bytes of a name that is not valid UTF-8, else None."""
    raw = name.encode("utf-8", "surrogateescape")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    return None


@dataclass
class Collected:
    files: list[tuple[Path, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def collect_files(
    paths: Sequence[str | Path], recursive: bool = True, *, follow_symlinks: bool = False
) -> list[tuple[Path, str]]:
    """(file, catalog name) pairs (see ``collect``); raises if any symlink was refused."""
    got = collect(paths, recursive, follow_symlinks=follow_symlinks)
    if got.refused:
        path, why = got.refused[0]
        raise InvalidInput(f"{display_name(path)}: {why}")
    return got.files


def collect(paths: Sequence[str | Path], recursive: bool = True, *, follow_symlinks: bool = False) -> Collected:
    """Files under the given paths, named by their path inside the folder given.

    Nothing outside the given paths is read: a symlink inside a folder that points out of it (or
    at something that is not a regular file) is refused and listed, unless ``follow_symlinks``.
    Symlinks that stay inside the folder are taken by their own name. Folders are walked without
    following symlinked folders (no loops), hidden entries are skipped."""
    out = Collected()
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise NotFound(f"{display_name(str(raw))}: no such file or directory")
        if p.is_dir():
            _walk(p, p, p.resolve(), recursive, follow_symlinks, out, set())
        elif p.is_file():
            out.files.append((p, p.name))
        else:
            raise InvalidInput(f"{display_name(str(raw))}: not a regular file")
    return out


def _walk(
    top: Path, folder: Path, root_real: Path, recursive: bool, follow: bool, out: Collected, seen: set[Path]
) -> None:
    real_folder = folder.resolve()
    if real_folder in seen:  # a symlinked folder loop (only reachable with follow_symlinks)
        return
    seen.add(real_folder)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        out.refused.append((str(folder), f"cannot read folder: {exc.strerror}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue  # hidden files and folders (.DS_Store, .git) are never media
        path = Path(entry.path)
        rel = path.relative_to(top).as_posix()
        if entry.is_symlink():
            try:
                target = path.resolve(strict=True)
            except (OSError, RuntimeError):
                out.refused.append((str(path), "broken or looping symlink"))
                continue
            inside = target == root_real or root_real in target.parents
            if not inside and not follow:
                out.refused.append((str(path), f"symlink to {target}, outside the folder given "
                                                "(use --follow-symlinks to read it)"))
                continue
            if target.is_dir():
                if recursive and follow:
                    _walk(top, path, root_real, recursive, follow, out, seen)
                elif recursive:
                    out.refused.append((str(path), "symlinked folder (use --follow-symlinks to read it)"))
                continue
            if target.is_file():
                out.files.append((path, rel))
            else:
                out.refused.append((str(path), "symlink to something that is not a regular file"))
            continue
        if entry.is_dir(follow_symlinks=False):
            if recursive:
                _walk(top, path, root_real, recursive, follow, out, seen)
        elif entry.is_file(follow_symlinks=False):
            out.files.append((path, rel))


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
    ) -> IngestReport:
        """Ingest files and folders. Raises on the first bad file unless ``skip_invalid``.
        Symlinks leading out of a folder given are refused unless ``follow_symlinks``."""
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
        tags = [check_tag(t) for t in tags]
        proj = self.projects.get(project, create=project is None)
        report = IngestReport()
        report.rejected.extend((display_name(p), why) for p, why in got.refused)
        pending: list[_Pending] = []
        try:
            for i, (src, raw_name) in enumerate(files):
                if progress:
                    progress(i, len(files), f"checking {display_name(raw_name)}")
                try:
                    pending.append(self._stage(src, raw_name))
                    pending[-1].asset_id = asset_id
                except ReelforgeError as exc:
                    if not skip_invalid:
                        raise type(exc)(f"{display_name(str(src))}: {exc}") from None
                    report.rejected.append((display_name(str(src)), str(exc)))
            self._commit(pending, proj.id, tags, meta or {}, created_by_job, report)
        finally:
            for p in pending:
                p.staged.discard()
        if progress:
            progress(len(files), len(files), "done")
        return report

    def _stage(self, src: Path, raw_name: str) -> _Pending:
        from reelforge.media import is_document, probe_document, probe_with_thumbnail

        limits = self.settings.limits
        name = safe_name(display_name(raw_name))
        staged = self._stage_source(src, limits.max_bytes)
        try:
            # Probe the staged copy, not the source: what we validate is exactly what we keep.
            thumb = None
            if is_document(staged.path, name):
                info: Any = probe_document(staged.path, name, limits)
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
        return _Pending(src, name, staged, info, thumb, raw_name=raw_name_bytes(raw_name))

    def _stage_source(self, src: Path, max_bytes: int) -> StagedBlob:
        """Stage a file we listed, opened without following a symlink swapped in since (unless
        the listing itself was a symlink the user allowed), and only if it is a regular file."""
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        if not src.is_symlink():
            flags |= os.O_NOFOLLOW
        try:
            fd = os.open(src, flags)
        except FileNotFoundError:
            raise NotFound(f"{display_name(str(src))}: no such file") from None
        except OSError as exc:
            raise InvalidInput(f"{display_name(str(src))}: cannot open ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise InvalidInput(f"{display_name(str(src))}: not a regular file")
            if st.st_size > max_bytes:
                raise LimitExceeded(f"{st.st_size} bytes is over the limit of {max_bytes}")
            return self.blobs.stage_stream(fh, suffix=src.suffix.lower()[:16], max_bytes=max_bytes)

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
                thumbs[i] = self.blobs.put_bytes(p.thumb).sha256
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
        with session_scope(self.db.Session) as s:
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
                    meta={**meta, **({"source_name_bytes": base64.b64encode(p.raw_name).decode()}
                                     if p.raw_name is not None else {})},
                    thumb_sha256=thumbs.get(i),
                    source=display_name(str(p.source)),
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
        assets = [self.get(r) for r in refs]
        names = [safe_name(a.name) for a in assets]
        dest = prepare_folder(dest).resolve()
        for a, name in zip(assets, names, strict=True):
            target = dest / name
            if dest not in target.parents:
                raise InvalidInput(f"asset name {a.name!r} escapes the export folder")
            if occupied(dest, name) and not overwrite:
                raise InvalidInput(f"{target} exists (use --overwrite)")
        return [self.copy_blob(a.sha256, dest, name, overwrite=overwrite) for a, name in zip(assets, names, strict=True)]

    def copy_blob(self, sha256: str, dest: Path, rel: str, *, overwrite: bool = False) -> Path:
        """Copy (never hard-link: the user may edit the export) a blob to ``dest/rel`` atomically,
        without following symlinks in ``dest``."""
        with self.blobs.open(sha256) as src:
            return write_file(dest, rel, copy_stream(src), overwrite=overwrite)
