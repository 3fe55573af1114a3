"""The callables a trainer takes from whoever drives it (a job's ``TaskContext``, a script, a test).

Torch-free on purpose: platform code and task modules import these types without importing torch.
Library trainers take plain callables, so they never depend on the job system.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "CheckpointFn",
    "MetricFn",
    "ProgressFn",
    "StopFn",
    "never_stop",
    "no_checkpoint",
    "no_metric",
    "no_progress",
]

#: ``progress(done, total, message)``: ``total`` 0 means "unknown" (an indeterminate bar).
ProgressFn = Callable[[float, float, str], None]
#: ``should_stop()``: True when the caller wants the run to end (cancel, lost lease, time limit).
StopFn = Callable[[], bool]
#: ``on_metric(name, value, step)``.
MetricFn = Callable[[str, float, int], None]
#: ``checkpoint(state)``: a nested dict of tensors and plain values that resumes the run exactly.
CheckpointFn = Callable[[dict[str, Any]], None]


def no_progress(done: float, total: float, message: str = "") -> None:
    """A ProgressFn that ignores every report."""


def never_stop() -> bool:
    """A StopFn that never asks the run to stop."""
    return False


def no_metric(name: str, value: float, step: int) -> None:
    """A MetricFn that drops every value."""


def no_checkpoint(state: dict[str, Any]) -> None:
    """A CheckpointFn that keeps nothing."""
