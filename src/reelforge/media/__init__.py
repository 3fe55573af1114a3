"""Safe decoding and encoding of images, video and audio, with limits (see ``limits.MediaLimits``).

Everything that reads user files goes through ``sniff`` (type from content) and the limit checks;
``probe`` validates a file completely and is what the catalog's ingest calls (``probe_document`` for
reports and interchange files chosen by name). ``fingerprint`` has perceptual hashes and
near-duplicate grouping.

Submodules load on first use (PEP 562), so ``import reelforge.media.limits`` (settings) or
``reelforge.media.sniff`` (the screenplay reader) does not pull in PyAV, Pillow and numpy.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.media.audio import load_audio
    from reelforge.media.contact_sheet import contact_sheet, sheet_layout
    from reelforge.media.document import DOCUMENT_TYPES, DocumentInfo, is_document, probe_document
    from reelforge.media.fingerprint import dhash, near_duplicate_groups
    from reelforge.media.images import (
        convert_mode,
        image_proxy,
        load_image,
        open_image,
        read_png_text,
        read_xmp,
        save_png_with_text,
        thumbnail_bytes,
        thumbnail_image,
    )
    from reelforge.media.info import MediaInfo
    from reelforge.media.limits import DecodeBudget, MediaLimits
    from reelforge.media.probe import probe, probe_with_thumbnail
    from reelforge.media.sniff import Sniffed, is_fdx, name_mismatch, sniff
    from reelforge.media.video import (
        add_source_audio,
        as_rgb_array,
        iter_frames,
        pick_video_encoder,
        poster_frame,
        poster_frame_bytes,
        video_proxy,
        write_gif,
        write_video,
    )

# Public name -> the submodule that defines it.
_EXPORTS = {
    "add_source_audio": "reelforge.media.video",
    "DOCUMENT_TYPES": "reelforge.media.document",
    "DecodeBudget": "reelforge.media.limits",
    "DocumentInfo": "reelforge.media.document",
    "MediaInfo": "reelforge.media.info",
    "MediaLimits": "reelforge.media.limits",
    "Sniffed": "reelforge.media.sniff",
    "as_rgb_array": "reelforge.media.video",
    "contact_sheet": "reelforge.media.contact_sheet",
    "convert_mode": "reelforge.media.images",
    "dhash": "reelforge.media.fingerprint",
    "image_proxy": "reelforge.media.images",
    "is_document": "reelforge.media.document",
    "is_fdx": "reelforge.media.sniff",
    "iter_frames": "reelforge.media.video",
    "load_audio": "reelforge.media.audio",
    "load_image": "reelforge.media.images",
    "name_mismatch": "reelforge.media.sniff",
    "near_duplicate_groups": "reelforge.media.fingerprint",
    "open_image": "reelforge.media.images",
    "pick_video_encoder": "reelforge.media.video",
    "poster_frame": "reelforge.media.video",
    "poster_frame_bytes": "reelforge.media.video",
    "probe": "reelforge.media.probe",
    "probe_document": "reelforge.media.document",
    "probe_with_thumbnail": "reelforge.media.probe",
    "read_png_text": "reelforge.media.images",
    "read_xmp": "reelforge.media.images",
    "save_png_with_text": "reelforge.media.images",
    "sheet_layout": "reelforge.media.contact_sheet",
    "sniff": "reelforge.media.sniff",
    "thumbnail_bytes": "reelforge.media.images",
    "thumbnail_image": "reelforge.media.images",
    "video_proxy": "reelforge.media.video",
    "write_gif": "reelforge.media.video",
    "write_video": "reelforge.media.video",
}

__all__ = [
    "DOCUMENT_TYPES",
    "DecodeBudget",
    "DocumentInfo",
    "MediaInfo",
    "MediaLimits",
    "Sniffed",
    "add_source_audio",
    "as_rgb_array",
    "contact_sheet",
    "convert_mode",
    "dhash",
    "image_proxy",
    "is_document",
    "is_fdx",
    "iter_frames",
    "load_audio",
    "load_image",
    "name_mismatch",
    "near_duplicate_groups",
    "open_image",
    "pick_video_encoder",
    "poster_frame",
    "poster_frame_bytes",
    "probe",
    "probe_document",
    "probe_with_thumbnail",
    "read_png_text",
    "read_xmp",
    "save_png_with_text",
    "sheet_layout",
    "sniff",
    "thumbnail_bytes",
    "thumbnail_image",
    "video_proxy",
    "write_gif",
    "write_video",
]


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # The import system binds every loaded submodule on its package. Where a submodule shares its
        # name with the function it exports (probe, contact_sheet), the package keeps the function.
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
