"""The scorer that judges detectors: it passes a good shot list and rejects bad ones."""

from __future__ import annotations

import dataclasses

import pytest

from reelforge.video.scoring import Event, evaluate, quality_failures
from reelforge.video.shots import ShotSettings, detect_shots
from reelforge.video.synthetic import SyntheticTruth


def _judge(detected: list, truth: SyntheticTruth) -> list[str]:
    ev = evaluate(detected, truth.transitions, flashes=truth.flashes, fast_motion=truth.fast_motion)
    return quality_failures(ev)


@pytest.fixture(scope="module")
def good(edited: SyntheticTruth) -> list:
    return detect_shots(edited.path, ShotSettings(detector="content")).shot_list.transitions


def test_a_good_detection_passes(good: list, edited: SyntheticTruth) -> None:
    assert _judge(good, edited) == []
    assert _judge(edited.transitions, edited) == []  # the truth itself, of course


def test_cuts_one_frame_off_pass_but_two_frames_off_fail(good: list, edited: SyntheticTruth) -> None:
    def shifted(by: int) -> list:
        return [dataclasses.replace(t, frame=t.frame + by) if t.kind == "cut" else t for t in good]

    assert _judge(shifted(1), edited) == []
    failures = _judge(shifted(2), edited)
    assert failures and failures[0].startswith("cut F1 0.000")


def test_a_flash_reported_as_a_cut_fails(good: list, edited: SyntheticTruth) -> None:
    failures = _judge([*good, Event("cut", edited.flashes[0], 0)], edited)
    assert any("on a flash" in f for f in failures) and any(f.startswith("cut F1") for f in failures)


def test_a_cut_in_fast_motion_fails(good: list, edited: SyntheticTruth) -> None:
    (start, end), = edited.fast_motion
    failures = _judge([*good, Event("cut", (start + end) // 2, 0)], edited)
    assert any("inside fast motion" in f for f in failures)


def test_a_missed_dissolve_or_fade_fails(good: list, edited: SyntheticTruth) -> None:
    for kind in ("dissolve", "fade_in"):
        dropped = [t for t in good if t.kind != kind]
        failures = _judge(dropped, edited)
        assert any(f.startswith("gradual recall") for f in failures), kind


def test_a_gradual_transition_reported_as_a_cut_counts_as_found_but_wrong_kind(edited: SyntheticTruth) -> None:
    as_cuts = [Event("cut", t.frame + t.length // 2, 0) if t.kind != "cut" else t for t in edited.transitions]
    ev = evaluate(as_cuts, edited.transitions)
    assert ev.gradual.recall == 1.0 and ev.kind_accuracy == 0.0
    assert ev.overall.f1 == 1.0


def test_every_event_is_matched_once() -> None:
    truth = [Event("cut", 10, 0), Event("cut", 12, 0)]
    ev = evaluate([Event("cut", 11, 0)], truth)
    assert (ev.cuts.tp, ev.cuts.fn, ev.cuts.fp) == (1, 1, 0)
    ev = evaluate([Event("cut", 10, 0), Event("cut", 10, 0)], truth[:1])
    assert (ev.cuts.tp, ev.cuts.fp) == (1, 1)
