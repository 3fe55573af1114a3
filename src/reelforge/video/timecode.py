"""SMPTE timecode from frame numbers and back: non-drop (24, 25, 30, 23.976 ...) and drop frame.

Drop frame exists because 29.97 fps (30000/1001) is slower than the 30 frames its timecode counts:
to keep the displayed clock within a frame of wall time, frame *numbers* 00 and 01 are skipped at
the start of every minute except each tenth (59.94: 00 to 03). No frame is dropped, only labels.
23.976 (24000/1001) has no drop-frame form: it counts 24 a second and drifts 3.6 s an hour.
"""

from __future__ import annotations

import re
from fractions import Fraction

from reelforge.errors import InvalidInput

# Rates whose timecode is drop frame by convention (SMPTE 12M): 29.97 and 59.94 (and 119.88).
DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001), Fraction(120000, 1001))

# Frame rates cameras and editing systems use; a measured rate within 0.05 % snaps to one of them.
STANDARD_RATES = (
    Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
    Fraction(48000, 1001), Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60),
    Fraction(96), Fraction(100), Fraction(120000, 1001), Fraction(120),
    Fraction(12), Fraction(15), Fraction(15000, 1001), Fraction(20), Fraction(10), Fraction(8),
)

_TC = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


def as_rate(rate: Fraction | float | int | tuple[int, int]) -> Fraction:
    """A frame rate as an exact fraction: 29.97 and 23.976 given as floats become 30000/1001 and
    24000/1001 (a float is how people write them; the rational is what the video runs at)."""
    if isinstance(rate, tuple):
        rate = Fraction(int(rate[0]), int(rate[1]))
    value = Fraction(rate).limit_denominator(1001) if isinstance(rate, float) else Fraction(rate)
    if value <= 0:
        raise InvalidInput(f"frame rate must be positive, got {rate}")
    return snap_rate(value, tolerance=0.001) if isinstance(rate, float) else value


def snap_rate(rate: Fraction, tolerance: float = 0.0005) -> Fraction:
    """The standard rate nearest ``rate`` if within ``tolerance`` (relative), else ``rate`` itself.

    24 and 23.976 are 0.1 % apart, so tolerances must stay well under that.
    """
    best = min(STANDARD_RATES, key=lambda std: abs(float(rate) / float(std) - 1.0))
    return best if abs(float(rate) / float(best) - 1.0) <= tolerance else rate


def nominal_fps(rate: Fraction | float) -> int:
    """Frames a timecode second counts: 30 for 29.97, 24 for 23.976, 25 for 25."""
    value = max(1, round(float(rate)))
    return int(value)


def is_drop_frame_rate(rate: Fraction | float) -> bool:
    """Whether timecode at this rate is drop frame by convention."""
    return as_rate(rate) in DROP_FRAME_RATES


def _drop_per_minute(nominal: int) -> int:
    if nominal % 30:
        raise InvalidInput(f"drop-frame timecode needs a rate of 29.97, 59.94 or 119.88 fps (counting {nominal})")
    return 2 * nominal // 30


def frames_to_timecode(frame: int, rate: Fraction | float, drop_frame: bool | None = None) -> str:
    """``HH:MM:SS:FF`` for frame number ``frame`` (0 = 00:00:00:00); drop frame uses ``;`` before FF.

    ``drop_frame=None`` follows the rate (29.97/59.94 drop, everything else not). Hours wrap at 24,
    as timecode does.
    """
    if frame < 0:
        raise InvalidInput(f"frame number must not be negative, got {frame}")
    value = as_rate(rate)
    nominal = nominal_fps(value)
    drop = is_drop_frame_rate(value) if drop_frame is None else drop_frame
    number = int(frame)
    if drop:
        per_min = _drop_per_minute(nominal)
        frames_10min = nominal * 600 - per_min * 9
        frames_min = nominal * 60 - per_min
        tens, rem = divmod(number, frames_10min)
        number += per_min * 9 * tens
        if rem > per_min:
            number += per_min * ((rem - per_min) // frames_min)
    ff = number % nominal
    seconds = number // nominal
    hh, mm, ss = (seconds // 3600) % 24, (seconds // 60) % 60, seconds % 60
    width = len(str(nominal - 1)) if nominal > 100 else 2
    return f"{hh:02d}:{mm:02d}:{ss:02d}{';' if drop else ':'}{ff:0{width}d}"


def timecode_to_frames(timecode: str, rate: Fraction | float, drop_frame: bool | None = None) -> int:
    """The frame number of a timecode. ``;`` (or ``.``/``,``) before FF marks drop frame; with
    ``drop_frame=None`` the separator decides, else the argument does."""
    match = _TC.match(timecode.strip())
    if not match:
        raise InvalidInput(f"not a timecode: {timecode!r} (expected HH:MM:SS:FF)")
    hh, mm, ss, sep, ff = match.groups()
    h, m, s, f = int(hh), int(mm), int(ss), int(ff)
    nominal = nominal_fps(as_rate(rate))
    drop = sep != ":" if drop_frame is None else drop_frame
    if m > 59 or s > 59 or f >= nominal:
        raise InvalidInput(f"timecode {timecode!r} is out of range at {nominal} frames a second")
    minutes = 60 * h + m
    number = (minutes * 60 + s) * nominal + f
    if drop:
        per_min = _drop_per_minute(nominal)
        if s == 0 and f < per_min and m % 10:
            raise InvalidInput(f"timecode {timecode!r} does not exist in drop frame (those numbers are skipped)")
        number -= per_min * (minutes - minutes // 10)
    return number


def frame_at(seconds: float, rate: Fraction | float) -> int:
    """The frame number nearest ``seconds`` at ``rate`` (how a variable-rate frame is placed on a
    constant-rate timeline)."""
    return max(0, round(float(seconds) * float(as_rate(rate))))
