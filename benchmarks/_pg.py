"""PostgreSQL helpers shared by the benchmarks: a throwaway database per run, dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator


def pg_dsn(server: str, dbname: str = "postgres") -> str:
    """A psycopg DSN for ``dbname`` on ``server`` (a ``postgresql+psycopg://user@host:port`` URL)."""
    return server.replace("postgresql+psycopg://", "postgresql://") + "/" + dbname


def pg_available(server: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(pg_dsn(server), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def fresh_pg_database(server: str, prefix: str = "rf_bench") -> Iterator[str]:
    """Create an empty database, yield its name, drop it (even when the benchmark fails)."""
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(pg_dsn(server), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(pg_dsn(server), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
