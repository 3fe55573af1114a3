"""Flow-based frame interpolation: in-between frames, frame-rate conversion and slow motion.

One in-between frame at time ``t`` in (0, 1) between frames ``a`` (t = 0) and ``b`` (t = 1):

1. bidirectional DIS flows ``f01 = flow(a, b)`` and ``f10 = flow(b, a)`` (``reelforge.video.flow``);
2. the flows *from the time-t grid* back to each frame, ``ft0`` and ``ft1``: Super-SloMo's linear
   approximation (Jiang et al. 2018) refined by a few fixed-point steps that re-read each flow where the
   pixel really came from (``ft0 = -t * f01(x + ft0)``), which keeps moving objects sharp at their edges
   instead of smearing the background's motion into them;
3. backward warping of ``a`` and ``b`` to time t (no holes);
4. occlusion from forward-backward consistency: a time-t pixel whose source in ``b`` is a pixel that ``a``
   does not see (a region a moving object uncovers) is taken from ``b`` only, and the other way round;
5. blending weighted by ``1 - t`` / ``t`` and that visibility; an optional refinement network
   (``video.refine``) adds a learned residual.

Across a scene cut nothing is interpolated: the nearest frame is repeated (:func:`is_cut`).

Retiming (:func:`retime`) streams a video through this in windows of frames, so memory does not grow
with the length of the file; the per-pair work goes through a ``mapper`` (``map`` by default, a job's
process pool in a task) as chunks handled by the picklable :func:`interpolate_chunk`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from reelforge.errors import Cancelled, InvalidInput, LimitExceeded, MediaError, ReelforgeError
from reelforge.media.limits import MediaLimits
from reelforge.video.flow import Preset, flow, occlusion, warp

Progress = Callable[[int, int, str], None]
ShouldStop = Callable[[], bool]
Mapper = Callable[[Callable[[Any], Any], list[Any]], list[Any]]
Mode = Literal["fps", "slowmo"]

EPS_T = 1e-3  # a time this close to a frame is that frame


class Refiner(Protocol):
    """Anything that turns an :class:`Interpolated` into a better frame (``video.refine.Refiner``)."""

    def __call__(self, detail: Interpolated) -> np.ndarray: ...


@dataclass(frozen=True)
class InterpSettings:
    """How in-between frames are made and when two frames are a cut (no interpolation)."""

    preset: Preset = "medium"  # DIS preset
    iterations: int = 2  # fixed-point steps that refine the time-t flows
    soften: int = 5  # blur (px, odd) of the visibility masks so seams do not show; 0: hard masks
    cut_histogram: float = 0.45  # colour histogram distance (0..1) that is a cut on its own
    cut_mismatch: float = 0.55  # share of pixels failing the flow round trip that is a cut...
    cut_residual: float = 0.06  # ...when the flow-compensated difference (0..1) is also this high

    def __post_init__(self) -> None:
        if self.preset not in ("ultrafast", "fast", "medium"):
            raise InvalidInput(f"unknown flow preset {self.preset!r}: use ultrafast, fast or medium")
        if not 0 <= self.iterations <= 10 or self.soften < 0 or self.soften > 31:
            raise InvalidInput("iterations must be in [0, 10] and soften in [0, 31]")

    def to_dict(self) -> dict[str, Any]:
        return {"preset": self.preset, "iterations": self.iterations, "soften": self.soften,
                "cut_histogram": self.cut_histogram, "cut_mismatch": self.cut_mismatch,
                "cut_residual": self.cut_residual}


@dataclass
class PairFlows:
    """The two flows of a frame pair and their occlusion masks (each on its own frame's grid)."""

    f01: np.ndarray
    f10: np.ndarray
    occ0: np.ndarray  # bool: pixels of a that b does not see (about to be covered)
    occ1: np.ndarray  # bool: pixels of b that a does not see (uncovered)

    @property
    def mismatch(self) -> float:
        """Share of pixels, both ways, whose round trip fails (near 1 across a cut)."""
        return float((self.occ0.mean() + self.occ1.mean()) / 2)


@dataclass
class Interpolated:
    """One in-between frame and what made it: what the refinement network reads and the tests check."""

    t: float
    frame: np.ndarray  # uint8 (H, W, 3): the result (refined when a refiner was given)
    blend: np.ndarray  # float32 0..255: the occlusion-aware blend before refinement
    warped0: np.ndarray  # float32 0..255: a warped to time t
    warped1: np.ndarray  # float32 0..255: b warped to time t
    vis0: np.ndarray  # float32 0..1: how much the time-t pixel is seen in a
    vis1: np.ndarray  # float32 0..1: ... and in b


def _cv2() -> Any:
    import cv2

    return cv2


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise InvalidInput(f"frames must be two (H, W, 3) arrays of one size, got {a.shape} and {b.shape}")


def pair_flows(a: np.ndarray, b: np.ndarray, preset: Preset = "medium") -> PairFlows:
    """Flows both ways and forward-backward occlusion masks."""
    _check_pair(a, b)
    f01 = flow(a, b, preset=preset)
    f10 = flow(b, a, preset=preset)
    return PairFlows(f01, f10, occlusion(f01, f10), occlusion(f10, f01))


def intermediate_flows(f01: np.ndarray, f10: np.ndarray, t: float, iterations: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Flows from the time-t grid to frame a (``ft0``) and to frame b (``ft1``), for backward warping.

    Start from Super-SloMo's approximation (exact where the flow is smooth), then re-read the flow of the
    pixel each time-t pixel comes from: under linear motion ``ft0(x) = -t f01(x + ft0(x))`` and
    ``ft1(x) = -(1 - t) f10(x + ft1(x))``.
    """
    ft0 = (-(1 - t) * t) * f01 + (t * t) * f10
    ft1 = ((1 - t) ** 2) * f01 - (t * (1 - t)) * f10
    for _ in range(iterations):
        ft0 = -t * warp(f01, ft0)
        ft1 = -(1 - t) * warp(f10, ft1)
    return ft0.astype(np.float32), ft1.astype(np.float32)


def _soft(mask: np.ndarray, size: int) -> np.ndarray:
    m = mask.astype(np.float32)
    if size <= 1:
        return m
    k = size | 1
    return _cv2().GaussianBlur(m, (k, k), 0)


def interpolate_detail(
    a: np.ndarray,
    b: np.ndarray,
    t: float = 0.5,
    *,
    settings: InterpSettings = InterpSettings(),
    flows: PairFlows | None = None,
    refiner: Refiner | None = None,
) -> Interpolated:
    """The frame at time ``t`` between ``a`` and ``b`` (uint8 RGB), with its warps and visibility."""
    _check_pair(a, b)
    if not 0.0 < t < 1.0:
        raise InvalidInput(f"t must be strictly between 0 and 1, got {t}")
    fl = flows or pair_flows(a, b, settings.preset)
    ft0, ft1 = intermediate_flows(fl.f01, fl.f10, t, settings.iterations)
    g0 = warp(a.astype(np.float32), ft0)
    g1 = warp(b.astype(np.float32), ft1)
    # A time-t pixel is hidden in a when its source in b is a pixel a does not see, and vice versa.
    vis0 = 1.0 - warp(_soft(fl.occ1, settings.soften), ft1)
    vis1 = 1.0 - warp(_soft(fl.occ0, settings.soften), ft0)
    w0 = (1.0 - t) * vis0
    w1 = t * vis1
    total = w0 + w1
    # Hidden in both (or unsure everywhere): fall back to the plain time weights.
    low = total < 1e-3
    w0 = np.where(low, 1.0 - t, w0)
    w1 = np.where(low, t, w1)
    total = np.where(low, 1.0, total)
    blend = (g0 * w0[..., None] + g1 * w1[..., None]) / total[..., None]
    detail = Interpolated(t, np.clip(np.rint(blend), 0, 255).astype(np.uint8), blend.astype(np.float32),
                          g0, g1, vis0.astype(np.float32), vis1.astype(np.float32))
    if refiner is not None:
        detail.frame = np.clip(np.rint(refiner(detail)), 0, 255).astype(np.uint8)
    return detail


def interpolate(
    a: np.ndarray,
    b: np.ndarray,
    t: float = 0.5,
    *,
    settings: InterpSettings = InterpSettings(),
    refiner: Refiner | None = None,
) -> np.ndarray:
    """The frame at time ``t`` between ``a`` and ``b`` (uint8 RGB)."""
    return interpolate_detail(a, b, t, settings=settings, refiner=refiner).frame


# ------------------------------------------------------------------------------------------ scene cuts


def _small(frame: np.ndarray) -> np.ndarray:
    return _cv2().resize(frame, (96, 54), interpolation=_cv2().INTER_AREA)


def histogram_distance(a: np.ndarray, b: np.ndarray, bins: int = 16) -> float:
    """Half the L1 distance of per-channel colour histograms, averaged (0 same colours, 1 disjoint)."""
    sa, sb = _small(a), _small(b)
    total = 0.0
    for c in range(3):
        ha = np.bincount(sa[..., c].ravel().astype(np.int64) * bins // 256, minlength=bins) / sa[..., c].size
        hb = np.bincount(sb[..., c].ravel().astype(np.int64) * bins // 256, minlength=bins) / sb[..., c].size
        total += 0.5 * float(np.abs(ha - hb).sum())
    return total / 3


def is_cut(a: np.ndarray, b: np.ndarray, flows: PairFlows | None = None,
           settings: InterpSettings = InterpSettings()) -> bool:
    """True when ``a`` and ``b`` belong to different shots: interpolating between them would make a
    ghostly mix of two pictures.

    A cut is a pair that motion does not explain: most pixels fail the flow round trip, *and* either what
    the flow does match still differs or the colours changed wholesale. Fades, flashes and fast pans
    keep a consistent flow (or, for a black hold, nothing to differ) and are not cuts; a cut to another
    angle of the same place keeps its colours but not its geometry, and is one.
    """
    fl = flows or pair_flows(a, b, settings.preset)
    if fl.mismatch < settings.cut_mismatch:
        return False
    if histogram_distance(a, b) >= settings.cut_histogram:
        return True
    pulled = warp(b, fl.f01).astype(np.float32)
    residual = float(np.abs(a.astype(np.float32) - pulled).mean() / 255.0)
    return residual >= settings.cut_residual


# ------------------------------------------------------------------------------------- chunked work


@dataclass
class PairJob:
    """In-between frames wanted between two consecutive frames (``times`` in (0, 1))."""

    a: np.ndarray
    b: np.ndarray
    times: list[float]


@dataclass
class ChunkItem:
    """A picklable unit of work for :func:`interpolate_chunk` (one process of a pool)."""

    pairs: list[PairJob]
    settings: InterpSettings
    refiner_dir: str | None = None
    device: str = "cpu"


@dataclass
class PairResult:
    frames: list[np.ndarray]
    cut: bool


@functools.lru_cache(maxsize=2)
def _load_refiner(path: str, device: str) -> Refiner:
    from reelforge.video.refine import Refiner as TrainedRefiner

    return TrainedRefiner.load(path, device=device)


def interpolate_pair(job: PairJob, settings: InterpSettings, refiner: Refiner | None = None) -> PairResult:
    """The frames of one pair at its times; across a cut each time repeats the nearer frame."""
    if not job.times:
        return PairResult([], False)
    fl = pair_flows(job.a, job.b, settings.preset)
    if is_cut(job.a, job.b, fl, settings):
        return PairResult([(job.a if t < 0.5 else job.b).copy() for t in job.times], True)
    return PairResult([interpolate_detail(job.a, job.b, t, settings=settings, flows=fl, refiner=refiner).frame
                       for t in job.times], False)


def interpolate_chunk(item: ChunkItem) -> list[PairResult]:
    """Top-level and picklable: what a process pool runs on each chunk of frame pairs."""
    refiner = _load_refiner(item.refiner_dir, item.device) if item.refiner_dir else None
    return [interpolate_pair(p, item.settings, refiner) for p in item.pairs]


# --------------------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class VideoHeader:
    name: str
    width: int
    height: int
    rate: Fraction  # the header's frame rate
    frames_hint: int  # 0 when unknown


class TimedFrames:
    """Full-resolution RGB frames with their times (seconds from the first frame), limit-checked.

    A context manager; :attr:`header` is read on entry (a file without a video stream fails there).
    Times come from each frame's pts; a stream without usable ones is timed by index / rate.
    """

    def __init__(self, path: Path | str, limits: MediaLimits = MediaLimits(),
                 should_stop: ShouldStop | None = None) -> None:
        from reelforge.media.video import _open_video

        self.path = Path(path)
        self.limits = limits
        self.should_stop = should_stop
        self._container, self._stream, duration = _open_video(self.path, limits)
        stream = self._stream
        raw = stream.guessed_rate or stream.average_rate or stream.base_rate
        rate = Fraction(raw).limit_denominator(1001) if raw and 0 < float(raw) < 10_000 else Fraction(25)
        hint = int(stream.frames or 0) or (round(duration * float(rate)) if duration else 0)
        self.header = VideoHeader(self.path.name, stream.codec_context.width, stream.codec_context.height,
                                  rate, hint)

    def __enter__(self) -> TimedFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        from reelforge.media._av import AV_ERRORS, describe
        from reelforge.media.video import _decoded_frames

        step = 1.0 / float(self.header.rate)
        first: float | None = None
        last = -math.inf
        by_index = False
        try:
            for i, frame in enumerate(_decoded_frames(self._container, self._stream, self.path.name, self.limits)):
                if self.should_stop is not None and self.should_stop():
                    raise Cancelled(f"{self.path.name}: decoding cancelled")
                when = frame.time
                if when is None or by_index:
                    by_index = True
                    seconds = i * step
                else:
                    if first is None:
                        first = float(when)
                    seconds = float(when) - first
                    if seconds <= last:  # broken stamps: fall back to the frame order from here on
                        by_index = True
                        seconds = last + step
                last = seconds
                yield frame.to_ndarray(format="rgb24"), seconds
        except ReelforgeError:
            raise
        except AV_ERRORS as err:
            raise MediaError(f"{self.path.name}: corrupt or truncated video ({describe(err)})") from None


def read_video(path: Path | str, limits: MediaLimits = MediaLimits(), max_frames: int | None = None,
               should_stop: ShouldStop | None = None) -> tuple[list[np.ndarray], list[float], Fraction]:
    """Frames, times and header rate of a (short) video, all in memory: for training and tests."""
    frames: list[np.ndarray] = []
    times: list[float] = []
    with TimedFrames(path, limits, should_stop) as reader:
        for frame, when in reader:
            frames.append(frame)
            times.append(when)
            if max_frames is not None and len(frames) >= max_frames:
                break
        rate = reader.header.rate
    return frames, times, rate


# ------------------------------------------------------------------------------------------ retiming


@dataclass(frozen=True)
class OutputFrame:
    """Where output frame ``j`` comes from: frame ``index`` and the next, at time ``t`` (0: the frame)."""

    index: int
    t: float


def plan_fps(times: Sequence[float], fps: float) -> list[OutputFrame]:
    """Output frames at a constant ``fps`` over the same duration as input frames shown at ``times``.

    Output frame j is shown at j / fps; it is input frame k when it falls on k's time, else the frame at
    the matching fraction between k and k + 1. The last input frame lasts the median frame duration, so
    24 -> 30 fps turns 48 frames (2 s) into 60 and 25 -> 50 fps doubles the count.
    """
    n = len(times)
    if n < 2:
        raise InvalidInput(f"a video needs at least 2 frames to interpolate, it has {n}")
    if not 0 < fps <= 1000:
        raise InvalidInput(f"target fps must be in (0, 1000], got {fps}")
    ts = np.asarray(times, np.float64)
    ts = ts - ts[0]
    durations = np.diff(ts)
    if (durations <= 0).any():
        raise InvalidInput("frame times must increase")
    end = float(ts[-1] + np.median(durations))
    count = max(1, round(end * fps))
    out: list[OutputFrame] = []
    k = 0
    for j in range(count):
        when = j / fps
        while k + 1 < n and ts[k + 1] <= when + 1e-9:
            k += 1
        if k + 1 >= n:
            out.append(OutputFrame(n - 1, 0.0))  # past the last frame's start: hold it
            continue
        t = (when - ts[k]) / (ts[k + 1] - ts[k])
        if t < EPS_T:
            out.append(OutputFrame(k, 0.0))
        elif t > 1 - EPS_T:
            out.append(OutputFrame(k + 1, 0.0))
        else:
            out.append(OutputFrame(k, float(t)))
    return out


def plan_slowmo(frames: int, factor: int) -> list[OutputFrame]:
    """``factor - 1`` new frames between each pair: ``(frames - 1) * factor + 1`` frames in all."""
    if frames < 2:
        raise InvalidInput(f"a video needs at least 2 frames to interpolate, it has {frames}")
    if not 2 <= factor <= 64:
        raise InvalidInput(f"slow motion factor must be in [2, 64], got {factor}")
    out = [OutputFrame(k, m / factor) for k in range(frames - 1) for m in range(factor)]
    return [*out, OutputFrame(frames - 1, 0.0)]


def _times_for_pair(plan: Sequence[OutputFrame]) -> dict[int, list[float]]:
    wanted: dict[int, list[float]] = {}
    for o in plan:
        if o.t > 0:
            wanted.setdefault(o.index, []).append(o.t)
    return wanted


@dataclass
class RetimeResult:
    frames_in: int
    frames_out: int
    fps_in: float
    fps_out: Fraction
    interpolated: int  # new frames made by interpolation
    duplicated: int  # new frames that repeat a frame because they fall across a cut
    cuts: list[int] = field(default_factory=list)  # input frames that start a new shot
    width: int = 0
    height: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"frames_in": self.frames_in, "frames_out": self.frames_out, "fps_in": round(self.fps_in, 6),
                "fps_out": round(float(self.fps_out), 6), "fps_out_rational": [self.fps_out.numerator,
                                                                             self.fps_out.denominator],
                "interpolated": self.interpolated, "duplicated": self.duplicated, "cuts": self.cuts,
                "width": self.width, "height": self.height}


def _scan_times(path: Path, limits: MediaLimits, should_stop: ShouldStop | None) -> tuple[list[float], VideoHeader]:
    """Every frame's time, by a first decode pass that keeps no pixels (the plan needs them all)."""
    times: list[float] = []
    with TimedFrames(path, limits, should_stop) as reader:
        for _, when in reader:
            times.append(when)
        return times, reader.header


def retime(
    src: Path | str,
    dst: Path | str,
    *,
    mode: Mode = "fps",
    fps: float | None = None,
    factor: int = 2,
    settings: InterpSettings = InterpSettings(),
    refiner_dir: str | Path | None = None,
    device: str = "cpu",
    limits: MediaLimits = MediaLimits(),
    mapper: Mapper | None = None,
    chunk_pairs: int = 8,
    window_pairs: int = 64,
    crf: int = 18,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> RetimeResult:
    """Write ``src`` retimed to ``dst`` (H.264 MP4): at ``fps`` (mode "fps"), or ``factor`` times slower
    at its own rate (mode "slowmo"). Frames between two shots repeat the nearer frame. Audio is dropped.

    Two decode passes: the first reads only the times (the plan needs the whole timeline), the second
    streams pixels in windows of ``window_pairs`` pairs, split into chunks of ``chunk_pairs`` for
    ``mapper(interpolate_chunk, chunks)``.
    """
    from reelforge.media.video import write_video

    src, dst = Path(src), Path(dst)
    times, header = _scan_times(src, limits, should_stop)
    if mode == "fps":
        if fps is None:
            raise InvalidInput("fps mode needs a target fps")
        plan = plan_fps(times, fps)
        rate_out = Fraction(fps).limit_denominator(1001)
    elif mode == "slowmo":
        plan = plan_slowmo(len(times), factor)
        rate_out = header.rate
    else:
        raise InvalidInput(f"unknown mode {mode!r}: use fps or slowmo")
    seconds_out = len(plan) / float(rate_out)
    if seconds_out > limits.max_video_seconds:
        raise LimitExceeded(f"{src.name}: the result would run {seconds_out:.0f} s, over the limit of "
                            f"{limits.max_video_seconds:.0f} s")
    if header.width * header.height * float(rate_out) > limits.max_pixels_per_second:
        raise LimitExceeded(f"{src.name}: {header.width}x{header.height} at {float(rate_out):g} fps is over the "
                            f"max_pixels_per_second limit of {limits.max_pixels_per_second:,}")
    run = mapper or (lambda fn, items: [fn(i) for i in items])
    wanted = _times_for_pair(plan)
    refiner = str(refiner_dir) if refiner_dir is not None else None
    result = RetimeResult(len(times), len(plan), float(header.rate), rate_out, 0, 0, width=header.width,
                          height=header.height)

    def frames() -> Iterator[np.ndarray]:
        made: dict[tuple[int, float], np.ndarray] = {}
        by_index: dict[int, np.ndarray] = {}
        cursor = 0  # next output frame to emit
        pending: list[tuple[int, PairJob]] = []

        def flush() -> Iterator[np.ndarray]:
            nonlocal cursor
            if pending:
                chunks = [ChunkItem([j for _, j in pending[i:i + chunk_pairs]], settings, refiner, device)
                          for i in range(0, len(pending), chunk_pairs)]
                outs = [r for chunk in run(interpolate_chunk, chunks) for r in chunk]
                for (k, job), res in zip(pending, outs, strict=True):
                    for t, f in zip(job.times, res.frames, strict=True):
                        made[(k, t)] = f
                    if res.cut:
                        result.cuts.append(k + 1)
                        result.duplicated += len(job.times)
                    else:
                        result.interpolated += len(job.times)
                pending.clear()
            # Emit every output frame whose sources are ready.
            while cursor < len(plan):
                o = plan[cursor]
                if o.t == 0:
                    if o.index not in by_index:
                        break
                    yield by_index[o.index]
                else:
                    key = (o.index, o.t)
                    if key not in made:
                        break
                    yield made.pop(key)
                cursor += 1
                if progress is not None:
                    progress(cursor, len(plan), "interpolating frames")
            low = plan[cursor].index if cursor < len(plan) else len(times)
            for k in [k for k in by_index if k < low]:
                del by_index[k]

        previous: np.ndarray | None = None
        count = 0
        with TimedFrames(src, limits, should_stop) as reader:
            for k, (frame, _) in enumerate(reader):
                if k >= len(times):
                    break
                by_index[k] = frame
                if previous is not None and (k - 1) in wanted:
                    pending.append((k - 1, PairJob(previous, frame, wanted[k - 1])))
                previous = frame
                count = k + 1
                # Flush on a full window; also when no pair needs work (a rate that lands on input
                # frames), so held frames never pile up.
                if len(pending) >= window_pairs or len(by_index) > 2 * window_pairs + 2:
                    yield from flush()
            if count < len(times):
                raise MediaError(f"{src.name}: the second decode gave {count} frames, the first {len(times)}")
        yield from flush()
        if cursor != len(plan):
            raise MediaError(f"{src.name}: only {cursor} of {len(plan)} frames could be made")

    written = write_video(frames(), dst, fps=float(rate_out), crf=crf, should_stop=should_stop)
    result.frames_out = written
    result.cuts.sort()
    return result
