"""Forced alignment of script lines to speech, language-independent, the aeneas way.

1. Each line is spoken by espeak-ng (``speech.py``) in the script's language (``en``; ``cmn`` for
   Chinese); the lines are laid end to end with 0.4 s of silence between them: the *synthetic
   script*, whose line boundaries are known exactly.
2. Both signals become mel spectra every 10 ms (``features.py``). The synthetic one is given the
   real speech's spectral balance and the real audio's own background noise (frames from its
   pauses, added in the power domain), so a pause looks like a pause and a quiet word end like a
   word end in both; then MFCCs, standardised with the real speech's statistics.
3. DTW (``dtw.py``) warps the real audio onto the synthetic script, coarse to fine: 160 ms frames
   inside a band of ``band_s`` seconds around a guide that pairs equal fractions of speech (so long
   stretches without dialogue do not pull the band off), then ±20 frames around the projected path
   at 40 ms and at 10 ms. Time and memory are linear in the audio's length: about
   ``n/16 * 2*band/0.16 s + 2 * n * 50`` cells for ``n`` 10 ms frames, against ``n * m`` for a full
   DTW — an hour is about 30 million cells instead of 10^11 (see docs/benchmarks.md).
4. A line starts at the real frame where the path leaves the line's first synthetic frame and ends
   where it reaches its last (a run of real frames on a boundary frame is a pause being absorbed).
   Words: a second synthesis puts a long break between tokens, which splits the audio into one
   piece per token; the line's synthetic speech is divided in proportion to those pieces' lengths
   and each boundary mapped through the path the same way. When that synthesis does not split into
   one piece per token, words are divided in proportion to their letters instead.

A line is *unaligned* (``aligned`` False, ``reason`` says why) when there is no speech in the
audio, when there is nothing speakable in it, when the path squeezed it into under 0.6 or stretched
it over 3 times its synthetic length, when the audio under it is mostly not speech, or when its
text does not explain that audio better than other texts do: ``edge`` compares the DTW cost of the
line's own synthetic speech on its span with the mean cost of rivals — itself reversed and six
other lines of the script, resampled to its length — and ``confidence`` is ``edge / 0.2`` clipped
to [0, 1]; below ``min_confidence`` (0.5) the line is unaligned. An unaligned line keeps the times
the path gave it, as a hint for a person. Nothing raises for a script that does not fit its
audio; a wrong line can pull its neighbours out of place, and they are then reported too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from reelforge.editorial import features as F
from reelforge.editorial.dtw import Path, dtw_scores, multiscale_dtw
from reelforge.editorial.speech import (
    SpeechError,
    Token,
    is_cjk,
    resample,
    speech_span,
    synthesize,
    token_durations,
    tokenize,
    voice_for,
)

SR = F.SAMPLE_RATE
GAP_S = 0.4  # silence between synthetic lines, where real pauses go: longer than two coarsest frames
LEAD_S = 0.25
MIN_SPEECH_S = 0.3  # less voice activity than this in the whole file: "no speech"
# A line's text must explain its audio better than other lines of the script (and itself played
# backwards) do: ``edge = 1 - own cost / rivals' mean cost``. Measured on espeak speech of other
# voices, speeds and pitches with noise from -50 to -35 dBFS: right lines 0.18-0.52 (English) and
# 0.13-0.59 (Mandarin); lines swapped for other script lines at most 0.043; a wholly wrong scene
# mostly below 0.08, its worst line 0.13.
MATCH_EDGE = 0.1
RIVALS = 6  # other lines each line is compared with (plus itself reversed)
MIN_CONFIDENCE = 0.5  # confidence = edge / (2 * MATCH_EDGE), clipped to [0, 1]
DURATION_RANGE = (0.6, 3.0)  # real/synthetic length outside this: squeezed (faster than ~290 wpm) or stretched away
SYNTH_THREADS = 4
HOLD_PENALTY = 0.1  # per real frame held on one synthetic frame inside a line (cepstral distances are ~1-5)
EDGE_FRAMES = 600  # longest sequence, in pooled frames, that the per-line check compares
MIN_VOICED = 0.3  # fraction of the line's real span with voice activity


class AlignmentError(ValueError):
    """The input cannot be aligned at all (bad sample rate, not mono)."""


@dataclass
class AlignedLine:
    index: int
    text: str
    start: float
    end: float
    words: list[tuple[str, float, float]] = field(default_factory=list)
    confidence: float = 0.0
    aligned: bool = False
    speaker: str | None = None
    reason: str = ""  # why a line is unaligned
    edge: float = 0.0  # 1 - own DTW cost / rival texts' cost: how much better this text fits

    def to_dict(self) -> dict:
        d = asdict(self)
        d["start"], d["end"] = round(self.start, 3), round(self.end, 3)
        d["confidence"], d["edge"] = round(self.confidence, 3), round(self.edge, 3)
        d["words"] = [[w, round(a, 3), round(b, 3)] for w, a, b in self.words]
        return d


@dataclass
class AlignmentResult:
    lines: list[AlignedLine]
    duration: float = 0.0
    language: str = "en"
    voice: str = "en"
    speech_seconds: float = 0.0
    note: str = ""  # a file-level remark, e.g. "no speech in the audio"

    @property
    def unaligned(self) -> list[int]:
        return [ln.index for ln in self.lines if not ln.aligned]

    @property
    def coverage(self) -> float:
        """Fraction of lines aligned (1.0 for an empty script: nothing is missing)."""
        return 1.0 if not self.lines else sum(ln.aligned for ln in self.lines) / len(self.lines)

    def to_dict(self) -> dict:
        return {
            "version": 1, "language": self.language, "voice": self.voice,
            "duration": round(self.duration, 3), "speech_seconds": round(self.speech_seconds, 3),
            "coverage": round(self.coverage, 4), "unaligned": self.unaligned, "note": self.note,
            "lines": [ln.to_dict() for ln in self.lines],
        }


@dataclass
class _Synth:
    """One line's place in the synthetic script (frame indices) and its word boundaries there."""

    index: int
    start: int
    end: int
    word_bounds: list[tuple[str, int, int]]


def _speak(text: str, voice: str) -> tuple[np.ndarray, list[Token], list[float] | None]:
    """One line's synthetic speech, trimmed to its sound, with its tokens' spoken lengths."""
    if not tokenize(text):
        return np.zeros(0, np.float32), [], None
    x = synthesize(text, voice, SR)
    a, b = speech_span(x, SR)
    toks, durs = token_durations(text, voice)
    return x[a:b], toks, durs


def _word_bounds(toks: list[Token], durs: list[float] | None, n_frames: int, start: int) -> list[tuple[str, int, int]]:
    """Token boundaries in a line's synthetic frames, in proportion to their spoken lengths."""
    if not toks:
        return []
    if durs is None:  # fall back to characters (spaces and punctuation excluded)
        durs = [max(1, sum(ch.isalnum() for ch in t.text)) for t in toks]
    edges = np.concatenate([[0.0], np.cumsum(durs)])
    cut = np.round(edges / edges[-1] * n_frames).astype(int) + start
    return [(t.text, int(cut[k]), int(max(cut[k + 1], cut[k] + 1))) for k, t in enumerate(toks)]


def _build_script(lines: list[str], voice: str, progress: Callable[[int, int, str], None] | None,
                  should_stop: Callable[[], bool] | None) -> tuple[np.ndarray, list[_Synth | None]]:
    """The synthetic script: every line spoken, each starting on a frame, GAP_S of silence between."""
    from concurrent.futures import ThreadPoolExecutor

    hop = round(F.HOP_S * SR)
    spoken: list[tuple[np.ndarray, list[Token], list[float] | None]] = []
    # espeak-ng runs as a subprocess, so threads overlap the calls (two per line)
    with ThreadPoolExecutor(max_workers=SYNTH_THREADS) as pool:
        futures = [pool.submit(_speak, text, voice) for text in lines]
        try:
            for i, fut in enumerate(futures):
                if should_stop is not None and should_stop():
                    raise InterruptedError("alignment stopped")
                spoken.append(fut.result())
                if progress is not None:
                    progress(i + 1, len(lines), "speaking the script")
        finally:
            for fut in futures:
                fut.cancel()
    gap = np.zeros(int(GAP_S * SR), np.float32)
    parts = [np.zeros(int(LEAD_S * SR), np.float32)]
    pos = len(parts[0])
    layout: list[_Synth | None] = []
    for i, (x, toks, durs) in enumerate(spoken):
        if len(x) < hop * 3:
            layout.append(None)  # nothing to say (a dash, a lone parenthetical)
            continue
        f0 = pos // hop  # pos is always a multiple of hop: frame indices are exact
        n_frames = -(-len(x) // hop)
        layout.append(_Synth(i, f0, f0 + n_frames, _word_bounds(toks, durs, n_frames, f0)))
        parts += [np.pad(x, (0, n_frames * hop - len(x))), gap]
        pos += n_frames * hop + len(gap)
    return np.concatenate(parts), layout


def _quiet_frames(vad: np.ndarray) -> np.ndarray:
    """Frames at least 0.1 s from any voice activity: the room tone, not the decay of words."""
    return ~(np.convolve(vad.astype(float), np.ones(21), mode="same") > 0)


def _comparable(real: F.Features, real_vad: np.ndarray, syn: F.Features, syn_vad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MFCCs of both signals on one footing: same spectral balance, same background, same scaling.

    The synthetic speech gets, band by band, the real speech's mean level (voice timbre, microphone
    and level in one gain), and then the real audio's own background added in the power domain,
    frame by frame from its quiet stretches: a synthetic pause then looks like a real pause, and the
    quiet end of a synthetic word like a word end in that noise (with digital silence instead, real
    noise matches a word's tail as well as the pause and line ends drift into the pause after).
    Cepstra are standardised with the real speech's statistics for both.
    """
    quiet = _quiet_frames(real_vad)
    noise = real.mel[quiet] if quiet.sum() >= 20 else np.zeros((1, real.mel.shape[1]), np.float32)
    noise_mean = noise.mean(axis=0)
    lr = np.log(np.maximum(real.mel[real_vad] - noise_mean, 1e-3 * real.mel[real_vad] + 1e-12)).mean(axis=0)
    ls = np.log(np.maximum(syn.mel[syn_vad], 1e-12)).mean(axis=0)
    band_gain = np.exp(np.clip(lr - ls, -20, 20)).astype(np.float32)
    idx = np.arange(len(syn)) % len(noise)
    syn_mel = syn.mel * band_gain + noise[idx]
    floor = F.relative_floor(real.mel)
    rc = real.mfcc(floor)
    sc = F.Features(syn_mel, syn.energy_db).mfcc(floor)
    ref = rc[real_vad]
    mu, sd = ref.mean(axis=0), ref.std(axis=0) + 1e-3
    return ((rc - mu) / sd).astype(np.float32), ((sc - mu) / sd).astype(np.float32)


def _speech_guide(real_vad: np.ndarray, syn_vad: np.ndarray) -> np.ndarray:
    """For each real frame, the synthetic frame with the same fraction of speech before it."""
    cr = np.cumsum(real_vad) / max(1, int(real_vad.sum()))
    cs = np.cumsum(syn_vad) / max(1, int(syn_vad.sum()))
    # equal speech fractions; the index keeps the guide moving through long silences
    j = np.searchsorted(cs, cr, side="left")
    return np.clip(j, 0, len(syn_vad) - 1)


def _to_mono16k(audio: np.ndarray, sr: int) -> np.ndarray:
    a = np.asarray(audio)
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise AlignmentError(f"audio must be mono (1-D), got shape {a.shape}")
    if not 4000 <= int(sr) <= 384_000:
        raise AlignmentError(f"sample rate {sr} is out of range")
    a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return resample(a, int(sr), SR)


def align_lines(audio: np.ndarray, sr: int, lines: list[str], language: str = "en", voice: str | None = None,
                *, speakers: list[str | None] | None = None, min_confidence: float = MIN_CONFIDENCE,
                band_s: float = 60.0, progress: Callable[[int, int, str], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> AlignmentResult:
    """Align each of ``lines`` (spoken in this order) to ``audio``; see the module docstring.

    ``language`` picks the espeak-ng voice (``en``, ``zh``/``cmn``...) unless ``voice`` names one;
    ``speakers`` (one per line, from the character cues) is carried onto the result.
    """
    if speakers is not None and len(speakers) != len(lines):
        raise AlignmentError(f"{len(lines)} lines but {len(speakers)} speakers")
    if language == "auto" or (voice is None and language == "en" and any(is_cjk(t) for t in lines)):
        language = "zh" if any(is_cjk(t) for t in lines) else "en"
    v = voice_for(language, voice)
    x = _to_mono16k(audio, sr)
    duration = len(x) / SR
    out = [AlignedLine(i, t, 0.0, 0.0, speaker=speakers[i] if speakers else None) for i, t in enumerate(lines)]
    result = AlignmentResult(out, duration=duration, language=language, voice=v)
    if not lines:
        return result
    real = F.compute_features(x)
    real_vad = F.voice_activity(real.energy_db)
    result.speech_seconds = float(real_vad.sum() * F.HOP_S)
    if result.speech_seconds < MIN_SPEECH_S:
        result.note = "no speech in the audio"
        for ln in out:
            ln.reason = "no speech in the audio"
        return result

    try:
        syn_audio, layout = _build_script(lines, v, progress, should_stop)
    except SpeechError as err:
        raise AlignmentError(str(err)) from None
    for ln, lay in zip(out, layout, strict=True):
        if lay is None:
            ln.reason = "nothing to speak in the line"
    if not any(lay is not None for lay in layout):
        result.note = "no speakable text in the script"
        return result

    syn = F.compute_features(syn_audio)
    syn_vad = syn.energy_db > -60  # the synthetic script's silences are digital
    rx, sx = _comparable(real, real_vad, syn, syn_vad)
    # For judging whether a line matches, each signal is standardised on its own speech: what is
    # left is what was said, less who said it and through what.
    jr = F.normalize(real.mfcc(), real_vad)
    js = F.normalize(syn.mfcc(), syn_vad)
    guide = _speech_guide(real_vad, syn_vad)
    band = round(band_s / F.HOP_S)
    # Holding a real frame on a synthetic frame inside a line costs a little; on the silence
    # between lines it is free: long real pauses go between lines, not into a comma's pause.
    penalty = np.zeros(len(sx))
    for lay in layout:
        if lay is not None:
            penalty[lay.start:lay.end] = HOLD_PENALTY
    path = multiscale_dtw(
        rx, sx, guide, band=band, down_penalty=penalty, should_stop=should_stop,
        progress=(lambda d, t: progress(d, t, "warping")) if progress else None,
    )
    _read_path(path, out, layout, jr, js, real_vad, min_confidence, should_stop)
    return result


def _competitors(lay: _Synth, layout: list[_Synth | None], out: list[AlignedLine], k: int = RIVALS) -> list[_Synth]:
    """Other lines of the script, of a similar spoken length and different text, to compare against."""
    mine = out[lay.index].text.strip().lower()
    n = lay.end - lay.start
    picks: list[_Synth] = []
    others = [c for c in layout if c is not None and c.index != lay.index and out[c.index].text.strip().lower() != mine]
    # nearest in length first, ties broken by distance in the script: deterministic
    others.sort(key=lambda c: (abs(np.log((c.end - c.start) / n)), abs(c.index - lay.index)))
    for c in others[:k]:
        picks.append(c)
    return picks


def _read_path(path: Path, out: list[AlignedLine], layout: list[_Synth | None], jr: np.ndarray, js: np.ndarray,
               real_vad: np.ndarray, min_confidence: float,
               should_stop: Callable[[], bool] | None = None) -> None:
    """Times, words, confidence and the aligned/unaligned verdict of each line, from the path."""
    hop = F.HOP_S

    # A run of real frames on one synthetic frame at a boundary is a pause being absorbed, so a
    # boundary is read at the run's inner edge: the last real frame on the first synthetic frame
    # of a line or word, the first real frame on its last.
    def start_of(col: int) -> int:
        return path.rows_at(col)[1]

    def end_of(col: int) -> int:
        return path.rows_at(col)[0]

    for ln, lay in zip(out, layout, strict=True):
        if lay is None:
            continue
        if should_stop is not None and should_stop():
            raise InterruptedError("alignment stopped")
        r0 = start_of(lay.start)
        r1 = max(end_of(lay.end - 1), r0)
        ln.start, ln.end = r0 * hop, (r1 + 1) * hop
        ln.words = []
        for w, a, b in lay.word_bounds:
            wa = start_of(a)
            ln.words.append((w, wa * hop, (max(end_of(b - 1), wa) + 1) * hop))
        ratio = (r1 - r0 + 1) / (lay.end - lay.start)
        if not DURATION_RANGE[0] <= ratio <= DURATION_RANGE[1]:
            ln.reason = f"audio span is {ratio:.2f}x the line's spoken length"
            continue
        voiced = float(real_vad[r0:r1 + 1].mean())
        if voiced < MIN_VOICED:
            ln.reason = f"only {voiced:.0%} of the audio under the line is speech"
            continue
        ln.edge = _edge(jr[r0:r1 + 1], js, lay, layout, out)
        ln.confidence = float(np.clip(ln.edge / (2 * MATCH_EDGE), 0.0, 1.0))
        if ln.confidence < min_confidence:
            ln.reason = f"audio does not match the text (confidence {ln.confidence:.2f})"
        else:
            ln.aligned = True


def _edge(seg: np.ndarray, js: np.ndarray, lay: _Synth, layout: list[_Synth | None], out: list[AlignedLine]) -> float:
    """``1 - cost(own text) / mean cost(rival texts)`` on the audio the path gave this line.

    The rivals are the line itself reversed and ``RIVALS`` other lines of the script, each
    resampled in time to the line's own length first: the span was chosen by the path to fit the
    own text's length, and rivals of another length would lose on that alone. Frames are pooled so
    the longer side has at most ``EDGE_FRAMES`` (a minute-long monologue costs what a ten-second
    line does), and at least two-fold.
    """
    mine = js[lay.start:lay.end]
    m = len(mine)
    rivals = [js[c.start:c.end] for c in _competitors(lay, layout, out)]
    rivals = [r[np.round(np.linspace(0, len(r) - 1, m)).astype(int)] for r in rivals]
    texts = [mine, mine[::-1], *rivals]
    factor = max(2, -(-max(len(seg), m) // EDGE_FRAMES))
    costs = dtw_scores(F.pool(seg, factor), [F.pool(t, factor) for t in texts])
    return float(1.0 - costs[0] / max(float(costs[1:].mean()), 1e-9))
