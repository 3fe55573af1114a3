"""The MediaInfo record: what probing learned about a validated file (stored by the catalog)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
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
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["extra"] = dict(values.get("extra") or {})
        return cls(**values)
