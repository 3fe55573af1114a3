"""Engines and sessions: SQLite in WAL mode with foreign keys on, or PostgreSQL via psycopg 3."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from reelforge.errors import InvalidInput

MIGRATIONS = Path(__file__).with_name("migrations")
_upgrade_lock = threading.Lock()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        if url.startswith("sqlite"):
            # isolation_level=None hands transaction control to our BEGIN IMMEDIATE below, so a
            # read-then-write transaction never hits SQLite's lock-upgrade deadlock.
            engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None})
            event.listen(engine, "connect", _sqlite_pragmas)

            @event.listens_for(engine, "begin")
            def _begin(conn) -> None:  # type: ignore[no-untyped-def]
                # Read-only sessions (see read_engine) take no write lock: WAL readers never block.
                mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
                conn.exec_driver_sql(f"BEGIN {mode}")

        elif url.startswith("postgresql"):
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        else:
            raise InvalidInput(f"unsupported database URL {url!r} (use sqlite:/// or postgresql+psycopg://)")
    except ArgumentError as exc:
        raise InvalidInput(f"invalid database URL: {exc}") from None
    return engine


def read_engine(engine: Engine) -> Engine:
    """The same engine for read-only transactions (plain BEGIN on SQLite; unchanged elsewhere)."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="DEFERRED")
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


_REV_RE = re.compile(r'^(down_revision|revision)\s*=\s*(None|"[^"]*"|\'[^\']*\')', re.MULTILINE)


@lru_cache(maxsize=1)
def shipped_head() -> str | None:
    """The newest migration shipped with this code, read from the files' ``revision`` lines without
    importing Alembic (opening a studio is on every CLI command's path); None if not a single head."""
    revs: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((k, None if v == "None" else v[1:-1]) for k, v in _REV_RE.findall(path.read_text("utf-8")))
        if found.get("revision"):
            revs[str(found["revision"])] = found.get("down_revision")
    heads = set(revs) - {d for d in revs.values() if d}
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """``alembic_version`` read with plain SQL; None when the table is not there yet."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):
        return None


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest migration; True when something was applied."""
    head = shipped_head()
    if head is not None and _stored_revision(engine) == head:
        return False  # the usual case, answered without importing Alembic
    from alembic import command

    with _upgrade_lock:
        try:
            if current_revision(engine) == head_revision(engine):
                return False
        except OperationalError as exc:
            raise InvalidInput(f"cannot open the catalog database: {exc.orig}") from None
        cfg = _alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return True


def table_names(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@dataclass
class Database:
    """What services need of the catalog database: the engine and the two session factories
    (``ReadSession`` does not queue for SQLite's write lock)."""

    engine: Engine
    Session: sessionmaker[Session]
    ReadSession: sessionmaker[Session]

    @classmethod
    def open(cls, url: str) -> Database:
        engine = make_engine(url)
        return cls(engine, sessionmaker(engine, expire_on_commit=False),
                   sessionmaker(read_engine(engine), expire_on_commit=False))
