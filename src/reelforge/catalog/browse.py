"""Paged listings for doors that serve many callers (the studio server): assets and jobs of one
project, filtered, sorted, one page at a time with an opaque cursor.

Keyset pagination (``WHERE (sort, id) > (last sort value, last id)``), not OFFSET: a page costs
the same at the start of a 100,000-asset project as at its end, and rows added meanwhile neither
repeat nor skip what was already listed.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import and_, or_, select

from reelforge.catalog.assets import KINDS, load_assets
from reelforge.catalog.common import glob_like
from reelforge.db.engine import session_scope
from reelforge.db.models import AssetRow, AssetTagRow, DatasetItemRow, JobInputRow, JobRow
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    from reelforge.catalog.entities import Asset
    from reelforge.compute.jobs import Job
    from reelforge.db.engine import Database

T = TypeVar("T")
MAX_PAGE = 500
ASSET_SORTS = {"id": AssetRow.id, "name": AssetRow.name, "size": AssetRow.size, "created_at": AssetRow.created_at}
JOB_SORTS = {"id": JobRow.id, "created_at": JobRow.created_at, "priority": JobRow.priority}


@dataclass
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None  # None: this was the last page


def _encode(sort: str, order: str, value: Any, last_id: str) -> str:
    raw = json.dumps([sort, order, value, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: str, order: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        s, o, value, last_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput("invalid cursor") from None
    if (s, o) != (sort, order) or not isinstance(last_id, str):
        raise InvalidInput("this cursor belongs to a listing with another sort order")
    return value, last_id


def _check(sort: str, order: str, limit: int, sorts: dict[str, Any]) -> None:
    if sort not in sorts:
        raise InvalidInput(f"unknown sort {sort!r} (one of {', '.join(sorts)})")
    if order not in ("asc", "desc"):
        raise InvalidInput("order is asc or desc")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1..{MAX_PAGE}")


def _after(col: Any, id_col: Any, order: str, value: Any, last_id: str) -> Any:
    if order == "asc":
        return or_(col > value, and_(col == value, id_col > last_id))
    return or_(col < value, and_(col == value, id_col < last_id))


def _keys(col: Any, id_col: Any, order: str) -> list[Any]:
    """ORDER BY the sort key, then the id as tie-break; never the id twice (SQLite then sorts the
    index range it read in order again, in a temporary B-tree)."""
    cols = [col] if col is id_col else [col, id_col]
    return [c.asc() if order == "asc" else c.desc() for c in cols]


class BrowseService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def assets(
        self, project_id: str, *, kind: str | None = None, tags: Sequence[str] = (), name: str | None = None,
        created_by_job: str | None = None, dataset_version: str | None = None, generated: bool | None = None,
        derived_from: str | None = None, sort: str = "id", order: str = "asc", limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Asset]:
        """A page of a project's assets. ``dataset_version`` (a ``dsv_…`` id): only its members;
        ``generated``: made by a job (True) or ingested (False); ``derived_from``: made by a job
        that read this asset, dataset version or model (its proxies, its outputs)."""
        _check(sort, order, limit, ASSET_SORTS)
        if kind is not None and kind not in KINDS:
            raise InvalidInput(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        col = ASSET_SORTS[sort]
        q = select(AssetRow).where(AssetRow.project_id == project_id)
        if kind:
            q = q.where(AssetRow.kind == kind)
        if created_by_job:
            q = q.where(AssetRow.created_by_job == created_by_job)
        if generated is not None:
            q = q.where(AssetRow.created_by_job.is_not(None) if generated else AssetRow.created_by_job.is_(None))
        if dataset_version:
            q = q.where(AssetRow.id.in_(
                select(DatasetItemRow.asset_id).where(DatasetItemRow.version_id == dataset_version)))
        if derived_from:
            q = q.where(AssetRow.created_by_job.in_(
                select(JobInputRow.job_id).where(JobInputRow.ref_id == derived_from)))
        for t in tags:
            q = q.where(AssetRow.id.in_(select(AssetTagRow.asset_id).where(AssetTagRow.tag == t)))
        if name:
            # The glob as a coarse SQL prefilter; the exact match happens below.
            q = q.where(AssetRow.name.like(glob_like(name), escape="\\"))
        q = q.order_by(*_keys(col, AssetRow.id, order))
        after = _decode(cursor, sort, order) if cursor else None
        rows: list[AssetRow] = []
        with session_scope(self.db.ReadSession) as s:
            # A glob may reject rows the LIKE let through: read on until the page is full.
            while len(rows) <= limit:
                page_q = q if after is None else q.where(_after(col, AssetRow.id, order, *after))
                batch = list(s.scalars(page_q.limit(limit + 1)))
                if not batch:
                    break
                rows.extend(r for r in batch if not name or fnmatch.fnmatchcase(r.name, name))
                last = batch[-1]
                after = (getattr(last, sort), last.id)
                if len(batch) <= limit:
                    break
            more = len(rows) > limit
            rows = rows[:limit]
            items = load_assets(s, rows)
        nxt = _encode(sort, order, getattr(rows[-1], sort), rows[-1].id) if more and rows else None
        return Page(items, nxt)

    def jobs(
        self, project_id: str, *, status: str | None = None, task: str | None = None, sort: str = "id",
        order: str = "desc", limit: int = 50, cursor: str | None = None,
    ) -> Page[Job]:
        from reelforge.compute.jobs import JobStatus
        from reelforge.compute.queue import to_entity

        _check(sort, order, limit, JOB_SORTS)
        col = JOB_SORTS[sort]
        q = select(JobRow).where(JobRow.project_id == project_id)
        if status:
            q = q.where(JobRow.status == JobStatus.parse(status).value)
        if task:
            q = q.where(JobRow.task == task)
        if cursor:
            q = q.where(_after(col, JobRow.id, order, *_decode(cursor, sort, order)))
        q = q.order_by(*_keys(col, JobRow.id, order)).limit(limit + 1)
        with session_scope(self.db.ReadSession) as s:
            rows = list(s.scalars(q))
            more = len(rows) > limit
            rows = rows[:limit]
            items = [to_entity(r) for r in rows]
        nxt = _encode(sort, order, getattr(rows[-1], sort), rows[-1].id) if more and rows else None
        return Page(items, nxt)
