"""Datasets: immutable, versioned sets of assets with labels, captions and deterministic splits."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from reelforge.catalog.common import audit, check_label, now, split_version
from reelforge.catalog.entities import Asset, DatasetItem, DatasetVersion, Project
from reelforge.catalog.exports import export_dataset
from reelforge.db.engine import session_scope
from reelforge.db.models import DatasetItemRow, DatasetRow, DatasetVersionRow
from reelforge.errors import InvalidInput, NotFound
from reelforge.ids import id_kind, new_id

if TYPE_CHECKING:
    from reelforge.catalog.assets import AssetService
    from reelforge.catalog.projects import ProjectService
    from reelforge.db.engine import Database

SPLITS = ("train", "val", "test")


def parse_splits(spec: str | Sequence[float]) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' or a sequence → three ratios summing to 1."""
    try:
        parts = [float(x) for x in (spec.split(",") if isinstance(spec, str) else spec)]
    except ValueError:
        raise InvalidInput(f"invalid split ratios {spec!r}: expected e.g. 0.8,0.1,0.1") from None
    while len(parts) < 3:
        parts.append(0.0)
    if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise InvalidInput(f"invalid split ratios {spec!r}: three non-negative numbers")
    total = sum(parts)
    return parts[0] / total, parts[1] / total, parts[2] / total


def assign_splits(
    items: Sequence[tuple[str, str | None]], ratios: tuple[float, float, float], seed: int
) -> dict[str, str]:
    """Deterministic, stratified by label: the same assets, seed and ratios give the same split."""
    by_label: dict[str | None, list[str]] = defaultdict(list)
    for key, label in items:
        by_label[label].append(key)
    out: dict[str, str] = {}
    for label in sorted(by_label, key=lambda x: (x is None, x or "")):
        keys = sorted(by_label[label])
        rng = random.Random(f"{seed}:{label}")
        rng.shuffle(keys)
        n = len(keys)
        n_val = round(n * ratios[1])
        n_test = round(n * ratios[2])
        if ratios[0] > 0 and n_val + n_test >= n and n > 0:
            # Keep at least one training example per label.
            overflow = n_val + n_test - (n - 1)
            take = min(overflow, n_test)
            n_test -= take
            n_val -= overflow - take
        for i, key in enumerate(keys):
            out[key] = "val" if i < n_val else "test" if i < n_val + n_test else "train"
    return out


def _label_from_tags(asset: Asset, prefix: str) -> str | None:
    """The label a ``PREFIX…`` tag gives (``class:cat`` with prefix ``class:`` → cat); None
    without one; an asset with two different such tags is refused (its label would be a guess)."""
    if not prefix:
        raise InvalidInput("label source tag:PREFIX needs a prefix, e.g. tag:class:")
    found = sorted({t[len(prefix):] for t in asset.tags if t.startswith(prefix) and len(t) > len(prefix)})
    if len(found) > 1:
        raise InvalidInput(f"asset {asset.name!r} has {len(found)} labels from tags {prefix}*: {', '.join(found)}")
    return found[0] if found else None


@dataclass
class DatasetPlan:
    """A dataset version as ``create`` would write it."""

    name: str
    project: Project
    items: list[DatasetItem]
    counts: dict[str, Any]
    spec: dict[str, Any]
    content_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "n_items": len(self.items), "counts": self.counts, "spec": self.spec,
                "content_hash": self.content_hash,
                "captions": sum(1 for i in self.items if i.caption)}


@dataclass
class ItemChange:
    asset_id: str
    before: str | None
    after: str | None


@dataclass
class DatasetDiff:
    """From version ``against`` to version ``ref``, keyed by asset."""

    ref: str
    against: str
    added: list[DatasetItem] = field(default_factory=list)
    removed: list[DatasetItem] = field(default_factory=list)
    relabelled: list[ItemChange] = field(default_factory=list)
    moved: list[ItemChange] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.relabelled or self.moved)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref, "against": self.against, "unchanged": self.unchanged,
            "added": [asdict(i) for i in self.added], "removed": [asdict(i) for i in self.removed],
            "relabelled": [asdict(c) for c in self.relabelled], "moved": [asdict(c) for c in self.moved],
        }


class DatasetService:
    def __init__(self, db: Database, projects: ProjectService, assets: AssetService) -> None:
        self.db, self.projects, self.assets = db, projects, assets

    def create(
        self,
        name: str,
        *,
        project: str | None = None,
        assets: Sequence[str | Asset] | None = None,
        kind: str | None = None,
        tags: Sequence[str] = (),
        name_glob: str | None = None,
        labels: dict[str, str] | None = None,
        label_from: str | None = None,
        captions: dict[str, str] | None = None,
        splits: str | Sequence[float] = (0.8, 0.1, 0.1),
        seed: int = 0,
        description: str = "",
        created_by_job: str | None = None,
    ) -> DatasetVersion:
        """A new version of dataset ``name`` from explicit assets or a filter.

        ``label_from`` is ``"folder"`` (first path component of the asset name: ``cat/01.png`` → cat),
        ``"meta:KEY"`` (an asset metadata field), ``"tag:PREFIX"`` (the asset's tag that starts with
        PREFIX, less the prefix: ``class:cat`` → cat) or None. Captions come from ``captions`` or the
        asset metadata field ``caption``.
        """
        plan = self._plan(name, project=project, assets=assets, kind=kind, tags=tags, name_glob=name_glob,
                          labels=labels, label_from=label_from, captions=captions, splits=splits, seed=seed)
        name, proj, items = plan.name, plan.project, plan.items
        with session_scope(self.db.Session) as s:
            ds = s.scalar(select(DatasetRow).where(DatasetRow.project_id == proj.id, DatasetRow.name == name))
            if ds is None:
                ds = DatasetRow(
                    id=new_id("dst"), project_id=proj.id, name=name, description=description, created_at=now()
                )
                s.add(ds)
                s.flush()
            last = s.scalar(select(func.max(DatasetVersionRow.version)).where(DatasetVersionRow.dataset_id == ds.id))
            row = DatasetVersionRow(
                id=new_id("dsv"),
                dataset_id=ds.id,
                version=(last or 0) + 1,
                spec=plan.spec,
                counts=plan.counts,
                n_items=len(items),
                content_hash=plan.content_hash,
                created_at=now(),
                created_by_job=created_by_job,
            )
            s.add(row)
            s.flush()
            for it in items:
                s.add(
                    DatasetItemRow(
                        version_id=row.id, asset_id=it.asset_id, label=it.label, split=it.split, caption=it.caption
                    )
                )
            audit(s, "dataset.create", row.id, proj.id, name=name, version=row.version, items=len(items))
            s.flush()
            return self._entity(s, row, ds, with_items=True)

    def preview(self, name: str, **spec: Any) -> DatasetPlan:
        """What ``create`` with the same arguments would make (items, counts, hash), without
        making it: the same checks, so a spec that previews cleanly creates cleanly."""
        return self._plan(name, **spec)

    def _plan(
        self,
        name: str,
        *,
        project: str | None = None,
        assets: Sequence[str | Asset] | None = None,
        kind: str | None = None,
        tags: Sequence[str] = (),
        name_glob: str | None = None,
        labels: dict[str, str] | None = None,
        label_from: str | None = None,
        captions: dict[str, str] | None = None,
        splits: str | Sequence[float] = (0.8, 0.1, 0.1),
        seed: int = 0,
    ) -> DatasetPlan:
        name = check_label(name, "dataset name")
        proj = self.projects.get(project)
        ratios = parse_splits(splits)
        if assets is not None:
            ids = [a.id if isinstance(a, Asset) else a for a in assets]
            chosen = self.assets.get_many(ids)
            if kind:
                chosen = [a for a in chosen if a.kind == kind]
        else:
            chosen = self.assets.list(project=proj.id, kind=kind, tags=tags, name=name_glob)
        chosen = [a for a in chosen if a.project_id == proj.id]
        if not chosen:
            raise InvalidInput(f"dataset {name!r}: no assets match")
        if label_from and not (label_from == "folder" or label_from.startswith(("meta:", "tag:"))):
            raise InvalidInput(f"unknown label source {label_from!r} (folder, meta:KEY or tag:PREFIX)")
        label_of: dict[str, str | None] = {}
        for a in chosen:
            label: str | None = None
            if labels and a.id in labels:
                label = labels[a.id]
            elif label_from == "folder":
                parts = a.name.split("/")
                if len(parts) < 2:
                    raise InvalidInput(f"asset {a.name!r} is not in a class folder (expected label/file)")
                label = parts[-2]
            elif label_from and label_from.startswith("meta:"):
                value = a.meta.get(label_from[5:])
                label = None if value is None else str(value)
            elif label_from and label_from.startswith("tag:"):
                label = _label_from_tags(a, label_from[4:])
            label_of[a.id] = label
        split_of = assign_splits([(a.sha256 + a.id, label_of[a.id]) for a in chosen], ratios, seed)
        items = [
            DatasetItem(
                asset_id=a.id,
                label=label_of[a.id],
                split=split_of[a.sha256 + a.id],
                caption=(captions or {}).get(a.id) or (str(a.meta["caption"]) if "caption" in a.meta else None),
            )
            for a in chosen
        ]
        sha_of = {a.id: a.sha256 for a in chosen}
        digest = hashlib.sha256()
        for it in sorted(items, key=lambda i: sha_of[i.asset_id]):
            digest.update(json.dumps([sha_of[it.asset_id], it.label, it.split, it.caption]).encode())
        counts: dict[str, Any] = {
            "splits": dict(Counter(i.split for i in items)),
            "labels": dict(Counter(i.label for i in items if i.label is not None)),
            "kinds": dict(Counter(a.kind for a in chosen)),
        }
        spec = {
            "kind": kind,
            "tags": list(tags),
            "name_glob": name_glob,
            "label_from": label_from,
            "splits": list(ratios),
            "seed": seed,
            "explicit": assets is not None,
        }
        return DatasetPlan(name, proj, items, counts, spec, digest.hexdigest())

    def diff(self, ref: str, against: str, project: str | None = None) -> DatasetDiff:
        """What changed from version ``against`` to version ``ref`` (any two versions, usually of
        one dataset): items added, removed, relabelled and moved between splits, by asset."""
        new, old = self.get(ref, project), self.get(against, project)
        before = {i.asset_id: i for i in old.items}
        after = {i.asset_id: i for i in new.items}
        both = sorted(before.keys() & after.keys())
        return DatasetDiff(
            ref=new.id,
            against=old.id,
            added=[after[k] for k in sorted(after.keys() - before.keys())],
            removed=[before[k] for k in sorted(before.keys() - after.keys())],
            relabelled=[ItemChange(k, before[k].label, after[k].label) for k in both
                        if before[k].label != after[k].label],
            moved=[ItemChange(k, before[k].split, after[k].split) for k in both if before[k].split != after[k].split],
            unchanged=sum(1 for k in both if before[k].label == after[k].label and before[k].split == after[k].split),
        )

    @staticmethod
    def _entity(s: Any, row: DatasetVersionRow, ds: DatasetRow, with_items: bool = False) -> DatasetVersion:
        v = DatasetVersion(
            id=row.id,
            dataset_id=ds.id,
            dataset_name=ds.name,
            project_id=ds.project_id,
            version=row.version,
            spec=dict(row.spec or {}),
            counts=dict(row.counts or {}),
            n_items=row.n_items,
            content_hash=row.content_hash,
            created_at=row.created_at,
            created_by_job=row.created_by_job,
        )
        if with_items:
            q = select(DatasetItemRow).where(DatasetItemRow.version_id == row.id).order_by(DatasetItemRow.asset_id)
            v.items = [DatasetItem(r.asset_id, r.label, r.split, r.caption) for r in s.scalars(q)]
        return v

    def get(self, ref: str, project: str | None = None, *, with_items: bool = True) -> DatasetVersion:
        """``dsv_…`` (a version), ``dst_…`` or ``NAME`` (its latest version), ``NAME@N``."""
        with session_scope(self.db.ReadSession) as s:
            row: DatasetVersionRow | None = None
            if id_kind(ref) == "dsv":
                row = s.get(DatasetVersionRow, ref)
            else:
                name, version = split_version(ref, "dataset")
                if id_kind(name) == "dst":
                    ds = s.get(DatasetRow, name)
                else:
                    proj = self.projects.get(project)
                    ds = s.scalar(select(DatasetRow).where(DatasetRow.project_id == proj.id, DatasetRow.name == name))
                if ds is not None:
                    q = select(DatasetVersionRow).where(DatasetVersionRow.dataset_id == ds.id)
                    if version is not None:
                        q = q.where(DatasetVersionRow.version == version)
                    row = s.scalar(q.order_by(DatasetVersionRow.version.desc()).limit(1))
            if row is None:
                raise NotFound(f"no dataset {ref!r}")
            ds = s.get(DatasetRow, row.dataset_id)
            assert ds is not None
            return self._entity(s, row, ds, with_items=with_items)

    def items(
        self, version_id: str, *, split: str | None = None, label: str | None = None, offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[DatasetItem], int]:
        """One page of a version's items (by asset id) and how many match in all: a big version is
        shown a page at a time without reading every item."""
        with session_scope(self.db.ReadSession) as s:
            q = select(DatasetItemRow).where(DatasetItemRow.version_id == version_id)
            if split is not None:
                q = q.where(DatasetItemRow.split == split)
            if label is not None:
                q = q.where(DatasetItemRow.label == label)
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            rows = s.scalars(q.order_by(DatasetItemRow.asset_id).offset(max(0, offset)).limit(max(0, limit)))
            return [DatasetItem(r.asset_id, r.label, r.split, r.caption) for r in rows], int(total)

    def list(self, project: str | None = None) -> list[DatasetVersion]:
        """Every version of every dataset (newest version first within a dataset)."""
        with session_scope(self.db.ReadSession) as s:
            q = select(DatasetVersionRow, DatasetRow).join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            if project is not None:
                q = q.where(DatasetRow.project_id == self.projects.get(project).id)
            q = q.order_by(DatasetRow.name, DatasetVersionRow.version.desc())
            return [self._entity(s, v, d) for v, d in s.execute(q).all()]

    def export(self, ref: str, dest: str | Path, *, overwrite: bool = False) -> Path:
        """``dest/split/label/name`` files plus ``manifest.csv`` and ``dataset.json``; never writes
        outside ``dest`` (symlinks planted there are replaced, not followed)."""
        dv = self.get(ref)
        assets = {a.id: a for a in self.assets.get_many([i.asset_id for i in dv.items])}
        return export_dataset(dv, assets, dest, self.assets.copy_to, overwrite=overwrite)
