"""Local content-addressed blob store: ``root/ab/<sha256>``, atomic writes, dedup.

A store made before that layout keeps its ``root/ab/cd/<sha256>`` (its ``LAYOUT`` file, or its
blobs, say which): one level of 256 folders is what the S3 store uses too, and it spares a big
ingest a new folder (a mkdir, and its block to sync) for almost every file.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reelforge.errors import InvalidInput, NotFound
from reelforge.storage.base import (
    CHUNK,
    SHA_RE,
    BlobInfo,
    check_meta_name,
    stage_from_file,
    stream_to_staging,
)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Below this many blobs, fsync each file and folder; above it, one syncfs(2) of the store's file
# system is far cheaper than thousands of journal commits (it also flushes others' dirty data).
_SYNCFS_FROM = 16


@dataclass
class PlacedBatch:
    """A batch renamed under its hashes by ``place_many``, waiting for ``sync_placed``."""

    staged: list[LocalStaged]
    todo: list[LocalStaged]  # those this batch placed (the rest were committed or discarded before)
    folders: list[str]  # the folders of the batch's blobs
    batch: bool  # one syncfs for all (else each file was fsynced before its rename)
    found: list[str]  # blobs that were there already (deduplicated): synced too


def _place_all(staged: Sequence[LocalStaged]) -> list[tuple[str, bool]]:
    return [s._place() for s in staged]


def _new_stage_tag() -> None:
    _STAGE_TAG[0] = f"{os.getpid()}-{secrets.token_hex(4)}"


# This process's prefix for the names of bytes staged from memory (then a per-store counter): a
# random tag per process, renewed in a forked child, rather than random bytes per file (a system
# call each); O_EXCL settles any clash anyway.
_STAGE_TAG = [""]
_new_stage_tag()
os.register_at_fork(after_in_child=_new_stage_tag)


def _syncfs(path: Path) -> bool:
    """syncfs(2) on the file system holding ``path`` (Linux); False where it is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs failed: {os.strerror(err)}")
    finally:
        os.close(fd)
    return True


_LAYOUT_FILE = "LAYOUT"
_LAYOUTS = {"ab/<sha256>": 1, "ab/cd/<sha256>": 2}
_HEX2 = frozenset(f"{i:02x}" for i in range(256))


def _layout_levels(root: Path) -> int:
    """Folder levels under the root: what its LAYOUT file says; else 2 for a store that already
    holds blobs in two levels (made before the file existed), 1 for any other, recorded now."""
    marker = root / _LAYOUT_FILE
    try:
        text: str | None = marker.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = None
    if text:
        if text not in _LAYOUTS:
            raise InvalidInput(f"{marker}: unknown blob layout {text!r}")
        return _LAYOUTS[text]
    levels = 2 if _holds_two_levels(root) else 1
    name = next(k for k, v in _LAYOUTS.items() if v == levels)
    # Written whole and durable under a temporary name, then linked: another process sees no
    # LAYOUT or a complete one, and a crash cannot leave an empty one (which would read as absent).
    try:
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".layout-")
    except OSError:  # a read-only store: keep to what its contents say
        return levels
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fchmod(fh.fileno(), 0o644)
            os.fsync(fh.fileno())
        if text is None:
            try:
                os.link(tmp, marker)
            except FileExistsError:  # another process recorded it first
                return _layout_levels(root)
            except OSError:  # a file system without hard links
                if marker.exists():
                    return _layout_levels(root)
                os.replace(tmp, marker)
        else:
            os.replace(tmp, marker)  # an empty one (a crash of an older writer): replaced
        _fsync_dir(root)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return levels


def _holds_two_levels(root: Path) -> bool:
    with os.scandir(root) as top:
        for first in top:
            if first.name in _HEX2 and first.is_dir():
                with os.scandir(first.path) as inner:
                    if any(e.name in _HEX2 and e.is_dir() for e in inner):
                        return True
    return False


class LocalStaged:
    def __init__(self, store: LocalBlobStore, path: Path, sha256: str, size: int, synced: bool = True) -> None:
        self.store, self.path, self.sha256, self.size = store, path, sha256, size
        self.synced = synced  # False: the bytes may still sit in the page cache (see commit_many)
        self._done = False
        self._prepared = False

    def commit(self) -> BlobInfo:
        if not self.synced:
            _fsync_file(self.path)
            self.synced = True
        final, renamed = self._place()
        if not renamed:
            # Deduplicated onto a copy another writer may have renamed without syncing it yet (its
            # batch syncs once, after its renames): made durable here, before our row points at it.
            _fsync_file(Path(final))
        _fsync_dir(Path(final).parent)
        return BlobInfo(self.sha256, self.size, os.stat(final).st_mtime)

    def _place(self) -> tuple[str, bool]:
        """Move the staged bytes under their hash; True when a rename happened."""
        if self._done:
            raise RuntimeError("staged blob already committed or discarded")
        placed = self.store.place_staged(str(self.path), self.sha256, self.size)
        self._done = True  # only now: had it failed, discard would still remove the staged file
        return placed

    def prepare(self) -> None:
        """Create the folder the blob will be committed into. Ingest workers call this while
        checking files, so the commit (one process, for the whole batch) only renames; an empty
        folder left by a refused ingest is harmless."""
        folder = os.path.dirname(self.store._spath(self.sha256))
        if folder in self.store._folders:
            return
        try:
            os.mkdir(folder)
        except FileExistsError:
            self.store._folders.add(folder)
            return
        except FileNotFoundError:  # its parent is new too
            os.makedirs(folder, exist_ok=True)
        self._prepared = True

    def discard(self) -> None:
        if not self._done:
            self._done = True
            self.path.unlink(missing_ok=True)
            if self._prepared:
                # The folders prepare() made, if still empty: a refused ingest leaves nothing. A
                # concurrent commit that needed one recreates it (see _place).
                final = self.store._path(self.sha256)
                for folder in (final.parent, final.parent.parent)[: self.store.levels]:
                    try:
                        folder.rmdir()
                    except OSError:
                        break

    def __enter__(self) -> LocalStaged:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


class LocalBlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.url = f"file://{self.root}"
        self._root_s = str(self.root)
        self.tmp = self.root / "tmp"
        self._tmp_s = str(self.tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.levels = _layout_levels(self.root)
        self._folders: set[str] = set()  # blob folders known to exist (prepare skips their mkdir)
        self._stage_count = itertools.count()

    def _path(self, sha256: str) -> Path:
        return Path(self._spath(sha256))

    def _spath(self, sha256: str) -> str:
        """Where a blob lives, as a string (for loops over thousands of blobs)."""
        if not SHA_RE.match(sha256):
            raise InvalidInput(f"not a sha256 digest: {sha256!r}")
        if self.levels == 1:
            return os.path.join(self._root_s, sha256[:2], sha256)
        return os.path.join(self._root_s, sha256[:2], sha256[2:4], sha256)

    # -- writes ------------------------------------------------------------------------------
    def stage_stream(
        self, src: BinaryIO, suffix: str = "", max_bytes: int | None = None, *, sync: bool = True
    ) -> LocalStaged:
        """Stream ``src`` into a staging file while hashing it. With ``sync=False`` the bytes are
        not fsynced here: ``commit`` (or ``commit_many``, for a whole batch at once) does it."""
        path, sha, size = stream_to_staging(src, self.tmp, suffix, max_bytes, mode=0o444, sync=sync)
        return LocalStaged(self, path, sha, size, synced=sync)

    def stage_bytes(self, data: bytes, suffix: str = "", *, sync: bool = True) -> LocalStaged:
        """Stage bytes already in memory (ingest reads small files whole: one read, one hash, one
        write, and the checks run on the same bytes)."""
        safe_suffix = suffix if suffix and len(suffix) <= 16 and "/" not in suffix else ""
        sha = hashlib.sha256(data).hexdigest()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        while True:
            path = os.path.join(self._tmp_s, f"stage-{_STAGE_TAG[0]}-{next(self._stage_count)}{safe_suffix}")
            try:
                fd = os.open(path, flags, 0o444)  # the mode applies to later opens, not to this fd
                break
            except FileExistsError:
                continue
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, 0o444)  # not left to the umask, as stream_to_staging does
            if sync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        os.close(fd)
        return LocalStaged(self, Path(path), sha, len(data), synced=sync)

    def commit_many(self, staged: Sequence[LocalStaged]) -> list[BlobInfo]:
        """Commit a batch durably with one sync instead of two per blob: after this returns, a crash
        cannot lose any of them. ``place_many`` then ``sync_placed`` (ingest runs the second in a
        thread while it writes the rows, and commits them after it returns)."""
        return self.sync_placed(self.place_many(staged))

    def place_staged(self, path: str, sha256: str, size: int) -> tuple[str, bool]:
        """Move bytes staged at ``path`` (which hash to ``sha256``) under their hash: the final
        path, and True when a rename happened. Any process may do it (ingest's workers do, see
        ``place_many``). String paths: ingest places thousands of blobs per commit, and pathlib
        costs more than the rename."""
        final = self._spath(sha256)
        if self._intact(final, sha256, size):
            # Dedup: same content already stored (or placed by an attempt that then failed).
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return final, False
        # New content, or the stored copy rotted (bit flips, truncation): the staged bytes
        # hash to the name, so they repair it.
        try:
            os.replace(path, final)
        except FileNotFoundError:  # its folder is not there yet (see prepare)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            try:
                os.replace(path, final)
            except FileNotFoundError:
                if not self._intact(final, sha256, size):
                    raise
                return final, False  # another process placed these very bytes meanwhile
        return final, True

    def batches(self, count: int) -> bool:
        """Whether ``place_many`` renames ``count`` blobs first and then syncs them all at once
        (else it fsyncs each before its rename)."""
        return count >= _SYNCFS_FROM and sys.platform.startswith("linux")

    def place_many(
        self, staged: Sequence[LocalStaged],
        rename: Callable[[Sequence[LocalStaged]], list[tuple[str, bool]]] | None = None,
    ) -> PlacedBatch:
        """Rename a batch under its hashes; not durable until ``sync_placed`` returns.
        ``rename``: where a big batch's renames are done instead of here, giving what
        ``place_staged`` gives for each (ingest's worker processes do them while this process
        writes the rows); a small batch is always renamed here, each file fsynced first.

        A big batch is renamed first and then made durable by one syncfs(2), data and renames
        together. A crash before that returns can leave a blob whose name is durable but whose bytes
        are not (short or garbage): nobody references it yet (rows are committed after the sync), a
        later write of the same content finds it not intact (size and hash are checked) and
        replaces it, and gc removes it otherwise. A small batch fsyncs each file before its rename."""
        todo = [s for s in staged if not s._done]
        batch = self.batches(len(todo))
        if not batch:
            for s in todo:
                if not s.synced:
                    _fsync_file(s.path)
                    s.synced = True
        if batch and rename is not None and todo:
            placed = rename(todo)
            for s in todo:  # only now: had the renames failed, discard would still remove the rest
                s._done = True
        else:
            placed = _place_all(todo)
        # Every folder, and the copies found already there: another writer may have renamed them
        # without syncing them yet (see commit).
        folders = sorted({os.path.dirname(final) for final, _ in placed})
        found = [final for final, renamed in placed if not renamed]
        return PlacedBatch(list(staged), todo, folders, batch, found)

    def sync_placed(self, placed: PlacedBatch, *, stat: bool = True) -> list[BlobInfo]:
        """Make a placed batch durable (system calls only: fine in a thread of its own); with
        ``stat=False`` nothing is returned (a stat per blob, for callers that need no BlobInfo)."""
        if placed.batch and _syncfs(self.root):
            for s in placed.todo:
                s.synced = True
        else:
            for s in placed.todo:  # no syncfs after all: the files (now under their hashes), then the folders
                if not s.synced:
                    _fsync_file(Path(self._spath(s.sha256)))
                    s.synced = True
            for final in placed.found:
                _fsync_file(Path(final))
            for folder in placed.folders:
                _fsync_dir(Path(folder))
        if not stat:
            return []
        return [BlobInfo(s.sha256, s.size, os.stat(self._spath(s.sha256)).st_mtime) for s in placed.staged]

    def stage_file(self, path: Path, max_bytes: int | None = None) -> LocalStaged:
        return stage_from_file(path, max_bytes, lambda src, suffix, limit: self.stage_stream(src, suffix, limit))

    def put_bytes(self, data: bytes) -> BlobInfo:
        import io

        return self.stage_stream(io.BytesIO(data)).commit()

    def put_file(self, path: Path) -> BlobInfo:
        return self.stage_file(path).commit()

    # -- reads -------------------------------------------------------------------------------
    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def stat(self, sha256: str) -> BlobInfo:
        try:
            st = self._path(sha256).stat()
        except FileNotFoundError:
            raise NotFound(f"blob {sha256} is missing from {self.url}") from None
        return BlobInfo(sha256, st.st_size, st.st_mtime)

    def open(self, sha256: str) -> BinaryIO:
        try:
            return open(self._path(sha256), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {sha256} is missing from {self.url}") from None

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def local_path(self, sha256: str) -> Path:
        path = self._path(sha256)
        if not path.exists():
            raise NotFound(f"blob {sha256} is missing from {self.url}")
        return path

    def materialize(self, sha256: str, dest: Path) -> Path:
        src = self.local_path(sha256)
        dest = Path(dest)
        if dest.exists():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
        return dest

    def intact(self, sha256: str, size: int) -> bool:
        """The stored copy is what committing these bytes would write (else a commit repairs it)."""
        return self._intact(self._path(sha256), sha256, size)

    def _intact(self, path: str | Path, sha256: str, size: int) -> bool:
        try:
            if os.stat(path).st_size != size:
                return False
        except FileNotFoundError:
            return False
        return self.verify(sha256)

    # -- catalogs sharing this store ---------------------------------------------------------
    def register_catalog(self, key: str, info: dict[str, str]) -> None:
        """Record that a catalog references blobs here, so gc anywhere can honour its references."""
        folder = self.root / "catalogs"
        folder.mkdir(exist_ok=True)
        path = folder / f"{key}.json"
        data = json.dumps(info, sort_keys=True)
        with contextlib.suppress(FileNotFoundError):
            if path.read_text(encoding="utf-8") == data:
                return
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".reg-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def catalogs(self) -> dict[str, dict[str, str]]:
        folder = self.root / "catalogs"
        out: dict[str, dict[str, str]] = {}
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                with contextlib.suppress(OSError, ValueError):
                    out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        return out

    def unregister_catalog(self, key: str) -> None:
        (self.root / "catalogs" / f"{key}.json").unlink(missing_ok=True)

    # -- small named objects (MetaStore) ----------------------------------------------------
    def _meta_path(self, name: str) -> Path:
        return self.root / "meta" / check_meta_name(name)

    def put_meta(self, name: str, data: bytes) -> None:
        path = self._meta_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".meta-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())  # a wrapped key lost to a crash would lose its blob
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    def get_meta(self, name: str) -> bytes:
        try:
            return self._meta_path(name).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{name} is missing from {self.url}") from None

    def delete_meta(self, name: str) -> None:
        self._meta_path(name).unlink(missing_ok=True)

    def iter_meta(self, prefix: str) -> Iterator[tuple[str, float]]:
        base = self.root / "meta"
        folder = base / prefix.rpartition("/")[0] if "/" in prefix else base
        if not folder.is_dir():
            return
        for dirpath, _dirs, files in os.walk(folder):
            for name in sorted(files):
                if name.startswith(".meta-"):
                    continue  # a write in flight
                full = Path(dirpath) / name
                rel = full.relative_to(base).as_posix()
                if rel.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):
                        yield rel, full.stat().st_mtime

    def delete(self, sha256: str) -> None:
        path = self._path(sha256)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, 0o644)
            path.unlink()

    def iter_blobs(self) -> Iterator[BlobInfo]:
        for first in sorted(self.root.iterdir()):
            if first.name == "tmp" or not first.is_dir() or len(first.name) != 2:
                continue
            for entry in sorted(first.iterdir()):
                # Either layout (and a blob of the other one, should a store ever hold both).
                for blob in sorted(entry.iterdir()) if len(entry.name) == 2 and entry.is_dir() else [entry]:
                    if SHA_RE.match(blob.name):
                        try:
                            st = blob.stat()
                        except FileNotFoundError:  # deleted by a concurrent gc
                            continue
                        yield BlobInfo(blob.name, st.st_size, st.st_mtime)

    def verify(self, sha256: str) -> bool:
        digest = hashlib.sha256()
        with self.open(sha256) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def stale_staging(self, older_than: float) -> list[Path]:
        cutoff = time.time() - older_than
        out = []
        for p in sorted(self.tmp.iterdir()):
            try:  # a writer may commit or discard its staging file while we look
                if p.stat().st_mtime < cutoff:
                    out.append(p)
            except FileNotFoundError:
                continue
        return out
