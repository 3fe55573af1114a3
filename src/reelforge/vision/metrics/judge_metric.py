"""Per-class accuracy of a judge classifier on generated images (for class-conditional models).

The judge is trained on the real images by the caller; this module only scores how often it
recognises the class each generated image was asked for.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from reelforge.errors import InvalidInput
from reelforge.vision.classify.data import ImageBatch, batch_size_of, validate_labels
from reelforge.vision.metrics.registry import MetricInputs, MetricResult, Need, register_metric

__all__ = ["Predictor", "classifier_accuracy"]


class Predictor(Protocol):
    def predict(self, images: ImageBatch) -> np.ndarray: ...


def classifier_accuracy(
    classifier: Predictor, fake_images: ImageBatch, requested_labels: np.ndarray | list[int]
) -> dict[str, Any]:
    """How often a classifier (trained on the real set) recognises the class each sample was asked for.

    Returns ``{"overall": float, "per_class": {name: float}, "count": {name: int}, "n": int}`` over
    the classes present in ``requested_labels``; names come from ``classifier.class_names`` if any.
    """
    n = batch_size_of(fake_images)
    names: list[str] | None = getattr(classifier, "class_names", None)
    num_classes = len(names) if names else None
    y = validate_labels(
        requested_labels, n, num_classes if num_classes is not None else np.iinfo(np.int64).max
    )
    if n == 0:
        raise InvalidInput("classifier_accuracy needs at least one image")
    pred = np.asarray(classifier.predict(fake_images)).astype(np.int64).reshape(-1)
    if pred.shape[0] != n:
        raise InvalidInput(f"classifier returned {pred.shape[0]} predictions for {n} images")
    per_class: dict[str, float] = {}
    count: dict[str, int] = {}
    for c in np.unique(y):
        mask = y == c
        key = names[int(c)] if names else str(int(c))
        per_class[key] = float((pred[mask] == c).mean())
        count[key] = int(mask.sum())
    return {"overall": float((pred == y).mean()), "per_class": per_class, "count": count, "n": n}


@register_metric(
    "classifier_accuracy",
    description="how often a classifier trained on the real images recognises each requested class",
    needs=(Need.FAKE, Need.LABELS, Need.JUDGE),
)
def _judge_metric(inputs: MetricInputs) -> MetricResult:
    assert inputs.fake is not None and inputs.labels is not None and inputs.judge is not None
    acc = classifier_accuracy(inputs.judge, inputs.fake, inputs.labels)
    # The judge's own validation accuracy says how far its verdicts can be trusted.
    val = getattr(inputs.judge, "val_metrics", None)
    section = {**acc, "judge_val_accuracy": val.get("accuracy") if isinstance(val, dict) else None}
    return MetricResult(sections={"classifier_accuracy": section}, scalars={"class_accuracy": float(acc["overall"])})
