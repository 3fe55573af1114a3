"""The fast feed-forward network: trains (a few steps, 64 px), saves and loads back exactly through the
training toolkit's model folder, resumes from a checkpoint to the same weights, stops on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from skimage import data

from reelforge.errors import Cancelled, InvalidInput
from reelforge.vision.style.fast import FastStyleConfig, FastStyleModel, TransformNet, train_fast
from reelforge.vision.style.optimize import fit_size

TINY = {"width": 8, "res_blocks": 1, "size": 64, "batch_size": 2, "lr": 3e-3}


@pytest.fixture(scope="module")
def contents() -> list[np.ndarray]:
    return [fit_size(im, 96) for im in (data.astronaut(), data.chelsea(), data.rocket())]


def test_train_save_load_round_trip(contents: list[np.ndarray], hubble: np.ndarray, tmp_path: Path) -> None:
    metrics: list[tuple[str, float, int]] = []
    model = train_fast(contents, hubble, FastStyleConfig(steps=12, **TINY), seed=3,
                       on_metric=lambda n, v, s: metrics.append((n, v, s)), log_every=4)
    style = [v for n, v, _ in metrics if n == "train/style"]
    assert len(style) == 4 and style[-1] < style[0]
    out = model.stylize(contents[0])
    assert out.shape == contents[0].shape and out.dtype == np.uint8
    folder = model.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "transform.safetensors"]
    back = FastStyleModel.load(folder)
    assert back.config == model.config and back.metadata["history"] == model.metadata["history"]
    assert np.array_equal(back.stylize(contents[0]), out)
    odd = contents[1][:45, :61]  # sides that are not multiples of 4 come back at their size
    assert back.stylize(odd).shape == odd.shape


def test_resume_from_a_checkpoint_gives_the_same_weights(contents: list[np.ndarray], hubble: np.ndarray) -> None:
    config = FastStyleConfig(steps=6, **TINY)
    whole = train_fast(contents, hubble, config, seed=1)
    saved: list[dict[str, Any]] = []
    calls = [0]

    def stop() -> bool:
        calls[0] += 1
        return calls[0] > 3

    with pytest.raises(Cancelled):
        train_fast(contents, hubble, config, seed=1, should_stop=stop, checkpoint=saved.append)
    assert saved[-1]["step"] == 3
    resumed = train_fast(contents, hubble, config, seed=1, state=saved[-1])
    for (k, a), b in zip(whole.net.state_dict().items(), resumed.net.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), k
    with pytest.raises(InvalidInput, match="different config"):
        train_fast(contents, hubble, FastStyleConfig(steps=7, **TINY), seed=1, state=saved[-1])


def test_a_folder_that_is_not_a_style_network_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a saved style network"):
        FastStyleModel.load(tmp_path)
    from reelforge.training.saved import save_model_folder

    save_model_folder(tmp_path / "other", {}, {"transform": TransformNet(8, 1)}, format="reelforge.gan",
                      format_version=1)
    with pytest.raises(InvalidInput, match="not a style network"):
        FastStyleModel.load(tmp_path / "other")


def test_bad_training_input_is_refused(contents: list[np.ndarray]) -> None:
    with pytest.raises(InvalidInput, match="1x1 pixels"):
        train_fast(contents, np.zeros((1, 1, 3), np.uint8), FastStyleConfig(steps=1, **TINY))
    with pytest.raises(InvalidInput, match="at least one content image"):
        train_fast([], contents[0], FastStyleConfig(steps=1, **TINY))
    with pytest.raises(InvalidInput, match="multiple of 4"):
        FastStyleConfig(size=66)
