"""Speech synthesis with espeak-ng: the aligner's reference speech and test speech with known truth.

espeak-ng runs as a subprocess (``espeak-ng -v VOICE -w out.wav -f text.txt``): it is fast (about
10 ms a line), deterministic, speaks Mandarin (voice ``cmn``) and English alike, and a crash there
cannot take the worker down. Its CLI reports no word timing, so word spans come from a second
synthesis with a long SSML ``<break>`` between tokens: espeak writes exact digital silence for a
break, which splits the audio into one segment per token.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ESPEAK_RATE = 22050  # what espeak-ng's voices write
TOKEN_BREAK_MS = 600  # pause put between tokens to find word spans
_MIN_TOKEN_GAP_S = 0.4  # a run of zeros this long is a token break (clause pauses are ≤ 0.35 s)
MAX_TEXT_CHARS = 20_000  # one synthesis call; a screenplay line is far shorter

# language code → espeak-ng voice
VOICES = {"en": "en", "en-us": "en-us", "en-gb": "en-gb", "zh": "cmn", "zh-cn": "cmn", "cmn": "cmn",
          "mandarin": "cmn", "chinese": "cmn"}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_SPEAKABLE = re.compile(r"[^\W_]", re.UNICODE)  # a letter or digit in any script


class SpeechError(ValueError):
    """espeak-ng is missing, refused a voice, or produced no audio."""


def voice_for(language: str, voice: str | None = None) -> str:
    """The espeak-ng voice for a language code (``en``, ``zh``/``cmn``...); an explicit voice wins."""
    if voice:
        return voice
    key = language.strip().lower()
    if key in VOICES:
        return VOICES[key]
    return key.split("-")[0] or "en"


def is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@dataclass(frozen=True)
class Token:
    """A word of the script as subtitles show it: English words by spaces, Chinese by character."""

    text: str
    start: int  # character offsets in the line
    end: int


def tokenize(text: str) -> list[Token]:
    """Words to time: space-separated words; each Han character on its own (Chinese has no spaces).

    Punctuation sticks to the token before it; a token with nothing speakable (a dash, an ellipsis)
    is dropped, since it makes no sound to time.
    """
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if _CJK.match(ch):
            j = i + 1
        else:
            j = i
            while j < n and not text[j].isspace() and not _CJK.match(text[j]):
                j += 1
        # trailing punctuation (CJK or not) belongs to this token
        while j < n and not text[j].isspace() and not _CJK.match(text[j]) and not _SPEAKABLE.match(text[j]):
            j += 1
        tok = text[i:j]
        if _SPEAKABLE.search(tok):
            out.append(Token(tok, i, j))
        elif out:  # bare punctuation after a space: attach to the previous token
            prev = out[-1]
            out[-1] = Token(text[prev.start:j], prev.start, j)
        i = j
    return out


def _clean(text: str) -> str:
    """Text espeak can read: one line, no control characters, no SSML-looking markup."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    text = " ".join(text.split())
    if len(text) > MAX_TEXT_CHARS:
        raise SpeechError(f"text of {len(text)} characters is longer than {MAX_TEXT_CHARS} for one synthesis")
    return text


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def _run_espeak(text: str, voice: str, *, speed: int | None, pitch: int | None, ssml: bool,
                amplitude: int | None = None) -> tuple[np.ndarray, int]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechError("espeak-ng is not installed (apt install espeak-ng)")
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]{1,64}", voice):
        raise SpeechError(f"invalid espeak-ng voice name {voice!r}")
    with tempfile.TemporaryDirectory(prefix="rf-espeak-") as tmp:
        src, dst = Path(tmp) / "text.txt", Path(tmp) / "out.wav"
        src.write_text(text, encoding="utf-8")
        cmd = [exe, "-b", "1", "-v", voice, "-w", str(dst), "-f", str(src)]
        if ssml:
            cmd.insert(1, "-m")
        if speed is not None:
            cmd[1:1] = ["-s", str(int(speed))]
        if pitch is not None:
            cmd[1:1] = ["-p", str(int(pitch))]
        if amplitude is not None:
            cmd[1:1] = ["-a", str(int(amplitude))]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        except subprocess.TimeoutExpired:
            raise SpeechError("espeak-ng took more than 120 s") from None
        err = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode != 0 or not dst.exists():
            raise SpeechError(f"espeak-ng failed (voice {voice!r}): {err.splitlines()[-1] if err else proc.returncode}")
        if "voice" in err.lower() and ("not" in err.lower() or "unknown" in err.lower()):
            raise SpeechError(f"espeak-ng has no voice {voice!r}")
        with wave.open(str(dst), "rb") as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0, rate


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Polyphase resampling (exact rational ratio), float32 out."""
    if src_rate == dst_rate:
        return x.astype(np.float32, copy=False)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(src_rate, dst_rate)
    return resample_poly(x, dst_rate // g, src_rate // g).astype(np.float32)


def synthesize(text: str, voice: str = "en", sample_rate: int = 16000, *, speed: int | None = None,
               pitch: int | None = None, amplitude: int | None = None) -> np.ndarray:
    """Speak ``text`` with an espeak-ng voice: float32 mono at ``sample_rate``, silences included."""
    clean = _clean(text)
    if not clean:
        return np.zeros(0, np.float32)
    pcm, rate = _run_espeak(clean, voice, speed=speed, pitch=pitch, ssml=False, amplitude=amplitude)
    return resample(pcm, rate, sample_rate)


def speech_span(x: np.ndarray, sample_rate: int, below_peak_db: float = 30.0) -> tuple[int, int]:
    """Where the sound is: from the first to the end of the last 10 ms frame within ``below_peak_db``
    of the loudest frame (espeak pads with silence and lets words decay far below hearing)."""
    hop = max(1, sample_rate // 100)
    n = len(x) // hop
    if n == 0:
        return 0, 0
    power = (x[: n * hop].astype(np.float64).reshape(n, hop) ** 2).mean(axis=1)
    top = float(power.max())
    if top <= 1e-12:
        return 0, 0
    loud = np.flatnonzero(power > top * 10 ** (-below_peak_db / 10))
    return int(loud[0]) * hop, int(loud[-1] + 1) * hop


def token_durations(text: str, voice: str = "en", *, speed: int | None = None) -> tuple[list[Token], list[float] | None]:
    """Each token's spoken length in seconds, from one synthesis with a long break between tokens.

    Returns ``(tokens, durations)``; ``durations`` is None when the audio did not split into one
    segment per token (a token espeak spells as several pauses), and callers then fall back to
    character counts.
    """
    toks = tokenize(_clean(text))
    if len(toks) <= 1:
        return toks, [1.0] * len(toks) if toks else []
    brk = f'<break time="{TOKEN_BREAK_MS}ms"/>'
    ssml = "<speak>" + brk.join(_escape(t.text) for t in toks) + "</speak>"
    pcm, rate = _run_espeak(ssml, voice, speed=speed, pitch=None, ssml=True)
    segs = _split_on_silence(pcm, rate, _MIN_TOKEN_GAP_S)
    if len(segs) != len(toks):
        return toks, None
    return toks, [(b - a) / rate for a, b in segs]


def _split_on_silence(pcm: np.ndarray, rate: int, min_gap_s: float) -> list[tuple[int, int]]:
    """Sound segments separated by runs of exact zeros at least ``min_gap_s`` long."""
    nz = np.flatnonzero(pcm != 0)
    if nz.size == 0:
        return []
    gaps = np.flatnonzero(np.diff(nz) > min_gap_s * rate)
    starts = np.concatenate([[nz[0]], nz[gaps + 1]])
    ends = np.concatenate([nz[gaps] + 1, [nz[-1] + 1]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


@dataclass(frozen=True)
class SpokenLine:
    """Where a line's speech lies in audio made by :func:`render_dialogue` (seconds)."""

    index: int
    text: str
    start: float
    end: float


def render_dialogue(lines: list[str], voice: str = "en", sample_rate: int = 16000, *,
                    gaps: list[float] | float = 0.6, lead: float = 0.5, tail: float = 0.5,
                    speed: int | None = None, pitch: int | None = None,
                    noise_db: float | None = None, seed: int = 0) -> tuple[np.ndarray, list[SpokenLine]]:
    """Speak lines one after another with known silences between them: speech with exact truth.

    Each line is trimmed to its sound, so ``start``/``end`` are the first and last audible samples.
    ``noise_db`` adds white noise at that level (dBFS) so the result is not digitally clean.
    """
    n = len(lines)
    gap_list = [float(gaps)] * max(n - 1, 0) if isinstance(gaps, int | float) else [float(g) for g in gaps]
    if len(gap_list) != max(n - 1, 0):
        raise ValueError(f"{n} lines need {max(n - 1, 0)} gaps, got {len(gap_list)}")
    parts: list[np.ndarray] = [np.zeros(round(lead * sample_rate), np.float32)]
    pos = len(parts[0])
    truth: list[SpokenLine] = []
    for i, text in enumerate(lines):
        x = synthesize(text, voice, sample_rate, speed=speed, pitch=pitch)
        a, b = speech_span(x, sample_rate)
        x = x[a:b]
        truth.append(SpokenLine(i, text, pos / sample_rate, (pos + len(x)) / sample_rate))
        parts.append(x)
        pos += len(x)
        pad = gap_list[i] if i < n - 1 else tail
        parts.append(np.zeros(round(pad * sample_rate), np.float32))
        pos += len(parts[-1])
    audio = np.concatenate(parts).astype(np.float32)
    if noise_db is not None:
        rng = np.random.default_rng(seed)
        audio = audio + rng.normal(0, 10 ** (noise_db / 20), audio.shape).astype(np.float32)
    return audio, truth


def write_wav(path: Path | str, audio: np.ndarray, sample_rate: int) -> Path:
    """16-bit PCM mono WAV (clipped to [-1, 1])."""
    path = Path(path)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return path
