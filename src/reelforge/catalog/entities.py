"""Plain entity objects handed to doors and tasks, kept apart from ORM rows (MLflow-style)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Entity:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Project(Entity):
    id: str
    name: str
    description: str
    created_at: float


@dataclass
class Asset(Entity):
    id: str
    project_id: str
    name: str
    kind: str
    format: str
    mime: str
    sha256: str
    size: int
    info: dict[str, Any]
    meta: dict[str, Any]
    tags: list[str]
    thumb_sha256: str | None
    source: str
    created_at: float
    created_by_job: str | None
    duplicate: bool = False  # set by ingest when the content was already in the project


@dataclass
class DatasetItem(Entity):
    asset_id: str
    label: str | None
    split: str
    caption: str | None = None


@dataclass
class DatasetVersion(Entity):
    id: str
    dataset_id: str
    dataset_name: str
    project_id: str
    version: int
    spec: dict[str, Any]
    counts: dict[str, Any]
    n_items: int
    content_hash: str
    created_at: float
    created_by_job: str | None
    items: list[DatasetItem] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.dataset_name}@{self.version}"

    @property
    def labels(self) -> list[str]:
        return sorted({i.label for i in self.items if i.label is not None})


@dataclass
class ModelFile(Entity):
    name: str
    sha256: str
    size: int


@dataclass
class Model(Entity):
    id: str
    project_id: str
    name: str
    version: int
    kind: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    created_at: float
    created_by_job: str | None
    files: list[ModelFile] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class IngestReport:
    """What an ingest did (``assets.add``, ``Studio.ingest``, the remote SDK's upload)."""

    added: list[Asset] = field(default_factory=list)
    duplicates: list[Asset] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)  # derived jobs queued for the added assets (Studio.ingest)

    @property
    def assets(self) -> list[Asset]:
        return self.added + self.duplicates


@dataclass
class Node:
    id: str
    kind: str  # asset | dataset | model | job
    label: str
    detail: dict[str, Any] = field(default_factory=dict)
    parents: list[str] = field(default_factory=list)  # what it was made from


@dataclass
class LineageGraph:
    root: str
    nodes: dict[str, Node]

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "nodes": {k: {**vars(n)} for k, n in self.nodes.items()},
        }

    def raw_assets(self) -> list[str]:
        """Ids of ingested (not generated) assets the root ultimately derives from."""
        return sorted(
            n.id for n in self.nodes.values() if n.kind == "asset" and not n.detail.get("created_by_job")
        )
