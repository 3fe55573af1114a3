"""Writing files into a folder the user named, without ever writing outside it.

A hostile or careless folder may hold symlinks planted at the names we are about to write (the
final name, a temporary name, an intermediate folder). Everything here works relative to an open
directory descriptor: folders are entered with ``O_NOFOLLOW | O_DIRECTORY``, temporary files are
created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` under a random name, and the final rename replaces a
symlink at the target instead of following it. A name longer than the file system allows is
shortened (keeping its start, a hash and its extension), never a crash.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from reelforge.errors import Conflict, InvalidInput

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _name_max(dir_fd: int) -> int:
    try:
        return int(os.fpathconf(dir_fd, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def fit_name(name: str, limit: int = 255) -> str:
    """``name`` if its UTF-8 form fits ``limit`` bytes, else a shortened, still unique form."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= limit:
        return name
    suffix = PurePosixPath(name).suffix
    if len(suffix.encode()) > 16:
        suffix = ""
    tag = "~" + hashlib.sha256(raw).hexdigest()[:10]
    room = limit - len(tag.encode()) - len(suffix.encode())
    stem = raw[: max(room, 1)].decode("utf-8", "ignore")  # never cut a character in half
    return f"{stem}{tag}{suffix}"


def fit_path(rel: str, limit: int = 255) -> str:
    """``rel`` with every component fitted to ``limit`` bytes (what ``write_file`` will write)."""
    return "/".join(fit_name(p, limit) for p in PurePosixPath(rel).parts)


def occupied(dest: Path, rel: str) -> bool:
    """Whether something (a file, a folder, a symlink, even a dangling one) is at ``dest/rel``."""
    try:
        return os.path.lexists(dest / fit_path(rel))
    except OSError:
        return False


def prepare_folder(dest: str | Path) -> Path:
    """The export folder, created if missing; a path that is a file is refused."""
    dest = Path(dest)
    if dest.is_symlink() and not dest.is_dir():
        raise InvalidInput(f"{dest} is a symlink to something that is not a folder")
    if dest.exists() and not dest.is_dir():
        raise InvalidInput(f"{dest} is a file, not a folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InvalidInput(f"{dest} is a file, not a folder") from None
    except NotADirectoryError:
        raise InvalidInput(f"{dest}: a part of this path is a file, not a folder") from None
    return dest


@contextlib.contextmanager
def _open_dir(root_fd: int, parts: tuple[str, ...], create: bool) -> Iterator[int]:
    """Walk ``parts`` below ``root_fd`` without following symlinks; yields the last folder's fd."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise InvalidInput(f"{part!r} in the destination is a symlink or a file, not a folder") from None
                raise
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def write_file(
    dest: Path, rel: str, fill: Callable[[BinaryIO], None], *, overwrite: bool = False
) -> Path:
    """Write ``dest/rel`` through ``fill(fh)``: atomically, never through a symlink, never
    outside ``dest``. Returns the path written (its name may have been shortened)."""
    parts = PurePosixPath(rel).parts
    if not parts or any(p in ("", ".", "..") or "/" in p or "\x00" in p for p in parts) or rel.startswith("/"):
        raise InvalidInput(f"invalid name {rel!r} for a file in the export folder")
    root_fd = os.open(dest, _DIR_FLAGS)
    try:
        limit = _name_max(root_fd)
        folders = tuple(fit_name(p, limit) for p in parts[:-1])
        with _open_dir(root_fd, folders, create=True) as dir_fd:
            name = fit_name(parts[-1], limit)
            exists = True
            try:
                os.lstat(name, dir_fd=dir_fd)
            except FileNotFoundError:
                exists = False
            if exists and not overwrite:
                raise Conflict(f"{dest / '/'.join((*folders, name))} exists (use --overwrite)")
            tmp = f".{secrets.token_hex(8)}.part"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                         0o666, dir_fd=dir_fd)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fill(fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                # rename() replaces a symlink at the target, it never writes through it.
                os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise
        return dest.joinpath(*folders, name)
    finally:
        os.close(root_fd)


def write_bytes(dest: Path, rel: str, data: bytes, *, overwrite: bool = False) -> Path:
    return write_file(dest, rel, lambda fh: fh.write(data), overwrite=overwrite)


def copy_stream(src: BinaryIO) -> Callable[[BinaryIO], None]:
    def fill(out: BinaryIO) -> None:
        while chunk := src.read(1024 * 1024):
            out.write(chunk)

    return fill
