"""Who is acting in this call: set per request by a door (the server's auth dependency), read by
``reelforge.catalog.common.current_actor`` when services write audit events, and by the jobs table
(``submitted_by``).

A ``ContextVar``, not a process-wide global: the server serves many users at once, each request in
its own context (threads started by ``run_in_threadpool`` copy it). Outside any request (CLI, SDK,
workers) the actor is the operating-system user.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    label: str  # what the audit log shows: user:alice, local:bob
    user_id: str | None = None  # usr_… when a studio account acts


_current: ContextVar[Actor | None] = ContextVar("reelforge_actor", default=None)


def _os_actor() -> Actor:
    try:
        return Actor(f"local:{getpass.getuser()}")
    except Exception:  # getpass raises various errors in containers without a passwd entry
        return Actor("local:unknown")


def current() -> Actor:
    return _current.get() or _os_actor()


def current_user_id() -> str | None:
    """The account acting in this context, or None (the local operator)."""
    actor = _current.get()
    return actor.user_id if actor is not None else None


def set_actor(actor: Actor | None) -> None:
    """Set the actor for the rest of this context (a request's task); doors that cannot scope a
    ``with`` block around the work use this."""
    _current.set(actor)


@contextmanager
def acting_as(actor: Actor | None) -> Iterator[None]:
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)
