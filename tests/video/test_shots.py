"""Shot lists: boundaries from transitions, short shots merged, the JSON contract, drop-frame and
variable-frame-rate files end to end."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from reelforge.errors import InvalidInput
from reelforge.video.decode import frame_times
from reelforge.video.detector import Transition
from reelforge.video.scoring import evaluate, quality_failures
from reelforge.video.shots import ShotList, ShotSettings, build_shot_list, detect_shots, resolve_detector
from reelforge.video.synthetic import SyntheticTruth

CONTRACT_KEYS = {"version", "source", "fps", "fps_rational", "frames", "drop_frame", "shots", "transitions",
                 "flashes"}
SHOT_KEYS = {"index", "start_frame", "end_frame", "start", "end", "start_tc", "end_tc", "transition_in",
             "transition_frames"}


def _times(n: int, rate: Fraction = Fraction(24)) -> object:
    tb = Fraction(1, 12288)
    pts = np.array([round(i / rate / tb) for i in range(n)], np.int64)
    return frame_times(pts, tb, rate)


def test_boundaries_at_cuts_dissolve_middles_and_fade_ins() -> None:
    transitions = [
        Transition("cut", 30, 0, 0.9, "content"),
        Transition("dissolve", 58, 12, 0.8, "content"),
        Transition("fade_out", 126, 10, 0.9, "content"),
        Transition("fade_in", 140, 10, 0.9, "content"),
    ]
    sl, merged = build_shot_list(transitions, _times(200), [42, 43], ["content"])
    assert merged == 0
    assert [(s.start_frame, s.end_frame, s.transition_in, s.transition_frames) for s in sl.shots] == [
        (0, 30, "start", 0), (30, 64, "cut", 0), (64, 140, "dissolve", 12), (140, 200, "fade_in", 10)]
    assert sl.shots[1].start == pytest.approx(1.25) and sl.shots[1].start_tc == "00:00:01:06"
    assert sl.shots[-1].end == pytest.approx(200 / 24) and sl.shots[-1].end_tc == "00:00:08:08"
    assert not sl.drop_frame and sl.flashes == [42, 43]


def test_keyframes_are_middle_frames_but_never_a_flash() -> None:
    transitions = [Transition("cut", 30, 0, 0.9, "content")]
    sl, _ = build_shot_list(transitions, _times(90), [58, 59, 60, 61], ["content"])
    assert [s.middle_frame for s in sl.shots] == [14, 59]
    assert sl.keyframes() == [14, 57]


def test_short_shots_join_their_neighbour() -> None:
    transitions = [Transition("cut", f, 0, 0.9, "content") for f in (3, 30, 33, 60, 97)]
    sl, merged = build_shot_list(transitions, _times(100), [], ["content"], min_shot_frames=6)
    assert [s.start_frame for s in sl.shots] == [0, 30, 60]
    assert merged == 3 and [t.frame for t in sl.transitions] == [30, 60]


def test_json_contract_round_trips(edited: SyntheticTruth) -> None:
    sl = detect_shots(edited.path, ShotSettings(detector="content")).shot_list
    data = json.loads(json.dumps(sl.to_dict(source="ast_x")))
    assert CONTRACT_KEYS <= set(data) and data["version"] == 1 and data["source"] == "ast_x"
    assert data["fps"] == 24.0 and data["fps_rational"] == [24, 1] and data["frames"] == 280
    assert all(set(s) == SHOT_KEYS for s in data["shots"])
    assert all({"kind", "frame", "length", "score", "detector"} <= set(t) for t in data["transitions"])
    assert {t["kind"] for t in data["transitions"]} == {"cut", "dissolve", "fade_out", "fade_in"}
    assert data["shots"][0]["transition_in"] == "start" and data["shots"][-1]["end_frame"] == 280
    assert all(a["end_frame"] == b["start_frame"] for a, b in zip(data["shots"], data["shots"][1:], strict=False))
    assert ShotList.from_dict(data).to_dict() == data


def test_drop_frame_timecodes_past_the_first_minute(ntsc: SyntheticTruth) -> None:
    sl = detect_shots(ntsc.path, ShotSettings(detector="content")).shot_list
    assert sl.fps == Fraction(30000, 1001) and sl.drop_frame
    ev = evaluate(sl.transitions, ntsc.transitions)
    assert quality_failures(ev) == []
    cut = sl.shots[1]
    assert cut.start_frame == 1805 and cut.start_tc == "00:01:00;07"  # ;00 and ;01 were skipped
    assert cut.start == pytest.approx(1805 * 1001 / 30000, abs=1e-6)
    assert sl.shots[0].start_tc == "00:00:00;00"
    ndf = detect_shots(ntsc.path, ShotSettings(detector="content", drop_frame=False)).shot_list
    assert ndf.shots[1].start_tc == "00:01:00:05"


def test_variable_frame_rate_file_is_handled(vfr: tuple[Path, list[float], SyntheticTruth]) -> None:
    path, written, truth = vfr
    sl = detect_shots(path, ShotSettings(detector="content")).shot_list
    assert sl.vfr and sl.fps == 30
    (cut,) = [s for s in sl.shots if s.transition_in == "cut"]
    assert cut.start_frame == truth.cuts[0] == 40
    # its time is the frame's own time stamp (30 frames at 1/30 s, then 10 at 1/15 s), not 40 / 30
    assert cut.start == pytest.approx(written[40], abs=1e-4) == pytest.approx(1 + 10 / 15)
    assert cut.start_tc == "00:00:01:20"  # counted at the nominal 30 fps from that time
    assert sl.shots[-1].end == pytest.approx(written[-1] + 1 / 15, abs=1e-3)


def test_unknown_detector_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown detector"):
        resolve_detector("magic")
    assert resolve_detector("content") == ["content"]
