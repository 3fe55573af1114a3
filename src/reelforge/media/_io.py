"""Atomic file writes: a reader never sees a half-written proxy, thumbnail or PNG."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, hence best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(dst: Path | str) -> Iterator[Path]:
    """Yield a temporary path next to ``dst``; on success fsync it and ``os.replace`` it onto ``dst``.

    On any exception (including cancellation) the temporary file is removed and ``dst`` is untouched.
    The temporary file is created with the usual umask permissions (unlike ``mkstemp``'s 0600).
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(dst.parent)


def atomic_write_bytes(dst: Path | str, data: bytes) -> None:
    with atomic_path(dst) as tmp:
        tmp.write_bytes(data)
