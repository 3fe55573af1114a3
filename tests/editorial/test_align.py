"""Forced alignment on espeak-ng speech with known line times, English and Mandarin, and its bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from reelforge.editorial.align import AlignmentError, AlignmentResult, align_lines
from reelforge.editorial.speech import speech_span, synthesize, token_durations, tokenize, voice_for
from tests.editorial.speech_cases import SR, dialogue, spoken

TOLERANCE_S = 0.040  # the bound on the mean start error


def _start_errors(res: AlignmentResult, truth: tuple) -> np.ndarray:
    return np.array([ln.start - t.start for ln, t in zip(res.lines, truth, strict=True)])


def _proportional(audio: np.ndarray, lines: list[str]) -> list[float]:
    """The naive baseline: line starts spread over the audio in proportion to their characters."""
    n = np.array([len(t) for t in lines], float)
    return list(np.concatenate([[0.0], np.cumsum(n)[:-1]]) / n.sum() * len(audio) / SR)


@pytest.fixture(scope="module")
def english() -> tuple[np.ndarray, tuple, AlignmentResult]:
    audio, truth = spoken("en")
    turns = dialogue("en")
    res = align_lines(audio, SR, [t for _, t in turns], "en", speakers=[c for c, _ in turns])
    return audio, truth, res


@pytest.fixture(scope="module")
def mandarin() -> tuple[np.ndarray, tuple, AlignmentResult]:
    audio, truth = spoken("zh")
    turns = dialogue("zh")
    res = align_lines(audio, SR, [t for _, t in turns], "zh", speakers=[c for c, _ in turns])
    return audio, truth, res


def test_english_line_starts_within_40_ms_of_the_truth(english: tuple) -> None:
    audio, truth, res = english
    err = np.abs(_start_errors(res, truth))
    assert res.voice == "en" and res.coverage == 1.0 and res.unaligned == []
    assert err.mean() < TOLERANCE_S, err
    assert err.max() < 0.1, err
    ends = np.abs([ln.end - t.end for ln, t in zip(res.lines, truth, strict=True)])
    assert ends.mean() < 0.1, ends
    # the check can fail: the naive proportional layout of the same lines misses by far more
    naive = np.abs(np.array(_proportional(audio, [t.text for t in truth])) - [t.start for t in truth])
    assert naive.mean() > 5 * TOLERANCE_S, naive


def test_mandarin_line_starts_within_40_ms_of_the_truth(mandarin: tuple) -> None:
    audio, truth, res = mandarin
    err = np.abs(_start_errors(res, truth))
    assert res.voice == "cmn" and res.coverage == 1.0
    assert err.mean() < TOLERANCE_S, err
    naive = np.abs(np.array(_proportional(audio, [t.text for t in truth])) - [t.start for t in truth])
    assert naive.mean() > 5 * TOLERANCE_S
    # Chinese words are characters (punctuation rides on the one before)
    words = res.lines[0].words
    assert [w for w, _, _ in words][:3] == ["今", "晚", "只"]


def test_words_speakers_and_confidence(english: tuple, mandarin: tuple) -> None:
    for _, truth, res in (english, mandarin):
        for ln, t in zip(res.lines, truth, strict=True):
            assert ln.aligned and ln.confidence >= 0.5 and ln.speaker
            assert [w for w, _, _ in ln.words] == [tok.text for tok in tokenize(ln.text)]
            starts = [a for _, a, _ in ln.words]
            assert starts == sorted(starts)
            assert ln.words[0][1] == pytest.approx(ln.start, abs=1e-6)
            assert all(a < b for _, a, b in ln.words)
            assert ln.words[-1][2] <= ln.end + 1e-6 and abs(ln.words[-1][2] - t.end) < 0.15
    assert english[2].lines[0].speaker == "THEO"
    d = english[2].to_dict()
    assert d["coverage"] == 1.0 and d["lines"][0]["words"][0][0] == "Three"


def test_audio_with_no_speech_aligns_nothing() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(SR * 8) / SR
    lines = [t_ for _, t_ in dialogue("en", 3)]
    for audio in (np.zeros(SR * 8, np.float32),                              # digital silence
                  rng.normal(0, 0.01, SR * 8).astype(np.float32),           # steady noise
                  (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)):   # a tone
        res = align_lines(audio, SR, lines)
        assert res.coverage == 0.0 and res.unaligned == [0, 1, 2]
        assert res.note == "no speech in the audio"
        assert all(ln.reason == "no speech in the audio" and ln.words == [] for ln in res.lines)


def test_a_script_that_does_not_match_reports_unaligned_lines(english: tuple) -> None:
    audio, truth, good = english
    others = [t for _, t in dialogue("en", 40)[30:]]
    script = [t.text for t in truth]
    script[2], script[5] = others[0], others[4]  # two lines the actors did not say
    res = align_lines(audio, SR, script)
    assert 2 in res.unaligned and 5 in res.unaligned
    assert all(res.lines[i].reason for i in res.unaligned)
    assert {0, 1, 7} <= {ln.index for ln in res.lines if ln.aligned}, res.unaligned
    # a line in the script that was never spoken
    said = [t.text for t in truth]
    res = align_lines(audio, SR, [*said[:4], others[8], *said[4:]])
    assert 4 in res.unaligned, [(ln.index, ln.reason) for ln in res.lines]
    assert {0, 1, 2, 6, 7, 8} <= {ln.index for ln in res.lines if ln.aligned}
    # the wrong scene altogether: most lines are reported
    wrong = align_lines(audio, SR, others[:8])
    assert wrong.coverage <= 0.35, [(ln.index, ln.edge) for ln in wrong.lines]
    assert good.coverage - wrong.coverage >= 0.65


def test_lines_with_nothing_to_say_and_empty_scripts(english: tuple) -> None:
    audio, truth, _ = english
    res = align_lines(audio, SR, [truth[0].text, "...", truth[1].text, "— —", *[t.text for t in truth[2:]]])
    assert res.lines[1].reason == res.lines[3].reason == "nothing to speak in the line"
    assert res.unaligned == [1, 3]
    assert abs(res.lines[2].start - truth[1].start) < 0.1
    empty = align_lines(audio, SR, [])
    assert empty.lines == [] and empty.coverage == 1.0


def test_bad_audio_is_a_clear_error() -> None:
    with pytest.raises(AlignmentError, match="mono"):
        align_lines(np.zeros((2, 1000), np.float32), SR, ["hello"])
    with pytest.raises(AlignmentError, match="sample rate"):
        align_lines(np.zeros(1000, np.float32), 10, ["hello"])
    with pytest.raises(AlignmentError, match="speakers"):
        align_lines(np.zeros(1000, np.float32), SR, ["a", "b"], speakers=["X"])
    with pytest.raises(AlignmentError, match="voice"):
        align_lines(spoken("en", 2)[0], SR, ["hello there"], voice="zz")


def test_other_sample_rates_and_int_audio_give_the_same_times(english: tuple) -> None:
    audio, truth, res = english
    from scipy.signal import resample_poly

    a44 = resample_poly(audio[: int(truth[3].start * SR)], 441, 160).astype(np.float32)
    res44 = align_lines(a44, 44100, [t.text for t in truth[:3]])
    for a, b in zip(res44.lines, res.lines[:3], strict=False):
        assert abs(a.start - b.start) < 0.02


def test_speech_helpers() -> None:
    assert voice_for("zh") == voice_for("zh-CN") == "cmn" and voice_for("en") == "en"
    assert voice_for("fr") == "fr" and voice_for("en", "en-us+f3") == "en-us+f3"
    x = synthesize("Hello there.", "en", SR)
    a, b = speech_span(x, SR)
    assert 0 < a < b < len(x) and (b - a) / SR > 0.4
    toks, durs = token_durations("Hello there, my old friend.", "en")
    assert [t.text for t in toks] == ["Hello", "there,", "my", "old", "friend."]
    assert durs is not None and len(durs) == 5 and all(d > 0.05 for d in durs)
    assert [t.text for t in tokenize("你好，世界。OK 吗？")] == ["你", "好，", "世", "界。", "OK", "吗？"]
    assert [t.text for t in tokenize("Well -- no . ok")] == ["Well --", "no .", "ok"]
