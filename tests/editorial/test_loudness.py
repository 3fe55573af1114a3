"""Loudness by BS.1770-4 / EBU R128 on signals whose answer is known (EBU Tech 3341 and 3342)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import av
import numpy as np
import pytest

from reelforge.editorial.loudness import (
    Audio,
    measure,
    measure_file,
    normalize,
    parse_target,
    plot_loudness,
    read_audio,
    remux_suffix,
    replace_audio,
    write_wav,
)
from reelforge.errors import InvalidInput, MediaError

SR = 48000


def tone(dbfs: float, seconds: float, freq: float = 1000.0, channels: int = 2, phase: float = 0.0,
         sr: int = SR) -> np.ndarray:
    """A sine whose peak is ``dbfs`` (EBU Tech 3341 states levels this way), on every channel."""
    t = np.arange(round(seconds * sr)) / sr
    return np.tile(10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t + phase), (channels, 1))


def faded(x: np.ndarray, ms: float = 10.0, sr: int = SR) -> np.ndarray:
    """Raised-cosine fade in/out: a hard onset is itself an inter-sample overshoot."""
    n = int(ms / 1000 * sr)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))
    w = np.ones(x.shape[-1])
    w[:n], w[-n:] = ramp, ramp[::-1]
    return x * w


def seq(*parts: tuple[float, float]) -> np.ndarray:
    return np.concatenate([tone(db, s) for db, s in parts], axis=1)


def speechlike(seconds: float = 12.0, seed: int = 0, sr: int = SR) -> np.ndarray:
    """Noise bursts with a syllable rhythm and pauses: a programme with a loudness range."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    env = np.zeros(n)
    t = 0
    while t < n:
        length = int(rng.uniform(0.08, 0.35) * sr)
        env[t:t + length] = rng.uniform(0.05, 0.4) * np.hanning(length)[: min(length, n - t)]
        t += length + int(rng.uniform(0.02, 0.6) * sr)
    x = rng.standard_normal(n) * env
    return np.stack([x, 0.8 * x + 0.1 * rng.standard_normal(n) * env])


def vowels(seconds: float = 12.0, seed: int = 0, sr: int = SR) -> np.ndarray:
    """Harmonic bursts with pauses (a voice's crest factor, unlike noise): stereo, level varying."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n)
    t = 0
    while t < n:
        length = min(int(rng.uniform(0.15, 0.5) * sr), n - t)
        f0 = rng.uniform(110, 230)
        tt = np.arange(length) / sr
        burst = sum(np.sin(2 * np.pi * f0 * k * tt + rng.uniform(0, 6.28)) / k for k in range(1, 9))
        out[t:t + length] = rng.uniform(0.08, 0.16) * burst * np.hanning(length)
        t += length + int(rng.uniform(0.05, 0.5) * sr)
    return np.stack([out, 0.9 * out])


# -- the BS.1770 value of reference tones --------------------------------------------------------
def test_1khz_sine_at_minus_20_dbfs() -> None:
    # Mono: one channel of weight 1, mean square A^2 / 2 -> 20 log10(0.1) - 3.01 = -23.01 LUFS.
    mono = measure(Audio.from_array(tone(-20, 10, channels=1)[0], SR))
    assert mono.integrated == pytest.approx(-23.01, abs=0.1)
    # The same tone on both channels of a stereo file (Tech 3341's convention): -20.0 LUFS.
    stereo = measure(Audio.from_array(tone(-20, 10), SR))
    assert stereo.integrated == pytest.approx(-20.0, abs=0.1)
    assert stereo.short_term_max == pytest.approx(-20.0, abs=0.1)
    assert stereo.momentary_max == pytest.approx(-20.0, abs=0.1)
    assert stereo.loudness_range == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize(("case", "signal", "expected"), [
    ("3341-1", lambda: tone(-23, 20), -23.0),
    ("3341-2", lambda: tone(-33, 20), -33.0),
    ("3341-3", lambda: seq((-36, 10), (-23, 60), (-36, 10)), -23.0),
    ("3341-4", lambda: seq((-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)), -23.0),
    ("3341-5", lambda: seq((-26, 20), (-20, 20.1), (-26, 20)), -23.0),
])
def test_ebu_tech_3341_integrated(case: str, signal, expected: float) -> None:
    rep = measure(Audio.from_array(signal(), SR))
    assert rep.integrated == pytest.approx(expected, abs=0.1), case


def test_ebu_tech_3341_case_6_five_channels_with_surround_weights() -> None:
    t = tone(0, 20, channels=1)[0]
    levels = (-28.0, -28.0, -24.0, -30.0, -30.0)  # L R C Ls Rs
    x = np.stack([10 ** (db / 20) * t for db in levels])
    rep = measure(Audio.from_array(x, SR, ["FL", "FR", "FC", "BL", "BR"]))
    assert rep.integrated == pytest.approx(-23.0, abs=0.1)
    # 5.1 in FFmpeg's order (LFE fourth): the LFE is left out, the surrounds still count 1.41.
    x51 = np.insert(x, 3, 0.9 * t, axis=0)
    rep51 = measure(Audio.from_array(x51, SR, ["FL", "FR", "FC", "LFE", "BL", "BR"]))
    assert rep51.integrated == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize(("parts", "lra"), [
    (((-20, 20), (-30, 20)), 10.0),
    (((-20, 20), (-15, 20)), 5.0),
    (((-40, 20), (-20, 20)), 20.0),
    (((-50, 20), (-35, 20), (-20, 20), (-35, 20), (-50, 20)), 15.0),
])
def test_ebu_tech_3342_loudness_range(parts, lra: float) -> None:
    rep = measure(Audio.from_array(seq(*parts), SR))
    assert rep.loudness_range == pytest.approx(lra, abs=1.0)  # Tech 3342's tolerance


def test_matches_pyloudnorm_on_programme_material() -> None:
    import pyloudnorm

    for seed, sr in ((0, 48000), (1, 44100), (2, 22050)):
        x = speechlike(10, seed, sr)
        ours = measure(Audio.from_array(x, sr)).integrated
        theirs = pyloudnorm.Meter(sr, filter_class="DeMan").integrated_loudness(x.T.copy())
        assert ours == pytest.approx(theirs, abs=0.01), (seed, sr)


# -- true peak -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("freq", "phase"), [(SR / 4, 45.0), (SR / 6, 60.0), (SR / 8, 67.5)])
def test_true_peak_of_inter_sample_peaks(freq: float, phase: float) -> None:
    # Tech 3341 cases 15-18 style: a -6 dBFS sine whose peaks fall between samples.
    x = faded(tone(-6.02, 1.0, freq=freq, phase=math.radians(phase)))
    rep = measure(Audio.from_array(x, SR))
    assert -6.4 <= rep.true_peak <= -5.8  # Tech 3341: -6.0 +0.2 / -0.4 dB
    assert rep.true_peak > rep.sample_peak
    if freq == SR / 4:
        assert rep.true_peak - rep.sample_peak > 2.5  # samples at 45 deg: 3 dB under the true peak


# -- normalisation ---------------------------------------------------------------------------------
def loudness_ok(path: Path, target: float, ceiling: float = -1.0) -> bool:
    """The check a delivery QC runs: on target within 0.1 LU, true peak under the ceiling."""
    rep = measure_file(path)
    return abs(rep.integrated - target) <= 0.1 and rep.true_peak <= ceiling + 0.05


@pytest.mark.parametrize("target", [-23.0, -16.0])
def test_normalisation_reaches_the_target(tmp_path: Path, target: float) -> None:
    src = Audio.from_array(vowels(12), SR, name="speech.wav")
    out, res = normalize(src, target=target)
    assert res.reached and not res.limited
    assert res.after["integrated_lufs"] == pytest.approx(target, abs=0.1)
    path = write_wav(out, tmp_path / "norm.wav")
    assert loudness_ok(path, target)
    back = read_audio(path)
    assert back.channels == ["FL", "FR"] and back.sample_rate == SR


def test_the_check_fails_on_a_wrongly_normalised_file(tmp_path: Path) -> None:
    src = Audio.from_array(vowels(12), SR)
    out, _ = normalize(src, target=-23.0)
    good = write_wav(out, tmp_path / "good.wav")
    wrong = Audio.from_array(out.samples * 10 ** (0.5 / 20), SR)  # half a dB hot
    bad = write_wav(wrong, tmp_path / "bad.wav")
    assert loudness_ok(good, -23.0)
    assert not loudness_ok(bad, -23.0)
    assert not loudness_ok(good, -16.0)


def test_true_peak_ceiling_stops_the_gain_or_limits() -> None:
    x = 0.05 * speechlike(8)
    x[:, SR * 4:SR * 4 + 200] += 0.95 * np.hanning(200)  # one loud transient
    src = Audio.from_array(np.clip(x, -1, 1), SR)
    out, res = normalize(src, target=-14.0, ceiling=-1.0)
    assert not res.reached and "not reached without limiting" in res.message
    assert measure(out).true_peak <= -1.0 + 0.01
    assert res.after["integrated_lufs"] < -14.5
    out, res = normalize(src, target=-14.0, ceiling=-1.0, limit=True)
    rep = measure(out)
    assert res.reached and res.limited and res.limiter_gain_reduction_db > 3
    assert rep.integrated == pytest.approx(-14.0, abs=0.1) and rep.true_peak <= -1.0 + 0.05


def test_targets_by_name_and_bounds() -> None:
    assert parse_target("broadcast") == -23.0 and parse_target("web") == -16.0
    assert parse_target("-18 LUFS") == -18.0 and parse_target(-24) == -24.0
    for bad in ("loud", "5", "-80"):
        with pytest.raises(InvalidInput):
            parse_target(bad)
    with pytest.raises(InvalidInput, match="ceiling"):
        normalize(Audio.from_array(tone(-20, 2), SR), ceiling=3.0)


# -- video: the picture copied, the sound replaced -------------------------------------------------
def _video(path: Path, with_audio: Audio | None) -> Path:
    from reelforge.media import write_video

    frames = [np.full((48, 64, 3), (i * 9) % 255, np.uint8) for i in range(72)]
    silent = path.with_name("picture_only.mp4")
    write_video(frames, silent, fps=24)
    if with_audio is None:
        return silent
    replace_audio(silent, with_audio, path)
    return path


def _video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def test_normalise_a_video_copies_the_picture(tmp_path: Path) -> None:
    src_audio = Audio.from_array(vowels(3), SR)
    src = _video(tmp_path / "take.mp4", src_audio)
    audio = read_audio(src)
    assert audio.channels == ["FL", "FR"]
    out_audio, _ = normalize(audio, target=-16.0)
    dst = tmp_path / "take.norm.mp4"
    info = replace_audio(src, out_audio, dst)
    assert info["container"] == "mp4" and info["audio_codec"] == "aac" and info["video_packets"] == 72
    assert _video_packets(dst) == _video_packets(src)  # not re-encoded
    assert measure_file(dst).integrated == pytest.approx(-16.0, abs=0.1)  # after AAC, as delivered
    assert remux_suffix("a.MOV") == ".mov" and remux_suffix("a.avi") == ".mkv"
    # Other containers become Matroska with lossless FLAC (the container follows the output's suffix).
    info = replace_audio(src, out_audio, tmp_path / "take.norm.mkv")
    assert (info["container"], info["audio_codec"]) == ("matroska", "flac")
    assert _video_packets(tmp_path / "take.norm.mkv") == _video_packets(src)
    assert measure_file(tmp_path / "take.norm.mkv").integrated == pytest.approx(-16.0, abs=0.01)
    with pytest.raises(InvalidInput, match="suffix"):
        replace_audio(src, out_audio, tmp_path / "take.norm.avi")


# -- bad input -------------------------------------------------------------------------------------
def test_video_without_audio_is_a_clear_error(tmp_path: Path) -> None:
    path = _video(tmp_path / "x.mp4", None)
    with pytest.raises(MediaError, match="no audio stream"):
        measure_file(path)


def test_digital_silence_is_reported_not_a_crash(tmp_path: Path) -> None:
    silent = Audio.from_array(np.zeros((2, SR * 4)), SR, name="silence.wav")
    rep = measure(silent)
    assert rep.silent and rep.integrated == -math.inf
    assert rep.loudness_range is None and rep.true_peak == -math.inf
    data = rep.to_dict()
    assert data["integrated_lufs"] is None and data["silent"] is True
    json.dumps(data, allow_nan=False)  # standard JSON: no -Infinity
    assert "silent" in rep.notes[0]
    plot_loudness(rep)  # draws an empty chart
    with pytest.raises(InvalidInput, match="silent"):
        normalize(silent)
    short = measure(Audio.from_array(tone(-20, 0.3), SR))  # under one 400 ms block
    assert short.silent and "shorter than one 400 ms block" in short.notes[0]
    assert short.true_peak == pytest.approx(-20, abs=0.1)  # the peak is still known


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(InvalidInput, match="NaN"):
        Audio.from_array(np.array([0.0, np.nan] * 1000), SR)
    with pytest.raises(InvalidInput, match="channels, n"):
        Audio.from_array(np.zeros((4800, 2)), SR)
    with pytest.raises(InvalidInput, match="sample rate"):
        Audio.from_array(np.zeros(100), 10)


def test_plot_is_drawn(tmp_path: Path) -> None:
    rep = measure(Audio.from_array(seq((-36, 4), (-23, 6), (-30, 4)), SR, name="steps.wav"))
    img = plot_loudness(rep, target=-23)
    assert img.size == (800, 300)
    arr = np.asarray(img)
    blue = (arr[:, :, 2] > 150) & (arr[:, :, 0] < 80)
    assert blue.sum() > 300  # the short-term curve is there
