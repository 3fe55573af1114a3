"""Safe decoding and encoding of images, video and audio, with limits (see ``limits.MediaLimits``).

Everything that reads user files goes through ``sniff`` (type from content) and the limit checks;
``probe`` validates a file completely and is what the catalog's ingest calls.
"""

from reelforge.media.audio import load_audio
from reelforge.media.contact_sheet import contact_sheet, sheet_layout
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
from reelforge.media.limits import MediaLimits
from reelforge.media.probe import probe, probe_with_thumbnail
from reelforge.media.sniff import Sniffed, sniff
from reelforge.media.video import (
    as_rgb_array,
    iter_frames,
    pick_video_encoder,
    poster_frame,
    poster_frame_bytes,
    video_proxy,
    write_gif,
    write_video,
)

__all__ = [
    "MediaInfo",
    "MediaLimits",
    "Sniffed",
    "as_rgb_array",
    "contact_sheet",
    "convert_mode",
    "image_proxy",
    "iter_frames",
    "load_audio",
    "load_image",
    "open_image",
    "pick_video_encoder",
    "poster_frame",
    "poster_frame_bytes",
    "probe",
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
