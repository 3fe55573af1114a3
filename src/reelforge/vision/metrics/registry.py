"""The metric registry: callers loop over metrics by name instead of calling each one by hand.

Modelled on StyleGAN2-ADA's ``metrics/metric_main.py``: each metric module registers a compute
function under a short name, with a one-line description and the inputs it needs. A caller (e.g. the
``gan.evaluate`` task) either names the metrics it wants or takes every metric whose needs it can
meet (:func:`select_metrics`). This module imports no torch, so the interface stays cheap to read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelforge.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    import numpy as np

    from reelforge.vision.classify.data import ImageBatch
    from reelforge.vision.metrics.common import ProgressFn, StopFn
    from reelforge.vision.metrics.judge_metric import Predictor

__all__ = [
    "Metric",
    "MetricInputs",
    "MetricResult",
    "Need",
    "all_metrics",
    "get_metric",
    "register_metric",
    "select_metrics",
]


class Need(StrEnum):
    """An input a metric cannot run without."""

    REAL = "real"
    FAKE = "fake"
    LABELS = "labels"
    JUDGE = "judge"
    WEIGHTS = "weights"

    @property
    def explanation(self) -> str:
        return _EXPLANATIONS[self]


_EXPLANATIONS = {
    Need.REAL: "real images",
    Need.FAKE: "generated images",
    Need.LABELS: "the class each generated image was asked for",
    Need.JUDGE: "a classifier trained on the real images",
    Need.WEIGHTS: "a local feature-network .safetensors file",
}


@dataclass
class MetricInputs:
    """Everything a metric may read. Fields no selected metric needs can stay ``None``."""

    real: ImageBatch | None = None
    fake: ImageBatch | None = None
    labels: np.ndarray | list[int] | None = None  # requested class id of each fake image
    judge: Predictor | None = None
    weights: Path | None = None
    weights_arch: str = "inception_v3"
    device: str = "cpu"
    seed: int = 0
    progress: ProgressFn | None = None
    should_stop: StopFn | None = None

    def available(self) -> frozenset[Need]:
        given = {
            Need.REAL: self.real,
            Need.FAKE: self.fake,
            Need.LABELS: self.labels,
            Need.JUDGE: self.judge,
            Need.WEIGHTS: self.weights,
        }
        return frozenset(need for need, value in given.items() if value is not None)


@dataclass(frozen=True)
class MetricResult:
    """``sections``: report entries by key, kept structured (per level, per class, which extractor);
    ``scalars``: the headline numbers worth logging as job metrics."""

    sections: dict[str, dict[str, Any]]
    scalars: dict[str, float] = field(default_factory=dict)


ComputeFn = Callable[[MetricInputs], MetricResult]


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    needs: frozenset[Need]
    fn: ComputeFn

    def missing(self, available: Collection[Need]) -> list[Need]:
        """The needs ``available`` does not cover, in a stable order."""
        return [need for need in Need if need in self.needs and need not in available]

    def compute(self, inputs: MetricInputs) -> MetricResult:
        missing = self.missing(inputs.available())
        if missing:
            raise InvalidInput(_missing_message(self, missing))
        return self.fn(inputs)


_REGISTRY: dict[str, Metric] = {}
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def register_metric(
    name: str, *, description: str, needs: Iterable[Need]
) -> Callable[[ComputeFn], ComputeFn]:
    """Decorator: register ``fn(inputs) -> MetricResult`` under ``name`` and return it unchanged."""
    need_set = frozenset(Need(n) for n in needs)
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"metric name {name!r} must be lower_snake_case")
    if not description.strip():
        raise InvalidInput(f"metric {name!r} needs a description")
    if not need_set:
        raise InvalidInput(f"metric {name!r} must declare what it needs")

    def decorator(fn: ComputeFn) -> ComputeFn:
        old = _REGISTRY.get(name)
        # Re-registering the same function (a module reload) is fine; a second metric of that name is not.
        if old is not None and (old.fn.__module__, old.fn.__qualname__) != (fn.__module__, fn.__qualname__):
            raise Conflict(f"metric {name!r} is already registered by {old.fn.__module__}")
        _REGISTRY[name] = Metric(name=name, description=description.strip(), needs=need_set, fn=fn)
        return fn

    return decorator


def all_metrics() -> tuple[Metric, ...]:
    """Every registered metric, sorted by name (import order must not change what a default run does)."""
    return tuple(_REGISTRY[name] for name in sorted(_REGISTRY))


def get_metric(name: str) -> Metric:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise InvalidInput(f"unknown metric {name!r} (known metrics: {known})") from None


def select_metrics(names: Iterable[str] | None, available: Collection[Need]) -> list[Metric]:
    """The metrics to run: ``names`` (each must have its needs met), or, when ``names`` is None, every
    registered metric whose needs ``available`` covers."""
    if names is None:
        return [m for m in all_metrics() if not m.missing(available)]
    chosen = [get_metric(n) for n in dict.fromkeys(names)]
    for metric in chosen:
        missing = metric.missing(available)
        if missing:
            raise InvalidInput(_missing_message(metric, missing))
    return chosen


def _missing_message(metric: Metric, missing: list[Need]) -> str:
    what = "; ".join(f"{n.value} ({n.explanation})" for n in missing)
    return f"metric {metric.name!r} needs {what}, which this run does not provide"
