"""The fast content detector: colour histograms and a luma grid, an adaptive threshold, flash
suppression and the gradual-transition test, on the 96x54 frames.

A hard cut is one frame-to-frame change that stands out from the changes around it: its score
(HSV histogram distance + luma-grid distance) must reach ``threshold`` times the median score of
the ``window`` frames either side, and ``min_score`` in absolute terms. The median adapts to the
footage: a fast pan raises the bar around it, a locked-off shot lowers it. Candidates that turn out
to be a flash, or that fall inside a dissolve or fade, are not cuts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reelforge.video.decode import FrameChunk
from reelforge.video.detector import Detection, Transition
from reelforge.video.features import FrameFeatures
from reelforge.video.flashes import covers, find_flashes, flash_frames
from reelforge.video.gradual import GradualSettings, find_gradual


@dataclass(frozen=True)
class ContentSettings:
    threshold: float = 3.0  # a cut's score over the local median score
    min_score: float = 0.3  # and at least this (0..3: histogram 0..1 + 2 x luma grid 0..1)
    window: int = 12  # frames either side that set the local median
    floor: float = 0.02  # the median never counts as lower than this (static shots, black holds)
    flash_frames: int = 2  # longest flash suppressed (0: no flash suppression)
    gradual: bool = True  # look for dissolves and fades
    gradual_settings: GradualSettings = field(default_factory=GradualSettings)


def local_median(values: np.ndarray, window: int) -> np.ndarray:
    """Median of ``values[i - window : i + window + 1]`` for every i (edges use what exists)."""
    n = len(values)
    padded = np.pad(np.nan_to_num(values, nan=0.0), window, mode="reflect" if n > window else "edge")
    out = np.empty(n, np.float32)
    step = 65536
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        out[lo:hi] = np.median(sliding_window_view(padded[lo:hi + 2 * window], 2 * window + 1), axis=1)
    return out


def adaptive_ratio(score: np.ndarray, window: int, floor: float) -> np.ndarray:
    return score / np.maximum(local_median(score, window), floor)


def find_cuts(f: FrameFeatures, s: ContentSettings) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Per-frame score, cut candidates (frames that start a new shot) and the adaptive ratio."""
    score = np.nan_to_num(f.distance(1), nan=0.0).astype(np.float32)
    ratio = adaptive_ratio(score, s.window, s.floor)
    prev = np.r_[0.0, score[:-1]]
    nxt = np.r_[score[1:], 0.0]
    peak = (score >= prev) & (score > nxt)  # one candidate per jump
    cand = np.flatnonzero(peak & (score >= s.min_score) & (ratio >= s.threshold))
    return score, [int(i) for i in cand if i > 0], ratio


class ContentDetector:
    """HSV histogram + luma-grid differences with an adaptive threshold; flashes suppressed;
    dissolves and fades by the mix test (``gradual.py``)."""

    name = "content"

    def __init__(self, settings: ContentSettings | None = None) -> None:
        self.settings = settings or ContentSettings()
        self.features = FrameFeatures()

    def feed(self, chunk: FrameChunk) -> None:
        self.features.add(chunk.rgb)

    def finish(self) -> Detection:
        s, f = self.settings, self.features
        score, candidates, ratio = find_cuts(f, s)
        flashes = find_flashes(f, max_frames=s.flash_frames) if s.flash_frames else []
        excluded = np.zeros(len(f), bool)
        excluded[flash_frames(flashes)] = True
        gradual = find_gradual(f, s.gradual_settings, exclude=excluded) if s.gradual else []
        cuts = []
        for i in candidates:
            if covers(flashes, i):
                continue
            if any(g.frame - 2 <= i <= g.end + 1 for g in gradual):
                continue  # a jump inside a mix, at its ends, or into a fade's hold
            confidence = float(min(1.0, ratio[i] / (4 * s.threshold)) * 0.5 + min(1.0, score[i] / 1.5) * 0.5)
            cuts.append(Transition("cut", i, 0, round(confidence, 4), self.name))
        transitions = sorted(cuts + gradual, key=lambda t: t.frame)
        return Detection(self.name, score, transitions, flashes=flash_frames(flashes),
                         details={"ratio": ratio, "flash_spans": flashes})
