"""Every frame of a video decoded once, small: the stream the shot detectors read.

Shot detection needs every frame but not its pixels: 96x54 RGB carries the colour and layout a
cut changes, and TransNetV2 was trained on 48x27. Frames come out in chunks (a few hundred
frames, ~4 MB), so a four-hour file never sits in memory whole. Decoding is FFmpeg's threaded
decoder under the same limits as every other decode of user files (``media.limits``).

Time comes from each frame's pts, not from its index: a variable-frame-rate file (phones, screen
recordings) is reported as such and its shots get the times its frames really have.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from reelforge.errors import Cancelled, InvalidInput, MediaError, ReelforgeError
from reelforge.media._av import AV_ERRORS, describe
from reelforge.media.limits import MediaLimits
from reelforge.media.video import _decoded_frames, _display_size, _open_video
from reelforge.video.timecode import STANDARD_RATES, snap_rate

log = logging.getLogger(__name__)

ANALYSIS_SIZE = (96, 54)  # width, height the content detector reads
TRANSNET_SIZE = (48, 27)  # what TransNetV2 was trained on
ShouldStop = Callable[[], bool]


@dataclass(frozen=True)
class StreamInfo:
    """What the header says, before any frame is decoded."""

    name: str
    width: int
    height: int
    rate: Fraction  # the header's frame rate (r_frame_rate, else the average)
    time_base: Fraction
    frames_hint: int  # frames the header promises (for progress; 0 when unknown)
    duration: float | None
    start_timecode: str | None  # a camera's embedded timecode (tmcd / metadata), when present


@dataclass
class FrameChunk:
    """Consecutive decoded frames: ``start`` is the index of the first one in the file."""

    start: int
    rgb: np.ndarray  # (n, 54, 96, 3) uint8
    small: np.ndarray  # (n, 27, 48, 3) uint8
    pts: np.ndarray  # (n,) int64 in the stream's time base; -1 where the frame had none

    def __len__(self) -> int:
        return len(self.rgb)

    @property
    def stop(self) -> int:
        return self.start + len(self.rgb)


@dataclass
class FrameTimes:
    """When each decoded frame is shown, and the rate the file runs at."""

    seconds: np.ndarray  # (n,) float64, from the first frame's pts
    pts: np.ndarray  # (n,) int64
    rate: Fraction  # measured from the pts (snapped to a standard rate), else the header's
    vfr: bool  # frame durations vary: times come from pts, not index / rate
    time_base: Fraction
    frame_durations: dict[str, float] = field(default_factory=dict)  # min / median / max seconds

    @property
    def frames(self) -> int:
        return len(self.seconds)

    def time_of(self, index: int) -> float:
        """Seconds at which frame ``index`` starts; ``index == frames`` is the end of the last one."""
        if index < self.frames:
            return float(self.seconds[index])
        last = float(self.seconds[-1]) if self.frames else 0.0
        return last + self.frame_durations.get("median", 1.0 / float(self.rate)) * (index - self.frames + 1)


def _start_timecode(container: object, stream: object) -> str | None:
    for holder in (stream, container):
        value = getattr(holder, "metadata", {}).get("timecode")
        if value:
            return str(value)
    return None


def frame_times(pts: np.ndarray, time_base: Fraction, header_rate: Fraction) -> FrameTimes:
    """Seconds per frame from pts; the file's rate; whether it is variable.

    A file is variable-rate when frame durations differ by more than 5 % (or more than a tick and a
    half of its time base, which absorbs the rounding of 1/1000 time bases at 29.97 fps).
    """
    n = len(pts)
    tb = float(time_base)
    step = 1.0 / float(header_rate)
    if n < 2 or not (pts >= 0).all():
        # One frame, or frames without pts (raw streams): index / rate is all there is.
        return FrameTimes(np.arange(n, dtype=np.float64) * step, pts, header_rate, False, time_base,
                          {"min": step, "median": step, "max": step})
    seconds = (pts - pts[0]).astype(np.float64) * tb
    deltas = np.diff(seconds)
    median = float(np.median(deltas))
    if median <= 0:
        raise MediaError("frame time stamps do not increase")
    vfr = bool(np.any(np.abs(deltas - median) > max(0.05 * median, 1.5 * tb)))
    average = Fraction(n - 1) / Fraction(float(seconds[-1])).limit_denominator(10_000_000)
    if vfr:
        # The nominal rate a camera or phone names (r_frame_rate) when the header has a standard one;
        # timecodes of variable-rate frames are counted at it from each frame's time.
        header = snap_rate(header_rate, tolerance=0.001)
        plausible = header in STANDARD_RATES and 0.5 <= float(header / average) <= 2.5
        rate = header if plausible else snap_rate(average.limit_denominator(1001), tolerance=0.01)
    else:
        # The mean over the whole file is exact to a tick / (n - 1): coarse time bases (1/1000 at
        # 29.97 fps) make single frame durations jitter, never their sum.
        slack = max(0.0005, 2 * tb / float(seconds[-1]))
        if abs(float(header_rate) / float(average) - 1.0) <= slack:
            rate = snap_rate(header_rate)
        else:
            rate = snap_rate(average.limit_denominator(1001), tolerance=slack)
    durations = {"min": float(deltas.min()), "median": median, "max": float(deltas.max())}
    return FrameTimes(seconds, pts, rate, vfr, time_base, durations)


def _to_small(rgb: np.ndarray) -> np.ndarray:
    """96x54 -> 48x27 by 2x2 averaging (an area filter, like the resize TransNetV2 saw in training)."""
    n, h, w, c = rgb.shape
    blocks = rgb.reshape(n, h // 2, 2, w // 2, 2, c).astype(np.uint16)
    return ((blocks.sum(axis=(2, 4)) + 2) // 4).astype(np.uint8)


class LowResDecoder:
    """Decode a video once into small RGB frames, chunk by chunk (a context manager).

    ``info`` is read from the header on entry (a file with no video stream fails there);
    :meth:`chunks` yields :class:`FrameChunk` s; :meth:`times` is valid once they are exhausted.
    ``should_stop()`` is polled per frame (raises Cancelled).
    """

    def __init__(
        self,
        path: Path | str,
        limits: MediaLimits = MediaLimits(),
        chunk_frames: int = 256,
        should_stop: ShouldStop | None = None,
    ) -> None:
        if chunk_frames < 1:
            raise InvalidInput(f"chunk_frames must be positive, got {chunk_frames}")
        self.path = Path(path)
        self.limits = limits
        self.chunk_frames = int(chunk_frames)
        self.should_stop = should_stop
        self._pts: list[np.ndarray] = []
        self._done = False
        self._container, self._stream, duration = _open_video(self.path, limits)
        try:
            stream = self._stream
            rate = stream.guessed_rate or stream.average_rate or stream.base_rate
            header_rate = snap_rate(Fraction(rate)) if rate and 0 < float(rate) < 10_000 else Fraction(25)
            time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
            hint = int(stream.frames or 0) or (round(duration * float(header_rate)) if duration else 0)
            self.info = StreamInfo(
                name=self.path.name, width=stream.codec_context.width, height=stream.codec_context.height,
                rate=header_rate, time_base=time_base, frames_hint=hint, duration=duration,
                start_timecode=_start_timecode(self._container, stream),
            )
        except BaseException:
            self._container.close()
            raise

    def __enter__(self) -> LowResDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def chunks(self) -> Iterator[FrameChunk]:
        width, height = ANALYSIS_SIZE
        name = self.path.name
        rgb = np.empty((self.chunk_frames, height, width, 3), np.uint8)
        pts = np.full(self.chunk_frames, -1, np.int64)
        fill = start = 0
        # One scaler for the whole file: a frame's own to_ndarray() builds a new one every frame.
        scaler = VideoReformatter()
        try:
            for frame in _decoded_frames(self._container, self._stream, name, self.limits):
                if self.should_stop is not None and self.should_stop():
                    raise Cancelled(f"{name}: decoding cancelled")
                rgb[fill] = scaler.reformat(frame, width, height, "rgb24", interpolation="AREA").to_ndarray()
                pts[fill] = frame.pts if frame.pts is not None else -1
                fill += 1
                if fill == self.chunk_frames:
                    yield self._emit(start, rgb[:fill].copy(), pts[:fill].copy())
                    start += fill
                    fill = 0
        except ReelforgeError:
            raise
        except AV_ERRORS as err:
            raise MediaError(f"{name}: corrupt or truncated video ({describe(err)})") from None
        if fill:
            yield self._emit(start, rgb[:fill].copy(), pts[:fill].copy())
            start += fill
        if start == 0:
            raise MediaError(f"{name}: no video frame could be decoded")
        self._done = True

    def _emit(self, start: int, rgb: np.ndarray, pts: np.ndarray) -> FrameChunk:
        self._pts.append(pts)
        return FrameChunk(start, rgb, _to_small(rgb), pts)

    def times(self) -> FrameTimes:
        if not self._done:
            raise RuntimeError("frame times are known once every chunk has been read")
        pts = np.concatenate(self._pts)
        if (pts >= 0).all() and np.any(np.diff(pts) <= 0):
            # Decoders emit frames in presentation order: repeated or falling stamps are broken ones.
            log.warning("%s: frame time stamps repeat or go back; timing frames by their order", self.path.name)
            pts = np.full(len(pts), -1, np.int64)
        return frame_times(pts, self.info.time_base, self.info.rate)


def read_frames_at(
    path: Path | str,
    wanted_pts: Sequence[int],
    height: int = 180,
    limits: MediaLimits = MediaLimits(),
    should_stop: ShouldStop | None = None,
) -> dict[int, Image.Image]:
    """Frames with exactly these pts, as shown on screen (aspect kept), ``height`` px high.

    One forward decode, seeking ahead only across gaps longer than a few seconds, so the work is at
    most one more pass over the file plus a GOP per seek.
    """
    if height < 8:
        raise InvalidInput(f"frame height must be at least 8, got {height}")
    path = Path(path)
    targets = sorted(set(int(p) for p in wanted_pts))
    found: dict[int, Image.Image] = {}
    if not targets:
        return found
    container, stream, _ = _open_video(path, limits)
    with container:
        disp_w, disp_h = _display_size(stream)
        out_h = min(height, disp_h) // 2 * 2 or 2
        out_w = max(2, round(disp_w * out_h / disp_h))
        tb = float(stream.time_base) if stream.time_base else 1 / 90000
        gap = int(5.0 / tb)  # seek when the next wanted frame is this far ahead
        i = 0
        while i < len(targets):
            target = targets[i]
            try:
                container.seek(target, stream=stream, backward=True, any_frame=False)
            except AV_ERRORS:
                container.seek(0)
            stream.codec_context.flush_buffers()
            for frame in _decoded_frames(container, stream, path.name, limits):
                if should_stop is not None and should_stop():
                    raise Cancelled(f"{path.name}: frame extraction cancelled")
                if frame.pts is None:
                    continue
                while i < len(targets) and targets[i] < frame.pts:
                    i += 1  # a pts that no frame has (should not happen: they came from a decode)
                if i < len(targets) and frame.pts == targets[i]:
                    found[targets[i]] = frame.to_image(width=out_w, height=out_h, interpolation="AREA")
                    i += 1
                if i >= len(targets) or targets[i] - frame.pts > gap:
                    break
            else:
                break  # end of file
    return found
