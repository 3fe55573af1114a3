"""Real training of the compact CNN on scikit-learn's handwritten digits (upsampled to 32 px RGB)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from reelforge.errors import Cancelled, InvalidInput
from reelforge.vision.classify import Augment, ClassifierConfig, TrainedClassifier, train_classifier
from reelforge.vision.metrics import classifier_accuracy

torch.set_num_threads(1)

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# Digits are not mirror-symmetric: crop jitter only.
DIGIT_AUG = Augment(hflip=False, crop_pad=2)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    images = np.stack(
        [
            np.asarray(
                Image.fromarray(np.round(im * (255 / 16)).astype(np.uint8))
                .resize((32, 32), Image.BILINEAR)
                .convert("RGB")
            )
            for im in d.images
        ]
    )
    return images, d.target.astype(np.int64)


@pytest.fixture(scope="module")
def trained(digits: tuple[np.ndarray, np.ndarray]) -> tuple[TrainedClassifier, list[tuple[str, float, int]]]:
    images, labels = digits
    metrics: list[tuple[str, float, int]] = []
    cfg = ClassifierConfig(num_classes=10, resolution=32, channels=3, width=8, depth=3, class_names=NAMES)
    clf = train_classifier(
        images,
        labels,
        cfg,
        epochs=6,
        batch_size=32,
        lr=5e-3,
        seed=0,
        val_fraction=0.2,
        augment=DIGIT_AUG,
        on_metric=lambda name, value, step: metrics.append((name, value, step)),
    )
    return clf, metrics


def _val_split(labels: np.ndarray) -> np.ndarray:
    from reelforge.vision.classify.train import stratified_split

    return stratified_split(labels, 0.2, 0)[1]


def test_digits_classifier_reaches_95_percent_validation_accuracy(trained, digits) -> None:
    clf, metrics = trained
    assert clf.val_metrics is not None
    assert clf.val_metrics["accuracy"] >= 0.95
    val_curve = [v for name, v, _ in metrics if name == "val/accuracy"]
    assert len(val_curve) == 6 and val_curve[-1] >= 0.95
    assert any(name == "train/loss" for name, _, _ in metrics)
    losses = [h["train_loss"] for h in clf.history]
    assert losses[-1] < losses[0]
    # evaluate() on the held-out images agrees with what training reported.
    images, labels = digits
    val = _val_split(labels)
    assert clf.val_metrics["n"] == len(val) == pytest.approx(0.2 * len(labels), abs=10)
    report = clf.evaluate(images[val], labels[val])
    assert report["accuracy"] == pytest.approx(clf.val_metrics["accuracy"])
    assert set(report["per_class"]) == set(NAMES)
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == len(val)
    assert np.trace(confusion) == round(report["accuracy"] * len(val))


def test_predictions_accept_both_image_conventions(trained, digits) -> None:
    clf, _ = trained
    images = digits[0][:50]
    proba = clf.predict_proba(images)
    assert proba.shape == (50, 10)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    as_tensor = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    assert np.array_equal(clf.predict(as_tensor), clf.predict(images))
    # Other sizes are resized to the configured resolution.
    big = np.stack([np.asarray(Image.fromarray(im).resize((48, 48), Image.BILINEAR)) for im in images])
    assert (clf.predict(big) == clf.predict(images)).mean() > 0.8


def test_save_load_gives_identical_predictions(trained, digits, tmp_path) -> None:
    clf, _ = trained
    clf.save(tmp_path / "clf")
    assert (tmp_path / "clf" / "model.safetensors").is_file()
    assert (tmp_path / "clf" / "config.json").is_file()
    loaded = TrainedClassifier.load(tmp_path / "clf")
    assert loaded.config == clf.config
    assert loaded.class_names == NAMES
    assert loaded.val_metrics == clf.val_metrics
    images = digits[0][:200]
    assert np.array_equal(loaded.predict_proba(images), clf.predict_proba(images))


def test_load_rejects_missing_and_mismatched_models(trained, tmp_path) -> None:
    clf, _ = trained
    with pytest.raises(InvalidInput, match="not a saved classifier"):
        TrainedClassifier.load(tmp_path / "nothing")
    clf.save(tmp_path / "clf")
    cfg = (tmp_path / "clf" / "config.json").read_text().replace('"width": 8', '"width": 16')
    (tmp_path / "clf" / "config.json").write_text(cfg)
    with pytest.raises(InvalidInput, match="has shape"):
        TrainedClassifier.load(tmp_path / "clf")


def test_classifier_accuracy_per_requested_class(trained, digits) -> None:
    clf, _ = trained
    images, labels = digits
    val = _val_split(labels)
    requested = labels[val]
    result = classifier_accuracy(clf, images[val], requested)
    assert result["overall"] == pytest.approx(clf.val_metrics["accuracy"])
    assert set(result["per_class"]) == set(NAMES)
    assert sum(result["count"].values()) == result["n"] == len(val)
    # Asking for the wrong class for every image: the classifier almost never agrees.
    wrong = classifier_accuracy(clf, images[val], (requested + 1) % 10)
    assert wrong["overall"] < 0.05
    only_sevens = requested == 7
    sevens = classifier_accuracy(clf, images[val][only_sevens], requested[only_sevens])
    assert list(sevens["per_class"]) == ["seven"]
    with pytest.raises(InvalidInput, match="labels"):
        classifier_accuracy(clf, images[:5], [1, 2])
    with pytest.raises(InvalidInput, match=r"\[0, 10\)"):
        classifier_accuracy(clf, images[:2], [3, 12])


# --- resume ------------------------------------------------------------------------------------------

SHORT = {"steps": 14, "batch_size": 32, "lr": 5e-3, "seed": 3, "val_fraction": 0.1, "augment": True}


def _small(digits) -> tuple[np.ndarray, np.ndarray, ClassifierConfig]:
    images, labels = digits
    return images[:300], labels[:300], ClassifierConfig(num_classes=10, width=4, depth=2)


def _assert_state_is_plain(state: Any) -> None:
    if isinstance(state, dict):
        for k, v in state.items():
            assert isinstance(k, str)
            _assert_state_is_plain(v)
    else:
        assert isinstance(state, torch.Tensor | int | float | str | bool), type(state)


def test_resume_after_cancel_matches_uninterrupted_training(digits) -> None:
    images, labels, cfg = _small(digits)
    full = train_classifier(images, labels, cfg, **SHORT)
    again = train_classifier(images, labels, cfg, **SHORT)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k]), k

    saved: list[dict[str, Any]] = []
    calls = {"n": 0}

    def stop_at_step_6() -> bool:
        calls["n"] += 1
        return calls["n"] > 6

    with pytest.raises(Cancelled, match="step 6/14"):
        train_classifier(images, labels, cfg, should_stop=stop_at_step_6, checkpoint=saved.append, **SHORT)
    assert len(saved) == 1 and saved[0]["step"] == 6
    _assert_state_is_plain(saved[0])

    resumed = train_classifier(images, labels, cfg, state=saved[0], **SHORT)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert resumed.history == full.history
    assert resumed.val_metrics == full.val_metrics


def test_periodic_checkpoints_resume_and_reject_a_different_run(digits) -> None:
    images, labels, cfg = _small(digits)
    saved: list[dict[str, Any]] = []
    full = train_classifier(images, labels, cfg, checkpoint=saved.append, checkpoint_every=5, **SHORT)
    assert [s["step"] for s in saved] == [5, 10]
    resumed = train_classifier(images, labels, cfg, state=saved[1], **SHORT)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    other_seed = {**SHORT, "seed": 4}
    with pytest.raises(InvalidInput, match="different config, seed"):
        train_classifier(images, labels, cfg, state=saved[0], **other_seed)
    with pytest.raises(InvalidInput, match="not a"):
        train_classifier(images, labels, cfg, state={"step": 3}, **SHORT)


def test_training_rejects_bad_input(digits) -> None:
    images, labels = digits[0][:20], digits[1][:20]
    cfg = ClassifierConfig(num_classes=10, width=4, depth=2)
    with pytest.raises(InvalidInput, match="expected 20 labels"):
        train_classifier(images, labels[:10], cfg, steps=1)
    with pytest.raises(InvalidInput, match=r"\[0, 10\)"):
        train_classifier(images, labels + 5, cfg, steps=1)
    with pytest.raises(InvalidInput, match="uint8"):
        train_classifier(images.astype(np.float32), labels, cfg, steps=1)
    with pytest.raises(InvalidInput, match="val_fraction"):
        train_classifier(images, labels, cfg, steps=1, val_fraction=1.0)
    with pytest.raises(InvalidInput, match="class_names"):
        ClassifierConfig(num_classes=3, class_names=["a", "b"])
    with pytest.raises(InvalidInput, match="num_classes"):
        ClassifierConfig(num_classes=1)
    assert ClassifierConfig.from_dict(cfg.to_dict()) == cfg
