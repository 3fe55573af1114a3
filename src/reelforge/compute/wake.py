"""Waking idle workers when work arrives, instead of having them poll the queue.

* PostgreSQL: submitters ``NOTIFY reelforge_jobs`` inside their transaction (delivered on commit);
  each idle worker ``LISTEN``\\ s on a psycopg connection of its own.
* SQLite: a FIFO next to the database file (``catalog.db-wake``). Idle workers wait for it to be
  readable; a submitter writes one byte per job (a few at most) after its commit, and each byte
  wakes one worker, which reads it. Only workers on this machine share the file, which is all
  SQLite allows anyway.

Either way a listener is opened before the claim that found nothing, so a job committed in between
still wakes the worker (no lost wake-up), and waits always have a timeout: a wake-up that goes
missing (a full pipe, a dropped connection) only costs one poll interval.
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session

CHANNEL = "reelforge_jobs"
MAX_TOKENS = 16  # bytes one poke writes at most: enough to wake every idle worker of a machine


class Listener:
    """What an idle worker waits on. ``wait`` returns True when woken by new work, False on a
    timeout or ``interrupt()`` (safe to call from a signal handler or another thread)."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    def interrupt(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe is already an interrupt
            os.write(self._w, b"\0")

    def _poll(self, fds: list[int], timeout: float) -> list[int]:
        p = select.poll()
        for fd in (self._r, *fds):
            p.register(fd, select.POLLIN)
        ready = [fd for fd, _ in p.poll(max(0.0, timeout) * 1000)]
        if self._r in ready:
            with contextlib.suppress(OSError):
                while os.read(self._r, 64):
                    pass
        return ready

    def wait(self, timeout: float) -> bool:
        self._poll([], timeout)
        return False

    def close(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


class FifoListener(Listener):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._fd: int | None = None
        try:
            with contextlib.suppress(FileExistsError):
                os.mkfifo(path, 0o666)
            # O_RDWR: the worker holds a writer end itself, so the FIFO never reports end-of-file
            # when a submitter closes it (Linux and the BSDs allow this on FIFOs).
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return  # not a place for FIFOs (or none allowed): the timeout poll still works
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.close(fd)
            return
        self._fd = fd

    def wait(self, timeout: float) -> bool:
        if self._fd is None:
            return super().wait(timeout)
        deadline = time.monotonic() + timeout
        while True:
            ready = self._poll([self._fd], deadline - time.monotonic())
            if self._r in ready or not ready:
                return False
            try:
                if os.read(self._fd, 1):
                    return True  # our token: this worker goes to claim
            except BlockingIOError:
                pass  # another worker took the byte; keep waiting
            if time.monotonic() >= deadline:
                return False

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        super().close()


class PgListener(Listener):
    def __init__(self, dsn: str) -> None:
        super().__init__()
        self.dsn = dsn
        self._conn: Any = None
        self._next_try = 0.0
        self._connect()

    def _connect(self) -> None:
        import psycopg

        if time.monotonic() < self._next_try:
            return
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error:
            self._next_try = time.monotonic() + 5.0  # the database is away: poll, retry later
            return
        self._conn = conn

    def _drop(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = None

    def wait(self, timeout: float) -> bool:
        if self._conn is None:
            self._connect()
            if self._conn is None:
                return super().wait(timeout)
        pg = self._conn.pgconn
        deadline = time.monotonic() + timeout
        while True:
            try:
                # Notifications that arrived while the worker was busy are already buffered.
                pg.consume_input()
                got = False
                while pg.notifies() is not None:
                    got = True
                if got:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                ready = self._poll([pg.socket], remaining)
            except Exception:  # connection lost: reconnect on the next wait, poll meanwhile
                self._drop()
                return False
            if not ready or self._r in ready:
                return False

    def close(self) -> None:
        if self._conn is not None:
            self._drop()
        super().close()


class WakeChannel:
    """The submit side and the listener factory of one catalog database."""

    def __init__(self, engine: Engine) -> None:
        self.backend = engine.dialect.name
        self.fifo: Path | None = None
        self.dsn: str | None = None
        if self.backend == "sqlite":
            db = engine.url.database
            if db and db != ":memory:" and not db.startswith("file:"):
                self.fifo = Path(db).resolve().parent / (Path(db).name + "-wake")
        elif self.backend == "postgresql":
            self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def notify(self, session: Session | Connection) -> None:
        """Inside a transaction that makes jobs runnable: PostgreSQL delivers it on commit."""
        if self.backend == "postgresql":
            from sqlalchemy import text

            session.execute(text(f"NOTIFY {CHANNEL}"))

    def poke(self, n: int = 1) -> None:
        """After such a commit: wake up to ``n`` idle workers waiting on the SQLite FIFO."""
        if self.fifo is None or n < 1:
            return
        try:
            if not stat.S_ISFIFO(os.lstat(self.fifo).st_mode):
                return
            # O_NONBLOCK: fails with ENXIO at once when no worker has it open (nobody to wake).
            fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, b"\1" * min(n, MAX_TOKENS))
        except OSError:  # a full pipe has plenty of wake-ups in it already; a poke never fails a submit
            pass
        finally:
            os.close(fd)

    def listener(self) -> Listener:
        if self.dsn is not None:
            return PgListener(self.dsn)
        if self.fifo is not None:
            return FifoListener(self.fifo)
        return Listener()
