"""Silence and dead-air detection, and the cuts they suggest (trim heads and tails, tighten pauses).

Levels are RMS in short windows (30 ms every 10 ms by default) of the mono mix, in dBFS. A window is
quiet below a threshold set from the programme itself: ``relative_db`` below the programme level,
but never under the absolute ``floor_db`` (anything under the floor is silence, whatever the
programme), and raised to ``noise_margin_db`` over the room tone when the room tone is louder than
that (a noisy location: the noise floor is the 5th percentile of the window levels; the raise stops
15 dB under the programme, so continuous speech does not lift the bar into its own soft sounds).
The programme level is the power mean of the windows above the floor, gated like BS.1770 (windows
more than 20 dB under the first mean are left out), so long pauses do not drag it down.

Hysteresis in level: a silence starts when a window falls below the threshold and ends only when a
window rises ``hysteresis_db`` above it, so a noise floor hovering at the threshold does not chatter.
Hysteresis in time: sound shorter than ``min_sound`` inside a silence (a click, a breath) does not
split it, and silences shorter than ``min_silence`` are not reported. A silence of ``dead_air`` seconds
or more is dead air.

Region boundaries: a silence starts at the first sample of its first quiet window and ends at the last
sample of its last quiet window, so boundaries are within one hop (10 ms) of the level crossing.

Suggestions are edits a timeline can apply as they are: ranges of source time to remove (frame
aligned when a frame rate is given, only whole frames inside the silence), and the complementary
ranges to keep.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from reelforge.errors import InvalidInput


@dataclass(frozen=True)
class SilenceParams:
    window: float = 0.03  # seconds of each RMS window
    hop: float = 0.01  # seconds between windows
    relative_db: float = 35.0  # a window is quiet this far below the programme level...
    floor_db: float = -70.0  # ...or below this absolute level (dBFS RMS), whichever is higher
    noise_margin_db: float = 6.0  # the threshold is at least this far over the room tone...
    hysteresis_db: float = 6.0  # leaving a silence needs this much above the threshold
    min_silence: float = 0.3  # seconds: shorter pauses are not silences
    min_sound: float = 0.05  # seconds: shorter sounds inside a silence do not split it
    dead_air: float = 2.0  # seconds: a silence this long is dead air

    def __post_init__(self) -> None:
        if not 0.001 <= self.hop <= self.window <= 1.0:
            raise InvalidInput("silence windows: need 0.001 <= hop <= window <= 1 s")
        if not 0 < self.relative_db <= 120 or not -150 <= self.floor_db < 0 or not 0 <= self.hysteresis_db <= 40 \
                or not 0 <= self.noise_margin_db <= 40:
            raise InvalidInput("silence levels: relative_db in (0, 120], floor_db in [-150, 0), hysteresis and "
                               "noise margin in [0, 40]")
        if self.min_silence < self.hop or self.min_sound < 0 or self.dead_air < self.min_silence:
            raise InvalidInput("silence durations: need hop <= min_silence <= dead_air and min_sound >= 0")


@dataclass(frozen=True)
class CutParams:
    head_pad: float = 0.25  # seconds of silence left before the first sound
    tail_pad: float = 0.5  # seconds left after the last sound
    max_pause: float = 1.0  # inner pauses longer than this are tightened...
    keep_pause: float = 0.6  # ...to this length (half kept on each side)
    fps: float | None = None  # snap removals to whole frames of this rate

    def __post_init__(self) -> None:
        if min(self.head_pad, self.tail_pad, self.keep_pause) < 0 or self.max_pause < self.keep_pause:
            raise InvalidInput("cut params: pads must be >= 0 and max_pause >= keep_pause")
        if self.fps is not None and not 0 < self.fps <= 1000:
            raise InvalidInput(f"fps must be in (0, 1000], got {self.fps}")


@dataclass
class Region:
    start: float
    end: float
    level_db: float  # mean RMS inside, dBFS (-inf: digital silence)
    position: str  # head, tail, inner, or all
    dead_air: bool

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 4), "end": round(self.end, 4), "duration": round(self.duration, 4),
                "level_db": round(self.level_db, 2) if math.isfinite(self.level_db) else None,
                "digital_silence": not math.isfinite(self.level_db),
                "position": self.position, "kind": "dead_air" if self.dead_air else "silence"}


@dataclass
class Cut:
    kind: str  # trim_head, trim_tail, tighten_pause, drop_all
    start: float  # source seconds to remove: [start, end)
    end: float
    reason: str
    start_frame: int | None = None
    end_frame: int | None = None  # exclusive

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "start": round(self.start, 4), "end": round(self.end, 4),
             "duration": round(self.duration, 4), "reason": self.reason}
        if self.start_frame is not None:
            d.update(start_frame=self.start_frame, end_frame=self.end_frame)
        return d


@dataclass
class SilenceReport:
    duration: float
    sample_rate: int
    programme_db: float  # -inf when nothing is above the floor
    threshold_db: float
    noise_db: float  # room tone: the 5th percentile of window levels (-inf: digital silence)
    params: SilenceParams
    regions: list[Region]
    cuts: list[Cut] = field(default_factory=list)
    cut_params: CutParams | None = None

    @property
    def silent(self) -> bool:
        return not math.isfinite(self.programme_db)

    def keep(self) -> list[tuple[float, float]]:
        """Source ranges that remain after the suggested cuts, in order."""
        out: list[tuple[float, float]] = []
        pos = 0.0
        for c in sorted(self.cuts, key=lambda c: c.start):
            if c.start > pos:
                out.append((pos, c.start))
            pos = max(pos, c.end)
        if pos < self.duration:
            out.append((pos, self.duration))
        return out

    def to_dict(self) -> dict[str, Any]:
        removed = sum(c.duration for c in self.cuts)
        return {
            "version": 1,
            "duration": round(self.duration, 4),
            "sample_rate": self.sample_rate,
            "silent": self.silent,
            "programme_level_db": round(self.programme_db, 2) if math.isfinite(self.programme_db) else None,
            "threshold_db": round(self.threshold_db, 2),
            "noise_floor_db": round(self.noise_db, 2) if math.isfinite(self.noise_db) else None,
            "params": asdict(self.params),
            "cut_params": asdict(self.cut_params) if self.cut_params else None,
            "regions": [r.to_dict() for r in self.regions],
            "silence_seconds": round(sum(r.duration for r in self.regions), 4),
            "dead_air_seconds": round(sum(r.duration for r in self.regions if r.dead_air), 4),
            "suggestions": [c.to_dict() for c in self.cuts],
            "keep": [[round(a, 4), round(b, 4)] for a, b in self.keep()],
            "removed_seconds": round(removed, 4),
            "tightened_duration": round(self.duration - removed, 4),
        }


def window_levels(samples: np.ndarray, sample_rate: int, window: float, hop: float) -> np.ndarray:
    """RMS level (dBFS, -inf for digital silence) of each window starting every ``hop`` seconds."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    w = max(1, round(window * sample_rate))
    h = max(1, round(hop * sample_rate))
    if x.size < w:
        return np.zeros(0)
    csum = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, x.size - w + 1, h)
    power = np.maximum(csum[starts + w] - csum[starts], 0.0) / w
    with np.errstate(divide="ignore"):
        return 10 * np.log10(power)


def programme_level(levels: np.ndarray, floor_db: float) -> float:
    """Power mean of the windows above the floor, without those 20 dB under the first mean."""
    loud = levels[levels > floor_db]
    if loud.size == 0:
        return -math.inf
    first = 10 * math.log10(float(np.mean(10 ** (loud / 10))))
    kept = loud[loud > first - 20]
    return 10 * math.log10(float(np.mean(10 ** (kept / 10))))


def threshold_for(programme_db: float, noise_db: float, p: SilenceParams) -> float:
    """The quiet threshold: programme - relative, over the room tone by the margin (at most 15 dB
    under the programme), never under the floor."""
    if not math.isfinite(programme_db):
        return p.floor_db
    threshold = programme_db - p.relative_db
    if math.isfinite(noise_db):
        threshold = max(threshold, min(noise_db + p.noise_margin_db, programme_db - 15.0))
    return max(p.floor_db, threshold)


def detect_silence(samples: np.ndarray, sample_rate: int, params: SilenceParams = SilenceParams()) -> SilenceReport:
    """Silences and dead air in ``samples`` ((n,) or (channels, n)) at ``sample_rate``."""
    x = np.asarray(samples)
    if x.ndim not in (1, 2) or not np.isfinite(x).all():
        raise InvalidInput("audio must be (n,) or (channels, n) finite samples")
    if not 1000 <= sample_rate <= 384_000:
        raise InvalidInput(f"sample rate must be between 1000 and 384000 Hz, got {sample_rate}")
    n = x.shape[-1]
    duration = n / sample_rate
    p = params
    levels = window_levels(x, sample_rate, p.window, p.hop)
    prog = programme_level(levels, p.floor_db)
    # Digital silence is -inf: floor it for the percentile (inf - inf is NaN), then map it back.
    noise = float(np.percentile(np.maximum(levels, -200.0), 5)) if levels.size else -math.inf
    noise = -math.inf if noise <= -200.0 else noise
    threshold = threshold_for(prog, noise, p)
    if levels.size == 0:
        return SilenceReport(duration, sample_rate, prog, threshold, noise, p, [])
    hop_s = round(p.hop * sample_rate) / sample_rate
    win_s = round(p.window * sample_rate) / sample_rate

    # Hysteresis in level: the state machine over windows (quiet until a window clears the upper bar).
    quiet = np.zeros(levels.size, bool)
    state = bool(levels[0] < threshold)
    upper = threshold + p.hysteresis_db
    for i, lv in enumerate(levels):
        if state and lv >= upper:
            state = False
        elif not state and lv < threshold:
            state = True
        quiet[i] = state

    runs = _runs(quiet)  # (first window, last window) of each quiet run
    # Hysteresis in time: bridge sounds shorter than min_sound between two quiet runs.
    merged: list[list[int]] = []
    for a, b in runs:
        if merged:
            gap_s = (a - merged[-1][1] - 1) * hop_s
            if gap_s < p.min_sound:
                merged[-1][1] = b
                continue
        merged.append([a, b])
    last = levels.size - 1
    regions: list[Region] = []
    for a, b in merged:
        start = 0.0 if a == 0 else a * hop_s
        end = duration if b == last else b * hop_s + win_s
        if end - start < p.min_silence:
            continue
        inside = levels[a:b + 1]
        lv = 10 * math.log10(float(np.mean(10 ** (inside / 10)))) if np.isfinite(inside).any() else -math.inf
        at_head, at_tail = start <= 0.0, end >= duration
        position = "all" if at_head and at_tail else "head" if at_head else "tail" if at_tail else "inner"
        regions.append(Region(start, min(end, duration), lv, position, end - start >= p.dead_air))
    return SilenceReport(duration, sample_rate, prog, threshold, noise, p, regions)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive index ranges where ``mask`` is True."""
    if not mask.any():
        return []
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _snap(cut: Cut, fps: float | None) -> Cut | None:
    """Whole frames inside the cut only (start rounded up, end down); None when no frame is left."""
    if fps is None:
        return cut if cut.end - cut.start > 1e-6 else None
    first = math.ceil(cut.start * fps - 1e-6)
    end = math.floor(cut.end * fps + 1e-6)
    if end <= first:
        return None
    return Cut(cut.kind, first / fps, end / fps, cut.reason, first, end)


def suggest_cuts(report: SilenceReport, params: CutParams = CutParams()) -> SilenceReport:
    """Fill ``report.cuts`` with trims and tightened pauses (returns the same report)."""
    cuts: list[Cut] = []
    p = params
    for r in report.regions:
        if r.position == "all":
            cuts.append(Cut("drop_all", 0.0, report.duration, "the whole clip is silent"))
        elif r.position == "head" and r.duration > p.head_pad:
            cuts.append(Cut("trim_head", 0.0, r.end - p.head_pad,
                            f"{r.duration:.2f} s of silence before the first sound; keep {p.head_pad:.2f} s"))
        elif r.position == "tail" and r.duration > p.tail_pad:
            cuts.append(Cut("trim_tail", r.start + p.tail_pad, report.duration,
                            f"{r.duration:.2f} s of silence after the last sound; keep {p.tail_pad:.2f} s"))
        elif r.position == "inner" and r.duration > p.max_pause:
            half = p.keep_pause / 2
            kind = "dead air" if r.dead_air else "pause"
            cuts.append(Cut("tighten_pause", r.start + half, r.end - half,
                            f"{r.duration:.2f} s {kind} tightened to {p.keep_pause:.2f} s"))
    snapped = [c for c in (_snap(c, p.fps) for c in cuts) if c is not None]
    if p.fps is not None:
        for c in snapped:
            if c.kind in ("trim_tail", "drop_all") and c.end < report.duration:
                # The last (partial) frame goes with a trimmed tail.
                c.end_frame = math.ceil(report.duration * p.fps - 1e-6)
                c.end = report.duration
    report.cuts = snapped
    report.cut_params = p
    return report


def analyse(samples: np.ndarray, sample_rate: int, params: SilenceParams = SilenceParams(),
            cut_params: CutParams = CutParams()) -> SilenceReport:
    """Silence regions plus cut suggestions in one call."""
    return suggest_cuts(detect_silence(samples, sample_rate, params), cut_params)
