"""Decoding every frame once, small: counts, sizes, exact rates, time stamps, VFR, limits, bad files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from reelforge.errors import Cancelled, LimitExceeded, MediaError
from reelforge.media import MediaLimits, iter_frames
from reelforge.video.decode import LowResDecoder, read_frames_at
from reelforge.video.synthetic import SyntheticTruth
from tests.conftest import make_image


def _decode(path: Path, chunk: int = 256) -> tuple[list, object]:
    with LowResDecoder(path, chunk_frames=chunk) as dec:
        chunks = list(dec.chunks())
        return chunks, dec.times()


def test_every_frame_once_in_chunks(edited: SyntheticTruth) -> None:
    chunks, times = _decode(Path(edited.path), chunk=50)
    assert [c.start for c in chunks] == list(range(0, edited.frames, 50))
    rgb = np.concatenate([c.rgb for c in chunks])
    small = np.concatenate([c.small for c in chunks])
    assert rgb.shape == (edited.frames, 54, 96, 3) and small.shape == (edited.frames, 27, 48, 3)
    # the 48x27 frames are 2x2 means of the 96x54 ones
    expect = rgb.reshape(-1, 27, 2, 48, 2, 3).astype(np.float32).mean(axis=(2, 4))
    assert np.abs(small.astype(np.float32) - expect).max() <= 0.5
    assert times.rate == Fraction(24) and not times.vfr
    np.testing.assert_allclose(times.seconds, np.arange(edited.frames) / 24, atol=1e-9)


def test_ntsc_rate_is_exact(ntsc: SyntheticTruth) -> None:
    with LowResDecoder(ntsc.path) as dec:
        assert dec.info.rate == Fraction(30000, 1001)
        n = sum(len(c) for c in dec.chunks())
        times = dec.times()
    assert n == ntsc.frames and times.rate == Fraction(30000, 1001) and not times.vfr


def test_variable_frame_rate_is_detected_and_timed_from_pts(vfr: tuple[Path, list[float], SyntheticTruth]) -> None:
    path, written, truth = vfr
    chunks, times = _decode(path)
    assert sum(len(c) for c in chunks) == truth.frames
    assert times.vfr
    np.testing.assert_allclose(times.seconds, written, atol=1e-4)
    assert times.rate == 30  # the nominal rate the header names, not the 22 fps average
    assert times.frame_durations["max"] == pytest.approx(1 / 15, abs=1e-4)


def test_keyframes_read_back_exactly(edited: SyntheticTruth) -> None:
    _, times = _decode(Path(edited.path))
    wanted = [3, 45, 171, edited.frames - 1]
    got = read_frames_at(edited.path, [int(times.pts[i]) for i in wanted], height=72)
    frames = list(iter_frames(edited.path))
    for i in wanted:
        image = got[int(times.pts[i])]
        assert image.size == (128, 72)
        assert np.array_equal(np.asarray(image), frames[i]), f"frame {i}"


def test_a_file_without_video_is_a_clear_error(audio_only: Path, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"voice\.mp4: not a video \(content is .*audio\)"):
        LowResDecoder(audio_only)
    with pytest.raises(MediaError, match="not a video"):
        LowResDecoder(make_image(tmp_path / "still.png"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(Path(audio_only).read_bytes()[:200])
    with pytest.raises(MediaError):
        LowResDecoder(broken)


def test_limits_and_cancel_are_honoured(edited: SyntheticTruth) -> None:
    with pytest.raises(LimitExceeded, match="over the limit of 5 s"):
        LowResDecoder(edited.path, MediaLimits(max_video_seconds=5))
    with pytest.raises(LimitExceeded, match="max_pixels_per_second"):
        LowResDecoder(edited.path, MediaLimits(max_pixels_per_second=100_000))
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 10

    with pytest.raises(Cancelled), LowResDecoder(edited.path, should_stop=stop) as dec:
        for _ in dec.chunks():
            pass
