"""Lineage: the graph from raw assets through jobs to every output."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from reelforge.catalog.entities import LineageGraph, Node
from reelforge.db.engine import session_scope
from reelforge.db.models import (
    AssetRow,
    DatasetItemRow,
    DatasetRow,
    DatasetVersionRow,
    JobInputRow,
    JobRow,
    ModelRow,
)
from reelforge.errors import NotFound
from reelforge.ids import id_kind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from reelforge.catalog.assets import AssetService
    from reelforge.catalog.datasets import DatasetService
    from reelforge.catalog.models import ModelService
    from reelforge.db.engine import Database

MAX_DATASET_MEMBERS = 12  # a dataset of 10k images is summarised, not drawn member by member


class LineageService:
    def __init__(self, db: Database, assets: AssetService, datasets: DatasetService, models: ModelService) -> None:
        self.db, self.assets, self.datasets, self.models = db, assets, datasets, models

    def graph(self, ref: str, max_depth: int = 50) -> LineageGraph:
        kind = id_kind(ref)
        with session_scope(self.db.ReadSession) as s:
            nodes: dict[str, Node] = {}
            if kind is None:
                # Allow dataset and model names (NAME or NAME@N) too.
                ref = self._resolve_name(ref)
            self._visit(s, ref, nodes, max_depth)
            if ref not in nodes:
                raise NotFound(f"nothing with id {ref!r}")
            return LineageGraph(ref, nodes)

    def _resolve_name(self, ref: str) -> str:
        for getter in (self.datasets.get, self.models.get, self.assets.get):
            try:
                return getter(ref).id  # type: ignore[operator]
            except NotFound:
                continue
        raise NotFound(f"nothing named {ref!r}")

    def _visit(self, s: Session, ref: str, nodes: dict[str, Node], depth: int) -> None:
        if ref in nodes or depth < 0:
            return
        kind = id_kind(ref)
        node: Node | None = None
        if kind == "ast":
            a = s.get(AssetRow, ref)
            if a is not None:
                node = Node(a.id, "asset", a.name, {"sha256": a.sha256, "kind": a.kind,
                                                     "created_by_job": a.created_by_job, "source": a.source,
                                                     "project_id": a.project_id})
                if a.created_by_job:
                    node.parents.append(a.created_by_job)
        elif kind == "dsv":
            v = s.get(DatasetVersionRow, ref)
            if v is not None:
                ds = s.get(DatasetRow, v.dataset_id)
                members = list(
                    s.scalars(
                        select(DatasetItemRow.asset_id)
                        .where(DatasetItemRow.version_id == v.id)
                        .order_by(DatasetItemRow.asset_id)
                        .limit(MAX_DATASET_MEMBERS)
                    )
                )
                node = Node(v.id, "dataset", f"{ds.name if ds else '?'}@{v.version}",
                            {"items": v.n_items, "content_hash": v.content_hash,
                             "created_by_job": v.created_by_job, "shown_members": len(members),
                             "project_id": ds.project_id if ds else None})
                node.parents.extend(members)
                if v.created_by_job:
                    node.parents.append(v.created_by_job)
        elif kind == "mdl":
            m = s.get(ModelRow, ref)
            if m is not None:
                node = Node(m.id, "model", f"{m.name}@{m.version}", {"kind": m.kind, "created_by_job": m.created_by_job,
                                                                              "project_id": m.project_id})
                if m.created_by_job:
                    node.parents.append(m.created_by_job)
        elif kind == "job":
            j = s.get(JobRow, ref)
            if j is not None:
                node = Node(j.id, "job", j.task, {"params": j.params, "seed": j.seed, "status": j.status,
                                                  "code_version": j.code_version, "project_id": j.project_id})
                node.parents.extend(
                    r.ref_id for r in s.scalars(select(JobInputRow).where(JobInputRow.job_id == j.id).order_by(JobInputRow.ref_id))
                )
        if node is None:
            return
        nodes[ref] = node
        for parent in node.parents:
            self._visit(s, parent, nodes, depth - 1)
