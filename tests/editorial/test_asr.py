"""PocketSphinx transcription of espeak-ng speech (word error rate and word times), and the WER function."""

from __future__ import annotations

import numpy as np
import pytest

from reelforge.editorial.asr import normalize_words, transcribe, utterances, word_error_rate
from tests.editorial.speech_cases import SR, spoken

# What PocketSphinx's stock en-us model honestly does on clean espeak-ng speech (voice en-us+f2,
# 150 wpm): about 0.46 word error rate; the formant voices it was never trained on are hard for it
# (the male en-us voice scores about 0.78). The bound leaves room for noise between library builds.
WER_BOUND = 0.6


@pytest.fixture(scope="module")
def heard() -> tuple:
    audio, truth = spoken("en", 6, voice="en-us+f2", speed=150, pitch=50, noise_db=-60)
    return audio, truth, transcribe(audio, SR)


def test_word_error_rate_on_clean_speech_is_reported_and_bounded(heard: tuple) -> None:
    _, truth, tr = heard
    wer = word_error_rate(" ".join(t.text for t in truth), tr.text)
    print(f"PocketSphinx WER on espeak-ng en-us+f2: {wer.rate:.3f} {wer.to_dict()}")
    assert wer.reference_words > 60
    assert wer.rate < WER_BOUND, wer.to_dict()
    # the bound means something: a transcript of the wrong lines scores far worse
    assert word_error_rate(" ".join(t.text for t in truth), "three tickets tonight " * 20).rate > 0.9


def test_words_have_times_inside_their_lines(heard: tuple) -> None:
    audio, truth, tr = heard
    assert tr.words and tr.duration == pytest.approx(len(audio) / SR)
    starts = [w.start for w in tr.words]
    assert starts == sorted(starts) and all(w.end > w.start and 0 <= w.confidence <= 1 for w in tr.words)
    spans = [(t.start - 0.3, t.end + 0.3) for t in truth]
    inside = [any(a <= (w.start + w.end) / 2 <= b for a, b in spans) for w in tr.words]
    assert np.mean(inside) > 0.95
    # each line's first recognised word starts near the line
    for t in truth:
        first = min((w.start for w in tr.words if t.start - 0.3 <= w.start <= t.end), default=None)
        assert first is not None and abs(first - t.start) < 0.35
    assert tr.to_dict()["words"][0].keys() == {"word", "start", "end", "confidence"}


def test_no_speech_gives_an_empty_transcript() -> None:
    rng = np.random.default_rng(0)
    for audio in (np.zeros(SR * 3, np.float32), rng.normal(0, 0.02, SR * 3).astype(np.float32), np.zeros(0)):
        tr = transcribe(audio, SR)
        assert tr.words == [] and tr.text == ""
        assert tr.note in ("no speech in the audio", "no audio")


def test_word_error_rate_counts_each_kind_of_error() -> None:
    w = word_error_rate("the cat sat on the mat", "the cat sat on mat today")
    assert w.errors == 2 and w.rate == pytest.approx(2 / 6)
    w = word_error_rate("a b c d", "a c d e")  # one word dropped, one added: 2 errors, not 3 substitutions
    assert (w.substitutions, w.deletions, w.insertions, w.reference_words) == (0, 1, 1, 4)
    assert word_error_rate("Hello, World!", "hello world").rate == 0.0
    assert word_error_rate("a b c", "x y z").substitutions == 3
    assert word_error_rate("", "").rate == 0.0 and word_error_rate("", "extra").rate == float("inf")
    assert normalize_words("It's nineteen-eighty-two.") == ["it's", "nineteen", "eighty", "two"]
    assert normalize_words("你好，世界") == ["你", "好", "世", "界"]
    assert word_error_rate("你好世界", "你好是界").substitutions == 1


def test_utterances_split_at_pauses_and_cap_their_length() -> None:
    vad = np.zeros(3000, bool)
    vad[100:300] = vad[320:500] = vad[900:1100] = True  # a 0.2 s pause, then a 4 s one
    assert utterances(vad) == [(0.85, 5.15), (8.85, 11.15)]
    long = np.ones(5000, bool)  # 50 s without a pause
    pieces = utterances(long, max_s=20.0)
    assert len(pieces) == 3 and all(b - a <= 20.4 for a, b in pieces)
    assert utterances(np.zeros(100, bool)) == []
