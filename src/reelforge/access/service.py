"""Accounts: users, API tokens, project roles, browser sessions, login limits and the audit log.

Secrets are never stored: passwords as argon2id hashes, token and session secrets as sha256 of
256 random bits (a fast hash is enough for secrets nobody can guess; the slow hash protects
passwords people choose). A token's secret is returned once, by ``create_token``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select, text

from reelforge.access import actor as actors
from reelforge.access.passwords import hash_password, needs_rehash, verify_password
from reelforge.access.policy import DEFAULT_SCOPES, Principal, check_role, check_scopes
from reelforge.catalog.common import audit
from reelforge.db.engine import session_scope
from reelforge.db.models import (
    ApiTokenRow,
    AuditEventRow,
    LoginAttemptRow,
    ProjectRoleRow,
    ProjectRow,
    UserRow,
    WebSessionRow,
)
from reelforge.errors import Conflict, InvalidInput, NotFound, RateLimited, Unauthenticated
from reelforge.ids import id_kind, new_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from reelforge.catalog.projects import ProjectService
    from reelforge.config import Settings
    from reelforge.db.engine import Database

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TOKEN_PREFIX = "rf_"
MAX_TOKEN_SECONDS = 10 * 365 * 86400
_TOUCH_EVERY = 60.0  # write last_used / last_seen at most once a minute per credential


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_username(name: str) -> str:
    name = (name or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise InvalidInput(f"invalid user name {name[:80]!r}: 1-64 of a-z 0-9 . _ -, starting with a letter or digit")
    return name


@dataclass
class User:
    id: str
    username: str
    is_admin: bool
    disabled: bool
    created_at: float
    has_password: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ApiToken:
    id: str
    user_id: str
    username: str
    name: str
    scopes: list[str]
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > time.time())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "active": self.active}


@dataclass
class Member:
    user_id: str
    username: str
    role: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditEvent:
    id: str
    ts: float
    actor: str
    action: str
    target_id: str | None
    project_id: str | None
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LoginLimits:
    """Failed logins allowed in ``window`` seconds, per account (since its last good login) and
    per client address; over either, logins are refused (without checking the password)."""

    window: float = 900.0
    per_account: int = 5
    per_address: int = 20


@dataclass
class WebSession:
    secret: str  # the cookie value (shown once)
    csrf: str  # what unsafe requests must echo in X-CSRF-Token
    expires_at: float


def _user(row: UserRow) -> User:
    return User(row.id, row.username, bool(row.is_admin), bool(row.disabled), row.created_at,
                row.password_hash is not None)


def _token(row: ApiTokenRow, username: str) -> ApiToken:
    return ApiToken(row.id, row.user_id, username, row.name, list(row.scopes or []), row.created_at,
                    row.expires_at, row.revoked_at, row.last_used_at)


class AccessService:
    def __init__(self, db: Database, settings: Settings, projects: ProjectService,
                 login_limits: LoginLimits | None = None) -> None:
        self.db, self.settings, self.projects = db, settings, projects
        self.login_limits = login_limits or LoginLimits()

    # -- users ---------------------------------------------------------------------------------
    def _user_row(self, s: Session, ref: str) -> UserRow:
        row = s.get(UserRow, ref) if id_kind(ref) == "usr" else s.scalar(
            select(UserRow).where(UserRow.username == (ref or "").strip().lower()))
        if row is None:
            raise NotFound(f"no user {ref[:80]!r}")
        return row

    def create_user(self, username: str, password: str | None, *, admin: bool = False) -> User:
        username = check_username(username)
        hashed = hash_password(password) if password is not None else None  # slow: outside the transaction
        with session_scope(self.db.Session) as s:
            if s.scalar(select(UserRow.id).where(UserRow.username == username)):
                raise Conflict(f"user {username!r} already exists")
            t = time.time()
            row = UserRow(id=new_id("usr"), username=username, password_hash=hashed, is_admin=admin,
                          disabled=False, created_at=t, password_changed_at=t if hashed else None)
            s.add(row)
            audit(s, "user.create", row.id, None, username=username, admin=admin)
            s.flush()
            return _user(row)

    def get_user(self, ref: str) -> User:
        with session_scope(self.db.ReadSession) as s:
            return _user(self._user_row(s, ref))

    def list_users(self) -> list[User]:
        with session_scope(self.db.ReadSession) as s:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def set_password(self, ref: str, password: str) -> User:
        hashed = hash_password(password)
        with session_scope(self.db.Session) as s:
            row = self._user_row(s, ref)
            row.password_hash, row.password_changed_at = hashed, time.time()
            # A new password ends every browser session (someone may have learnt the old one).
            s.execute(delete(WebSessionRow).where(WebSessionRow.user_id == row.id))
            audit(s, "user.passwd", row.id, None, username=row.username)
            s.flush()
            return _user(row)

    def set_disabled(self, ref: str, disabled: bool = True) -> User:
        with session_scope(self.db.Session) as s:
            row = self._user_row(s, ref)
            row.disabled = disabled
            if disabled:
                s.execute(delete(WebSessionRow).where(WebSessionRow.user_id == row.id))
            audit(s, "user.disable" if disabled else "user.enable", row.id, None, username=row.username)
            s.flush()
            return _user(row)

    def set_admin(self, ref: str, admin: bool) -> User:
        with session_scope(self.db.Session) as s:
            row = self._user_row(s, ref)
            row.is_admin = admin
            audit(s, "user.admin", row.id, None, username=row.username, admin=admin)
            s.flush()
            return _user(row)

    # -- tokens --------------------------------------------------------------------------------
    def create_token(
        self, user: str, name: str = "", *, scopes: Sequence[str] = DEFAULT_SCOPES,
        expires_in: float | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token and its secret (shown this once; only its hash is kept)."""
        scopes = check_scopes(scopes)
        name = (name or "").strip()
        if len(name) > 200 or any(ord(c) < 32 for c in name):
            raise InvalidInput("a token name has at most 200 printable characters")
        if expires_in is not None and not 0 < expires_in <= MAX_TOKEN_SECONDS:
            raise InvalidInput("a token expires after more than 0 seconds and at most 10 years")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with session_scope(self.db.Session) as s:
            urow = self._user_row(s, user)
            if urow.disabled:
                raise Conflict(f"user {urow.username!r} is disabled")
            t = time.time()
            row = ApiTokenRow(id=new_id("tok"), user_id=urow.id, name=name, token_hash=_sha(secret),
                              scopes=scopes, created_at=t, expires_at=t + expires_in if expires_in else None,
                              revoked_at=None, last_used_at=None)
            s.add(row)
            audit(s, "token.create", row.id, None, user=urow.username, scopes=scopes, expires_at=row.expires_at)
            s.flush()
            return _token(row, urow.username), secret

    def list_tokens(self, user: str | None = None) -> list[ApiToken]:
        with session_scope(self.db.ReadSession) as s:
            q = select(ApiTokenRow, UserRow.username).join(UserRow, UserRow.id == ApiTokenRow.user_id)
            if user is not None:
                q = q.where(ApiTokenRow.user_id == self._user_row(s, user).id)
            return [_token(t, u) for t, u in s.execute(q.order_by(ApiTokenRow.id)).all()]

    def get_token(self, token_id: str) -> ApiToken:
        with session_scope(self.db.ReadSession) as s:
            got = s.execute(select(ApiTokenRow, UserRow.username).join(UserRow, UserRow.id == ApiTokenRow.user_id)
                            .where(ApiTokenRow.id == token_id)).first()
            if got is None:
                raise NotFound(f"no token {token_id[:80]!r}")
            return _token(got[0], got[1])

    def revoke_token(self, token_id: str) -> ApiToken:
        with session_scope(self.db.Session) as s:
            row = s.get(ApiTokenRow, token_id) if id_kind(token_id) == "tok" else None
            if row is None:
                raise NotFound(f"no token {token_id[:80]!r}")
            if row.revoked_at is None:
                row.revoked_at = time.time()
                audit(s, "token.revoke", row.id, None)
            username = s.scalar(select(UserRow.username).where(UserRow.id == row.user_id)) or "?"
            s.flush()
            return _token(row, username)

    # -- authentication ------------------------------------------------------------------------
    def _principal(self, s: Session, user: UserRow, scopes: Sequence[str], via: str,
                   token_id: str | None = None) -> Principal:
        roles = dict(s.execute(select(ProjectRoleRow.project_id, ProjectRoleRow.role)
                               .where(ProjectRoleRow.user_id == user.id)).all())  # type: ignore[arg-type]
        return Principal(user.id, user.username, bool(user.is_admin), frozenset(scopes), roles, via, token_id)

    def authenticate_token(self, secret: str) -> Principal:
        """The caller a bearer token stands for; Unauthenticated when unknown, expired, revoked
        or its user is disabled (one message for all: a prober learns nothing)."""
        refused = Unauthenticated("invalid, expired or revoked token")
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            raise refused
        now = time.time()
        with session_scope(self.db.ReadSession) as s:
            got = s.execute(select(ApiTokenRow, UserRow).join(UserRow, UserRow.id == ApiTokenRow.user_id)
                            .where(ApiTokenRow.token_hash == _sha(secret))).first()
            if got is None:
                raise refused
            tok, user = got
            if tok.revoked_at is not None or (tok.expires_at is not None and tok.expires_at <= now) or user.disabled:
                raise refused
            principal = self._principal(s, user, tok.scopes or [], "token", tok.id)
            stale = tok.last_used_at is None or now - tok.last_used_at > _TOUCH_EVERY
        if stale:
            with session_scope(self.db.Session) as s:
                row = s.get(ApiTokenRow, principal.token_id)
                if row is not None:
                    row.last_used_at = now
        return principal

    def login(self, username: str, password: str, address: str) -> User:
        """Check a password, under the per-account and per-address limits. Every attempt is
        recorded (``login_attempts`` and the audit log), good or bad."""
        name = (username or "").strip().lower()[:200]
        address = (address or "")[:64]
        limits = self.login_limits
        now = time.time()
        with session_scope(self.db.ReadSession) as s:
            since = now - limits.window
            last_ok = s.scalar(select(func.max(LoginAttemptRow.ts)).where(
                LoginAttemptRow.username == name, LoginAttemptRow.ok.is_(True), LoginAttemptRow.ts > since))
            fails = select(func.count()).select_from(LoginAttemptRow).where(LoginAttemptRow.ok.is_(False))
            by_account = s.scalar(fails.where(LoginAttemptRow.username == name,
                                              LoginAttemptRow.ts > max(since, last_ok or 0))) or 0
            by_address = s.scalar(fails.where(LoginAttemptRow.address == address, LoginAttemptRow.ts > since)) or 0
            row = s.scalar(select(UserRow).where(UserRow.username == name))
            stored = row.password_hash if row is not None and not row.disabled else None
            user = _user(row) if row is not None else None
        if by_account >= limits.per_account or by_address >= limits.per_address:
            which = "account" if by_account >= limits.per_account else "address"
            with session_scope(self.db.Session) as s, actors.acting_as(actors.Actor("anonymous")):
                audit(s, "auth.login_limited", user.id if user else None, None, username=name, address=address,
                      by=which)
            raise RateLimited(f"too many failed logins for this {which}; try again later", limits.window)
        ok = verify_password(stored, password)  # the slow part, outside any transaction
        with session_scope(self.db.Session) as s:
            s.add(LoginAttemptRow(ts=now, username=name, address=address, ok=ok))
            # Keep the table small: what is older than a day counts for nothing.
            s.execute(delete(LoginAttemptRow).where(
                or_(LoginAttemptRow.username == name, LoginAttemptRow.address == address),
                LoginAttemptRow.ts < now - max(86400.0, limits.window)))
            if ok and user is not None:
                with actors.acting_as(actors.Actor(f"user:{name}", user.id)):
                    audit(s, "auth.login", user.id, None, username=name, address=address)
                if stored and needs_rehash(stored):
                    s.execute(UserRow.__table__.update().where(UserRow.id == user.id)
                              .values(password_hash=hash_password(password)))
            else:
                with actors.acting_as(actors.Actor("anonymous")):
                    audit(s, "auth.login_failed", user.id if user else None, None, username=name, address=address)
        if not ok or user is None:
            raise Unauthenticated("wrong user name or password")
        return user

    # -- browser sessions ----------------------------------------------------------------------
    def create_session(self, user_id: str, address: str, lifetime: float) -> WebSession:
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with session_scope(self.db.Session) as s:
            s.add(WebSessionRow(id=_sha(secret), user_id=user_id, csrf_hash=_sha(csrf), created_at=now,
                                expires_at=now + lifetime, last_seen_at=now, address=(address or "")[:64]))
            # Expired sessions of this user go now (there is no sweeper).
            s.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user_id, WebSessionRow.expires_at < now))
        return WebSession(secret, csrf, now + lifetime)

    def authenticate_session(self, secret: str) -> tuple[Principal, str]:
        """The caller a session cookie stands for, and the hash its CSRF header must match."""
        refused = Unauthenticated("session expired or signed out; log in again")
        if not secret or len(secret) > 200:
            raise refused
        now = time.time()
        with session_scope(self.db.ReadSession) as s:
            got = s.execute(select(WebSessionRow, UserRow).join(UserRow, UserRow.id == WebSessionRow.user_id)
                            .where(WebSessionRow.id == _sha(secret))).first()
            if got is None or got[0].expires_at <= now or got[1].disabled:
                raise refused
            sess, user = got
            principal = self._principal(s, user, ("read", "write", "admin"), "session")
            csrf_hash, stale = sess.csrf_hash, now - sess.last_seen_at > _TOUCH_EVERY
        if stale:
            with session_scope(self.db.Session) as s:
                s.execute(WebSessionRow.__table__.update().where(WebSessionRow.id == _sha(secret))
                          .values(last_seen_at=now))
        return principal, csrf_hash

    def end_session(self, secret: str) -> None:
        with session_scope(self.db.Session) as s:
            s.execute(delete(WebSessionRow).where(WebSessionRow.id == _sha(secret)))

    @staticmethod
    def csrf_matches(csrf_hash: str, presented: str | None) -> bool:
        return bool(presented) and secrets.compare_digest(_sha(presented or ""), csrf_hash)

    # -- roles ---------------------------------------------------------------------------------
    def grant(self, user: str, project: str, role: str) -> Member:
        role = check_role(role)
        proj = self.projects.get(project)
        with session_scope(self.db.Session) as s:
            urow = self._user_row(s, user)
            row = s.get(ProjectRoleRow, (proj.id, urow.id))
            if row is None:
                s.add(ProjectRoleRow(project_id=proj.id, user_id=urow.id, role=role, created_at=time.time()))
            else:
                row.role = role
            audit(s, "role.grant", urow.id, proj.id, user=urow.username, role=role)
            return Member(urow.id, urow.username, role)

    def revoke(self, user: str, project: str) -> bool:
        proj = self.projects.get(project)
        with session_scope(self.db.Session) as s:
            urow = self._user_row(s, user)
            row = s.get(ProjectRoleRow, (proj.id, urow.id))
            if row is None:
                return False
            s.delete(row)
            audit(s, "role.revoke", urow.id, proj.id, user=urow.username)
            return True

    def members(self, project_id: str) -> list[Member]:
        with session_scope(self.db.ReadSession) as s:
            q = (select(UserRow.id, UserRow.username, ProjectRoleRow.role)
                 .join(ProjectRoleRow, ProjectRoleRow.user_id == UserRow.id)
                 .where(ProjectRoleRow.project_id == project_id).order_by(UserRow.username))
            return [Member(i, u, r) for i, u, r in s.execute(q).all()]

    def roles_of(self, user: str) -> dict[str, str]:
        """Project name → role for a user."""
        with session_scope(self.db.ReadSession) as s:
            urow = self._user_row(s, user)
            q = (select(ProjectRow.name, ProjectRoleRow.role).join(ProjectRow, ProjectRow.id == ProjectRoleRow.project_id)
                 .where(ProjectRoleRow.user_id == urow.id).order_by(ProjectRow.name))
            return dict(s.execute(q).all())  # type: ignore[arg-type]

    # -- audit log -----------------------------------------------------------------------------
    def record(self, action: str, target_id: str | None = None, project_id: str | None = None,
               **detail: Any) -> None:
        """One audit event by the current actor (downloads, API calls: what no service records)."""
        with session_scope(self.db.Session) as s:
            audit(s, action, target_id, project_id, **detail)

    def audit_events(
        self, *, actor: str | None = None, action: str | None = None, project_id: str | None = None,
        target: str | None = None, since: float | None = None, until: float | None = None,
        before: str | None = None, limit: int = 100,
    ) -> list[AuditEvent]:
        """Newest first. ``actor``: exact (``user:alice``) or a bare user name; ``action``: exact
        or a prefix ending in ``*`` (``asset.*``); ``before``: an event id (the next page)."""
        q = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(max(1, min(limit, 10_000)))
        if actor:
            q = q.where(AuditEventRow.actor.in_([actor, f"user:{actor}"]))
        if action:
            if action.endswith("*"):
                prefix = action[:-1].replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
                q = q.where(AuditEventRow.action.like(prefix + "%", escape="\\"))
            else:
                q = q.where(AuditEventRow.action == action)
        if project_id:
            q = q.where(AuditEventRow.project_id == project_id)
        if target:
            q = q.where(AuditEventRow.target_id == target)
        if since is not None:
            q = q.where(AuditEventRow.ts >= since)
        if until is not None:
            q = q.where(AuditEventRow.ts < until)
        if before:
            q = q.where(AuditEventRow.id < before)
        with session_scope(self.db.ReadSession) as s:
            return [AuditEvent(r.id, r.ts, r.actor, r.action, r.target_id, r.project_id, dict(r.detail or {}))
                    for r in s.scalars(q)]

    # -- operations ----------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise when the catalog database does not answer (the server's readiness probe)."""
        with session_scope(self.db.ReadSession) as s:  # a read: no write lock on SQLite
            s.execute(text("SELECT 1"))

    def submitters(self, job_ids: Sequence[str]) -> dict[str, str | None]:
        """Job id → user name of the account that submitted it (None: the local operator)."""
        from reelforge.db.models import JobRow

        if not job_ids:
            return {}
        with session_scope(self.db.ReadSession) as s:
            q = (select(JobRow.id, UserRow.username).outerjoin(UserRow, UserRow.id == JobRow.submitted_by)
                 .where(JobRow.id.in_(list(job_ids))))
            return dict(s.execute(q).all())  # type: ignore[arg-type]
