"""Limits applied to every untrusted media file before (and while) it is decoded.

They exist so that one hostile or accidental upload (a decompression bomb, a 40-hour stream, a 30 GB
"text" file, an 11 KB GIF that takes minutes to composite) fails fast with a clear message instead of
exhausting a worker's memory or time.

Per-frame limits (``max_pixels``, sides) stop single huge frames; ``max_total_pixels``,
``max_pixels_per_second`` and ``max_decode_seconds`` stop files whose frames are each legal but whose
*sum* is not. :class:`DecodeBudget` applies the last two while a file is decoded.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from reelforge.errors import InvalidInput, LimitExceeded


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
    # Pixels one validation or preview decodes, all frames together (frames x width x height). Sized
    # for a 500-frame 1080p GIF (1 G), a 300-page A4 scan at 300 dpi (2.6 G) and what validating a
    # video decodes, its first frame and last GOP (4K60 with a 10 s GOP: 5 G).
    max_total_pixels: int = 10_000_000_000
    # Video frame size x frame rate: 8K at 120 fps. Checked from the header and from the packets.
    max_pixels_per_second: int = 7680 * 4320 * 120
    # Wall time of one validation or preview decode (probe, thumbnail, poster frame). Full transcodes
    # of a long video are bounded by duration x pixel rate instead, and are cancellable.
    max_decode_seconds: float = 120.0
    # A feature screenplay is 200-400 KB as text; anything far bigger is not a screenplay.
    max_screenplay_bytes: int = 5 * 1024**2

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


class DecodeBudget:
    """Pixels decoded and wall time spent on one file, against ``max_total_pixels`` / ``max_decode_seconds``.

    Callers ask :meth:`reserve` for the pixels of the next frame(s) *before* decoding them, so an
    over-budget file is refused before the work, not after; :meth:`check_time` runs between frames
    (no signals: it works in any thread).
    """

    def __init__(self, name: str, limits: MediaLimits) -> None:
        self.name = name
        self.limits = limits
        self.pixels = 0
        self.started = time.monotonic()

    def check(self, pixels: int, what: str = "") -> None:
        """Raise LimitExceeded if decoding ``pixels`` more would go over (nothing is counted)."""
        total = self.pixels + int(pixels)
        if total > self.limits.max_total_pixels:
            detail = f" ({what})" if what else ""
            raise LimitExceeded(
                f"{self.name}: decoding it means {total:,} pixels{detail}, over the max_total_pixels "
                f"limit of {self.limits.max_total_pixels:,}"
            )

    def reserve(self, pixels: int, what: str = "") -> None:
        """Count ``pixels`` about to be decoded; raise LimitExceeded if the file would go over."""
        self.check(pixels, what)
        self.pixels += int(pixels)
        self.check_time()

    def check_time(self) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed > self.limits.max_decode_seconds:
            raise LimitExceeded(
                f"{self.name}: decoding took over {elapsed:.0f} s, past the max_decode_seconds limit of "
                f"{self.limits.max_decode_seconds:g} s"
            )


def check_pixel_rate(name: str, width: int, height: int, fps: float | None, limits: MediaLimits) -> None:
    """Frame size x frame rate within ``max_pixels_per_second`` (no-op when the rate is unknown)."""
    if not fps or fps <= 0:
        return
    rate = width * height * fps
    if rate > limits.max_pixels_per_second:
        raise LimitExceeded(
            f"{name}: video is {width}x{height} at {fps:.4g} fps = {rate:,.0f} pixels/s, over the "
            f"max_pixels_per_second limit of {limits.max_pixels_per_second:,}"
        )
