"""Synthetic videos with known truth, written once per test session (they are small: 128x72)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from reelforge.video import synthetic
from reelforge.video.synthetic import JoinSpec, ShotSpec, SyntheticTruth


@pytest.fixture(scope="session")
def edited(tmp_path_factory: pytest.TempPathFactory) -> SyntheticTruth:
    """The default plan: 280 frames at 24 fps with 3 cuts, 2 dissolves, a fade through black and one
    through white, 3 flash frames (a 2-frame and a 1-frame flash), a fast pan, a same-place cut."""
    return synthetic.write(tmp_path_factory.mktemp("video") / "edited.mp4", seed=0)


@pytest.fixture(scope="session")
def ntsc(tmp_path_factory: pytest.TempPathFactory) -> SyntheticTruth:
    """29.97 fps, a cut past the first minute (where drop frame starts to skip numbers)."""
    plan = [ShotSpec("coffee", 1805, "pan"), JoinSpec("cut"), ShotSpec("rocket", 40, "pan"),
            JoinSpec("dissolve", 10), ShotSpec("chelsea", 30, "zoom")]
    return synthetic.write(tmp_path_factory.mktemp("video") / "ntsc.mp4", plan, size=(64, 36),
                           fps=Fraction(30000, 1001), seed=3)


@pytest.fixture(scope="session")
def vfr(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float], SyntheticTruth]:
    """A variable-frame-rate file: 30 fps for its first half, 15 fps after, a cut in the slow half."""
    plan = [ShotSpec("coffee", 40, "pan"), JoinSpec("cut"), ShotSpec("astronaut", 50, "pan")]
    frames, truth = synthetic.render(plan, size=(96, 54), seed=5)
    frames_list = list(frames)
    times, t = [], 0.0
    for i in range(len(frames_list)):
        times.append(round(t, 6))
        t += 1 / 30 if i < 30 else 1 / 15
    path = tmp_path_factory.mktemp("video") / "vfr.mp4"
    synthetic.write_at_times(frames_list, times, path)
    return path, times, truth


@pytest.fixture(scope="session")
def audio_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MP4 container with an AAC stream and no video stream."""
    import av

    path = tmp_path_factory.mktemp("video") / "voice.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100, layout="mono")
        tone = (0.3 * np.sin(np.arange(44100) * 2 * np.pi * 440 / 44100)).astype(np.float32)
        for start in range(0, len(tone) - 1024, 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate = 44100
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path
