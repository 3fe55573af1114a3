"""Validate a file completely and describe it.

``probe`` is the gate in front of the catalog: whatever passes it can be decoded by the rest of the
platform. Limits are checked from headers first (no pixel/sample is decoded for an oversized file),
then the content is decoded enough to catch truncation and corruption:

* images: every frame is decoded; a JPEG in DCT-scaled (reduced-size) mode, which still reads and
  Huffman-decodes every entropy-coded byte, so corruption and truncation are caught as in a full
  decode at a fraction of the cost;
* video: every packet is demuxed without decoding (cheap; each must lie inside the file, and the
  count and extent must match the container's index and declared duration), the first frame is
  decoded, and one GOP: from the keyframe before the poster frame (10% in) to it. An hour-long file
  is never decoded in full, and no more than one GOP whatever the keyframe interval;
* audio: every packet is demuxed, the first frames and the last seconds (after a seek) are decoded;
* text/screenplays: strict UTF-8 decode of the whole file; FDX must be well-formed XML.
"""

from __future__ import annotations

import itertools
import math
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer
from PIL import Image

from reelforge.errors import InvalidInput, LimitExceeded, MediaError
from reelforge.media._av import (
    AV_ERRORS,
    audio_stream,
    channel_count,
    check_audio_header,
    check_video_header,
    decode,
    describe,
    frame_rate,
    limit_frame_threads,
    open_input,
    video_stream,
)
from reelforge.media._jpeg import JpegLayout
from reelforge.media._jpeg import layout_of as jpeg_layout_of
from reelforge.media._jpeg import read_layout as read_jpeg_layout
from reelforge.media._png import PngCheck, check_png
from reelforge.media.images import (
    check_image_size,
    convert_mode,
    decoding,
    jpeg_bytes,
    open_image,
)
from reelforge.media.info import MediaInfo
from reelforge.media.limits import DecodeBudget, MediaLimits, check_pixel_rate
from reelforge.media.sniff import (
    HEAD_BYTES,
    Sniffed,
    is_fdx,
    name_mismatch,
    screenplay_encoding,
    sniff,
    sniff_bytes,
    text_problem,
)

__all__ = ["MediaInfo", "probe", "probe_with_thumbnail"]

# Containers whose index gives an exact packet count / whose declared duration is trustworthy.
_EXACT_COUNT_FORMATS = {"mp4", "mov", "m4a"}
_ESTIMATED_DURATION_FORMATS = {"mp3", "aac", "ogg", "ts"}
_TAIL_AUDIO_SECONDS = 2.0
# Where the poster frame of a video is taken, as a fraction of its length (as ``poster_frame``).
_POSTER_AT = 0.1
# A JPEG that fits the thumbnail box, or this times the box, is its own thumbnail, up to this many bytes.
_SELF_THUMB_MAX_SCALE = 1.5
_SELF_THUMB_MAX_BYTES = 128 * 1024
# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose).
_ORIENT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def probe(path: Path | str, limits: MediaLimits = MediaLimits()) -> MediaInfo:
    """Sniff, check limits, validate by decoding, and describe ``path``.

    Raises MediaError (unsupported, corrupt, truncated), LimitExceeded (over ``limits``) or NotFound.
    """
    return _probe(Path(path), limits, None)[0]


def probe_with_thumbnail(
    path: Path | str, limits: MediaLimits = MediaLimits(), size: int = 256, *, defer_from_pixels: int | None = None,
    content: bytes | None = None,
) -> tuple[MediaInfo, bytes | None]:
    """``probe`` plus a JPEG thumbnail (images) or poster frame (video), from the same single decode.

    The validation is exactly ``probe``'s (the same files pass); the thumbnail is cut from the frame
    that validation decoded: a JPEG's DCT-scaled decode, a PNG's or GIF's first frame, the video's
    frame 10% in (the end of the one GOP validation decodes). A JPEG of at most 1.5 times the box
    and 128 KiB is its own thumbnail (its bytes are returned).

    A PNG's check inflates its image data without decoding it (see ``_png``): its thumbnail costs a
    decode of its own, which ``defer_from_pixels`` skips for PNGs over that many pixels (the
    thumbnail is then None, for a later job to make).

    ``content``: the file's bytes, when the caller holds them (ingest reads small files whole); a
    JPEG is then checked from memory, and when it is its own thumbnail, that very object returns.
    """
    if size < 1:
        raise InvalidInput(f"thumbnail size must be positive, got {size}")
    return _probe(Path(path), limits, size, defer_from_pixels, content)


def _probe(
    path: Path, limits: MediaLimits, thumb_size: int | None, defer_from_pixels: int | None = None,
    content: bytes | None = None,
) -> tuple[MediaInfo, bytes | None]:
    sniffed = sniff_bytes(content, path.name, limits) if content is not None else None
    if sniffed is None or sniffed.format != "jpeg":
        content = None  # only JPEGs are checked from memory; the rest reads the file
        sniffed = sniff(path, limits)
        size = path.stat().st_size
    else:
        size = len(content)  # type: ignore[arg-type]
    thumb: bytes | None = None
    if sniffed.kind == "image":
        info, thumb = _probe_image(path, sniffed, size, limits, thumb_size, defer_from_pixels, content)
    elif sniffed.kind in ("video", "audio"):
        info, thumb = _probe_av(path, sniffed, size, limits, thumb_size)
    else:
        info = _probe_text(path, sniffed, size, limits)
    return _note_name(path, sniffed, info), thumb


def _note_name(path: Path, sniffed: Sniffed, info: MediaInfo) -> MediaInfo:
    """Note an extension that promises another type than the content (which decides the kind)."""
    note = name_mismatch(path, sniffed)
    if note is not None:
        info.extra["name_mismatch"] = note
    return info


# ---------------------------------------------------------------------------------------------- images


def fit_size(width: int, height: int, box: int) -> tuple[int, int]:
    """The size ``Image.thumbnail((box, box))`` gives a ``width`` x ``height`` image (aspect kept,
    rounded the way Pillow rounds it); the size itself when it already fits."""
    if width <= box and height <= box:
        return width, height
    aspect = width / height
    if aspect >= 1:
        h = max(min(math.floor(box / aspect), math.ceil(box / aspect),
                    key=lambda n: 0 if n == 0 else abs(aspect - box / n)), 1)
        return box, h
    w = max(min(math.floor(box * aspect), math.ceil(box * aspect), key=lambda n: abs(aspect - n / box)), 1)
    return w, box


def _thumbnail(im: Image.Image, full: tuple[int, int], box: int, orientation: int | None) -> bytes:
    """JPEG thumbnail of a decoded frame (possibly DCT-reduced from ``full``), upright, in RGB."""
    target = fit_size(*full, box)
    if im.mode not in ("RGB", "RGBA", "L", "LA"):
        im = convert_mode(im, "RGB")  # palettes, 16-bit, CMYK, ...: convert first, then resize
    if im.size != target:
        # Bicubic, as Image.thumbnail; reducing_gap 1.5: a box reduce by 2 or more first, as a
        # filter over all of a 1 MP frame costs three times as much.
        im = im.resize(target, Image.Resampling.BICUBIC, reducing_gap=1.5)
    im = convert_mode(im, "RGB")  # alpha onto white, ICC profile applied (the resize kept im.info)
    method = _ORIENT.get(orientation or 1)
    if method is not None:
        im = im.transpose(method)
    return jpeg_bytes(im, optimize=False)


def _planned_pixels(im: Image.Image, sniffed: Sniffed, n_frames: int, name: str, limits: MediaLimits) -> int:
    """Pixels that decoding every frame will produce, known before any frame is decoded.

    GIF, APNG and WebP composite every frame onto the full canvas, so each costs the canvas size
    however small its own rectangle is. TIFF pages have sizes of their own: walking the page
    directories reads no image data.
    """
    width, height = im.size
    if n_frames == 1 or sniffed.format != "tiff":
        return n_frames * width * height
    total = 0
    for index in range(n_frames):
        im.seek(index)
        check_image_size(im.size, name, limits)
        total += im.size[0] * im.size[1]
    im.seek(0)
    return total


def _frames_of(n_frames: int, width: int, height: int) -> str:
    return f"{n_frames} frames of {width}x{height}" if n_frames > 1 else f"{width}x{height}"


def _check_frame_count(n_frames: int, name: str, limits: MediaLimits) -> None:
    if n_frames > limits.max_image_frames:
        raise LimitExceeded(f"{name}: image has {n_frames} frames, over the limit of {limits.max_image_frames}")


def _probe_image(
    path: Path, sniffed: Sniffed, size: int, limits: MediaLimits, thumb_size: int | None = None,
    defer_from_pixels: int | None = None, content: bytes | None = None,
) -> tuple[MediaInfo, bytes | None]:
    name = path.name
    budget = DecodeBudget(name, limits)
    layout: JpegLayout | None = None
    if sniffed.format == "jpeg":
        layout = jpeg_layout_of(content, name) if content is not None else read_jpeg_layout(path, name)
    if sniffed.format == "png":
        # Before Pillow opens it (opening an APNG already allocates a full canvas): sizes from the
        # header, then, for a still PNG, the complete check: every chunk's CRC and the whole image
        # stream inflated and its structure checked. That is the validation, thumbnail or not.
        png = check_png(path, name, limits)
        width, height, n_frames = png.width, png.height, png.frames
        _check_frame_count(n_frames, name, limits)
        budget.reserve(n_frames * width * height, _frames_of(n_frames, width, height))
        deferred = defer_from_pixels is not None and width * height > defer_from_pixels
        if n_frames == 1 and (thumb_size is None or deferred):
            return _png_info(png, sniffed, size), None
    thumb: bytes | None = None
    with open_image(path, limits, sniffed, content=content) as im, decoding(name):
        width, height = im.size
        mode = im.mode
        has_alpha = mode in ("RGBA", "LA", "PA") or "transparency" in im.info
        n_frames = int(getattr(im, "n_frames", 1) or 1)
        _check_frame_count(n_frames, name, limits)
        if layout is not None:  # progressive scans are passes of their own; MPO adds whole frames
            # Charged at full size even when decoded reduced below: the same files pass either way.
            planned = layout.decode_pixels() + (n_frames - 1) * width * height
            budget.reserve(planned, f"{len(layout.scans)} scans of {width}x{height}")
        elif sniffed.format != "png":
            planned = _planned_pixels(im, sniffed, n_frames, name, limits)
            budget.reserve(planned, _frames_of(n_frames, width, height))  # before any frame is decoded
        # Only now: for a PNG, getexif() decodes the first frame to reach chunks after the pixels.
        orientation = im.getexif().get(0x0112)
        # A small JPEG is its own thumbnail: one that fits the box, or is at most half again as big
        # and light (the browser scales it; a second blob, a resize and an encode cost more than
        # everything else ingest does for a file this small).
        self_thumb = (
            thumb_size is not None and layout is not None and n_frames == 1
            and max(width, height) <= thumb_size * _SELF_THUMB_MAX_SCALE
            and mode in ("RGB", "L") and (orientation or 1) == 1
            and "icc_profile" not in im.info and size <= _SELF_THUMB_MAX_BYTES
        )
        if layout is not None and n_frames == 1:
            # DCT scaling (1/2..1/8) still entropy-decodes every coefficient of every scan: the
            # whole file is read and checked, but the IDCT and colour work shrink up to 64 times.
            # (Not for MPO: Pillow keeps the scale across frames while their tiles stay full-size.)
            cut_thumb = bool(thumb_size) and not self_thumb
            wanted = fit_size(width, height, thumb_size) if cut_thumb else (1, 1)  # type: ignore[arg-type]
            # When no thumbnail is cut from this decode, luma alone: libjpeg still entropy-decodes
            # every component's coefficients, and skips the chroma's IDCT and colour conversion
            # (a fifth of a small file's decode). Only YCbCr/RGB files change mode (CMYK stays).
            im.draft(mode if cut_thumb else "L", wanted)
        total_ms = 0.0
        for index in range(n_frames):
            if index:
                budget.check_time()
                im.seek(index)
                check_image_size(im.size, name, limits)
            im.load()
            if index == 0 and layout is not None:
                _check_jpeg_end(path, im, name, max(1, round(width / im.width)), content)
            if index == 0 and thumb_size is not None:
                # From the frame just decoded, before the next one replaces it.
                if self_thumb:
                    thumb = content if content is not None else path.read_bytes()
                else:
                    thumb = _thumbnail(im, (width, height), thumb_size, orientation)
            total_ms += float(im.info.get("duration", 0) or 0)
        budget.check_time()
    info = MediaInfo(
        kind="image",
        format=sniffed.format,
        mime=sniffed.mime,
        size_bytes=size,
        width=width,
        height=height,
        mode=mode,
        frames=n_frames,
        extra={"animated": n_frames > 1, "has_alpha": has_alpha},
    )
    if orientation:
        info.extra["exif_orientation"] = int(orientation)
    if n_frames > 1 and total_ms > 0:
        info.duration = total_ms / 1000.0
        info.fps = n_frames / info.duration
    return info, thumb


def _png_info(png: PngCheck, sniffed: Sniffed, size: int) -> MediaInfo:
    """What a still PNG's check tells (the same as Pillow would: mode from the same table)."""
    info = MediaInfo(
        kind="image", format=sniffed.format, mime=sniffed.mime, size_bytes=size, width=png.width,
        height=png.height, mode=png.mode, frames=1, extra={"animated": False, "has_alpha": png.has_alpha},
    )
    if png.orientation:
        info.extra["exif_orientation"] = int(png.orientation)
    return info


def _check_jpeg_end(path: Path, im: Image.Image, name: str, scale: int = 1, content: bytes | None = None) -> None:
    """Refuse a JPEG whose scan data stops before the picture does (libjpeg only warns).

    libjpeg fills the blocks it had no data for with zero coefficients, i.e. mid-grey 128 in every
    channel, so a file that ended early always has a grey last block (``8 / scale`` pixels wide in
    a DCT-scaled decode). Only then is the file decoded again by FFmpeg, which reports the early
    end as an error.
    """
    block = max(1, 8 // scale)
    if im.width < 1 or im.height < 1:
        return
    if block == 1:  # a 1/8 decode: one pixel per block (no crop and array for it)
        px = im.getpixel((im.width - 1, im.height - 1))
        values = px if isinstance(px, tuple) else (px,)
        grey = all(v == 128 for v in values) or (im.mode == "CMYK" and all(v == 127 for v in values))
    else:
        corner = np.asarray(im.crop((max(0, im.width - block), max(0, im.height - block), im.width, im.height)))
        grey = (corner == 128).all() or (im.mode == "CMYK" and (corner == 127).all())  # Adobe CMYK is inverted
    if not grey:
        return
    ctx = av.CodecContext.create("mjpeg", "r")
    ctx.options = {"err_detect": "explode+careful+bitstream+buffer", "lowres": "3"}
    try:
        frames = ctx.decode(av.Packet(content if content is not None else path.read_bytes())) + ctx.decode(None)
    except AV_ERRORS:
        frames = []
    if not frames:
        raise MediaError(f"{name}: truncated JPEG: the image data ends before the picture does")


# --------------------------------------------------------------------------------------- video/audio


@dataclass
class _Scan:
    packets: dict[int, int] = field(default_factory=dict)
    start: dict[int, float] = field(default_factory=dict)
    end: dict[int, float] = field(default_factory=dict)
    last_key_pts: int | None = None
    # Packets of the primary stream from its last keyframe on: what decoding the tail will cost.
    tail_packets: int = 0
    head_frames: int = 0
    # Keyframes of the primary stream in file order: (pts, number of its packets before this one).
    keys: list[tuple[int, int]] = field(default_factory=list)
    # Video: the first keyframe, decoded on its own (packet index; the frame, kept for a poster).
    head_at: int | None = None
    head: av.VideoFrame | None = None

    def extent(self, index: int | None = None) -> float:
        keys = [index] if index is not None else list(self.end)
        spans = [self.end[k] - self.start[k] for k in keys if k in self.end]
        return max(spans, default=0.0)


class _Frames:
    """Decodes packets of one stream and charges what comes out to the file's :class:`DecodeBudget`.

    Video frames are charged at the size the header declared *before* decoding (so a long GOP is
    refused up front by the caller's ``reserve``); a frame that comes out larger than declared
    (a mid-stream resolution change) is charged the difference, and checked against the size limits.
    """

    def __init__(self, stream: av.stream.Stream, name: str, budget: DecodeBudget, limits: MediaLimits) -> None:
        self.stream = stream
        self.name = name
        self.budget = budget
        self.limits = limits
        ctx = stream.codec_context
        self.declared = ctx.width * ctx.height if stream.type == "video" else 0

    def decode(self, packet: av.Packet | None) -> int:
        return len(self.frames(packet))

    def frames(self, packet: av.Packet | None) -> list:
        self.budget.check_time()
        frames = decode(self.stream, packet, self.name)
        for frame in frames:
            if self.stream.type != "video":
                continue
            if frame.width > self.limits.max_video_width or frame.height > self.limits.max_video_height:
                raise LimitExceeded(
                    f"{self.name}: a video frame is {frame.width}x{frame.height}, over the limit of "
                    f"{self.limits.max_video_width}x{self.limits.max_video_height}"
                )
            extra = frame.width * frame.height - self.declared
            if extra > 0:
                self.budget.reserve(extra, "frames larger than the header declares")
        return frames


def _gop(packets: int, stream: av.stream.Stream, so_far: bool = False) -> str:
    size = f"{stream.codec_context.width}x{stream.codec_context.height}"
    return f"a GOP of {'at least ' if so_far else ''}{packets} frames of {size}"


def _demux_all(
    container: InputContainer,
    primary: av.stream.Stream,
    frames: _Frames,
    max_seconds: float,
    fps: float | None,
    file_size: int,
) -> _Scan:
    """Read every packet of every stream without decoding (but the first frame): each must be
    whole and lie inside the file, and no GOP may be over the decode budget."""
    scan = _Scan()
    name = frames.name
    frame_len = 1.0 / fps if fps else 0.0
    try:
        for packet in container.demux():
            if packet.size == 0:
                continue  # end-of-stream marker
            stream = packet.stream
            idx = stream.index
            pos = packet.pos
            if packet.is_corrupt or (pos is not None and pos >= 0 and pos + packet.size > file_size):
                raise MediaError(
                    f"{name}: truncated or corrupt file: a {stream.type} packet "
                    f"{'at byte ' + format(pos, ',') + ' ' if pos is not None and pos >= 0 else ''}"
                    f"is not whole inside the file's {file_size:,} bytes"
                )
            scan.packets[idx] = scan.packets.get(idx, 0) + 1
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is not None and packet.time_base:
                start = float(ts * packet.time_base)
                length = float(packet.duration * packet.time_base) if packet.duration else 0.0
                if idx == primary.index and not length:
                    length = frame_len
                scan.start[idx] = min(scan.start.get(idx, start), start)
                scan.end[idx] = max(scan.end.get(idx, start + length), start + length)
                if idx == primary.index and scan.end[idx] - scan.start[idx] > max_seconds:
                    raise LimitExceeded(f"{name}: {primary.type} lasts over the limit of {max_seconds:.0f} s")
            if idx == primary.index:
                if packet.is_keyframe and ts is not None:
                    scan.last_key_pts = ts
                    scan.tail_packets = 0
                    scan.keys.append((ts, scan.packets[idx] - 1))
                scan.tail_packets += 1
                if frames.declared:
                    # Any GOP, not only the last one that validation decodes: a poster frame or a
                    # seek lands anywhere, and decodes from the keyframe before it.
                    frames.budget.check(
                        scan.tail_packets * frames.declared, _gop(scan.tail_packets, primary, so_far=True)
                    )
                if primary.type == "video":
                    if scan.head_at is None and packet.is_keyframe:
                        # That packet alone, then a flush: a decoder with B-frame delay would
                        # otherwise take (and decode) several more packets before it emits one.
                        frames.budget.reserve(frames.declared, "the first frame")
                        got = frames.frames(packet) + frames.frames(None)
                        scan.head_at, scan.head_frames = scan.packets[idx] - 1, len(got)
                        scan.head = got[0] if got else None
                    elif scan.packets[idx] % 256 == 0:
                        frames.budget.check_time()
                elif not scan.head_frames:
                    frames.budget.reserve(frames.declared, "the first frame")
                    scan.head_frames = frames.decode(packet)
                elif scan.packets[idx] % 256 == 0:
                    frames.budget.check_time()
    except AV_ERRORS as err:
        raise MediaError(f"{name}: corrupt or truncated file ({describe(err)})") from None
    if primary.type != "video" and not scan.head_frames and scan.packets.get(primary.index):
        # Decoders with delay emit their frames on flush.
        scan.head_frames = frames.decode(None)
    return scan


def _decode_tail(container: InputContainer, primary: av.stream.Stream, scan: _Scan, frames: _Frames) -> int:
    """Seek to the last keyframe (video) or the last seconds (audio) and decode through to the end."""
    if primary.type == "video":
        target = scan.last_key_pts
    else:
        end = scan.end.get(primary.index)
        target = None
        if end is not None and primary.time_base:
            target = int(max(0.0, end - _TAIL_AUDIO_SECONDS) / primary.time_base)
    if target is None:
        return -1  # no keyframe flags / timestamps: caller falls back to decoding everything
    if primary.type == "video":
        # Refused here, from the packet count, before any of the GOP is decoded.
        frames.budget.reserve(scan.tail_packets * frames.declared, _gop(scan.tail_packets, primary))
    try:
        container.seek(target, stream=primary, backward=True)
    except AV_ERRORS:
        return -1  # not seekable: caller falls back to decoding everything
    count = 0
    try:
        for packet in container.demux(primary):
            if packet.size:
                count += frames.decode(packet)
    except AV_ERRORS as err:
        raise MediaError(f"{frames.name}: corrupt or truncated file near the end ({describe(err)})") from None
    return count + frames.decode(None)


def _decode_poster(
    container: InputContainer, primary: av.stream.Stream, scan: _Scan, frames: _Frames
) -> tuple[av.VideoFrame | None, int]:
    """The poster: the keyframe nearest 10% into the video, decoded on its own after a seek (the
    first keyframe, already decoded, when that is the nearest). A keyframe needs no other frame, so
    whatever the keyframe interval this decodes one frame, never the GOP up to an exact time.
    Returns (frame, frames decoded here): the first keyframe when the file cannot seek or the seek
    does not land on the keyframe asked for; no frame when that keyframe decodes to nothing."""
    tb = primary.time_base
    if not scan.keys or not tb:
        return scan.head, 0
    start = scan.start.get(primary.index, 0.0)
    target = start + scan.extent(primary.index) * _POSTER_AT
    key_pts, at = min(scan.keys, key=lambda k: abs(float(k[0] * tb) - target))
    if at == scan.head_at:
        return scan.head, 0
    frames.budget.reserve(frames.declared, "the poster frame")
    try:
        container.seek(key_pts, stream=primary, backward=True)
    except AV_ERRORS:
        return scan.head, 0
    try:
        for packet in container.demux(primary):
            ts = packet.pts if packet.pts is not None else packet.dts
            if not packet.size or ts is None or ts < key_pts:
                continue  # the end of an earlier GOP, where the seek landed: not decoded
            if ts != key_pts or not packet.is_keyframe:
                break
            got = frames.frames(packet) + frames.frames(None)
            return (got[0] if got else None), len(got)
    except AV_ERRORS as err:
        raise MediaError(f"{frames.name}: corrupt or truncated file near the poster frame ({describe(err)})") from None
    return scan.head, 0


def _first_frame_from_start(
    path: Path, name: str, budget: DecodeBudget, limits: MediaLimits
) -> tuple[av.VideoFrame | None, int]:
    """For a stream without keyframe flags: decode from its first packet until a frame comes out,
    each packet charged to the budget before it is decoded."""
    with open_input(path) as container:
        stream = video_stream(container)
        if stream is None:
            raise MediaError(f"{name}: no video stream")
        frames = _Frames(stream, name, budget, limits)
        limit_frame_threads(stream, stream.codec_context.width, stream.codec_context.height)
        count = 0
        try:
            for packet in itertools.chain(container.demux(stream), [None]):
                if packet is not None and not packet.size:
                    continue
                budget.reserve(frames.declared, "frames decoded to reach the first one")
                got = frames.frames(packet)
                count += len(got)
                if got:
                    return got[0], count
                if packet is None:
                    break
        except AV_ERRORS as err:
            raise MediaError(f"{name}: corrupt or truncated file ({describe(err)})") from None
        return None, count


def _poster_jpeg(frame: av.VideoFrame, width: int, height: int, sar: Fraction | None, box: int) -> bytes:
    """The frame as a JPEG thumbnail at display aspect (anamorphic pixels stretched), scaled by
    swscale straight from the decoder's format to the thumbnail size."""
    display_w = max(1, round(width * float(sar))) if sar and sar > 0 else width
    tw, th = fit_size(display_w, height, box)
    image = frame.reformat(width=tw, height=th, format="rgb24", interpolation="AREA").to_image()
    return jpeg_bytes(image, optimize=False)


def _decode_everything(
    path: Path, kind: str, name: str, packets: int, budget: DecodeBudget, limits: MediaLimits
) -> int:
    with open_input(path) as container:
        stream = video_stream(container) if kind == "video" else audio_stream(container)
        if stream is None:
            raise MediaError(f"{name}: no {kind} stream")
        frames = _Frames(stream, name, budget, limits)
        if kind == "video":
            budget.reserve(packets * frames.declared, f"{packets} frames, as the file cannot be seeked")
            limit_frame_threads(stream, stream.codec_context.width, stream.codec_context.height)
        count = 0
        try:
            for packet in container.demux(stream):
                if packet.size:
                    count += frames.decode(packet)
        except AV_ERRORS as err:
            raise MediaError(f"{name}: corrupt or truncated file ({describe(err)})") from None
        count += frames.decode(None)
        return count


def _mp3_counts_frames(path: Path) -> bool:
    """True if the first MP3 frame is a Xing/Info/VBRI header, whose frame count makes the
    declared duration exact (otherwise FFmpeg only estimates it from the bit rate)."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    offset = 0
    if head.startswith(b"ID3") and len(head) >= 10:
        offset = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
    first_frame = head[offset : offset + 200]
    return any(tag in first_frame for tag in (b"Xing", b"Info", b"VBRI"))


def _check_riff_size(path: Path, fmt: str, size: int) -> None:
    """WAV/AIFF/AVI declare their total size up front; FFmpeg quietly plays a cut file, so compare."""
    with open(path, "rb") as f:
        header = f.read(8)
    if len(header) < 8:
        raise MediaError(f"{path.name}: truncated {fmt} header")
    declared = struct.unpack(">I" if header[:4] == b"FORM" else "<I", header[4:8])[0]
    if header[:4] == b"RF64" or declared in (0, 0xFFFFFFFF):
        return  # streaming writers leave the size open; RF64 keeps it elsewhere
    if declared + 8 > size + 1:  # one byte of slack for writers that forget the pad byte
        raise MediaError(
            f"{path.name}: truncated file: the {fmt} header declares {declared + 8} bytes but only {size} exist"
        )


def _probe_av(
    path: Path, sniffed: Sniffed, size: int, limits: MediaLimits, poster_size: int | None = None
) -> tuple[MediaInfo, bytes | None]:
    name = path.name
    budget = DecodeBudget(name, limits)
    if sniffed.format in ("wav", "aiff", "avi"):
        _check_riff_size(path, sniffed.format, size)
    poster: bytes | None = None
    with open_input(path) as container:
        vstream = video_stream(container)
        astream = audio_stream(container, decodable=sniffed.kind == "video")
        info = MediaInfo(kind=sniffed.kind, format=sniffed.format, mime=sniffed.mime, size_bytes=size)
        fps: float | None = None
        if sniffed.kind == "video":
            if vstream is None:
                raise MediaError(f"{name}: no video stream in {sniffed.format} file")
            width, height, declared = check_video_header(vstream, container, name, limits)
            fps = frame_rate(vstream)
            primary: av.stream.Stream = vstream
            max_seconds = limits.max_video_seconds
            info.width, info.height, info.fps = width, height, fps
            info.codec = vstream.codec_context.name
            info.mode = vstream.codec_context.format.name if vstream.codec_context.format else None
            if astream is not None:
                info.sample_rate = astream.codec_context.sample_rate
                info.channels = channel_count(astream)
                info.extra["audio_codec"] = astream.codec_context.name
        else:
            if astream is None:
                raise MediaError(f"{name}: no audio stream in {sniffed.format} file")
            rate, channels, declared = check_audio_header(astream, container, name, limits)
            primary = astream
            max_seconds = limits.max_audio_seconds
            info.sample_rate, info.channels = rate, channels
            info.codec = astream.codec_context.name
        # Validation decodes single frames (the first keyframe, the poster's): frame threads would
        # only make the decoder take in, and decode, more packets before it emits one.
        primary.codec_context.thread_type = "SLICE" if primary is vstream else "AUTO"
        if vstream is not None and primary is vstream:
            limit_frame_threads(vstream, info.width or 0, info.height or 0)
        frames = _Frames(primary, name, budget, limits)

        scan = _demux_all(container, primary, frames, max_seconds, fps, size)
        count = scan.packets.get(primary.index, 0)
        if count == 0:
            raise MediaError(f"{name}: the {primary.type} stream has no data")
        if primary is vstream and count > 1 and scan.extent(primary.index) > 0:
            # The header's frame rate can lie; the packets cannot. (count - 1: never an overestimate.)
            measured = (count - 1) / scan.extent(primary.index)
            check_pixel_rate(name, info.width or 0, info.height or 0, measured, limits)
        expected = primary.frames or 0
        tolerance = 0 if sniffed.format in _EXACT_COUNT_FORMATS else max(2, expected // 100)
        if expected and count < expected - tolerance:
            raise MediaError(
                f"{name}: truncated file: the index lists {expected} {primary.type} packets "
                f"but only {count} could be read"
            )
        extent = scan.extent(primary.index)
        trusted = sniffed.format not in _ESTIMATED_DURATION_FORMATS or (
            sniffed.format == "mp3" and _mp3_counts_frames(path)
        )
        if declared and trusted and declared > 1.0 and scan.extent() < 0.9 * declared - 0.5:
            raise MediaError(
                f"{name}: truncated file: it declares {declared:.1f} s but holds only {scan.extent():.1f} s"
            )
        if scan.head_frames == 0 and (primary is not vstream or scan.head_at is not None):
            raise MediaError(f"{name}: no {primary.type} frame could be decoded")
        if primary is vstream:
            sar = vstream.sample_aspect_ratio
            if scan.head_at is not None:
                frame, decoded = _decode_poster(container, primary, scan, frames)
                if frame is None:
                    raise MediaError(f"{name}: the keyframe {_POSTER_AT:.0%} into the video cannot be decoded")
        else:
            decoded = _decode_tail(container, primary, scan, frames)
    # The container is closed: its streams must not be touched any more.
    if sniffed.kind == "video":
        if scan.head_at is None:  # no packet flagged as a keyframe: decode from the start
            frame, decoded = _first_frame_from_start(path, name, budget, limits)
            if frame is None:
                raise MediaError(f"{name}: no video frame could be decoded")
        if poster_size is not None:
            poster = _poster_jpeg(frame, info.width or 0, info.height or 0, sar, poster_size)
        info.extra["decoded_frames"] = scan.head_frames + decoded
    else:
        if decoded <= 0:  # not seekable, or the seek landed past the last keyframe: decode it all
            decoded = _decode_everything(path, sniffed.kind, name, count, budget, limits)
        if decoded == 0:
            raise MediaError(f"{name}: the end of the {sniffed.kind} stream cannot be decoded")
        info.extra["decoded_tail_frames"] = decoded

    info.duration = extent if extent > 0 else declared
    if sniffed.kind == "video":
        info.frames = count
    return info, poster


# ------------------------------------------------------------------------------------------------ text


def _probe_text(path: Path, sniffed: Sniffed, size: int, limits: MediaLimits) -> MediaInfo:
    name = path.name
    if size > limits.max_text_bytes:
        raise LimitExceeded(f"{name}: text is {size} bytes, over the limit of {limits.max_text_bytes}")
    if sniffed.kind == "screenplay" and size > limits.max_screenplay_bytes:
        raise LimitExceeded(
            f"{name}: a screenplay of {size:,} bytes is over the max_screenplay_bytes limit of "
            f"{limits.max_screenplay_bytes:,}"
        )
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MediaError(f"{name}: cannot read file ({err.strerror or err})") from None
    problem = text_problem(data, complete=True)
    encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    if problem is not None and sniffed.kind == "screenplay":
        # Screenplays may also be UTF-16 (with a BOM) or GB18030; reports and documents may not.
        encoding = screenplay_encoding(data, complete=True) or ""
        problem = None if encoding else problem
    if problem is not None:
        raise MediaError(f"{name} {problem}")
    text = data.decode(encoding)
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    info = MediaInfo(
        kind=sniffed.kind,
        format=sniffed.format,
        mime=sniffed.mime,
        size_bytes=size,
        text_encoding=encoding,
        line_count=len(lines),
    )
    if sniffed.format == "fdx":
        info.extra.update(_check_fdx(data, name))
    return info


def _check_fdx(data: bytes, name: str) -> dict[str, object]:
    if re.search(rb"<!ENTITY", data, re.IGNORECASE):
        raise MediaError(f"{name}: Final Draft XML with entity declarations is not accepted")
    if not is_fdx(data[:65536]):
        raise MediaError(f"{name}: not a Final Draft file (the XML root is not <FinalDraft>)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise MediaError(f"{name}: malformed Final Draft XML ({err})") from None
    paragraphs = root.findall("./Content/Paragraph")
    return {
        "fdx_version": root.get("Version"),
        "document_type": root.get("DocumentType"),
        "paragraphs": len(paragraphs),
    }
