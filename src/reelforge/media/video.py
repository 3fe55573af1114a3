"""Video frames in and out, streaming: poster frames, H.264 web proxies, frame iterators, writers.

Nothing here holds a whole video in memory: frames are decoded, converted and encoded one at a time.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.container import InputContainer
from PIL import Image

from reelforge.errors import Cancelled, InvalidInput, LimitExceeded, MediaError, ReelforgeError
from reelforge.media._av import (
    AV_ERRORS,
    audio_stream,
    channel_count,
    check_video_header,
    decode,
    describe,
    frame_rate,
    limit_frame_threads,
    open_input,
    video_stream,
)
from reelforge.media._io import atomic_path
from reelforge.media.images import jpeg_bytes
from reelforge.media.info import MediaInfo
from reelforge.media.limits import DecodeBudget, MediaLimits
from reelforge.media.probe import probe
from reelforge.media.sniff import sniff

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
ShouldStop = Callable[[], bool]

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
MP4_OPTIONS = {"movflags": "+faststart"}  # index first: proxies start playing before they finish loading


def _encoder_available(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except (ValueError, av.FFmpegError):
        return False
    return True


def pick_video_encoder(codec: str = "h264") -> str:
    """The PyAV encoder for ``codec``: libx264 for "h264" (mpeg4, with a logged note, if it is absent)."""
    if codec in ("h264", "libx264"):
        if _encoder_available("libx264"):
            return "libx264"
        log.warning("libx264 is not available in this PyAV build; encoding MPEG-4 Part 2 instead")
        return "mpeg4"
    if codec == "mpeg4":
        return "mpeg4"
    raise InvalidInput(f"unsupported video codec {codec!r}: use 'h264' or 'mpeg4'")


def _configure_video_stream(
    out: av.container.OutputContainer, encoder: str, rate: Fraction, width: int, height: int, crf: int
) -> av.VideoStream:
    options = {"crf": str(crf), "preset": "veryfast"} if encoder == "libx264" else {}
    stream = out.add_stream(encoder, rate=rate, options=options)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if encoder != "libx264":
        # No CRF outside x264: pick a bit rate from the pixel rate, lower for higher crf.
        quality = max(0.02, 0.25 * 2 ** (-(crf - 18) / 6))
        stream.bit_rate = max(200_000, int(width * height * float(rate) * quality))
    return stream


def _open_video(path: Path, limits: MediaLimits) -> tuple[InputContainer, av.VideoStream, float | None]:
    sniffed = sniff(path, limits)
    if sniffed.kind != "video":
        raise MediaError(f"{path.name}: not a video (content is {sniffed.format} {sniffed.kind})")
    container = open_input(path)
    try:
        stream = video_stream(container)
        if stream is None:
            raise MediaError(f"{path.name}: no video stream")
        width, height, duration = check_video_header(stream, container, path.name, limits)
        stream.codec_context.thread_type = "AUTO"
        limit_frame_threads(stream, width, height)
    except BaseException:
        container.close()
        raise
    return container, stream, duration


def _display_size(stream: av.VideoStream) -> tuple[int, int]:
    """Frame size as it should be shown (anamorphic pixels stretched by the sample aspect ratio)."""
    width, height = stream.codec_context.width, stream.codec_context.height
    sar = stream.sample_aspect_ratio
    if sar and sar > 0 and sar != 1:
        width = max(1, round(width * float(sar)))
    return width, height


class _FrameGuard:
    """Limits checked on every decoded frame of a full decode (frame iterators, proxies).

    Frame size; timestamp within ``max_video_seconds``; and pixels decoded so far within
    ``max_pixels_per_second`` x (media time covered + 1 s), which stops a stream whose frames are far
    denser than its header's rate or that changes to a bigger size mid-stream.
    """

    def __init__(self, name: str, limits: MediaLimits) -> None:
        self.name = name
        self.limits = limits
        self.first_time: float | None = None
        self.pixels = 0

    def check(self, frame: av.VideoFrame) -> None:
        limits, name = self.limits, self.name
        if frame.width > limits.max_video_width or frame.height > limits.max_video_height:
            raise LimitExceeded(
                f"{name}: a video frame is {frame.width}x{frame.height}, over the limit of "
                f"{limits.max_video_width}x{limits.max_video_height}"
            )
        if frame.time is not None and frame.time > limits.max_video_seconds:
            raise LimitExceeded(f"{name}: video runs past the limit of {limits.max_video_seconds:.0f} s")
        self.pixels += frame.width * frame.height
        if frame.time is not None:
            if self.first_time is None:
                self.first_time = frame.time
            covered = max(0.0, frame.time - self.first_time)
            if self.pixels > limits.max_pixels_per_second * (covered + 1.0):
                raise LimitExceeded(
                    f"{name}: frames come faster than the max_pixels_per_second limit of "
                    f"{limits.max_pixels_per_second:,}"
                )


def _decoded_frames(
    container: InputContainer,
    stream: av.VideoStream,
    name: str,
    limits: MediaLimits,
    budget: DecodeBudget | None = None,
) -> Iterator[av.VideoFrame]:
    """Decoded frames, each checked by a :class:`_FrameGuard`; with ``budget`` (previews), the total
    pixels and the decode wall time are bounded too."""
    guard = _FrameGuard(name, limits)
    try:
        for packet in container.demux(stream):
            if budget is not None:
                budget.check_time()
            for frame in decode(stream, packet, name):
                guard.check(frame)
                if budget is not None:
                    budget.reserve(frame.width * frame.height, "frames decoded for a preview")
                yield frame
    except ReelforgeError:
        raise
    except AV_ERRORS as err:
        raise MediaError(f"{name}: corrupt or truncated video ({describe(err)})") from None


def iter_frames(
    path: Path | str,
    limits: MediaLimits = MediaLimits(),
    every_n: int = 1,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield every ``every_n``-th frame as an RGB uint8 array (H, W, 3), decoding one at a time."""
    if every_n < 1 or (max_frames is not None and max_frames < 0):
        raise InvalidInput(f"invalid frame selection: every_n={every_n}, max_frames={max_frames}")
    path = Path(path)
    container, stream, _ = _open_video(path, limits)
    with container:
        yielded = 0
        if max_frames == 0:
            return
        for index, frame in enumerate(_decoded_frames(container, stream, path.name, limits)):
            if index % every_n:
                continue
            yield frame.to_ndarray(format="rgb24")
            yielded += 1
            if max_frames is not None and yielded >= max_frames:
                return


def poster_frame(path: Path | str, limits: MediaLimits = MediaLimits(), at: float = 0.1) -> Image.Image:
    """The frame at fraction ``at`` of the duration (first frame if seeking fails), as shown on screen."""
    path = Path(path)
    at = min(max(float(at), 0.0), 1.0)
    container, stream, duration = _open_video(path, limits)
    budget = DecodeBudget(path.name, limits)  # a poster decodes from a keyframe: bound that GOP
    with container:
        chosen: av.VideoFrame | None = None
        start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
        target = start + (duration or 0.0) * at
        if target > start and stream.time_base:
            try:
                container.seek(int(target / stream.time_base), stream=stream, backward=True)
            except AV_ERRORS:
                container.seek(0)
        for frame in _decoded_frames(container, stream, path.name, limits, budget):
            chosen = frame
            if frame.time is None or frame.time >= target - 1e-3:
                break
        if chosen is None and target > start:  # seek landed past the end: take the first frame
            container.seek(0)
            chosen = next(iter(_decoded_frames(container, stream, path.name, limits, budget)), None)
        if chosen is None:
            raise MediaError(f"{path.name}: no video frame could be decoded")
        image = chosen.to_image()
        display = _display_size(stream)
    if image.size != display:
        image = image.resize(display, Image.Resampling.BICUBIC)
    return image


def poster_frame_bytes(
    path: Path | str, size: int = 256, limits: MediaLimits = MediaLimits(), at: float = 0.1
) -> bytes:
    """JPEG of the frame ~``at`` into the video, longer side at most ``size``."""
    if size < 1:
        raise InvalidInput(f"poster size must be positive, got {size}")
    image = poster_frame(path, limits, at)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return jpeg_bytes(image)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def video_proxy(
    src: Path | str,
    dst: Path | str,
    height: int = 360,
    crf: int = 28,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    limits: MediaLimits = MediaLimits(),
) -> MediaInfo:
    """Transcode to a web proxy: H.264 (yuv420p, faststart) MP4 at ``height`` px, AAC audio if any.

    Never upscales (a smaller source keeps its height). Audio that cannot be encoded is dropped with
    a logged note. ``progress(done, total, message)`` is called per video frame and ``should_stop()``
    is polled per frame (raises Cancelled; ``dst`` is then left untouched). Returns the probe of
    the written proxy.
    """
    if height < 2 or not 0 <= crf <= 51:
        raise InvalidInput(f"invalid proxy settings: height={height}, crf={crf}")
    src, dst = Path(src), Path(dst)
    name = src.name
    container, vin, duration = _open_video(src, limits)
    with container:
        src_w, src_h = _display_size(vin)
        out_h = _even(min(height, src_h))
        out_w = _even(src_w * out_h / src_h)
        fps = frame_rate(vin) or 25.0
        rate = Fraction(vin.average_rate) if vin.average_rate else Fraction(fps).limit_denominator(1001)
        total = int(vin.frames or round((duration or 0.0) * fps))
        ain = audio_stream(container, decodable=True)
        encoder = pick_video_encoder("h264")
        with atomic_path(dst) as tmp, av.open(str(tmp), "w", format="mp4", options=MP4_OPTIONS) as out:
            vout = _configure_video_stream(out, encoder, rate, out_w, out_h, crf)
            aout = _add_audio_stream(out, ain, name) if ain is not None else None
            streams = [vin] + ([ain] if aout is not None and ain is not None else [])
            guard = _FrameGuard(name, limits)
            done = 0
            last_pts = -1
            first_time: float | None = None
            try:
                for packet in container.demux(*streams):
                    stream = packet.stream
                    for frame in decode(stream, packet, name):
                        if stream.type == "audio":
                            if aout is None:
                                continue
                            frame.pts = None  # the encoder's resampler counts samples itself
                            out.mux(aout.encode(frame))
                            continue
                        guard.check(frame)
                        if should_stop is not None and should_stop():
                            raise Cancelled(f"{name}: video proxy cancelled")
                        if frame.time is not None and first_time is None:
                            first_time = frame.time
                        if frame.time is not None and first_time is not None:
                            pts = round((frame.time - first_time) * rate)
                        else:
                            pts = last_pts + 1
                        pts = max(pts, last_pts + 1)  # strictly increasing, even for odd sources
                        last_pts = pts
                        scaled = frame.reformat(
                            width=out_w, height=out_h, format="yuv420p", interpolation="BICUBIC"
                        )
                        scaled.pts, scaled.time_base = pts, Fraction(1) / rate
                        out.mux(vout.encode(scaled))
                        done += 1
                        if progress is not None:
                            progress(done, max(total, done), "encoding video proxy")
                out.mux(vout.encode(None))
                if aout is not None:
                    out.mux(aout.encode(None))
            except ReelforgeError:
                raise
            except AV_ERRORS as err:
                raise MediaError(f"{name}: cannot transcode video ({describe(err)})") from None
            if done == 0:
                raise MediaError(f"{name}: no video frame could be decoded")
    return probe(dst)


def _add_audio_stream(out: av.container.OutputContainer, ain: av.AudioStream, name: str) -> Any:
    rate = ain.codec_context.sample_rate
    if rate not in AAC_RATES:
        rate = 48000
    layout = "stereo" if channel_count(ain) >= 2 else "mono"
    try:
        return out.add_stream("aac", rate=rate, layout=layout)
    except AV_ERRORS as err:
        log.warning("%s: dropping audio from the proxy, AAC is not encodable here (%s)", name, describe(err))
        return None


class _NoAudioOut(Exception):
    """AAC cannot be encoded here: the output keeps no audio (see add_source_audio)."""


def add_source_audio(
    video: Path | str, source: Path | str, dst: Path | str | None = None, limits: MediaLimits = MediaLimits()
) -> bool:
    """Write ``dst`` (default: replace ``video``, atomically): the frames of ``video`` (an MP4 just
    made from ``source``: its packets copied as they are) with the first audio track of ``source``
    under them, as AAC, from the source's first video frame on (leading silence kept) and cut where
    ``video`` ends, so that a job's stylised or restored film keeps its sound in sync. Returns
    False, writing nothing, when the source has no decodable audio or AAC cannot be encoded here."""
    video, source = Path(video), Path(source)
    dst = video if dst is None else Path(dst)
    name = source.name
    container, vsrc, _ = _open_video(source, limits)
    with container:
        ain = audio_stream(container, decodable=True)
        if ain is None:
            return False
        start = float(vsrc.start_time * vsrc.time_base) if vsrc.start_time is not None else 0.0
        try:
            with av.open(str(video)) as made, atomic_path(dst) as tmp, \
                    av.open(str(tmp), "w", format="mp4", options=MP4_OPTIONS) as out:
                vin = made.streams.video[0]
                end = float(made.duration / av.time_base) if made.duration else float("inf")
                vout = out.add_stream_from_template(vin)
                aout = _add_audio_stream(out, ain, name)
                if aout is None:
                    raise _NoAudioOut
                for packet in made.demux(vin):
                    if packet.dts is not None:  # the demuxer's empty flush packet has none
                        packet.stream = vout
                        out.mux(packet)
                _mux_audio(container, ain, out, aout, start, end, name)
        except _NoAudioOut:
            return False
        except AV_ERRORS as err:
            raise MediaError(f"{name}: cannot add its audio to the new video ({describe(err)})") from None
    return True


def _mux_audio(container: InputContainer, ain: av.AudioStream, out: av.container.OutputContainer, aout: Any,
               start: float, end: float, name: str) -> None:
    """Encode ``ain``'s frames that fall in [start, start + end) into ``aout``, timed from ``start``."""
    rate = ain.codec_context.sample_rate or 48000
    base = Fraction(1, rate)
    written = 0  # samples given to the encoder: timestamps counted from 0, so that the encoder's
    # priming delay goes into the file's edit list instead of shifting the sound late

    def encode(frame: av.AudioFrame) -> None:
        nonlocal written
        frame.pts, frame.time_base = written, base
        written += frame.samples
        out.mux(aout.encode(frame))

    for packet in container.demux(ain):
        for frame in decode(ain, packet, name):
            t = (frame.time if frame.time is not None else 0.0) - start
            if t + frame.samples / rate <= 0:
                continue  # wholly before the first video frame
            if t >= end:
                out.mux(aout.encode(None))
                return
            if not written and t > 0.5 / rate:
                encode(_silence(frame, round(t * rate)))  # the sound starts after the picture
            encode(frame)
    out.mux(aout.encode(None))


def _silence(like: av.AudioFrame, samples: int) -> av.AudioFrame:
    frame = av.AudioFrame(format=like.format.name, layout=like.layout.name, samples=samples)
    frame.sample_rate = like.sample_rate
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    return frame


# --------------------------------------------------------------------------------------------- writers


def as_rgb_array(frame: np.ndarray | Image.Image) -> np.ndarray:
    """Coerce a frame to RGB uint8 (H, W, 3): floats are read as 0..1, gray is repeated, alpha dropped."""
    if isinstance(frame, Image.Image):
        return np.asarray(frame.convert("RGB"))
    arr = np.asarray(frame)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InvalidInput(f"a frame must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr.astype(np.float32)) * 255.0
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.float32) * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def _check_fps(fps: float) -> Fraction:
    if not 0 < fps <= 1000:
        raise InvalidInput(f"fps must be in (0, 1000], got {fps}")
    return Fraction(fps).limit_denominator(1001)


def write_video(
    frames: Iterable[np.ndarray | Image.Image],
    dst: Path | str,
    fps: float,
    codec: str = "h264",
    crf: int = 18,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> int:
    """Encode RGB frames to an MP4 (H.264 yuv420p, faststart) atomically; returns the frame count.

    All frames must share the first frame's size; odd sizes are padded by one edge pixel because
    4:2:0 chroma needs even dimensions.
    """
    rate = _check_fps(fps)
    encoder = pick_video_encoder(codec)
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise InvalidInput("no frames to write")
    shape = as_rgb_array(first).shape
    height, width = shape[0], shape[1]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    count = 0
    with atomic_path(dst) as tmp, av.open(str(tmp), "w", format="mp4", options=MP4_OPTIONS) as out:
        stream = _configure_video_stream(out, encoder, rate, width + width % 2, height + height % 2, crf)
        for item in itertools.chain([first], iterator):
            if should_stop is not None and should_stop():
                raise Cancelled("video writing cancelled")
            arr = as_rgb_array(item)
            if arr.shape != shape:
                raise InvalidInput(f"frame {count} is {arr.shape}, expected {shape} like the first frame")
            if width % 2 or height % 2:
                arr = np.pad(arr, pad, mode="edge")
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = count
            out.mux(stream.encode(frame))
            count += 1
            if progress is not None:
                progress(count, 0, "encoding video")
        out.mux(stream.encode(None))
    return count


def write_gif(frames: Iterable[np.ndarray | Image.Image], dst: Path | str, fps: float, loop: int = 0) -> int:
    """Write an animated, looping GIF (``loop=0`` loops forever) atomically; returns the frame count.

    GIF is for short previews: Pillow needs every frame at once to build the file.
    """
    _check_fps(fps)
    images = [Image.fromarray(as_rgb_array(f)) for f in frames]
    if not images:
        raise InvalidInput("no frames to write")
    if any(im.size != images[0].size for im in images):
        raise InvalidInput("all GIF frames must have the same size")
    duration = max(20, round(1000.0 / fps))
    with atomic_path(dst) as tmp:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=loop
        )
    return len(images)
