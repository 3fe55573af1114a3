"""Catalog database: SQLAlchemy 2 tables, engines (SQLite WAL / PostgreSQL) and Alembic migrations."""

from reelforge.db.engine import make_engine, session_scope, upgrade

__all__ = ["make_engine", "session_scope", "upgrade"]
