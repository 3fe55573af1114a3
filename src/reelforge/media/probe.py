"""Validate a file completely and describe it.

``probe`` is the gate in front of the catalog: whatever passes it can be decoded by the rest of the
platform. Limits are checked from headers first (no pixel/sample is decoded for an oversized file),
then the content is decoded enough to catch truncation and corruption:

* images: every frame is fully decoded;
* video/audio: every packet is demuxed (cheap; catches truncated files against the container's index
  and declared duration), the first frames are decoded, and the last GOP (video) or last seconds
  (audio) are decoded after a seek, so an hour-long file is never decoded in full;
* text/screenplays: strict UTF-8 decode of the whole file; FDX must be well-formed XML.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer
from PIL import Image, ImageOps

from reelforge.errors import LimitExceeded, MediaError
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
from reelforge.media._jpeg import read_layout as read_jpeg_layout
from reelforge.media.images import (
    check_image_size,
    convert_mode,
    decoding,
    jpeg_bytes,
    open_image,
    png_header,
    thumbnail_bytes,
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
    text_problem,
)

__all__ = ["MediaInfo", "probe", "probe_with_thumbnail"]

# Containers whose index gives an exact packet count / whose declared duration is trustworthy.
_EXACT_COUNT_FORMATS = {"mp4", "mov", "m4a"}
_ESTIMATED_DURATION_FORMATS = {"mp3", "aac", "ogg", "ts"}
_TAIL_AUDIO_SECONDS = 2.0


def probe(path: Path | str, limits: MediaLimits = MediaLimits()) -> MediaInfo:
    """Sniff, check limits, validate by decoding, and describe ``path``.

    Raises MediaError (unsupported, corrupt, truncated), LimitExceeded (over ``limits``) or NotFound.
    """
    path = Path(path)
    sniffed = sniff(path, limits)
    size = path.stat().st_size
    if sniffed.kind == "image":
        info = _probe_image(path, sniffed, size, limits)
    elif sniffed.kind in ("video", "audio"):
        info = _probe_av(path, sniffed, size, limits)
    else:
        info = _probe_text(path, sniffed, size, limits)
    return _note_name(path, sniffed, info)


def _note_name(path: Path, sniffed: Sniffed, info: MediaInfo) -> MediaInfo:
    """Note an extension that promises another type than the content (which decides the kind)."""
    note = name_mismatch(path, sniffed)
    if note is not None:
        info.extra["name_mismatch"] = note
    return info


# ---------------------------------------------------------------------------------------------- images


def probe_with_thumbnail(
    path: Path | str, limits: MediaLimits = MediaLimits(), size: int = 256
) -> tuple[MediaInfo, bytes | None]:
    """``probe`` plus a JPEG thumbnail (images) or poster frame (video), decoding images only once.

    Ingest needs both; for PNG/TIFF/WebP the validating decode is the expensive part, so the
    thumbnail is cut from the frame the probe already decoded. JPEGs use a reduced DCT decode instead,
    which is cheaper than resizing the full image.
    """
    path = Path(path)
    sniffed = sniff(path, limits)
    nbytes = path.stat().st_size
    info: MediaInfo
    thumb: bytes | None = None
    if sniffed.kind == "image":
        holder: list[Image.Image] = []
        info = _probe_image(path, sniffed, nbytes, limits, keep_first=holder if sniffed.format != "jpeg" else None)
        if holder:
            first = convert_mode(ImageOps.exif_transpose(holder[0]), "RGB")
            first.thumbnail((size, size), Image.Resampling.LANCZOS)
            thumb = jpeg_bytes(first)
        else:
            thumb = thumbnail_bytes(path, size, limits)
    elif sniffed.kind == "video":
        from reelforge.media.video import poster_frame_bytes  # video.py builds on this module

        info = _probe_av(path, sniffed, nbytes, limits)
        thumb = poster_frame_bytes(path, size, limits)
    elif sniffed.kind == "audio":
        info = _probe_av(path, sniffed, nbytes, limits)
    else:
        info = _probe_text(path, sniffed, nbytes, limits)
    return _note_name(path, sniffed, info), thumb


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
    path: Path, sniffed: Sniffed, size: int, limits: MediaLimits, keep_first: list[Image.Image] | None = None
) -> MediaInfo:
    name = path.name
    budget = DecodeBudget(name, limits)
    layout = read_jpeg_layout(path, name) if sniffed.format == "jpeg" else None
    if sniffed.format == "png":
        # Before Pillow opens it: opening an APNG already allocates a full canvas.
        width, height, n_frames = png_header(path, name)
        check_image_size((width, height), name, limits)
        _check_frame_count(n_frames, name, limits)
        budget.reserve(n_frames * width * height, _frames_of(n_frames, width, height))
    with open_image(path, limits, sniffed) as im, decoding(name):
        width, height = im.size
        mode = im.mode
        has_alpha = mode in ("RGBA", "LA", "PA") or "transparency" in im.info
        n_frames = int(getattr(im, "n_frames", 1) or 1)
        _check_frame_count(n_frames, name, limits)
        if layout is not None:  # progressive scans are passes of their own; MPO adds whole frames
            planned = layout.decode_pixels() + (n_frames - 1) * width * height
            budget.reserve(planned, f"{len(layout.scans)} scans of {width}x{height}")
        elif sniffed.format != "png":
            planned = _planned_pixels(im, sniffed, n_frames, name, limits)
            budget.reserve(planned, _frames_of(n_frames, width, height))  # before any frame is decoded
        # Only now: for a PNG, getexif() decodes the first frame to reach chunks after the pixels.
        orientation = im.getexif().get(0x0112)
        total_ms = 0.0
        for index in range(n_frames):
            if index:
                budget.check_time()
                im.seek(index)
                check_image_size(im.size, name, limits)
            im.load()
            if index == 0 and layout is not None:
                _check_jpeg_end(path, im, name)
            if index == 0 and keep_first is not None:
                keep_first.append(im.copy())
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
    return info


def _check_jpeg_end(path: Path, im: Image.Image, name: str) -> None:
    """Refuse a JPEG whose scan data stops before the picture does (libjpeg only warns).

    libjpeg fills the blocks it had no data for with zero coefficients, i.e. mid-grey 128 in every
    channel, so a file that ended early always has a grey last block. Only then is the file decoded
    again by FFmpeg, which reports the early end as an error.
    """
    corner = np.asarray(im.crop((max(0, im.width - 8), max(0, im.height - 8), im.width, im.height)))
    grey = (corner == 128).all() or (im.mode == "CMYK" and (corner == 127).all())  # Adobe CMYK is inverted
    if corner.size == 0 or not grey:
        return
    ctx = av.CodecContext.create("mjpeg", "r")
    ctx.options = {"err_detect": "explode+careful+bitstream+buffer", "lowres": "3"}
    try:
        frames = ctx.decode(av.Packet(path.read_bytes())) + ctx.decode(None)
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
        return len(frames)


def _gop(packets: int, stream: av.stream.Stream, so_far: bool = False) -> str:
    size = f"{stream.codec_context.width}x{stream.codec_context.height}"
    return f"a GOP of {'at least ' if so_far else ''}{packets} frames of {size}"


def _demux_all(
    container: InputContainer,
    primary: av.stream.Stream,
    frames: _Frames,
    max_seconds: float,
    fps: float | None,
) -> _Scan:
    scan = _Scan()
    name = frames.name
    frame_len = 1.0 / fps if fps else 0.0
    try:
        for packet in container.demux():
            if packet.size == 0:
                continue  # end-of-stream marker
            stream = packet.stream
            idx = stream.index
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
                scan.tail_packets += 1
                if frames.declared:
                    # Any GOP, not only the last one that validation decodes: a poster frame or a
                    # seek lands anywhere, and decodes from the keyframe before it.
                    frames.budget.check(
                        scan.tail_packets * frames.declared, _gop(scan.tail_packets, primary, so_far=True)
                    )
                if not scan.head_frames:
                    frames.budget.reserve(frames.declared, "the first frame")
                    scan.head_frames = frames.decode(packet)
                elif scan.packets[idx] % 256 == 0:
                    frames.budget.check_time()
    except AV_ERRORS as err:
        raise MediaError(f"{name}: corrupt or truncated file ({describe(err)})") from None
    if not scan.head_frames and scan.packets.get(primary.index):
        # Decoders with delay (B-frames, frame threads) emit their frames on flush.
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


def _probe_av(path: Path, sniffed: Sniffed, size: int, limits: MediaLimits) -> MediaInfo:
    name = path.name
    budget = DecodeBudget(name, limits)
    if sniffed.format in ("wav", "aiff", "avi"):
        _check_riff_size(path, sniffed.format, size)
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
        primary.codec_context.thread_type = "AUTO"
        if vstream is not None and primary is vstream:
            limit_frame_threads(vstream, info.width or 0, info.height or 0)
        frames = _Frames(primary, name, budget, limits)

        scan = _demux_all(container, primary, frames, max_seconds, fps)
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
        if scan.head_frames == 0:
            raise MediaError(f"{name}: no {primary.type} frame could be decoded")
        tail = _decode_tail(container, primary, scan, frames)
    # The container is closed: its streams must not be touched any more.
    if tail <= 0:  # not seekable, or the seek landed past the last keyframe: decode it all
        tail = _decode_everything(path, sniffed.kind, name, count, budget, limits)
    if tail == 0:
        raise MediaError(f"{name}: the end of the {sniffed.kind} stream cannot be decoded")

    info.duration = extent if extent > 0 else declared
    if sniffed.kind == "video":
        info.frames = count
    info.extra["decoded_tail_frames"] = tail
    return info


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
