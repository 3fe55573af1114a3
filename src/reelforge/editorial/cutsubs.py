"""Subtitles for a whole cut: each take's dialogue aligned to its own audio, moved onto the timeline.

A cut's first video track says, per clip, which part of its media is used (source range) and
where it plays (record range). Each take's script lines are aligned to the used part of its
audio only (``align.align_lines``), so a line that was trimmed away is not subtitled; aligned
times are then shifted by ``record in - source in`` and clamped to the clip's record range.
Every clip boundary is a shot change for ``subtitles.segment``, so no event runs across a cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from reelforge.editorial.subtitles import TimedWord, Turn

if TYPE_CHECKING:
    import opentimelineio as otio

    from reelforge.editorial.align import AlignmentResult
    from reelforge.script.model import Screenplay


@dataclass(frozen=True)
class Placement:
    """A clip as placed on the cut, in seconds: source range from the media's first frame,
    record range from the cut's first frame."""

    clip: str  # the clip's key (metadata "clip"), else its name
    name: str
    source_in: float
    source_out: float
    record_in: float
    scene_index: int | None = None

    @property
    def record_out(self) -> float:
        return self.record_in + (self.source_out - self.source_in)

    @property
    def offset(self) -> float:
        """Add to a source time to get its record time."""
        return self.record_in - self.source_in


@dataclass
class CutLine:
    """A script line aligned within one take, in record time (words too)."""

    clip: str
    index: int  # the line's position in the take's scene dialogue
    text: str
    speaker: str | None
    start: float
    end: float
    words: list[tuple[str, float, float]] = field(default_factory=list)


def cut_placements(tl: otio.schema.Timeline) -> list[Placement]:
    """The clips of the timeline's first video track, in cut order (gaps only move record time)."""
    import opentimelineio as otio

    video = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video]
    if not video:
        return []
    out: list[Placement] = []
    for clip in video[0].find_clips():
        rate = clip.source_range.start_time.rate
        avail = clip.media_reference.available_range if clip.media_reference else None
        media_start = avail.start_time.value if avail is not None else 0.0
        src_in = (clip.source_range.start_time.value - media_start) / rate
        dur = clip.source_range.duration.value / rate
        rec = clip.range_in_parent().start_time
        meta = clip.metadata.get("reelforge") or {}
        idx = meta.get("scene_index")
        out.append(Placement(str(meta.get("clip") or clip.name), clip.name, src_in, src_in + dur,
                             rec.value / rec.rate, int(idx) if idx is not None else None))
    return out


def cut_points(placements: Sequence[Placement]) -> list[float]:
    """Shot changes for the subtitles: every clip's start and end on the cut but the very start."""
    points = {round(t, 6) for p in placements for t in (p.record_in, p.record_out)}
    return sorted(t for t in points if t > 0)


def scene_dialogue(sp: Screenplay) -> dict[int, list[tuple[str, str | None]]]:
    """Per scene index, its dialogue lines in order as (text, speaker)."""
    out: dict[int, list[tuple[str, str | None]]] = {}
    for d in sp.dialogue_lines():
        out.setdefault(d.scene_index, []).append((d.text, d.character or None))
    return out


def source_slice(audio: np.ndarray, sr: int, p: Placement) -> np.ndarray:
    """The part of a take's mono audio that the cut uses."""
    a = max(0, round(p.source_in * sr))
    b = max(a, round(p.source_out * sr))
    return np.asarray(audio[a:b], np.float32)


def place_result(result: AlignmentResult, p: Placement, *, sliced: bool = True) -> tuple[list[CutLine], list[int]]:
    """Aligned lines moved onto the cut, and the indices of lines left out.

    ``sliced``: the result is of ``source_slice`` audio, so its times count from the source in.
    Words are clamped to the record range; a line with no word left inside is left out.
    """
    shift = p.record_in if sliced else p.offset
    placed: list[CutLine] = []
    left_out: list[int] = []
    for ln in result.lines:
        if not ln.aligned:
            left_out.append(ln.index)
            continue
        words = []
        for w, a, b in ln.words:
            a, b = max(a + shift, p.record_in), min(b + shift, p.record_out)
            if b > a:
                words.append((w, a, b))
        if not words:  # aligned only to audio the cut does not use
            left_out.append(ln.index)
            continue
        placed.append(CutLine(p.clip, ln.index, ln.text, ln.speaker, words[0][1], words[-1][2], words))
    return placed, left_out


def align_take(audio: np.ndarray, sr: int, p: Placement, lines: Sequence[tuple[str, str | None]], *,
               language: str = "en", aligner: Callable[..., AlignmentResult] | None = None,
               **kwargs: Any) -> tuple[list[CutLine], list[dict[str, Any]]]:
    """Align a take's scene ``lines`` ((text, speaker)) to the used part of its mono ``audio``.

    Returns the lines on the cut and, for each line left out, ``{clip, name, line, text,
    speaker, reason}``.
    """
    if aligner is None:
        from reelforge.editorial.align import align_lines as aligner
    texts = [t for t, _ in lines]
    speakers = [s for _, s in lines]
    if not texts:
        return [], []
    result = aligner(source_slice(audio, sr, p), sr, texts, language=language, speakers=speakers, **kwargs)
    placed, left_out = place_result(result, p)
    why = {ln.index: ln.reason for ln in result.lines}
    missing = [{"clip": p.clip, "name": p.name, "line": i, "text": texts[i], "speaker": speakers[i],
                "reason": why.get(i) or "outside the part of the take used in the cut"} for i in left_out]
    return placed, missing


def cut_turns(lines: Sequence[CutLine]) -> list[Turn]:
    """One subtitle turn per placed line, in cut order, keeping its speaker."""
    ordered = sorted(lines, key=lambda ln: ln.start)
    return [Turn([TimedWord(w, a, b) for w, a, b in ln.words], ln.speaker, k) for k, ln in enumerate(ordered)]

