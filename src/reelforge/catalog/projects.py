"""Projects group assets, datasets, models and jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from reelforge.catalog.common import audit, check_label, now
from reelforge.catalog.entities import Project
from reelforge.db.engine import session_scope
from reelforge.db.models import ProjectRow
from reelforge.errors import Conflict, NotFound
from reelforge.ids import id_kind, new_id

if TYPE_CHECKING:
    from reelforge.config import Settings
    from reelforge.db.engine import Database


def _entity(row: ProjectRow) -> Project:
    return Project(row.id, row.name, row.description, row.created_at)


class ProjectService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    def create(self, name: str, description: str = "") -> Project:
        name = check_label(name, "project name")
        with session_scope(self.db.Session) as s:
            if s.scalar(select(ProjectRow).where(ProjectRow.name == name)):
                raise Conflict(f"project {name!r} already exists")
            row = ProjectRow(id=new_id("prj"), name=name, description=description, created_at=now())
            s.add(row)
            audit(s, "project.create", row.id, row.id, name=name)
            s.flush()
            return _entity(row)

    def list(self) -> list[Project]:
        with session_scope(self.db.ReadSession) as s:
            return [_entity(r) for r in s.scalars(select(ProjectRow).order_by(ProjectRow.name))]

    def get(self, ref: str | None = None, *, create: bool = False) -> Project:
        """A project by id or name; ``None`` means the studio's default project (created on demand)."""
        if ref is None:
            ref, create = self.settings.default_project, True
        with session_scope(self.db.ReadSession) as s:
            if id_kind(ref) == "prj":
                row = s.get(ProjectRow, ref)
            else:
                row = s.scalar(select(ProjectRow).where(ProjectRow.name == ref))
            if row is not None:
                return _entity(row)
        if create:
            try:
                return self.create(ref)
            except Conflict:  # created concurrently by another process
                return self.get(ref)
        raise NotFound(f"no project {ref!r}")
