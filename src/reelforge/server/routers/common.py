"""Helpers the routers share."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from reelforge.catalog.entities import Asset
from reelforge.errors import InvalidInput
from reelforge.ids import id_kind
from reelforge.server.deps import Ctx


def audit_page(c: Ctx, *, cursor: str | None, limit: int, **filters: Any) -> dict[str, Any]:
    """A page of audit events, newest first; the cursor is the last event's id."""
    if cursor is not None and id_kind(cursor) != "evt":
        raise InvalidInput("invalid cursor")
    events = c.studio.access.audit_events(before=cursor, limit=limit + 1, **filters)
    more = len(events) > limit
    events = events[:limit]
    return {"items": [e.to_dict() for e in events], "next_cursor": events[-1].id if more and events else None}


def job_dict(c: Ctx, job: Any, submitters: dict[str, str | None] | None = None) -> dict[str, Any]:
    """A job as the API shows it: the entity plus who submitted it."""
    if submitters is None:
        submitters = c.studio.access.submitters([job.id])
    return {**job.to_dict(), "submitted_by": submitters.get(job.id)}


_ASSET_FIELDS = tuple(f.name for f in fields(Asset))


def asset_dict(c: Ctx, asset: Any) -> dict[str, Any]:
    """An asset as the API shows it. An upload's ``source`` is the server's temporary file: that
    path says nothing to the caller and something about the server, so it reads ``upload``.

    Shallow on purpose: ``dataclasses.asdict`` deep-copies every nested value, and was most of the
    cost of a page of 100 assets; the entity's dicts and lists are its own (built per read), and are
    only serialised from here."""
    d = {name: getattr(asset, name) for name in _ASSET_FIELDS}
    cache = c.studio.settings.cache_dir
    if cache is not None and str(d.get("source", "")).startswith(str(cache / "uploads")):
        d["source"] = "upload"
    return d
