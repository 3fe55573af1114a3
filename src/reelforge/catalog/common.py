"""Small helpers shared by the catalog services."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from reelforge.access import actor
from reelforge.catalog.names import check_label, safe_name, split_version  # noqa: F401 (re-exported)
from reelforge.db.models import AuditEventRow
from reelforge.ids import new_id


def now() -> float:
    return time.time()


def current_actor() -> str:
    """Who is acting: the account a door set for this call (``reelforge.access.actor``; the server
    sets it per request), else the OS user."""
    return actor.current().label


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


def glob_like(pattern: str) -> str:
    """A shell glob as a coarse SQL LIKE prefilter (escape ``\\``); the exact match is fnmatch's.
    LIKE has no character classes: from a ``[`` on, anything goes."""
    head, bracket, _ = pattern.partition("[")
    like = head.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_").replace("*", "%").replace("?", "_")
    return like + ("%" if bracket else "")
