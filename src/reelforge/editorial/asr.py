"""Speech recognition with PocketSphinx (its US-English model ships inside the package) and word error rate.

The audio is cut at pauses into utterances of at most ``max_utterance_s`` (PocketSphinx's search
and its running cepstral normalisation behave best on sentence-sized pieces), each decoded on its
own; word times come from the decoder's segmentation, offset by the utterance's start.

PocketSphinx is a small, old, offline recogniser: expect a high word error rate on anything but
clear read speech (see docs/benchmarks.md for what it does on espeak-ng speech). Its output is a
draft for a person to correct, and the forced aligner (``align.py``) is the tool when a script
exists.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from reelforge.editorial import features as F
from reelforge.editorial.speech import resample

SR = 16000
MAX_UTTERANCE_S = 20.0
MIN_PAUSE_S = 0.25  # cut between utterances only at a pause at least this long
_FILLERS = {"<s>", "</s>", "<sil>", "[noise]", "[speech]", "<unk>"}


class TranscriptionError(ValueError):
    """The recogniser cannot run (PocketSphinx missing or its model unreadable)."""


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    confidence: float  # the decoder's posterior for the word, 0-1


@dataclass
class Transcript:
    words: list[Word] = field(default_factory=list)
    utterances: list[tuple[float, float]] = field(default_factory=list)  # the pieces decoded
    duration: float = 0.0
    speech_seconds: float = 0.0
    note: str = ""

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    def to_dict(self) -> dict:
        return {
            "version": 1, "engine": "pocketsphinx", "model": "en-us", "duration": round(self.duration, 3),
            "speech_seconds": round(self.speech_seconds, 3), "note": self.note, "text": self.text,
            "words": [{"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3),
                       "confidence": round(w.confidence, 3)} for w in self.words],
            "utterances": [[round(a, 3), round(b, 3)] for a, b in self.utterances],
        }


def utterances(vad: np.ndarray, hop: float = F.HOP_S, *, max_s: float = MAX_UTTERANCE_S,
               min_pause_s: float = MIN_PAUSE_S, pad_s: float = 0.15) -> list[tuple[float, float]]:
    """Speech stretches (seconds) from a voice-activity mask: joined across short pauses, split at
    the longest pause inside any that run past ``max_s``, padded a little on both sides."""
    idx = np.flatnonzero(vad)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > min_pause_s / hop)
    runs = list(zip(np.r_[idx[0], idx[breaks + 1]], np.r_[idx[breaks], idx[-1]] + 1, strict=True))
    out: list[tuple[int, int]] = []
    for a, b in runs:
        if out and (b - out[-1][0]) * hop <= max_s and (a - out[-1][1]) * hop < 0.6:
            out[-1] = (out[-1][0], b)  # a short pause inside one sentence-sized piece
        else:
            out.append((a, b))
    pieces: list[tuple[int, int]] = []
    limit = int(max_s / hop)
    for a, b in out:
        while b - a > limit:  # a long stretch with no pause: cut at the last quiet frame of its second half
            w = vad[a + limit // 2: a + limit].astype(int)
            cut = a + limit // 2 + len(w) - 1 - int(np.argmin(w[::-1]))
            pieces.append((a, cut))
            a = cut
        pieces.append((a, b))
    n = len(vad)
    pad = int(pad_s / hop)
    return [(round(float(max(0, a - pad) * hop), 3), round(float(min(n, b + pad) * hop), 3)) for a, b in pieces]


def _decoder():  # type: ignore[no-untyped-def]
    try:
        from pocketsphinx import Decoder
    except ImportError as err:  # pragma: no cover - the package is a dependency of the extra
        raise TranscriptionError(f"pocketsphinx is not installed ({err})") from None
    try:
        return Decoder(loglevel="FATAL")  # the packaged en-us acoustic model, LM and CMUdict
    except RuntimeError as err:  # pragma: no cover - a broken install
        raise TranscriptionError(f"pocketsphinx could not load its model: {err}") from None


def transcribe(audio: np.ndarray, sr: int, *, progress: Callable[[int, int, str], None] | None = None,
               should_stop: Callable[[], bool] | None = None, max_utterance_s: float = MAX_UTTERANCE_S) -> Transcript:
    """Words with start/end times (seconds) in mono ``audio``."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim != 1:
        raise TranscriptionError(f"audio must be mono (1-D), got shape {a.shape}")
    x = resample(np.nan_to_num(a), int(sr), SR)
    out = Transcript(duration=len(x) / SR)
    if len(x) == 0:
        out.note = "no audio"
        return out
    feats = F.compute_features(x)
    vad = F.voice_activity(feats.energy_db)
    out.speech_seconds = float(vad.sum() * F.HOP_S)
    out.utterances = utterances(vad, max_s=max_utterance_s)
    if not out.utterances:
        out.note = "no speech in the audio"
        return out
    dec = _decoder()
    frate = 100.0  # PocketSphinx frames per second (its default -frate)
    pcm = (np.clip(x, -1.0, 1.0) * 32767).astype("<i2")
    for k, (t0, t1) in enumerate(out.utterances):
        if should_stop is not None and should_stop():
            raise InterruptedError("transcription stopped")
        dec.start_utt()
        dec.process_raw(pcm[int(t0 * SR): int(t1 * SR)].tobytes(), no_search=False, full_utt=True)
        dec.end_utt()
        for seg in dec.seg():
            word = _clean_word(seg.word)
            if word is None:
                continue
            start = t0 + seg.start_frame / frate
            end = t0 + (seg.end_frame + 1) / frate
            out.words.append(Word(word, round(float(start), 3), round(float(end), 3), float(np.clip(seg.prob, 0.0, 1.0))))
        if progress is not None:
            progress(k + 1, len(out.utterances), "recognising speech")
    return out


def _clean_word(word: str) -> str | None:
    w = word.strip()
    if not w or w.lower() in _FILLERS or (w.startswith("[") and w.endswith("]")) or (w.startswith("++") and w.endswith("++")):
        return None
    return re.sub(r"\(\d+\)$", "", w)  # alternate pronunciations: "the(2)"


# -- word error rate ------------------------------------------------------------------------------
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def normalize_words(text: str) -> list[str]:
    """Words as scored: lower case, no punctuation (apostrophes kept), hyphens split; Chinese by character."""
    text = unicodedata.normalize("NFKC", text).lower().replace("-", " ").replace("\u2019", "'")
    text = _CJK.sub(lambda m: f" {m.group(0)} ", text)
    text = "".join(ch if ch.isalnum() or ch == "'" or ch.isspace() else " " for ch in text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


@dataclass(frozen=True)
class WER:
    """Word error rate, ``(substitutions + deletions + insertions) / reference words``."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return self.errors / self.reference_words

    def to_dict(self) -> dict:
        return {"wer": round(self.rate, 4), "substitutions": self.substitutions, "deletions": self.deletions,
                "insertions": self.insertions, "reference_words": self.reference_words}


def word_error_rate(reference: str | list[str], hypothesis: str | list[str]) -> WER:
    """Levenshtein alignment of word lists (strings are normalised with :func:`normalize_words`)."""
    ref = normalize_words(reference) if isinstance(reference, str) else list(reference)
    hyp = normalize_words(hypothesis) if isinstance(hypothesis, str) else list(hypothesis)
    n, m = len(ref), len(hyp)
    # cost, substitutions, deletions, insertions for the best alignment of each prefix pair
    prev = [(j, 0, 0, j) for j in range(m + 1)]
    for i in range(1, n + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, m + 1):
            c, s, d, ins = prev[j - 1]
            best = (c, s, d, ins) if ref[i - 1] == hyp[j - 1] else (c + 1, s + 1, d, ins)
            c, s, d, ins = prev[j]
            if c + 1 < best[0]:
                best = (c + 1, s, d + 1, ins)
            c, s, d, ins = cur[j - 1]
            if c + 1 < best[0]:
                best = (c + 1, s, d, ins + 1)
            cur.append(best)
        prev = cur
    _, s, d, ins = prev[m]
    return WER(s, d, ins, n)
