"""The ``BlobStore`` protocol: content-addressed (sha256) immutable blobs.

Writes go through staging: bytes stream into a temporary object while being hashed, the caller can
inspect the staged file (validation, probing) and then ``commit`` or ``discard`` it. Nothing becomes
visible under its hash until it is complete and synced, so a killed process never leaves a partial
blob behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar, runtime_checkable

from reelforge.errors import InvalidInput, LimitExceeded, NotFound, ReelforgeError

CHUNK = 1024 * 1024
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
# Names of small mutable objects (``put_meta``): lower-case path segments, no "..", no leading "/".
META_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)*$")


class StorageError(ReelforgeError):
    """The blob store failed or refused (wrong credentials, a server error): a server-side
    problem, so HTTP 500; the message says which store and why in one line."""


class CorruptBlob(StorageError):
    """Stored bytes no longer match their name (or their authentication tag): never served."""


@dataclass(frozen=True)
class BlobInfo:
    sha256: str
    size: int
    mtime: float = 0.0


class StagedBlob(Protocol):
    sha256: str
    size: int
    path: Path  # a local file holding the staged bytes, for probing before commit

    def commit(self) -> BlobInfo: ...

    def discard(self) -> None: ...


@runtime_checkable
class BlobStore(Protocol):
    url: str

    def stage_stream(self, src: BinaryIO, suffix: str = "", max_bytes: int | None = None) -> StagedBlob: ...

    def stage_file(self, path: Path, max_bytes: int | None = None) -> StagedBlob: ...

    def put_bytes(self, data: bytes) -> BlobInfo: ...

    def put_file(self, path: Path) -> BlobInfo: ...

    def exists(self, sha256: str) -> bool: ...

    def stat(self, sha256: str) -> BlobInfo: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def read_bytes(self, sha256: str) -> bytes: ...

    def materialize(self, sha256: str, dest: Path) -> Path:
        """Make the blob available as a local file at ``dest`` (hard link or copy)."""
        ...

    def delete(self, sha256: str) -> None: ...

    def iter_blobs(self) -> Iterator[BlobInfo]: ...

    def verify(self, sha256: str) -> bool:
        """Re-hash the stored bytes: False when they no longer match the name."""
        ...

    def register_catalog(self, key: str, info: dict[str, str]) -> None:
        """Record a catalog that references this store (gc in any of them honours all)."""
        ...

    def catalogs(self) -> dict[str, dict[str, str]]:
        """Every catalog registered with this store: key → what it recorded (its home)."""
        ...

    def unregister_catalog(self, key: str) -> None: ...

    def stale_staging(self, older_than: float) -> list[Path]:
        """Leftover staging files of killed writers, older than ``older_than`` seconds."""
        ...


@runtime_checkable
class MetaStore(Protocol):
    """Small named, mutable objects kept next to the blobs (the encryption wrapper keeps its
    keyring and wrapped data keys there, so rotating a key never rewrites a blob). Names match
    ``META_RE``; writes replace atomically."""

    def put_meta(self, name: str, data: bytes) -> None: ...

    def get_meta(self, name: str) -> bytes:
        """The object's bytes; ``NotFound`` when there is none."""
        ...

    def delete_meta(self, name: str) -> None: ...

    def iter_meta(self, prefix: str) -> Iterator[tuple[str, float]]:
        """(name, mtime) of every object whose name starts with ``prefix``."""
        ...


def check_meta_name(name: str) -> str:
    if not META_RE.match(name) or ".." in name:
        raise InvalidInput(f"invalid metadata object name {name!r}")
    return name


S = TypeVar("S")


def stream_to_staging(src: BinaryIO, tmp: Path, suffix: str, max_bytes: int | None, *, mode: int = 0o400,
                      sync: bool = False) -> tuple[Path, str, int]:
    """Every store's first step of a write: stream ``src`` into a new file in ``tmp`` while hashing
    it, refusing more than ``max_bytes``; (path, sha256, size). The file is removed on any failure."""
    # Keep the suffix: some decoders and sniffers look at it (fountain vs plain text).
    safe_suffix = suffix if suffix and len(suffix) <= 16 and "/" not in suffix else ""
    fd, name = tempfile.mkstemp(dir=tmp, prefix="stage-", suffix=safe_suffix)
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise LimitExceeded(f"file is larger than the limit of {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fchmod(out.fileno(), mode)
            if sync:
                os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest(), size


def stage_from_file(path: Path, max_bytes: int | None, stage: Callable[[BinaryIO, str, int | None], S]) -> S:
    """``stage_file`` of every store: the size limit checked before reading, then ``stage(src, suffix,
    max_bytes)`` (the store's ``stage_stream``); a folder or an unreadable file is one clear error."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotFound(f"{path}: {exc.strerror}") from None
    if max_bytes is not None and size > max_bytes:
        raise LimitExceeded(f"{path.name}: {size} bytes is over the limit of {max_bytes}")
    try:
        with open(path, "rb") as src:
            return stage(src, path.suffix.lower(), max_bytes)
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory") from None
    except PermissionError:
        raise InvalidInput(f"{path}: permission denied") from None
