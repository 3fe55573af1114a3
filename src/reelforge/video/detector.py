"""The one small interface every shot detector implements, and what it returns.

A detector is fed the decoded frames chunk by chunk (:meth:`Detector.feed`) and, at the end of the
file, returns a :class:`Detection`: a score per frame (how strongly that frame starts or belongs
to a transition, in the detector's own units) and the transitions it found. Conventions, shared
with the synthetic truth and the scorer: a cut's ``frame`` is the first frame of the new shot and
its ``length`` 0; a gradual transition's ``frame`` is its first mixed frame, ``length`` its mixed
frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from reelforge.video.decode import FrameChunk

Kind = Literal["cut", "dissolve", "fade_out", "fade_in", "gradual"]  # "gradual": not yet classified
GRADUAL_KINDS = ("dissolve", "fade_out", "fade_in", "gradual")


@dataclass
class Transition:
    kind: str
    frame: int
    length: int
    score: float
    detector: str

    @property
    def end(self) -> int:
        """One past the last frame the transition touches (a cut touches its own frame)."""
        return self.frame + max(self.length, 1)

    @property
    def gradual(self) -> bool:
        return self.kind in GRADUAL_KINDS

    @property
    def boundary(self) -> int:
        """The first frame of the next shot: a cut's frame, a dissolve's middle, a fade-in's start.

        A fade-out has none of its own (the fade-in or cut out of the black that follows makes it).
        """
        if self.kind in ("dissolve", "gradual"):
            return self.frame + self.length // 2
        return self.frame

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = round(float(self.score), 4)
        return data


@dataclass
class Detection:
    """One detector's answer for one file."""

    detector: str
    scores: np.ndarray  # (frames,) float32
    transitions: list[Transition]
    flashes: list[int] = field(default_factory=list)  # flash frames it suppressed, if it does that
    details: dict[str, Any] = field(default_factory=dict)


class Detector(Protocol):
    """Frames in, chunk by chunk; a :class:`Detection` out when the file ends."""

    name: str

    def feed(self, chunk: FrameChunk) -> None: ...

    def finish(self) -> Detection: ...
