"""FID: Frechet distance between Gaussians fitted to features; with KID on InceptionV3 pool3.

:func:`frechet_distance` / :func:`fid_from_features` work on any features, :func:`fid` and
:func:`fid_and_kid` on a :class:`FeatureNet`'s features (one pass serves both numbers: Inception is
the expensive part). The registered ``fid`` metric loads InceptionV3 from a local ``.safetensors``
file the user provides and runs only when one is given: nothing is downloaded.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.linalg
import torch

from reelforge.errors import InvalidInput
from reelforge.vision.classify.data import ImageBatch
from reelforge.vision.metrics.common import ProgressFn, StopFn, features_2d
from reelforge.vision.metrics.features import FeatureNet, pair_features
from reelforge.vision.metrics.kid_metric import KIDResult, kid_result
from reelforge.vision.metrics.registry import MetricInputs, MetricResult, Need, register_metric

__all__ = ["FIDResult", "fid", "fid_and_kid", "fid_from_features", "frechet_distance"]


def _trace_sqrt_product_eigh(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr((S1 S2)^½) via the symmetric form S1^½ S2 S1^½: two eigendecompositions, no complex parts."""
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = root1 @ s2 @ root1
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2.0), 0.0, None)).sum())


def _trace_sqrt_product_sqrtm(s1: np.ndarray, s2: np.ndarray, eps: float) -> float:
    """Tr((S1 S2)^½) with scipy.linalg.sqrtm, as the reference FID code does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():
            # Singular product (fewer samples than dimensions): regularise both covariances slightly.
            offset = np.eye(s1.shape[0]) * eps
            covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if not np.isfinite(covmean).all():
        return _trace_sqrt_product_eigh(s1, s2)
    if np.iscomplexobj(covmean):
        # Small imaginary parts are round-off of sqrtm on a near-singular product; large ones mean
        # sqrtm went astray, and the symmetric eigen form gives the same trace stably.
        if not np.allclose(
            np.diagonal(covmean).imag, 0.0, atol=1e-3 * max(1.0, float(np.abs(covmean).max()))
        ):
            return _trace_sqrt_product_eigh(s1, s2)
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    *,
    eps: float = 1e-6,
    method: str = "sqrtm",
) -> float:
    """||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^½).

    ``method="sqrtm"`` (default) uses scipy.linalg.sqrtm like the reference implementations, taking
    the real part when round-off makes it complex; ``method="eigh"`` computes the same trace from
    two symmetric eigendecompositions (several times faster at 2048-d, exact for PSD inputs).
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise InvalidInput("means and covariances must have matching shapes")
    if method == "sqrtm":
        tr_covmean = _trace_sqrt_product_sqrtm(s1, s2, eps)
    elif method == "eigh":
        tr_covmean = _trace_sqrt_product_eigh(s1, s2)
    else:
        raise InvalidInput(f"unknown Frechet method {method!r} (choose sqrtm or eigh)")
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(value, 0.0)


def fid_from_features(
    real_feats: np.ndarray | torch.Tensor, fake_feats: np.ndarray | torch.Tensor, *, method: str = "sqrtm"
) -> float:
    """Frechet distance between Gaussians fitted to two feature sets."""
    x = features_2d(real_feats, "real", 2)
    y = features_2d(fake_feats, "fake", 2)
    if x.shape[1] != y.shape[1]:
        raise InvalidInput(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    return frechet_distance(
        x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False), method=method
    )


@dataclass
class FIDResult:
    fid: float
    feature_extractor: str
    n_real: int
    n_fake: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FIDResult:
        return cls(float(d["fid"]), str(d["feature_extractor"]), int(d["n_real"]), int(d["n_fake"]))


def fid(
    real: ImageBatch,
    fake: ImageBatch,
    net: FeatureNet,
    *,
    batch_size: int = 32,
    fid_method: str = "sqrtm",
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> FIDResult:
    """FID between two image sets on ``net``'s features (Inception pool3 for the standard metric).

    ``fid_method`` is passed to :func:`frechet_distance` ("sqrtm" or the faster "eigh")."""
    fr, ff = pair_features(real, fake, net, batch_size, progress, should_stop)
    return FIDResult(fid_from_features(fr, ff, method=fid_method), net.label, fr.shape[0], ff.shape[0])


def fid_and_kid(
    real: ImageBatch,
    fake: ImageBatch,
    net: FeatureNet,
    *,
    subsets: int = 10,
    subset_size: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
    fid_method: str = "sqrtm",
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> tuple[FIDResult, KIDResult]:
    """Both metrics from one feature pass (Inception is the expensive part)."""
    fr, ff = pair_features(real, fake, net, batch_size, progress, should_stop)
    return (
        FIDResult(fid_from_features(fr, ff, method=fid_method), net.label, fr.shape[0], ff.shape[0]),
        kid_result(fr, ff, net.label, subsets, subset_size, seed),
    )


@register_metric(
    "fid",
    description="FID and KID on InceptionV3 pool3 features from a local .safetensors file",
    needs=(Need.REAL, Need.FAKE, Need.WEIGHTS),
)
def _fid_metric(inputs: MetricInputs) -> MetricResult:
    assert inputs.real is not None and inputs.fake is not None and inputs.weights is not None
    net = FeatureNet.from_safetensors(inputs.weights, arch=inputs.weights_arch).to(inputs.device)
    f, k = fid_and_kid(inputs.real, inputs.fake, net, progress=inputs.progress, should_stop=inputs.should_stop)
    return MetricResult(
        sections={
            "fid": {"fid": f.fid, "feature_extractor": f.feature_extractor},
            "kid_inception": {"mean": k.mean, "std": k.std, "feature_extractor": k.feature_extractor},
        },
        scalars={"fid": f.fid, "kid_inception": k.mean},
    )
