"""Model registry: named, versioned models whose weights are safetensors blobs."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from reelforge.catalog.common import audit, check_label, now, split_version
from reelforge.catalog.entities import Model, ModelFile
from reelforge.catalog.exports import export_model
from reelforge.db.engine import session_scope
from reelforge.db.models import ModelFileRow, ModelRow
from reelforge.errors import InvalidInput, NotFound
from reelforge.ids import id_kind, new_id

if TYPE_CHECKING:
    from reelforge.catalog.assets import AssetService
    from reelforge.catalog.projects import ProjectService
    from reelforge.config import Settings
    from reelforge.db.engine import Database
    from reelforge.storage.base import BlobStore

# Weights only as safetensors; small side files (configs, vocabularies, notes) as text.
ALLOWED_SUFFIXES = {".safetensors", ".json", ".txt", ".md", ".csv"}
MAX_SIDE_FILE = 64 * 1024 * 1024


def check_safetensors(data_head: bytes, total_size: int, name: str) -> None:
    """Validate a safetensors header without loading tensors (8-byte length + JSON)."""
    if len(data_head) < 8:
        raise InvalidInput(f"{name}: not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", data_head[:8])
    if n <= 0 or n > 100 * 1024 * 1024 or 8 + n > total_size:
        raise InvalidInput(f"{name}: not a safetensors file (bad header length)")
    try:
        header = json.loads(data_head[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput(f"{name}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise InvalidInput(f"{name}: not a safetensors file")
    end = 0
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(meta, dict) or "data_offsets" not in meta:
            raise InvalidInput(f"{name}: malformed safetensors entry {key!r}")
        end = max(end, int(meta["data_offsets"][1]))
    if 8 + n + end != total_size:
        raise InvalidInput(f"{name}: safetensors file is truncated or has trailing data")


def _entity(row: ModelRow, files: list[ModelFileRow]) -> Model:
    return Model(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        version=row.version,
        kind=row.kind,
        config=dict(row.config or {}),
        metrics=dict(row.metrics or {}),
        created_at=row.created_at,
        created_by_job=row.created_by_job,
        files=[ModelFile(f.name, f.sha256, f.size) for f in sorted(files, key=lambda f: f.name)],
    )


class ModelService:
    def __init__(
        self, db: Database, blobs: BlobStore, settings: Settings, projects: ProjectService, assets: AssetService
    ) -> None:
        self.db, self.blobs, self.settings = db, blobs, settings
        self.projects, self.assets = projects, assets

    def register(
        self,
        name: str,
        files: Mapping[str, str | Path | bytes],
        *,
        kind: str,
        config: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        project: str | None = None,
        created_by_job: str | None = None,
    ) -> Model:
        name = check_label(name, "model name")
        if not files or not any(f.endswith(".safetensors") for f in files):
            raise InvalidInput(f"model {name!r} needs at least one .safetensors weights file")
        proj = self.projects.get(project)
        staged = []
        try:
            for fname, src in files.items():
                if "/" in fname or Path(fname).suffix.lower() not in ALLOWED_SUFFIXES:
                    raise InvalidInput(
                        f"model file {fname!r} not allowed: weights must be .safetensors (no pickles); "
                        f"side files {', '.join(sorted(ALLOWED_SUFFIXES - {'.safetensors'}))}"
                    )
                if isinstance(src, bytes):
                    st = self.blobs.stage_stream(io.BytesIO(src))
                else:
                    st = self.blobs.stage_file(Path(src))
                staged.append((fname, st))
                if fname.endswith(".safetensors"):
                    with open(st.path, "rb") as fh:
                        head = fh.read(8)
                        if len(head) == 8:
                            (n,) = struct.unpack("<Q", head)
                            head += fh.read(min(n, 100 * 1024 * 1024))
                    check_safetensors(head, st.size, fname)
                elif st.size > MAX_SIDE_FILE:
                    raise InvalidInput(f"model side file {fname!r} is larger than {MAX_SIDE_FILE} bytes")
            infos = [(fname, st.commit()) for fname, st in staged]
        finally:
            for _, st in staged:
                st.discard()
        with session_scope(self.db.Session) as s:
            last = s.scalar(
                select(func.max(ModelRow.version)).where(ModelRow.project_id == proj.id, ModelRow.name == name)
            )
            row = ModelRow(
                id=new_id("mdl"),
                project_id=proj.id,
                name=name,
                version=(last or 0) + 1,
                kind=kind,
                config=config or {},
                metrics=metrics or {},
                created_at=now(),
                created_by_job=created_by_job,
            )
            s.add(row)
            s.flush()
            file_rows = [ModelFileRow(model_id=row.id, name=f, sha256=i.sha256, size=i.size) for f, i in infos]
            s.add_all(file_rows)
            audit(s, "model.register", row.id, proj.id, name=name, version=row.version)
            s.flush()
            return _entity(row, file_rows)

    def get(self, ref: str, project: str | None = None) -> Model:
        """``mdl_…``, ``NAME`` (latest version) or ``NAME@N``."""
        with session_scope(self.db.ReadSession) as s:
            row = None
            if id_kind(ref) == "mdl":
                row = s.get(ModelRow, ref)
            else:
                name, version = split_version(ref, "model")
                proj = self.projects.get(project)
                q = select(ModelRow).where(ModelRow.project_id == proj.id, ModelRow.name == name)
                if version is not None:
                    q = q.where(ModelRow.version == version)
                row = s.scalar(q.order_by(ModelRow.version.desc()).limit(1))
            if row is None:
                raise NotFound(f"no model {ref!r}")
            files = list(s.scalars(select(ModelFileRow).where(ModelFileRow.model_id == row.id)))
            return _entity(row, files)

    def list(self, project: str | None = None) -> list[Model]:
        with session_scope(self.db.ReadSession) as s:
            q = select(ModelRow).order_by(ModelRow.name, ModelRow.version.desc())
            if project is not None:
                q = q.where(ModelRow.project_id == self.projects.get(project).id)
            rows = list(s.scalars(q))
            files: dict[str, list[ModelFileRow]] = {r.id: [] for r in rows}
            if rows:
                for f in s.scalars(select(ModelFileRow).where(ModelFileRow.model_id.in_(list(files)))):
                    files[f.model_id].append(f)
            return [_entity(r, files[r.id]) for r in rows]

    def materialize(self, ref: str | Model) -> Path:
        """A local folder holding the model's files (shared read-only cache)."""
        model = ref if isinstance(ref, Model) else self.get(ref)
        folder = self.settings.cache_dir / "models" / model.id
        for f in model.files:
            self.blobs.materialize(f.sha256, folder / f.name)
        return folder

    def export(self, ref: str, dest: str | Path, *, overwrite: bool = False) -> Path:
        """Weights and a model card into ``dest`` (never through symlinks planted there)."""
        return export_model(self.get(ref), dest, self.assets.copy_to, overwrite=overwrite)
