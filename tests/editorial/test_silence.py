"""Silence and dead-air detection on espeak-ng speech with silences of known length inserted."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from reelforge.editorial.dailies import espeak_available, speak
from reelforge.editorial.silence import CutParams, SilenceParams, analyse, detect_silence, suggest_cuts
from reelforge.errors import InvalidInput

SR = 16000
LINES = [
    ("Three tickets tonight.", "en-us+m1"),
    ("Then it was two tickets and a friend.", "en-gb+f3"),
    ("The roof is leaking into row F again.", "en-us+m3"),
    ("Go home Theo.", "en-gb+f3"),
    ("It's been bad before.", "en-us+f2"),
]
GAPS = [1.2, 0.5, 3.0, 0.8, 2.2, 1.5]  # head, between the lines, tail
TOLERANCE = 0.03  # seconds: boundaries within 30 ms of the truth


def speech_with_gaps(noise_db: float = -65.0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Lines separated by silences of known length, over a faint room tone; returns (audio, truth)."""
    pieces = [np.zeros(int(GAPS[0] * SR), np.float32)]
    truth = [(0.0, GAPS[0])]
    t = GAPS[0]
    for (text, voice), gap in zip(LINES, GAPS[1:], strict=True):
        x = speak(text, voice, sample_rate=SR)
        pieces.append(0.3 * x / np.abs(x).max())
        t += len(x) / SR
        n = int(gap * SR)
        pieces.append(np.zeros(n, np.float32))
        truth.append((t, t + n / SR))
        t += n / SR
    audio = np.concatenate(pieces)
    audio += np.random.default_rng(0).normal(0, 10 ** (noise_db / 20), audio.size).astype(np.float32)
    return audio, truth


def regions_match(found: list[tuple[float, float]], truth: list[tuple[float, float]], tol: float) -> bool:
    """Every true silence found once with both ends within ``tol``, and nothing else found."""
    if len(found) != len(truth):
        return False
    return all(abs(a - c) <= tol and abs(b - d) <= tol for (a, b), (c, d) in zip(found, truth, strict=True))


needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


@needs_espeak
def test_silences_in_speech_are_found_within_30_ms() -> None:
    audio, truth = speech_with_gaps()
    rep = detect_silence(audio, SR)
    found = [(r.start, r.end) for r in rep.regions]
    assert regions_match(found, truth, TOLERANCE), list(zip(found, truth, strict=False))
    assert [r.position for r in rep.regions] == ["head", "inner", "inner", "inner", "inner", "tail"]
    assert [r.dead_air for r in rep.regions] == [False, False, True, False, True, False]
    assert -30 < rep.programme_db < -15
    assert rep.noise_db == pytest.approx(-65.0, abs=2.0)
    assert rep.threshold_db == pytest.approx(max(rep.programme_db - 35, rep.noise_db + 6))
    # The same check refuses a detector that is 100 ms off, or that misses a pause.
    shifted = [(a + 0.1, b) for a, b in found]
    assert not regions_match(shifted, truth, TOLERANCE)
    assert not regions_match(found[:2] + found[3:], truth, TOLERANCE)


@needs_espeak
def test_louder_room_tone_and_a_quiet_programme() -> None:
    # Room tone at -50 dBFS, over programme - 35 dB: the threshold rises over the room tone (but
    # stays 15 dB under the programme).
    audio, truth = speech_with_gaps(noise_db=-50.0)
    rep = detect_silence(audio, SR)
    assert rep.noise_db == pytest.approx(-50.0, abs=2.0)
    assert rep.threshold_db == pytest.approx(min(rep.noise_db + 6, rep.programme_db - 15))
    # Soft onsets and decays ("Th", "-fore") sink under a room tone this loud: they count as silence.
    assert regions_match([(r.start, r.end) for r in rep.regions], truth, 0.15)
    # The whole take 14 dB down: the floor (-70 dBFS) is the threshold, and the pauses are still
    # found; soft word endings under the floor make the boundaries looser.
    quiet, truth = speech_with_gaps(noise_db=-85.0)
    rep = detect_silence(quiet * 0.2, SR)
    assert rep.programme_db - 35 < -70 and rep.threshold_db == -70.0
    assert regions_match([(r.start, r.end) for r in rep.regions], truth, 0.1)


def _tone(seconds: float, db: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (10 ** (db / 20) * np.sqrt(2) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_hysteresis_keeps_a_hovering_floor_in_one_silence() -> None:
    # 1 s of tone, 2 s of a floor wobbling 2 dB either side of the threshold, 1 s of tone.
    rng = np.random.default_rng(1)
    wobble = np.concatenate([_tone(0.05, -57.0 + rng.choice([-2.0, 2.0])) for _ in range(40)])
    audio = np.concatenate([_tone(1.0, -20.0), wobble, _tone(1.0, -20.0)])
    params = SilenceParams(relative_db=37.0, min_sound=0.0, noise_margin_db=0.0)  # threshold at -57 dBFS
    steady = detect_silence(audio, SR, params)
    assert steady.threshold_db == pytest.approx(-57.0, abs=0.1)
    assert len(steady.regions) == 1 and steady.regions[0].duration == pytest.approx(2.0, abs=0.05)
    chatter = detect_silence(audio, SR, SilenceParams(relative_db=37.0, min_sound=0.0, noise_margin_db=0.0,
                                                      hysteresis_db=0.0))
    assert len(chatter.regions) != 1  # without hysteresis the same floor splits up


def test_short_sounds_do_not_split_a_silence() -> None:
    click = _tone(0.02, -15.0, freq=2000.0)
    gap = np.zeros(SR, np.float32)
    audio = np.concatenate([_tone(1.0, -20.0), gap, click, gap, _tone(1.0, -20.0)])
    rep = detect_silence(audio, SR)
    assert len(rep.regions) == 1 and rep.regions[0].duration == pytest.approx(2.02, abs=0.05)
    word = _tone(0.2, -20.0)
    audio = np.concatenate([_tone(1.0, -20.0), gap, word, gap, _tone(1.0, -20.0)])
    assert len(detect_silence(audio, SR).regions) == 2


@needs_espeak
def test_cut_suggestions_trim_and_tighten_on_frames() -> None:
    audio, truth = speech_with_gaps()
    fps = float(Fraction(24000, 1001))
    cuts = CutParams(head_pad=0.25, tail_pad=0.5, max_pause=1.0, keep_pause=0.6, fps=fps)
    rep = analyse(audio, SR, cut_params=cuts)
    kinds = [c.kind for c in rep.cuts]
    assert kinds == ["trim_head", "tighten_pause", "tighten_pause", "trim_tail"]
    head, pause, _, tail = rep.cuts
    assert head.start == 0 and head.end == pytest.approx(truth[0][1] - 0.25, abs=1 / fps + TOLERANCE)
    centre = (truth[2][0] + truth[2][1]) / 2
    assert (pause.start + pause.end) / 2 == pytest.approx(centre, abs=1 / fps + TOLERANCE)
    assert pause.end - pause.start == pytest.approx(3.0 - 0.6, abs=2 / fps + TOLERANCE)
    assert tail.end == rep.duration and tail.start == pytest.approx(truth[-1][0] + 0.5, abs=1 / fps + TOLERANCE)
    for c in rep.cuts:  # whole frames, inside the silence they come from
        assert c.start_frame is not None and c.start == pytest.approx(c.start_frame / fps)
        assert any(r.start - 1e-6 <= c.start and c.end <= r.end + 1 / fps for r in rep.regions)
    data = rep.to_dict()
    json.dumps(data, allow_nan=False)
    keep = data["keep"]
    assert keep[0][0] == pytest.approx(head.end, abs=1e-3) and keep[-1][1] == pytest.approx(tail.start, abs=1e-3)
    assert sum(b - a for a, b in keep) == pytest.approx(data["tightened_duration"], abs=1e-3)
    assert data["tightened_duration"] == pytest.approx(rep.duration - data["removed_seconds"], abs=1e-3)
    # A short pause (0.5 s, 0.8 s) is left alone.
    assert not any(c.start < truth[1][1] and c.end > truth[1][0] for c in rep.cuts)


def test_digital_silence_is_one_dead_air_region() -> None:
    rep = suggest_cuts(detect_silence(np.zeros(3 * SR, np.float32), SR))
    assert rep.silent and len(rep.regions) == 1
    r = rep.regions[0]
    assert (r.start, r.end, r.position, r.dead_air) == (0.0, 3.0, "all", True)
    data = rep.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["programme_level_db"] is None and data["regions"][0]["digital_silence"] is True
    assert [c["kind"] for c in data["suggestions"]] == ["drop_all"] and data["tightened_duration"] == 0.0
    assert detect_silence(np.zeros(100, np.float32), SR).regions == []  # shorter than a window


def test_bad_input() -> None:
    with pytest.raises(InvalidInput):
        detect_silence(np.array([0.0, np.nan] * 800), SR)
    with pytest.raises(InvalidInput):
        detect_silence(np.zeros(SR), 10)
    with pytest.raises(InvalidInput):
        SilenceParams(hop=0.1, window=0.05)
    with pytest.raises(InvalidInput):
        SilenceParams(min_silence=3.0, dead_air=1.0)
    with pytest.raises(InvalidInput):
        CutParams(max_pause=0.2, keep_pause=0.6)
