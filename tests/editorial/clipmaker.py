"""Tiny real dailies for the editorial tests: H.264 picture and PCM sound in a QuickTime file,
written with PyAV, with a start timecode; speech from espeak-ng (the installed binary).

Picture: a fixed texture of hard-edged blocks; ``blur`` box-blurs it (soft focus) and ``gain``
brightens it (blown highlights). Sound: spoken lines, scaled by ``level`` and hard-limited to
full scale (``level`` > 1 clips).
"""

from __future__ import annotations

import io
import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SPEECH_RATE = 22050  # espeak-ng's native rate


def speak(text: str, voice: str = "en") -> np.ndarray:
    """Mono float32 speech of ``text`` at 22.05 kHz from espeak-ng."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", "170", "--stdout", text], check=True,
                         capture_output=True, timeout=60).stdout
    with wave.open(io.BytesIO(wav)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    return (pcm.astype(np.float32) / 32768.0)


def texture(width: int = 96, height: int = 64, seed: int = 0) -> np.ndarray:
    """Hard-edged blocks of random grey levels (mid-range, so nothing clips unless told)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(40, 215, (height // 8 + 1, width // 8 + 1), dtype=np.uint8)
    img = np.kron(blocks, np.ones((8, 8), np.uint8))[:height, :width]
    return np.repeat(img[..., None], 3, axis=2)


def box_blur(img: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return img
    x = img.astype(np.float32)
    k = 2 * radius + 1
    for axis in (0, 1):
        pad = [(0, 0)] * 3
        pad[axis] = (radius, radius)
        p = np.pad(x, pad, mode="edge")
        c = np.cumsum(p, axis=axis, dtype=np.float64)
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
        n = x.shape[axis]
        x = ((np.take(c, range(k, k + n), axis=axis) - np.take(c, range(0, n), axis=axis)) / k).astype(np.float32)
    return np.clip(x, 0, 255).astype(np.uint8)


def make_clip(path: Path, *, seconds: float = 1.5, rate: Fraction = Fraction(24), width: int = 96,
              height: int = 64, seed: int = 0, blur: int = 0, gain: float = 1.0,
              speech: np.ndarray | None = None, level: float = 0.5, timecode: str | None = "01:00:00:00",
              reel: str | None = None, audio: bool = True) -> Path:
    """Write a QuickTime clip: H.264 picture, 16-bit PCM sound at 22.05 kHz."""
    n = round(seconds * rate)
    base = texture(width, height, seed)
    frame = np.clip(box_blur(base, blur).astype(np.float32) * gain, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mov") as out:
        if timecode:
            out.metadata["timecode"] = timecode
        if reel:
            out.metadata["reel_name"] = reel
        vs = out.add_stream("libx264", rate=rate, options={"crf": "12", "preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        if timecode:
            vs.metadata["timecode"] = timecode
        aus = None
        if audio:
            aus = out.add_stream("pcm_s16le", rate=SPEECH_RATE, layout="mono")
        for i in range(n):
            # a one-pixel shift per frame keeps the encoder honest without changing the texture
            f = av.VideoFrame.from_ndarray(np.roll(frame, i % 2, axis=1), format="rgb24")
            f.pts = i
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
        if aus is not None:
            total = round(seconds * SPEECH_RATE)
            sound = np.zeros(total, np.float32)
            if speech is not None:
                s = speech[: total - int(0.1 * SPEECH_RATE)]
                sound[int(0.1 * SPEECH_RATE): int(0.1 * SPEECH_RATE) + len(s)] = s / max(1e-6, np.abs(s).max()) * level
            pcm = (np.clip(sound, -1.0, 1.0) * 32767).astype(np.int16)
            for start in range(0, total, 1024):
                chunk = pcm[None, start:start + 1024]
                af = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
                af.sample_rate = SPEECH_RATE
                af.pts = start
                out.mux(aus.encode(af))
            out.mux(aus.encode(None))
    return path


def make_vfr_clip(path: Path, frames: int = 40) -> Path:
    """An MP4 whose frames alternate 80 ms and 33 ms apart: a variable frame rate."""
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 5, np.uint8), format="rgb24")
            f.pts, f.time_base = t, Fraction(1, 1000)
            t += 33 if i % 2 else 80
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
    return path
