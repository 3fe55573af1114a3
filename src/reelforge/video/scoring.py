"""Score detected transitions against ground truth, as shot-boundary benchmarks do.

A truth cut is found by a detection within ``tolerance`` frames of it (±1 by default: frame
accurate, allowing for the one-frame ambiguity of where a detector places a cut); a truth dissolve
or fade is found by a detection that overlaps it (the same tolerance at its ends). Each truth event
and each detection is matched at most once, nearest first. Detections matched to nothing are false
positives: a cut-like one counts against cut precision, a gradual one against gradual precision.

Besides precision, recall and F1 the evaluation counts the two classic false alarms, detections on
a camera flash and inside fast motion, and whether matched gradual transitions got their kind right.
:func:`quality_failures` turns an evaluation into the list of what falls short of a bar (empty when
the output is good), which is what tests assert on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GRADUAL = ("dissolve", "fade_out", "fade_in", "gradual")


@dataclass(frozen=True)
class Event:
    kind: str
    frame: int
    length: int

    @property
    def gradual(self) -> bool:
        return self.kind in GRADUAL and self.length > 0

    @property
    def end(self) -> int:
        return self.frame + max(self.length, 1)

    @property
    def centre(self) -> float:
        return self.frame + (self.length - 1) / 2 if self.gradual else float(self.frame)


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


@dataclass
class Evaluation:
    cuts: Score
    gradual: Score
    overall: Score
    kind_correct: int = 0  # matched gradual truths whose detected kind is the same
    kind_total: int = 0
    on_flash: int = 0  # false detections on (or next to) a flash frame
    in_fast_motion: int = 0  # false detections inside fast motion
    matches: list[tuple[Event, Event]] = field(default_factory=list)
    missed: list[Event] = field(default_factory=list)
    false: list[Event] = field(default_factory=list)

    @property
    def kind_accuracy(self) -> float:
        return self.kind_correct / self.kind_total if self.kind_total else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "cuts": self.cuts.to_dict(), "gradual": self.gradual.to_dict(), "overall": self.overall.to_dict(),
            "kind_accuracy": round(self.kind_accuracy, 4), "false_on_flash": self.on_flash,
            "false_in_fast_motion": self.in_fast_motion,
            "missed": [vars(e) for e in self.missed], "false": [vars(e) for e in self.false],
        }


def _event(item: Any) -> Event:
    if isinstance(item, Event):
        return item
    if isinstance(item, Mapping):
        return Event(str(item["kind"]), int(item["frame"]), int(item.get("length", 0)))
    return Event(str(item.kind), int(item.frame), int(getattr(item, "length", 0)))


def _cost(truth: Event, det: Event, tolerance: int) -> float | None:
    """Distance between a truth event and a detection, or None when they do not match."""
    if truth.gradual:
        if det.frame < truth.end + tolerance and truth.frame - tolerance < det.end:
            return abs(truth.centre - det.centre)
        return None
    if det.gradual:
        inside = det.frame - tolerance <= truth.frame <= det.end + tolerance - 1
        return abs(truth.centre - det.centre) if inside else None
    gap = abs(det.frame - truth.frame)
    return float(gap) if gap <= tolerance else None


def evaluate(
    detected: Iterable[Any],
    truth: Iterable[Any],
    tolerance: int = 1,
    flashes: Sequence[int] = (),
    fast_motion: Sequence[Sequence[int]] = (),
) -> Evaluation:
    """Match ``detected`` against ``truth`` (transitions as objects or dicts with kind/frame/length)."""
    dets = [_event(d) for d in detected]
    truths = [_event(t) for t in truth]
    pairs = []
    for ti, t in enumerate(truths):
        for di, d in enumerate(dets):
            cost = _cost(t, d, tolerance)
            if cost is not None:
                pairs.append((cost, ti, di))
    pairs.sort()
    used_t: set[int] = set()
    used_d: set[int] = set()
    ev = Evaluation(Score(), Score(), Score())
    for _, ti, di in pairs:
        if ti in used_t or di in used_d:
            continue
        used_t.add(ti)
        used_d.add(di)
        t, d = truths[ti], dets[di]
        ev.matches.append((t, d))
        (ev.gradual if t.gradual else ev.cuts).tp += 1
        if t.gradual:
            ev.kind_total += 1
            ev.kind_correct += int(t.kind == d.kind)
    for ti, t in enumerate(truths):
        if ti not in used_t:
            ev.missed.append(t)
            (ev.gradual if t.gradual else ev.cuts).fn += 1
    flash_set = set(flashes)
    for di, d in enumerate(dets):
        if di in used_d:
            continue
        ev.false.append(d)
        (ev.gradual if d.gradual else ev.cuts).fp += 1
        touched = range(d.frame - 1, d.end + 1)
        if any(k in flash_set for k in touched):
            ev.on_flash += 1
        if any(a <= d.frame < b for a, b in fast_motion):
            ev.in_fast_motion += 1
    ev.overall = Score(ev.cuts.tp + ev.gradual.tp, ev.cuts.fp + ev.gradual.fp, ev.cuts.fn + ev.gradual.fn)
    ev.matches.sort(key=lambda m: m[0].frame)
    return ev


def quality_failures(
    ev: Evaluation,
    min_cut_f1: float = 1.0,
    min_gradual_recall: float = 1.0,
    min_overall_precision: float = 1.0,
    max_on_flash: int = 0,
    max_in_fast_motion: int = 0,
) -> list[str]:
    """What falls short of the bar, one line each; empty when the detection is good enough."""
    out = []
    if ev.cuts.f1 < min_cut_f1:
        out.append(f"cut F1 {ev.cuts.f1:.3f} < {min_cut_f1} (missed "
                   f"{[e.frame for e in ev.missed if not e.gradual]}, false "
                   f"{[e.frame for e in ev.false if not e.gradual]})")
    if ev.gradual.recall < min_gradual_recall:
        out.append(f"gradual recall {ev.gradual.recall:.3f} < {min_gradual_recall} "
                   f"(missed {[(e.kind, e.frame) for e in ev.missed if e.gradual]})")
    if ev.overall.precision < min_overall_precision:
        out.append(f"precision {ev.overall.precision:.3f} < {min_overall_precision} "
                   f"(false {[(e.kind, e.frame) for e in ev.false]})")
    if ev.on_flash > max_on_flash:
        out.append(f"{ev.on_flash} detection(s) on a flash")
    if ev.in_fast_motion > max_in_fast_motion:
        out.append(f"{ev.in_fast_motion} detection(s) inside fast motion")
    return out
