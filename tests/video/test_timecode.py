"""SMPTE timecode: known values at 24, 25, 23.976, 29.97 DF and 59.94 DF, round trips, OTIO agrees."""

from __future__ import annotations

from fractions import Fraction

import pytest

from reelforge.errors import InvalidInput
from reelforge.video.timecode import (
    as_rate,
    frame_at,
    frames_to_timecode,
    is_drop_frame_rate,
    snap_rate,
    timecode_to_frames,
)

NTSC = Fraction(30000, 1001)
FILM = Fraction(24000, 1001)

KNOWN = [
    # (frame, rate, timecode): drop frame skips ;00 and ;01 each minute except every tenth
    (0, NTSC, "00:00:00;00"),
    (29, NTSC, "00:00:00;29"),
    (1799, NTSC, "00:00:59;29"),
    (1800, NTSC, "00:01:00;02"),
    (3597, NTSC, "00:01:59;29"),
    (3598, NTSC, "00:02:00;02"),
    (17981, NTSC, "00:09:59;29"),
    (17982, NTSC, "00:10:00;00"),
    (107892, NTSC, "01:00:00;00"),
    (3600, Fraction(60000, 1001), "00:01:00;04"),
    (35964, Fraction(60000, 1001), "00:10:00;00"),
    # 23.976 has no drop frame: it counts 24 a second
    (86400, FILM, "01:00:00:00"),
    (1439, FILM, "00:00:59:23"),
    (90000, Fraction(25), "01:00:00:00"),
    (1234, Fraction(24), "00:00:51:10"),
]


@pytest.mark.parametrize(("frame", "rate", "tc"), KNOWN)
def test_known_timecodes(frame: int, rate: Fraction, tc: str) -> None:
    assert frames_to_timecode(frame, rate) == tc
    assert timecode_to_frames(tc, rate) == frame


def test_round_trip_every_frame_of_eleven_minutes_drop_frame() -> None:
    for frame in range(0, 11 * 60 * 30, 7):
        assert timecode_to_frames(frames_to_timecode(frame, NTSC), NTSC) == frame


def test_drop_frame_follows_the_rate_unless_told() -> None:
    assert is_drop_frame_rate(NTSC) and is_drop_frame_rate(29.97) and is_drop_frame_rate(59.94)
    assert not is_drop_frame_rate(FILM) and not is_drop_frame_rate(25) and not is_drop_frame_rate(30)
    assert frames_to_timecode(1800, NTSC, drop_frame=False) == "00:01:00:00"
    with pytest.raises(InvalidInput, match="drop-frame"):
        frames_to_timecode(10, Fraction(25), drop_frame=True)


def test_float_rates_are_read_as_the_rationals_they_stand_for() -> None:
    assert as_rate(29.97) == NTSC and as_rate(23.976) == FILM and as_rate(59.94) == Fraction(60000, 1001)
    assert as_rate(25.0) == 25 and as_rate((30000, 1001)) == NTSC
    # 24 and 23.976 are 0.1 % apart: measured rates snap to the nearest, never across
    assert snap_rate(Fraction(24)) == 24 and snap_rate(Fraction(23976, 1000)) == FILM
    assert snap_rate(Fraction(2995, 100)) == Fraction(2995, 100)  # 0.17 % off 29.97: not snapped
    assert frame_at(2.0, NTSC) == 60 and frame_at(1 / 24 * 5, 24) == 5


def test_bad_timecodes_are_refused() -> None:
    for bad in ("1:2:3", "00:00:00:30", "00:61:00:00", "abc", "00:01:00;00"):
        with pytest.raises(InvalidInput):
            timecode_to_frames(bad, NTSC)
    with pytest.raises(InvalidInput):
        frames_to_timecode(-1, 24)
    with pytest.raises(InvalidInput):
        as_rate(0)


def test_opentimelineio_agrees() -> None:
    otio = pytest.importorskip("opentimelineio")
    for rate in (NTSC, Fraction(60000, 1001), FILM, Fraction(25), Fraction(24)):
        for frame in (0, 1, 1799, 1800, 17982, 35964, 107892, 123457):
            expected = otio.opentime.to_timecode(otio.opentime.RationalTime(frame, float(rate)), float(rate))
            assert frames_to_timecode(frame, rate) == expected, (frame, rate)
