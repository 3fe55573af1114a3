"""Shared PyAV plumbing: opening untrusted containers, header limit checks, error translation."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer

from reelforge.errors import LimitExceeded, MediaError
from reelforge.media.limits import MediaLimits, check_pixel_rate

# What PyAV/FFmpeg raise on hostile input (InvalidDataError is both FFmpegError and ValueError).
AV_ERRORS: tuple[type[BaseException], ...] = (av.FFmpegError, OSError, ValueError, EOFError, RuntimeError)


def decode(stream: av.stream.Stream, packet: av.Packet | None, name: str) -> list:
    """Decode one packet (None flushes); decoder errors and frames flagged corrupt become MediaError."""
    try:
        frames = stream.codec_context.decode(packet)
    except AV_ERRORS as err:
        raise MediaError(f"{name}: corrupt {stream.type} stream ({describe(err)})") from None
    for frame in frames:
        if packet is None and stream.time_base:
            frame.time_base = stream.time_base  # flushed frames carry no time base of their own
        if getattr(frame, "is_corrupt", False):
            raise MediaError(f"{name}: corrupt {stream.type} frame at {frame.time or 0:.2f} s")
    return frames


def describe(err: BaseException) -> str:
    """A short reason without the file path FFmpeg likes to append."""
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return " ".join(str(text).split())


def open_input(path: Path) -> InputContainer:
    try:
        return av.open(str(path), "r", metadata_errors="ignore")
    except AV_ERRORS as err:
        raise MediaError(f"{path.name}: cannot open media ({describe(err)})") from None


def video_stream(container: InputContainer) -> av.VideoStream | None:
    """The first real video stream (cover art in audio files is an attached picture, not video)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def audio_stream(container: InputContainer, decodable: bool = False) -> av.AudioStream | None:
    """The first audio stream (with ``decodable``, the first one FFmpeg has a decoder for)."""
    for stream in container.streams.audio:
        if not decodable or stream.codec_context is not None:
            return stream
    return None


def header_duration(stream: av.stream.Stream, container: InputContainer) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def frame_rate(stream: av.VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(Fraction(rate))
            if 0 < value < 10_000:
                return value
    return None


def channel_count(stream: av.AudioStream) -> int:
    ctx = stream.codec_context
    return int(getattr(ctx, "channels", 0) or ctx.layout.nb_channels)


def check_video_header(
    stream: av.VideoStream, container: InputContainer, name: str, limits: MediaLimits
) -> tuple[int, int, float | None]:
    """Dimensions, declared duration and pixel rate within limits, before anything is decoded."""
    if stream.codec_context is None:
        raise MediaError(f"{name}: unsupported video codec")
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise MediaError(f"{name}: video stream has no frame size")
    if width > limits.max_video_width or height > limits.max_video_height:
        raise LimitExceeded(
            f"{name}: video is {width}x{height}, over the limit of "
            f"{limits.max_video_width}x{limits.max_video_height}"
        )
    duration = header_duration(stream, container)
    if duration is not None and duration > limits.max_video_seconds:
        raise LimitExceeded(
            f"{name}: video lasts {duration:.0f} s, over the limit of {limits.max_video_seconds:.0f} s"
        )
    check_pixel_rate(name, width, height, frame_rate(stream), limits)
    return width, height, duration


def limit_frame_threads(stream: av.VideoStream, width: int, height: int) -> None:
    """Frame threading keeps one frame in flight per thread: cap the threads for very large frames.

    An 8192² stream on 16 cores would otherwise hold ~17 frames of 100 MB each.
    """
    frame_bytes = width * height * 3 // 2  # yuv420p; other formats are within 2x of it
    if frame_bytes > 16 << 20:
        stream.codec_context.thread_count = max(1, min(os.cpu_count() or 1, (256 << 20) // frame_bytes))


def check_audio_header(
    stream: av.AudioStream, container: InputContainer, name: str, limits: MediaLimits
) -> tuple[int, int, float | None]:
    if stream.codec_context is None:
        raise MediaError(f"{name}: unsupported audio codec")
    rate = stream.codec_context.sample_rate
    channels = channel_count(stream)
    if rate <= 0 or channels <= 0:
        raise MediaError(f"{name}: audio stream has no sample rate or channels")
    duration = header_duration(stream, container)
    if duration is not None and duration > limits.max_audio_seconds:
        raise LimitExceeded(
            f"{name}: audio lasts {duration:.0f} s, over the limit of {limits.max_audio_seconds:.0f} s"
        )
    return rate, channels, duration
