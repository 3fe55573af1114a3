from __future__ import annotations

import numpy as np
import pytest
import torch

from reelforge.errors import InvalidInput
from reelforge.vision.gan import GANTrainer, image_grid, latent_for_seed, latent_walk, sample, slerp
from reelforge.vision.gan.io import GANModel

from .conftest import small_config


@pytest.fixture(scope="module")
def model(digits: tuple) -> GANModel:
    images, labels = digits
    tr = GANTrainer(small_config(num_classes=10), images[:128], labels=labels[:128], seed=0)
    tr.train(10)
    return tr.to_model()


def test_same_seed_same_pixels(model: GANModel) -> None:
    a, za = sample(model, 6, seed=42)
    b, zb = sample(model, 6, seed=42)
    c, _ = sample(model, 6, seed=43)
    assert a.dtype == np.uint8 and a.shape == (6, 32, 32, 3)
    assert za.shape == (6, 16) and za.dtype == np.float32
    assert np.array_equal(a, b) and np.array_equal(za, zb)
    assert not np.array_equal(a, c)


def test_single_image_regenerates_from_seed_plus_index(model: GANModel) -> None:
    images, latents = sample(model, 5, seed=100, truncation=0.7, batch=2)
    one, z = sample(model, 1, seed=103, truncation=0.7, class_ids=[3])  # image 3 had class 3 % 10
    assert np.array_equal(z[0], latents[3])
    assert np.array_equal(latent_for_seed(103, 16, 0.7).numpy(), latents[3])
    assert np.array_equal(one[0], images[3])


def test_truncation_resamples_large_values() -> None:
    z = latent_for_seed(5, 4096, truncation=0.5)
    assert float(z.abs().max()) <= 0.5
    full = latent_for_seed(5, 4096)
    assert float(full.abs().max()) > 2.0
    kept = full.abs() <= 0.5  # values already inside the bound are untouched
    assert torch.equal(z[kept], full[kept])
    with pytest.raises(InvalidInput, match="truncation"):
        latent_for_seed(5, 8, truncation=0.0)


def test_class_ids_steer_generation(model: GANModel) -> None:
    a, _ = sample(model, 4, seed=0, class_ids=1)
    b, _ = sample(model, 4, seed=0, class_ids=[1, 1, 1, 1])
    assert np.array_equal(a, b)
    with pytest.raises(InvalidInput, match="class ids"):
        sample(model, 2, seed=0, class_ids=[0, 10])
    with pytest.raises(InvalidInput, match="text"):
        sample(model, 2, seed=0, text_embeddings=np.zeros(3))
    with pytest.raises(InvalidInput, match="seed"):
        sample(model, 2, seed=-3)
    with pytest.raises(InvalidInput):
        sample(torch.nn.Linear(2, 2), 2, seed=0)


def test_slerp() -> None:
    a = latent_for_seed(1, 64).numpy()
    b = latent_for_seed(2, 64).numpy()
    assert np.allclose(slerp(a, b, 0.0), a, atol=1e-6)
    assert np.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a, b, 0.5)
    assert isinstance(mid, np.ndarray)
    # on unit vectors slerp stays on the sphere where lerp would cut inside it
    ua, ub = a / np.linalg.norm(a), b / np.linalg.norm(b)
    assert np.isclose(np.linalg.norm(slerp(ua, ub, 0.3)), 1.0, atol=1e-5)
    assert np.allclose(slerp(ua, ua, 0.4), ua, atol=1e-6)  # parallel: falls back to lerp
    t = slerp(torch.from_numpy(a), torch.from_numpy(b), 0.25)
    assert isinstance(t, torch.Tensor) and np.allclose(t.numpy(), slerp(a, b, 0.25))


def test_latent_walk_frames(model: GANModel) -> None:
    frames = list(latent_walk(model, [1, 2, 3], frames_per_segment=4, truncation=None, class_id=5))
    assert len(frames) == 12 and frames[0].shape == (32, 32, 3) and frames[0].dtype == np.uint8
    key, _ = sample(model, 1, seed=2, truncation=None, class_ids=5)
    assert np.array_equal(frames[4], key[0])  # each segment starts on its keyframe
    open_walk = list(
        latent_walk(model, [1, 2, 3], frames_per_segment=4, truncation=None, loop=False, class_id=5)
    )
    assert len(open_walk) == 9
    last, _ = sample(model, 1, seed=3, truncation=None, class_ids=5)
    assert np.array_equal(open_walk[-1], last[0])
    with pytest.raises(InvalidInput, match="two seeds"):
        list(latent_walk(model, [1], 4))


def test_image_grid() -> None:
    imgs = np.arange(5 * 8 * 6 * 3, dtype=np.uint8).reshape(5, 8, 6, 3)
    grid = image_grid(imgs, ncols=3, padding=1)
    assert grid.size == (3 * 7 + 1, 2 * 9 + 1)
    arr = np.asarray(grid)
    assert np.array_equal(arr[1:9, 1:7], imgs[0])
    assert np.array_equal(arr[10:18, 8:14], imgs[4])
    with pytest.raises(InvalidInput):
        image_grid(np.zeros((0, 4, 4, 3), np.uint8))
