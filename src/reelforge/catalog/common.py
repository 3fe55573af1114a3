"""Small helpers shared by the catalog services."""

from __future__ import annotations

import getpass
import os
import posixpath
import time
from typing import Any

from sqlalchemy.orm import Session

from reelforge.db.models import AuditEventRow
from reelforge.errors import InvalidInput
from reelforge.ids import new_id


def now() -> float:
    return time.time()


def current_actor() -> str:
    """Who is acting: REELFORGE_ACTOR (set by the server per request) or the OS user."""
    actor = os.environ.get("REELFORGE_ACTOR")
    if actor:
        return actor
    try:
        return f"local:{getpass.getuser()}"
    except Exception:  # getpass raises various errors in containers without a passwd entry
        return "local:unknown"


def audit(session: Session, action: str, target_id: str | None, project_id: str | None, **detail: Any) -> None:
    session.add(
        AuditEventRow(
            id=new_id("evt"),
            ts=now(),
            actor=current_actor(),
            action=action,
            target_id=target_id,
            project_id=project_id,
            detail=detail,
        )
    )


def safe_name(name: str) -> str:
    """A catalog name is a relative POSIX path that can never escape an export folder."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("empty name")
    if "\x00" in name or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"name {name!r} contains control characters")
    if len(name) > 1024:
        raise InvalidInput("name is longer than 1024 characters")
    candidate = name.replace("\\", "/")
    if candidate.startswith("/") or (len(candidate) > 1 and candidate[1] == ":"):
        raise InvalidInput(f"name {name!r} must be relative")
    parts = candidate.split("/")
    if any(p in ("..",) for p in parts):
        raise InvalidInput(f"name {name!r} must not contain '..'")
    norm = posixpath.normpath(candidate)
    if norm in (".", "") or norm.startswith("../"):
        raise InvalidInput(f"invalid name {name!r}")
    return norm


def check_label(name: str, what: str = "name") -> str:
    """Names of projects, datasets and models: short, printable, no '@' (it separates versions)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"empty {what}")
    name = name.strip()
    if len(name) > 200 or "@" in name or "/" in name or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"invalid {what} {name!r}: at most 200 printable characters, no '@' or '/'")
    return name


def split_version(ref: str, what: str) -> tuple[str, int | None]:
    """``NAME@N`` → (NAME, N); ``NAME`` → (NAME, None) for the latest version."""
    if "@" not in ref:
        return ref, None
    name, _, v = ref.rpartition("@")
    try:
        return name, int(v)
    except ValueError:
        raise InvalidInput(f"invalid {what} version in {ref!r}") from None
