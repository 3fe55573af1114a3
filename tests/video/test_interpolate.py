"""Frame interpolation on real pictures moved by a camera: quality against the true middle frames,
occlusion, frame-rate conversion and slow motion through real MP4 files, scene cuts, the refinement net.

Clips come from ``motion_clips`` (pans, zooms, a moving disc over scikit-image photographs); the true
in-between frame of any triplet is the clip's own middle frame.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from reelforge.errors import InvalidInput
from reelforge.video.interpolate import (
    ChunkItem,
    InterpSettings,
    PairJob,
    interpolate,
    interpolate_chunk,
    is_cut,
    pair_flows,
    plan_fps,
    read_video,
    retime,
)
from reelforge.video.refine import Refiner, make_triplets, train_refiner
from tests.video import motion_clips as mc

torch.set_num_threads(1)


def _blend(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.rint((a.astype(np.float32) + b) / 2).astype(np.uint8)


def _scores(frames: list[np.ndarray], make) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Mean PSNR of middle frames of triplets (i, i+1, i+2) made by ``make(a, b)`` and the baselines."""
    out: dict[str, list[float]] = {"made": [], "blend": [], "repeat": []}
    for i in range(0, len(frames) - 2, 2):
        a, truth, b = frames[i], frames[i + 1], frames[i + 2]
        out["made"].append(mc.psnr(make(a, b), truth, border=4))
        out["blend"].append(mc.psnr(_blend(a, b), truth, border=4))
        out["repeat"].append(mc.psnr(a, truth, border=4))
    return {k: float(np.mean(v)) for k, v in out.items()}


def _beats_baselines(s: dict[str, float], margin: float = 3.0) -> bool:
    return s["made"] >= s["blend"] + margin and s["made"] >= s["repeat"] + margin


@pytest.fixture(scope="module")
def rocket_pan() -> list[np.ndarray]:
    return mc.pan("rocket", frames=9, speed=(5.0, 1.5), seed=1)


def test_middle_frames_beat_blending_and_repetition_on_a_pan(rocket_pan: list[np.ndarray]) -> None:
    s = _scores(rocket_pan, lambda a, b: interpolate(a, b, 0.5))
    assert _beats_baselines(s), s
    assert s["made"] > 33.0 and s["blend"] < 27.0, s


def test_the_quality_check_fails_for_a_plain_blend_and_a_repeated_frame(rocket_pan: list[np.ndarray]) -> None:
    assert not _beats_baselines(_scores(rocket_pan, _blend))
    assert not _beats_baselines(_scores(rocket_pan, lambda a, b: a.copy()))


def test_zoom_and_moving_object_beat_blending() -> None:
    zoom = mc.zoom("hubble_deep_field", frames=5, rate=0.04, seed=2)
    assert _beats_baselines(_scores(zoom, lambda a, b: interpolate(a, b, 0.5))), "zoom"
    clip, _ = mc.moving_object("coffee", "chelsea", frames=5, velocity=(6.0, 1.0), seed=3)
    assert _beats_baselines(_scores(clip, lambda a, b: interpolate(a, b, 0.5)), margin=2.0), "object"


def test_occlusion_marks_the_region_a_moving_object_uncovers() -> None:
    frames, masks = mc.moving_object("rocket", "chelsea", frames=2, velocity=(10.0, 0.0), bg_speed=(0.0, 0.0),
                                     start=(60.0, 48.0), seed=4)
    fl = pair_flows(frames[0], frames[1])
    uncovered = masks[0] & ~masks[1]  # background b shows where the disc was in a
    covered = masks[1] & ~masks[0]  # background of a the disc hides in b
    near = np.zeros_like(masks[0])
    ys, xs = np.nonzero(masks[0] | masks[1])
    near[max(0, ys.min() - 6):ys.max() + 7, max(0, xs.min() - 6):xs.max() + 7] = True
    near[:4], near[-4:], near[:, :4], near[:, -4:] = True, True, True, True  # edges: flow may point outside

    def hits(mask: np.ndarray, region: np.ndarray) -> float:
        return float(mask[region].mean())

    assert hits(fl.occ1, uncovered) > 0.6, hits(fl.occ1, uncovered)
    assert hits(fl.occ0, covered) > 0.45, hits(fl.occ0, covered)
    assert hits(fl.occ1, ~near) < 0.06 and hits(fl.occ0, ~near) < 0.06  # the still background mostly matches
    # The check is not satisfied by a mask that marks nothing, or the wrong side of the disc.
    assert hits(np.zeros_like(fl.occ1), uncovered) < 0.6
    assert hits(fl.occ1, covered) < 0.3


def test_a_scene_cut_is_found_and_a_fast_pan_is_not() -> None:
    a = mc.pan("rocket", frames=2, seed=5)
    fast = mc.pan("astronaut", frames=2, speed=(12.0, 3.0), seed=6)
    other = mc.pan("chelsea", frames=1, seed=7)[0]
    same_place = mc.pan("rocket", frames=1, speed=(0, 0), seed=8)[0][::-1].copy()  # same colours, new geometry
    assert not is_cut(a[0], a[1]) and not is_cut(fast[0], fast[1])
    assert is_cut(a[1], other) and is_cut(a[1], same_place)
    # Why it matters: interpolating across the cut makes a ghost of both pictures.
    ghost = interpolate(a[1], other, 0.5)
    assert mc.psnr(ghost, a[1]) < 20 and mc.psnr(ghost, other) < 20


def test_fps_plan_counts_and_times() -> None:
    times24 = [k / 24 for k in range(48)]
    plan = plan_fps(times24, 30)
    assert len(plan) == 60
    assert [(o.index, round(o.t, 6)) for o in plan[:5]] == [(0, 0.0), (0, 0.8), (1, 0.6), (2, 0.4), (3, 0.2)]
    assert len(plan_fps([k / 25 for k in range(20)], 50)) == 40
    with pytest.raises(InvalidInput, match="at least 2 frames"):
        plan_fps([0.0], 30)


def test_fps_conversion_writes_the_right_frames_at_the_right_times(tmp_path: Path) -> None:
    src = mc.write(mc.pan("coffee", frames=24, size=(96, 64), speed=(3.0, 1.0), seed=9), tmp_path / "in.mp4", 24)
    result = retime(src, tmp_path / "out.mp4", mode="fps", fps=30)
    frames, times, rate = read_video(tmp_path / "out.mp4")
    assert result.frames_out == len(frames) == 30 and rate == 30
    np.testing.assert_allclose(times, [j / 30 for j in range(30)], atol=1e-3)
    # 6 output frames fall on input frames (every 5th), the last holds input frame 23: 23 are new.
    assert result.interpolated == 23 and result.duplicated == 0 and result.cuts == []
    src25 = mc.write(mc.pan("coffee", frames=10, size=(96, 64), seed=10), tmp_path / "in25.mp4", 25)
    assert retime(src25, tmp_path / "out50.mp4", mode="fps", fps=50).frames_out == 20


def test_slow_motion_adds_n_minus_1_true_in_between_frames(tmp_path: Path) -> None:
    # Rendered at twice the rate: the odd frames are the truth for slow motion x2 of the even ones.
    dense = mc.pan("rocket", frames=9, size=(128, 80), speed=(2.5, 1.0), seed=11)
    src = mc.write(dense[::2], tmp_path / "in.mp4", 24)
    result = retime(src, tmp_path / "slow2.mp4", mode="slowmo", factor=2)
    out, _, _ = read_video(tmp_path / "slow2.mp4")
    assert len(out) == result.frames_out == 9 and result.interpolated == 4
    for k in range(1, 9, 2):
        made, truth = mc.psnr(out[k], dense[k], 4), mc.psnr(_blend(dense[k - 1], dense[k + 1]), dense[k], 4)
        assert made > truth + 3, (k, made, truth)
    result4 = retime(src, tmp_path / "slow4.mp4", mode="slowmo", factor=4)
    out4, _, rate = read_video(tmp_path / "slow4.mp4")
    assert len(out4) == 17 == result4.frames_out and result4.interpolated == 12 and rate == 24
    originals, _, _ = read_video(src)
    kept = [mc.psnr(out4[4 * k], originals[k]) for k in range(5)]
    assert min(kept) > 34, kept  # every 4th frame is an input frame (encoded once more)
    for k in range(4):  # three new frames between each pair, each unlike both neighbours
        new = out4[4 * k + 1: 4 * k + 4]
        like = [max(mc.psnr(f, originals[k]), mc.psnr(f, originals[k + 1])) for f in new]
        assert max(like) < min(kept) - 3, (k, like, kept)


def test_no_interpolation_across_a_scene_cut(tmp_path: Path) -> None:
    clip = mc.pan("rocket", frames=4, size=(96, 64), seed=12) + mc.pan("chelsea", frames=4, size=(96, 64), seed=13)
    src = mc.write(clip, tmp_path / "cut.mp4", 24)
    result = retime(src, tmp_path / "slow.mp4", mode="slowmo", factor=2)
    out, _, _ = read_video(tmp_path / "slow.mp4")
    inputs, _, _ = read_video(src)
    assert result.cuts == [4] and result.duplicated == 1 and result.interpolated == 6
    across = out[7]  # between input frames 3 and 4: a copy of one of them, not a mix
    assert max(mc.psnr(across, inputs[3]), mc.psnr(across, inputs[4])) > 34  # (encoded once more)
    assert mc.psnr(across, _blend(inputs[3], inputs[4])) < 25


def test_one_frame_is_refused(tmp_path: Path) -> None:
    src = mc.write(mc.pan("rocket", frames=1, size=(64, 48)), tmp_path / "one.mp4", 24)
    with pytest.raises(InvalidInput, match="at least 2 frames"):
        retime(src, tmp_path / "out.mp4", mode="slowmo", factor=2)
    assert not (tmp_path / "out.mp4").exists()


def test_chunks_pickle_and_run_in_a_pool_worker_shape() -> None:
    a, b = mc.pan("coffee", frames=2, size=(64, 48), seed=14)
    item = ChunkItem([PairJob(a, b, [0.25, 0.5])], InterpSettings(preset="fast"))
    results = interpolate_chunk(pickle.loads(pickle.dumps(item)))
    assert len(results) == 1 and len(results[0].frames) == 2 and not results[0].cut


def test_refinement_trains_keeps_quality_and_round_trips(tmp_path: Path) -> None:
    clips = [mc.pan("astronaut", frames=5, size=(96, 64), speed=(4.0, 1.0), seed=15),
             mc.moving_object("coffee", "chelsea", frames=5, size=(96, 64), velocity=(5.0, 0.0), radius=12,
                              start=(30.0, 32.0), seed=16)[0]]
    triplets = make_triplets(clips)
    assert len(triplets) == 6 and triplets.inputs.shape == (6, 11, 64, 96)
    losses: list[float] = []
    refiner = train_refiner(triplets, steps=30, batch_size=4, crop=48, lr=1e-3, seed=0,
                            on_metric=lambda n, v, s: losses.append(v), log_every=5)
    scores = refiner.evaluate(triplets)
    assert scores["psnr_refined"] >= scores["psnr_blend"] - 0.1, scores
    assert len(losses) == 6 and np.isfinite(losses).all()
    path = refiner.save(tmp_path / "model")
    assert (path / "model.safetensors").is_file() and not list(path.glob("*.pt"))
    again = Refiner.load(path)
    np.testing.assert_array_equal(again.refine_features(triplets.inputs[:2]), refiner.refine_features(triplets.inputs[:2]))
    # Retiming with the saved model goes through the same picklable chunk function.
    src = mc.write(clips[0], tmp_path / "in.mp4", 24)
    assert retime(src, tmp_path / "out.mp4", mode="slowmo", factor=2, refiner_dir=path).interpolated == 4
    with pytest.raises(InvalidInput, match=r"not a saved interpolator"):
        Refiner.load(tmp_path)


def test_training_resumes_to_the_same_weights() -> None:
    triplets = make_triplets([mc.pan("chelsea", frames=4, size=(64, 48), seed=17)])
    kept: list[dict] = []
    full = train_refiner(triplets, steps=6, batch_size=2, crop=32, seed=3)
    stop_at = {"n": 0}

    def stop() -> bool:
        stop_at["n"] += 1
        return stop_at["n"] == 4  # stop before step 3

    from reelforge.errors import Cancelled

    with pytest.raises(Cancelled):
        train_refiner(triplets, steps=6, batch_size=2, crop=32, seed=3, should_stop=stop, checkpoint=kept.append)
    resumed = train_refiner(triplets, steps=6, batch_size=2, crop=32, seed=3, state=kept[-1])
    for (k, v), (_, w) in zip(full.model.state_dict().items(), resumed.model.state_dict().items(), strict=True):
        assert torch.equal(v, w), k
