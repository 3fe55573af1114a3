"""Limits applied to every untrusted media file before (and while) it is decoded.

They exist so that one hostile or accidental upload (a decompression bomb, a 40-hour stream, a 30 GB
"text" file) fails fast with a clear message instead of exhausting a worker's memory or time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from reelforge.errors import InvalidInput


@dataclass(frozen=True)
class MediaLimits:
    max_bytes: int = 4 * 1024**3
    # Checked from the header, before any pixel is decoded (decompression bombs).
    max_pixels: int = 50_000_000
    max_image_side: int = 30_000
    # Frames of an animated image / pages of a multi-page TIFF that are decoded to validate it.
    max_image_frames: int = 10_000
    max_video_seconds: float = 4 * 3600
    max_video_width: int = 8192
    max_video_height: int = 8192
    max_audio_seconds: float = 6 * 3600
    max_text_bytes: int = 20 * 1024**2

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise InvalidInput(f"media limit {f.name} must be a positive number, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaLimits:
        """Build from a (possibly partial) mapping; missing keys keep their defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"unknown media limit(s): {', '.join(unknown)}")
        return cls(**data)
