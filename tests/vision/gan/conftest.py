"""Real data for the GAN tests: scikit-learn's digits upsampled to 32 px, and scikit-image's photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch.nn import functional as F

from reelforge.vision.gan import GANConfig

torch.set_num_threads(1)  # shared CPU; also keeps bitwise comparisons on one thread count


def small_config(**overrides: object) -> GANConfig:
    """A tiny 32 px model: a training step takes milliseconds, but every code path is exercised."""
    base: dict[str, object] = {
        "resolution": 32,
        "z_dim": 16,
        "base_channels": 4,
        "cond_dim": 8,
        "batch_size": 8,
        "r1_gamma": 1.0,
        "r1_every": 4,
    }
    base.update(overrides)
    return GANConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 32, 32, 3) uint8 digit images and their labels."""
    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]
    up = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    rgb = (up[:, 0, :, :, None].expand(-1, -1, -1, 3) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    return rgb, d.target.astype(np.int64)


@pytest.fixture(scope="session")
def plates() -> list[np.ndarray]:
    """Large real photographs of different sizes (a Hubble deep field among them), for random crops."""
    from skimage import data

    return [data.hubble_deep_field(), data.coffee(), data.camera()]


def hubble_crops(n: int = 96, seed: int = 0) -> np.ndarray:
    """The demo's 'nebula plates' (reelforge.demo.hubble_crops: 128 px crops of the Hubble deep field),
    as uint8 (n, 128, 128, 3); seed 0 is exactly the demo's training set."""
    import tempfile
    from pathlib import Path

    from PIL import Image

    from reelforge.demo import hubble_crops as write_crops

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_crops(Path(tmp), n=n, seed=seed)
        return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])


def faces(side: int = 32) -> np.ndarray:
    """The 100 faces of scikit-image's lfw_subset (25 px grey), upsampled to side px RGB uint8."""
    from skimage import data

    x = torch.from_numpy(data.lfw_subset()[:100]).float()[:, None]
    up = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
    grey = (up[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return np.repeat(grey[..., None], 3, axis=3)
