"""Helpers every metric module shares: the stop check and feature-array validation."""

from __future__ import annotations

import numpy as np
import torch

from reelforge.errors import Cancelled, InvalidInput
from reelforge.training.callbacks import ProgressFn, StopFn

__all__ = ["ProgressFn", "StopFn", "check_stop", "features_2d"]


def check_stop(should_stop: StopFn | None, what: str) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled(f"{what} cancelled")


def features_2d(feats: np.ndarray | torch.Tensor, name: str, min_rows: int) -> np.ndarray:
    """A validated float64 (N, D) copy: bad shapes and NaNs become one-line errors, not odd numbers."""
    arr = feats.detach().cpu().numpy() if isinstance(feats, torch.Tensor) else np.asarray(feats)
    if arr.ndim != 2:
        raise InvalidInput(f"{name} features must be a 2-D (N, D) array, got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise InvalidInput(f"{name} features need at least {min_rows} rows, got {arr.shape[0]}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InvalidInput(f"{name} features contain NaN or infinite values")
    return arr

