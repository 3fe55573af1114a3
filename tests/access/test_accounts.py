"""Accounts on both catalog backends: argon2id hashes (never a password or token in the database),
token expiry and revocation, disabled users, roles, the acting user in audit events and jobs, and
the migration that makes the tables."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, text, update

from reelforge.access.actor import Actor, acting_as
from reelforge.access.policy import ADMIN, READ, WRITE
from reelforge.db.engine import session_scope
from reelforge.db.models import ApiTokenRow, UserRow
from reelforge.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from reelforge.studio import Studio

pytest.importorskip("argon2")  # the server extra: pip install -e ".[server]"


def _dump(studio: Studio) -> str:
    """Every value of every table, as text: what someone who stole the database would read."""
    out = []
    with studio.engine.connect() as conn:
        for table in ("users", "api_tokens", "web_sessions", "login_attempts", "audit_events"):
            out += [repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(out)


def test_passwords_are_argon2id_hashes_and_secrets_never_stored(studio: Studio) -> None:
    access = studio.access
    access.create_user("alice", "correct horse battery", admin=False)
    _, secret = access.create_token("alice", "laptop")
    session = access.create_session(access.get_user("alice").id, "127.0.0.1", 3600)
    access.login("alice", "correct horse battery", "127.0.0.1")
    with session_scope(studio.ReadSession) as s:
        stored = s.scalar(select(UserRow.password_hash).where(UserRow.username == "alice"))
    assert stored.startswith("$argon2id$v=19$") and "correct horse" not in stored
    dump = _dump(studio)
    for secret_text in ("correct horse battery", secret, session.secret, session.csrf):
        assert secret_text not in dump
    assert access.authenticate_token(secret).username == "alice"
    with pytest.raises(Unauthenticated):
        access.login("alice", "wrong horse battery", "127.0.0.1")
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        access.login("nobody", "correct horse battery", "127.0.0.1")  # the same answer as a wrong password


def test_names_passwords_and_duplicates_are_checked(studio: Studio) -> None:
    access = studio.access
    for bad in ("", "Has Space", "../x", "a" * 65, "-dash"):
        with pytest.raises(InvalidInput):
            access.create_user(bad, "long enough pw")
    with pytest.raises(InvalidInput, match="at least 8"):
        access.create_user("bob", "short")
    access.create_user("Bob", "long enough pw")
    assert access.get_user("bob").username == "bob"
    with pytest.raises(Conflict):
        access.create_user("bob", "long enough pw")
    with pytest.raises(InvalidInput):
        access.create_token("bob", scopes=["root"])
    with pytest.raises(NotFound):
        access.get_user("carol")


def test_token_expiry_revocation_and_disabled_users(studio: Studio) -> None:
    access = studio.access
    access.create_user("alice", "correct horse battery")
    expiring, s1 = access.create_token("alice", "soon", expires_in=3600)
    revoked, s2 = access.create_token("alice", "gone")
    _, s3 = access.create_token("alice", "kept", scopes=["read"])
    assert access.authenticate_token(s1).scopes == frozenset({"read", "write"})
    with session_scope(studio.Session) as s:
        s.execute(update(ApiTokenRow).where(ApiTokenRow.id == expiring.id).values(expires_at=time.time() - 1))
    access.revoke_token(revoked.id)
    for secret in (s1, s2, s1[:-1] + "x", "rf_" + "a" * 43, "not-a-token"):
        with pytest.raises(Unauthenticated, match="invalid, expired or revoked token"):
            access.authenticate_token(secret)
    assert access.authenticate_token(s3).scopes == frozenset({"read"})
    listed = {t.name: t for t in access.list_tokens("alice")}
    assert not listed["soon"].active and not listed["gone"].active and listed["kept"].active
    assert listed["kept"].last_used_at is not None
    access.set_disabled("alice")
    with pytest.raises(Unauthenticated):
        access.authenticate_token(s3)
    with pytest.raises(Unauthenticated):
        access.login("alice", "correct horse battery", "127.0.0.1")
    access.set_disabled("alice", False)
    assert access.authenticate_token(s3).username == "alice"


def test_roles_and_levels(studio: Studio) -> None:
    access = studio.access
    studio.projects.create("alpha")
    alpha = studio.projects.get("alpha").id
    access.create_user("vera", "long enough pw")
    access.grant("vera", "alpha", "viewer")
    p = access.authenticate_token(access.create_token("vera", scopes=["read", "write", "admin"])[1])
    assert (p.level(alpha), p.can(alpha, WRITE)) == (READ, False)
    access.grant("vera", "alpha", "admin")
    p = access.authenticate_token(access.create_token("vera", scopes=["read", "write"])[1])
    assert p.level(alpha) == WRITE and p.role_level(alpha) == ADMIN  # the token's scope caps the role
    assert [m.role for m in access.members(alpha)] == ["admin"]
    assert access.revoke("vera", "alpha") and not access.revoke("vera", "alpha")
    with pytest.raises(InvalidInput):
        access.grant("vera", "alpha", "owner")


def test_the_acting_user_is_recorded_on_events_and_jobs(studio: Studio) -> None:
    access = studio.access
    alice = access.create_user("alice", "long enough pw")
    local = studio.jobs.submit("system.ping", {})
    with acting_as(Actor("user:alice", alice.id)):
        job = studio.jobs.submit("system.ping", {})
        studio.projects.create("made-by-alice")
    assert access.submitters([job.id, local.id]) == {job.id: "alice", local.id: None}
    event = access.audit_events(action="project.create", limit=1)[0]
    assert event.actor == "user:alice"
    assert access.audit_events(action="job.submit", limit=1)[0].actor == "user:alice"
    assert access.audit_events(actor="alice", action="job.*") == access.audit_events(actor="user:alice", action="job.*")
    assert access.audit_events(action="job.submit")[-1].actor.startswith("local:")


def test_the_access_migration_goes_down_and_up(studio: Studio) -> None:
    from alembic import command

    from reelforge.db.engine import _alembic_config, current_revision, head_revision

    studio.access.create_user("alice", "long enough pw")
    cfg = _alembic_config(studio.engine)
    with studio.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    assert current_revision(studio.engine) == "0002"
    with studio.engine.connect() as conn:
        assert "users" not in studio.engine.dialect.get_table_names(conn)
    with studio.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert current_revision(studio.engine) == head_revision(studio.engine) >= "0003"  # later ones on top
    assert studio.access.list_users() == []
    studio.access.create_user("alice", "long enough pw")


def test_the_migration_matches_the_rows(studio: Studio) -> None:
    """Migration 0003 creates exactly what the ORM rows of access declare (columns, keys, indexes)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from reelforge.db.models import Base

    mine = {"users", "api_tokens", "project_roles", "web_sessions", "login_attempts"}

    def ours(diff: object) -> bool:
        text_ = repr(diff)
        return any(f"'{t}'" in text_ or f"table_name='{t}'" in text_ for t in mine) or "submitted_by" in text_

    with studio.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if ours(d)] == []
