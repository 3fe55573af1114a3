"""A video a job makes from a film keeps the film's sound, in sync (``add_source_audio``).

Real encoding and decoding: a clip whose picture flashes white at 1.0 s and whose sound is a 440 Hz
tone with a click at 1.0 s; the new video is the picture inverted, as a stylisation would change it.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reelforge.media import add_source_audio, iter_frames, write_video

RATE = 48000
FPS = 24


def _clip(path: Path, seconds: float = 2.0, audio: str | None = "aac", audio_delay: float = 0.0) -> Path:
    """Picture: dark, white for the frame at 1.0 s. Sound: a 440 Hz tone, loud 10 ms at 1.0 s."""
    n = round(seconds * FPS)
    fmt = "mov" if audio == "pcm_s16le" else "mp4"
    with av.open(str(path), "w", format=fmt) as out:
        v = out.add_stream("libx264", rate=Fraction(FPS))
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream(audio, rate=RATE, layout="mono") if audio else None
        for i in range(n):
            arr = np.full((48, 64, 3), 255 if i == FPS else 20, np.uint8)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        if a is not None:
            t = np.arange(round((seconds - audio_delay) * RATE)) / RATE + audio_delay
            wave = 0.2 * np.sin(2 * np.pi * 440 * t)
            wave[np.abs(t - 1.0) < 0.005] = 0.9
            pcm = (wave * 32767).astype(np.int16)
            step = 1024
            for k in range(0, len(pcm), step):
                chunk = pcm[k : k + step][None, :]
                frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
                frame.sample_rate = RATE
                frame.pts = round(audio_delay * RATE) + k
                frame.time_base = Fraction(1, RATE)
                out.mux(a.encode(frame))
            out.mux(a.encode(None))
    return path


def _made_from(src: Path, dst: Path, frames: int | None = None) -> Path:
    out = [255 - f for f in iter_frames(src, max_frames=frames)]
    write_video(iter(out), dst, fps=FPS)
    return dst


def _sound(path: Path) -> tuple[np.ndarray, float]:
    """Mono samples of the first audio track and the time of its first sample."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        chunks, first = [], None
        for frame in c.decode(s):
            if first is None:
                first = float(frame.time or 0.0)
            chunks.append(frame.to_ndarray().astype(np.float32).reshape(frame.layout.nb_channels, -1)[0])
    return np.concatenate(chunks), first or 0.0


def _video_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        return float(c.duration / av.time_base)


@pytest.mark.parametrize("codec", ["aac", "pcm_s16le"])
def test_the_new_video_keeps_the_sound_in_sync(tmp_path: Path, codec: str) -> None:
    src = _clip(tmp_path / f"src.{'mov' if codec == 'pcm_s16le' else 'mp4'}", audio=codec)
    made = _made_from(src, tmp_path / "made.mp4")
    dst = tmp_path / "with-sound.mp4"
    assert add_source_audio(made, src, dst)
    with av.open(str(dst)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        assert c.streams.audio[0].codec_context.name == "aac"
    # The picture is the new one, untouched: every frame, the flash still at 1.0 s.
    frames = list(iter_frames(dst))
    assert len(frames) == 2 * FPS and int(np.argmin([f.mean() for f in frames])) == FPS
    # The sound: the tone (its spectrum peaks at 440 Hz) and the click at 1.0 s, within 10 ms.
    samples, first = _sound(dst)
    spectrum = np.abs(np.fft.rfft(samples[: RATE // 2] * np.hanning(RATE // 2)))
    assert abs(np.argmax(spectrum) * RATE / (RATE // 2) - 440) < 4
    # AAC's encoder delay is in the stream's first timestamp (negative), so count from there.
    click = first + int(np.argmax(np.abs(samples))) / RATE
    assert abs(click - 1.0) < 0.01, click
    assert abs(len(samples) / RATE - 2.0) < 0.1


def test_sound_is_cut_where_the_new_video_ends_and_a_late_start_is_kept(tmp_path: Path) -> None:
    src = _clip(tmp_path / "src.mp4", audio_delay=0.25)
    made = _made_from(src, tmp_path / "made.mp4", frames=FPS // 2)  # the first half second only
    dst = tmp_path / "short.mp4"
    assert add_source_audio(made, src, dst)
    samples, first = _sound(dst)
    assert _video_seconds(made) == pytest.approx(0.5, abs=0.05)
    assert first + len(samples) / RATE < 0.6  # cut at the picture's end (at most a frame of sound more)
    lead = samples[: int((0.25 - first) * RATE) - 480]
    assert np.abs(lead).max() < 0.02 * np.abs(samples).max()  # silence before the sound began
    later = samples[int((0.3 - first) * RATE) :]
    assert np.abs(later).max() > 0.5 * np.abs(samples).max()  # the tone, after it began


def test_a_film_without_sound_gives_false_and_writes_nothing(tmp_path: Path) -> None:
    src = _clip(tmp_path / "silent.mp4", audio=None)
    made = _made_from(src, tmp_path / "made.mp4")
    dst = tmp_path / "out.mp4"
    assert not add_source_audio(made, src, dst)
    assert not dst.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["made.mp4", "silent.mp4"]


def test_in_place_the_video_gains_its_sound_and_nothing_else_is_left(tmp_path: Path) -> None:
    src = _clip(tmp_path / "src.mp4")
    made = _made_from(src, tmp_path / "made.mp4")
    frames_before = [f.mean() for f in iter_frames(made)]
    assert add_source_audio(made, src)
    with av.open(str(made)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
    assert [f.mean() for f in iter_frames(made)] == frames_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["made.mp4", "src.mp4"]
