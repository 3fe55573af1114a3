"""Image-quality metrics for generated images, one metric a module, behind a registry.

Inputs (see ``reelforge.vision.classify.data``): either uint8 numpy arrays ``(N, H, W, C)`` with
``C`` in {1, 3} and values 0..255, or float torch tensors ``(N, C, H, W)`` in ``[-1, 1]`` (generator
output). Feature arrays are float ``(N, D)`` numpy arrays.

Registered metrics (:func:`all_metrics`, :func:`get_metric`, :func:`select_metrics`; each module
registers its own on import):

* ``swd`` (:mod:`.swd_metric`) multi-scale sliced Wasserstein distance on Laplacian-pyramid patches.
* ``kid_random`` (:mod:`.kid_metric`) KID on a fixed-seed *random* conv net: comparable between runs
  that use the same seed, NOT comparable with published KID numbers (those use Inception features).
* ``classifier_accuracy`` (:mod:`.judge_metric`) per-requested-class accuracy of a judge classifier.
* ``fid`` (:mod:`.fid_metric`) FID and KID on InceptionV3 pool3 features from a local ``.safetensors``.

Building blocks: :mod:`.registry` (the interface), :mod:`.features` (:class:`FeatureNet`),
:mod:`.networks` (InceptionV3 trunk, tiny conv net), :mod:`.common` (progress/stop, feature checks).
Module names carry a ``_metric`` suffix so they never shadow the functions re-exported here.
"""

from __future__ import annotations

from reelforge.vision.metrics.features import FeatureNet, random_feature_extractor
from reelforge.vision.metrics.fid_metric import (
    FIDResult,
    fid,
    fid_and_kid,
    fid_from_features,
    frechet_distance,
)
from reelforge.vision.metrics.judge_metric import Predictor, classifier_accuracy
from reelforge.vision.metrics.kid_metric import KIDResult, kid, kid_images, kid_random_features
from reelforge.vision.metrics.networks import InceptionV3Features, TinyConvNet
from reelforge.vision.metrics.registry import (
    Metric,
    MetricInputs,
    MetricResult,
    Need,
    all_metrics,
    get_metric,
    register_metric,
    select_metrics,
)
from reelforge.vision.metrics.swd_metric import SWDResult, _pyr_up, laplacian_pyramid, sliced_wasserstein, swd

__all__ = [
    "FIDResult",
    "FeatureNet",
    "InceptionV3Features",
    "KIDResult",
    "Metric",
    "MetricInputs",
    "MetricResult",
    "Need",
    "Predictor",
    "SWDResult",
    "TinyConvNet",
    "_pyr_up",
    "all_metrics",
    "classifier_accuracy",
    "fid",
    "fid_and_kid",
    "fid_from_features",
    "frechet_distance",
    "get_metric",
    "kid",
    "kid_images",
    "kid_random_features",
    "laplacian_pyramid",
    "random_feature_extractor",
    "register_metric",
    "select_metrics",
    "sliced_wasserstein",
    "swd",
]
