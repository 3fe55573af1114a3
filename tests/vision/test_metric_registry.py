"""The metric registry: every metric declares itself, and computing through it gives the same numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from reelforge.errors import Conflict, InvalidInput
from reelforge.vision.metrics import (
    FeatureNet,
    Metric,
    MetricInputs,
    MetricResult,
    Need,
    all_metrics,
    classifier_accuracy,
    fid_and_kid,
    get_metric,
    kid_random_features,
    random_feature_extractor,
    register_metric,
    select_metrics,
    swd,
)
from reelforge.vision.metrics import registry as registry_module

torch.set_num_threads(1)


def _crops(img: np.ndarray, n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, img.shape[0] - size + 1, n)
    xs = rng.integers(0, img.shape[1] - size + 1, n)
    return np.stack([img[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)])


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    return _crops(data.hubble_deep_field(), 12, 32, seed=0), _crops(data.astronaut(), 12, 32, seed=1)


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test vanish after it."""
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))


def test_every_metric_declares_name_description_and_needs() -> None:
    metrics = all_metrics()
    assert [m.name for m in metrics] == ["classifier_accuracy", "fid", "kid_random", "swd"]
    for m in metrics:
        assert isinstance(m, Metric) and m.description.strip() and m.needs
        assert all(isinstance(n, Need) and n.explanation for n in m.needs)
        # One metric a module: each registers itself from its own *_metric module.
        assert m.fn.__module__.startswith("reelforge.vision.metrics.") and m.fn.__module__.endswith("_metric")
        assert get_metric(m.name) is m
    assert len({m.fn.__module__ for m in metrics}) == len(metrics)


def test_unknown_metric_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"unknown metric 'is'.*classifier_accuracy, fid, kid_random, swd"):
        get_metric("is")
    with pytest.raises(InvalidInput, match="unknown metric 'nope'"):
        select_metrics(["swd", "nope"], set(Need))


def test_selection_by_needs_and_by_name() -> None:
    images_only = {Need.REAL, Need.FAKE}
    assert [m.name for m in select_metrics(None, images_only)] == ["kid_random", "swd"]
    assert [m.name for m in select_metrics(None, set(Need))] == ["classifier_accuracy", "fid", "kid_random", "swd"]
    assert [m.name for m in select_metrics(["swd", "kid_random", "swd"], images_only)] == ["swd", "kid_random"]
    assert select_metrics([], images_only) == []
    with pytest.raises(InvalidInput, match="'fid' needs weights"):
        select_metrics(["fid"], images_only)
    with pytest.raises(InvalidInput, match=r"'classifier_accuracy' needs labels .*; judge"):
        select_metrics(["classifier_accuracy"], images_only)


def test_compute_checks_needs_before_running(pair: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(InvalidInput, match="'swd' needs fake"):
        get_metric("swd").compute(MetricInputs(real=pair[0]))


def test_registered_swd_and_kid_match_the_functions(pair: tuple[np.ndarray, np.ndarray]) -> None:
    real, fake = pair
    inputs = MetricInputs(real=real, fake=fake, seed=3)
    s = get_metric("swd").compute(inputs)
    direct = swd(real, fake, seed=3)
    assert s.sections == {"swd": direct.to_dict()} and s.scalars == {"swd_mean": direct.mean}
    k = get_metric("kid_random").compute(inputs)
    ref = kid_random_features(real, fake, seed=0)  # the random network's seed is fixed, whatever the run's
    assert k.sections["kid_random_features"] == {
        "mean": ref.mean, "std": ref.std, "feature_extractor": "random-conv(seed=0)"}
    assert k.scalars == {"kid_random": ref.mean}


def test_registered_fid_reads_a_local_weights_file(pair: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    real, fake = pair
    # A frozen tiny conv net stands in for Inception: same loading path, seconds instead of minutes.
    path = random_feature_extractor(seed=5, dim=32, width=8).save_safetensors(tmp_path / "tiny.safetensors")
    out = get_metric("fid").compute(MetricInputs(real=real, fake=fake, weights=path, weights_arch="tiny"))
    f, k = fid_and_kid(real, fake, FeatureNet.from_safetensors(path, arch="tiny"))
    assert out.sections["fid"] == {"fid": f.fid, "feature_extractor": f.feature_extractor}
    assert out.sections["kid_inception"]["mean"] == k.mean and out.scalars == {"fid": f.fid, "kid_inception": k.mean}
    with pytest.raises(InvalidInput, match="weights file not found"):
        get_metric("fid").compute(MetricInputs(real=real, fake=fake, weights=tmp_path / "missing.safetensors"))


class _BrightnessJudge:
    """Calls an image class 1 when it is brighter than the threshold: a judge whose verdicts we can predict."""

    def __init__(self) -> None:
        self.class_names = ["dark", "bright"]
        self.val_metrics = {"accuracy": 0.75}

    def predict(self, images: np.ndarray) -> np.ndarray:
        return (images.reshape(len(images), -1).mean(axis=1) > 100).astype(np.int64)


def test_registered_classifier_accuracy_adds_the_judges_own_accuracy() -> None:
    fake = np.concatenate([np.full((4, 32, 32, 3), 20, np.uint8), np.full((4, 32, 32, 3), 220, np.uint8)])
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    judge = _BrightnessJudge()
    out = get_metric("classifier_accuracy").compute(MetricInputs(fake=fake, labels=labels, judge=judge))
    acc = classifier_accuracy(judge, fake, labels)
    assert acc["overall"] == 0.75 and acc["per_class"] == {"dark": 0.75, "bright": 0.75}
    assert out.sections == {"classifier_accuracy": {**acc, "judge_val_accuracy": 0.75}}
    assert out.scalars == {"class_accuracy": 0.75}


@pytest.mark.usefixtures("scratch_registry")
def test_register_metric_rejects_clashes_and_bad_declarations() -> None:
    def mean_gap(inputs: MetricInputs) -> MetricResult:
        assert inputs.real is not None and inputs.fake is not None
        gap = float(abs(np.mean(inputs.real) - np.mean(inputs.fake)))
        return MetricResult(sections={"mean_gap": {"gap": gap}}, scalars={"mean_gap": gap})

    register_metric("mean_gap", description="difference of mean pixel values", needs=(Need.REAL, Need.FAKE))(mean_gap)
    assert "mean_gap" in [m.name for m in select_metrics(None, {Need.REAL, Need.FAKE})]
    register_metric("mean_gap", description="same function again (a reload)", needs=(Need.REAL,))(mean_gap)

    def other(inputs: MetricInputs) -> MetricResult:
        return MetricResult(sections={})

    with pytest.raises(Conflict, match="'swd' is already registered"):
        register_metric("swd", description="another swd", needs=(Need.REAL,))(other)
    with pytest.raises(InvalidInput, match="lower_snake_case"):
        register_metric("Mean Gap", description="x", needs=(Need.REAL,))
    with pytest.raises(InvalidInput, match="needs a description"):
        register_metric("gap2", description=" ", needs=(Need.REAL,))
    with pytest.raises(InvalidInput, match="must declare what it needs"):
        register_metric("gap3", description="x", needs=())
    assert get_metric("swd").fn.__module__.endswith("swd_metric")
