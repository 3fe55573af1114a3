"""Who may do what: roles per project, token scopes, studio admins. Pure decisions, no I/O.

Levels are ordered: ``read`` < ``write`` < ``admin``. A project role gives a level in that project
(viewer=read, editor=write, admin=admin); a studio admin has ``admin`` everywhere. A credential's
scopes cap it: a token with scope ``read`` only reads, whatever its user's roles. Browser sessions
carry every scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reelforge.errors import InvalidInput

READ, WRITE, ADMIN = 1, 2, 3
ROLES = {"viewer": READ, "editor": WRITE, "admin": ADMIN}
SCOPES = {"read": READ, "write": WRITE, "admin": ADMIN}
LEVEL_NAMES = {READ: "read", WRITE: "write", ADMIN: "admin"}
DEFAULT_SCOPES = ("read", "write")


def check_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    return role


def check_scopes(scopes: Iterable[str]) -> list[str]:
    out = sorted({(s or "").strip().lower() for s in scopes}, key=lambda s: SCOPES.get(s, 0))
    bad = [s for s in out if s not in SCOPES]
    if bad or not out:
        raise InvalidInput(f"invalid scope(s) {', '.join(bad) or '(none)'} (read, write, admin)")
    return out


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user, the roles they hold, and what the credential allows."""

    user_id: str
    username: str
    is_admin: bool
    scopes: frozenset[str]
    roles: Mapping[str, str] = field(default_factory=dict)  # project id → role
    via: str = "token"  # token | session
    token_id: str | None = None

    @property
    def label(self) -> str:
        return f"user:{self.username}"

    @property
    def scope_level(self) -> int:
        return max((SCOPES[s] for s in self.scopes if s in SCOPES), default=0)

    def role_level(self, project_id: str) -> int:
        return ADMIN if self.is_admin else ROLES.get(self.roles.get(project_id, ""), 0)

    def level(self, project_id: str) -> int:
        """What this caller may do in a project (0: not even know it exists)."""
        return min(self.role_level(project_id), self.scope_level)

    def can(self, project_id: str, need: int) -> bool:
        return self.level(project_id) >= need

    @property
    def studio_admin(self) -> bool:
        """User management and the studio-wide audit log: an admin account with the admin scope."""
        return self.is_admin and self.scope_level >= ADMIN
