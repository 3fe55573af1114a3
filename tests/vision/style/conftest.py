"""Real images for the style tests: skimage's astronaut as content, Hubble and coffee as styles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from reelforge.vision.style.optimize import fit_size


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return fit_size(data.astronaut(), 64)


@pytest.fixture(scope="session")
def hubble() -> np.ndarray:
    return fit_size(data.hubble_deep_field()[:480, :480], 96)


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    return fit_size(data.coffee(), 96)
