"""Kernel inception distance (KID): unbiased MMD² with a cubic polynomial kernel, in subsets.

:func:`kid` works on any features; :func:`kid_images` on a :class:`FeatureNet`'s features;
:func:`kid_random_features` on a fixed-seed *random* conv net, comparable between runs that use the
same seed, NOT comparable with published KID numbers (those use Inception features).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from reelforge.errors import InvalidInput
from reelforge.vision.classify.data import ImageBatch
from reelforge.vision.metrics.common import ProgressFn, StopFn, features_2d
from reelforge.vision.metrics.features import FeatureNet, pair_features, random_feature_extractor
from reelforge.vision.metrics.registry import MetricInputs, MetricResult, Need, register_metric

__all__ = ["KIDResult", "kid", "kid_images", "kid_random_features"]


def kid(
    real_feats: np.ndarray | torch.Tensor,
    fake_feats: np.ndarray | torch.Tensor,
    subsets: int = 10,
    subset_size: int | None = None,
    *,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel inception distance: mean and std over ``subsets`` random subsets of the unbiased MMD²
    with kernel k(x, y) = (x·y / d + 1)³. ``subset_size`` defaults to min(1000, n_real, n_fake)."""
    x = features_2d(real_feats, "real", 2)
    y = features_2d(fake_feats, "fake", 2)
    if x.shape[1] != y.shape[1]:
        raise InvalidInput(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    if subsets < 1:
        raise InvalidInput(f"subsets must be positive, got {subsets}")
    m = min(1000, x.shape[0], y.shape[0]) if subset_size is None else int(subset_size)
    if m < 2 or m > x.shape[0] or m > y.shape[0]:
        raise InvalidInput(f"subset_size must be in [2, {min(x.shape[0], y.shape[0])}], got {m}")
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        a = x[rng.choice(x.shape[0], m, replace=False)]
        b = y[rng.choice(y.shape[0], m, replace=False)]
        k_xx = (a @ a.T / d + 1.0) ** 3
        k_yy = (b @ b.T / d + 1.0) ** 3
        k_xy = (a @ b.T / d + 1.0) ** 3
        same = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        values[i] = same - 2.0 * k_xy.sum() / (m * m)
    return float(values.mean()), float(values.std())


@dataclass
class KIDResult:
    mean: float
    std: float
    feature_extractor: str
    n_real: int
    n_fake: int
    subsets: int
    subset_size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KIDResult:
        return cls(
            float(d["mean"]),
            float(d["std"]),
            str(d["feature_extractor"]),
            int(d["n_real"]),
            int(d["n_fake"]),
            int(d["subsets"]),
            int(d["subset_size"]),
        )


def kid_result(
    fr: np.ndarray, ff: np.ndarray, label: str, subsets: int, subset_size: int | None, seed: int
) -> KIDResult:
    """KID on precomputed features, recording the subset size actually used."""
    m = min(1000, fr.shape[0], ff.shape[0]) if subset_size is None else int(subset_size)
    mean, std = kid(fr, ff, subsets=subsets, subset_size=m, seed=seed)
    return KIDResult(mean, std, label, fr.shape[0], ff.shape[0], subsets, m)


def kid_images(
    real: ImageBatch,
    fake: ImageBatch,
    net: FeatureNet,
    *,
    subsets: int = 10,
    subset_size: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> KIDResult:
    """KID between two image sets on ``net``'s features."""
    fr, ff = pair_features(real, fake, net, batch_size, progress, should_stop)
    return kid_result(fr, ff, net.label, subsets, subset_size, seed)


def kid_random_features(
    real: ImageBatch,
    fake: ImageBatch,
    *,
    seed: int = 0,
    dim: int = 256,
    subsets: int = 10,
    subset_size: int | None = None,
    input_size: int | None = 64,
    batch_size: int = 64,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> KIDResult:
    """KID on features of a fixed-seed random conv net (``feature_extractor="random-conv(seed=…)"``).

    ``seed`` picks both the network and the subset sampling.
    """
    net = random_feature_extractor(seed=seed, dim=dim, input_size=input_size)
    return kid_images(
        real,
        fake,
        net,
        subsets=subsets,
        subset_size=subset_size,
        seed=seed,
        batch_size=batch_size,
        progress=progress,
        should_stop=should_stop,
    )


@register_metric(
    "kid_random",
    description="KID on features of a fixed-seed random conv net (comparable only between runs)",
    needs=(Need.REAL, Need.FAKE),
)
def _kid_random_metric(inputs: MetricInputs) -> MetricResult:
    assert inputs.real is not None and inputs.fake is not None  # checked by Metric.compute
    # The network seed stays 0 whatever the run's seed: that keeps numbers comparable across runs.
    k = kid_random_features(
        inputs.real, inputs.fake, seed=0, progress=inputs.progress, should_stop=inputs.should_stop
    )
    section = {"mean": k.mean, "std": k.std, "feature_extractor": k.feature_extractor}
    return MetricResult(sections={"kid_random_features": section}, scalars={"kid_random": k.mean})
