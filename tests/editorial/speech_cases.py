"""Speech with known truth for the subtitle tests: espeak-ng lines with known silences between them.

The "recording" is made with a different espeak-ng voice, speed and pitch from the aligner's
reference voice, with noise added, so the aligner never sees its own waveform. Cached per process:
several test files use the same few seconds of speech.
"""

from __future__ import annotations

import functools

import numpy as np

from reelforge.editorial.speech import SpokenLine, render_dialogue
from reelforge.script import sample_path
from reelforge.script.formats import read_file

SR = 16000


@functools.cache
def dialogue(language: str, n: int = 8) -> tuple[tuple[str, str], ...]:
    """(character, text) of the first ``n`` speech turns of the project's sample screenplays."""
    name = "chinese_sample.txt" if language == "zh" else "the_last_reel.fountain"
    sp = read_file(sample_path(name))
    return tuple((d.character, d.text) for d in sp.dialogue_lines()[:n])


@functools.cache
def spoken(language: str, n: int = 8, *, voice: str | None = None, speed: int = 150, pitch: int = 35,
           noise_db: float = -45.0, seed: int = 1) -> tuple[np.ndarray, tuple[SpokenLine, ...]]:
    """Audio of the first ``n`` turns with 0.2-1.5 s of silence between them, and each line's truth."""
    lines = [t for _, t in dialogue(language, n)]
    rng = np.random.default_rng(seed)
    gaps = list(rng.uniform(0.2, 1.5, len(lines) - 1))
    v = voice or ("cmn" if language == "zh" else "en-us")
    audio, truth = render_dialogue(lines, v, SR, gaps=gaps, speed=speed, pitch=pitch, noise_db=noise_db, seed=seed)
    audio.setflags(write=False)
    return audio, tuple(truth)
