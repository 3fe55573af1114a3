"""The MediaInfo record: what probing learned about a validated file (stored by the catalog)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class MediaInfo:
    kind: str
    format: str
    mime: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    frames: int | None = None
    fps: float | None = None
    duration: float | None = None
    codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    text_encoding: str | None = None
    line_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # Plain values and one flat dict: a shallow copy is asdict()'s result at a tenth of its
        # cost (ingest converts one per file).
        out = {f.name: getattr(self, f.name) for f in _FIELDS}
        out["extra"] = copy.deepcopy(self.extra) if any(isinstance(v, dict | list) for v in self.extra.values()) \
            else dict(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["extra"] = dict(values.get("extra") or {})
        return cls(**values)


_FIELDS = fields(MediaInfo)
