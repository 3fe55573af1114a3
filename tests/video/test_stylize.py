"""Video style transfer: tying frames along the optical flow lowers the warping error between
consecutive stylised frames (flow and occlusion from the source frames) against stylising each frame
on its own; chunks with warm-up frames join without a visible seam; decoding respects the limits."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from reelforge.errors import InvalidInput, LimitExceeded
from reelforge.media import MediaLimits, write_video
from reelforge.video.stylize import (
    ChunkJob,
    VideoStyle,
    load_frames,
    plan_chunks,
    stylize_chunk,
    stylize_video,
    temporal_warp_error,
)
from reelforge.vision.style.fast import FastStyleConfig, train_fast
from reelforge.vision.style.optimize import TransferSettings, fit_size


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def pan(n: int = 8, side: int = 64, step: int = 3, image: str = "astronaut") -> np.ndarray:
    """A camera pan (right and down) over a skimage picture."""
    big = fit_size(getattr(data, image)(), 160)
    return np.stack([big[30 + t : 30 + t + side, 20 + step * t : 20 + step * t + side] for t in range(n)])


@pytest.fixture(scope="module")
def style() -> np.ndarray:
    return fit_size(data.hubble_deep_field()[:400, :400], 64)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory, style: np.ndarray) -> str:
    torch.set_num_threads(1)
    contents = [fit_size(im, 96) for im in (data.astronaut(), data.coffee())]
    model = train_fast(contents, style, FastStyleConfig(width=8, res_blocks=1, size=64, batch_size=2, steps=8,
                                                        lr=3e-3), seed=0)
    return str(model.save(tmp_path_factory.mktemp("net") / "style"))


def test_the_warping_error_sees_flicker() -> None:
    frames = pan()
    rng = np.random.default_rng(0)
    noisy = np.clip(frames + rng.normal(0, 12, frames.shape), 0, 255).astype(np.uint8)
    assert temporal_warp_error(frames, frames) < 0.02
    assert temporal_warp_error(noisy, frames) > 2 * temporal_warp_error(frames, frames)


def test_optimise_temporal_beats_frame_by_frame(style: np.ndarray, tmp_path: Path) -> None:
    frames = pan()
    settings = TransferSettings(steps=24, size=64)
    template = ChunkJob(0, frames[:0], 0, VideoStyle("optimise", temporal=False), settings, style_image=style)
    alone = stylize_video(frames, template, chunk_frames=16)
    tied = stylize_video(frames, ChunkJob(0, frames[:0], 0, VideoStyle("optimise", temporal_weight=50.0), settings,
                                          style_image=style), chunk_frames=16)
    e_alone, e_tied = temporal_warp_error(alone, frames), temporal_warp_error(tied, frames)
    assert e_tied < 0.6 * e_alone, (e_tied, e_alone)
    # Still stylised: far from the source frames.
    assert np.abs(tied.astype(float) - frames).mean() > 10


def test_network_blend_beats_raw_network_and_chunks_join(network: str) -> None:
    frames = pan(12)
    raw = stylize_video(frames, ChunkJob(0, frames[:0], 0, VideoStyle("network", temporal=False), model_dir=network))
    whole = stylize_video(frames, ChunkJob(0, frames[:0], 0, VideoStyle("network", blend=0.7), model_dir=network),
                          chunk_frames=100)
    assert temporal_warp_error(whole, frames) < 0.8 * temporal_warp_error(raw, frames)
    # Four chunks with 6 warm-up frames: each seam differs from the one-chunk run by at most 0.7**6 of it.
    chunked = stylize_video(frames, ChunkJob(0, frames[:0], 0, VideoStyle("network", blend=0.7), model_dir=network),
                            chunk_frames=3, overlap=6)
    assert np.abs(chunked.astype(float) - whole).max() <= 0.7**6 * 255 + 2
    # Without warm-up the seams show: the first frame of each chunk is the raw network output.
    cold = stylize_video(frames, ChunkJob(0, frames[:0], 0, VideoStyle("network", blend=0.7), model_dir=network),
                         chunk_frames=3, overlap=0)
    assert np.array_equal(cold[3], raw[3]) and not np.array_equal(whole[3], raw[3])


def test_chunk_jobs_are_picklable_and_run_on_their_own(network: str) -> None:
    frames = pan(6)
    job = ChunkJob(1, frames, 2, VideoStyle("network"), model_dir=network)
    again = pickle.loads(pickle.dumps(job))
    out = stylize_chunk(again)
    assert out.shape == (4, 64, 64, 3)
    assert plan_chunks(10, 4, 1) == [(0, 0, 4), (3, 4, 8), (7, 8, 10)]
    with pytest.raises(InvalidInput, match="network method needs a trained style model"):
        stylize_chunk(ChunkJob(0, frames, 0, VideoStyle("network")))


def test_load_frames_resizes_and_respects_the_frame_limit(tmp_path: Path) -> None:
    frames = pan(6, side=96)
    path = tmp_path / "pan.mp4"
    write_video(iter(frames), path, fps=12)
    got = load_frames(path, MediaLimits(), size=48, max_frames=6)
    assert got.shape == (6, 48, 48, 3)
    with pytest.raises(LimitExceeded, match="more than 5 frames"):
        load_frames(path, MediaLimits(), size=48, max_frames=5)
    with pytest.raises(InvalidInput, match="at least 16x16"):
        stylize_video(got[:, :8, :8], ChunkJob(0, got[:0], 0, VideoStyle("network")))
