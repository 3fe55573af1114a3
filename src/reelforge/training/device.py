"""Which device a run uses, and how many CPU threads torch may take.

``select_device`` only imports torch when it has to look at the hardware, so the platform can ask
"which device would this task get?" for a CPU-only task without paying for the torch import.
"""

from __future__ import annotations

import re
from typing import Any

from reelforge.errors import InvalidInput

__all__ = ["as_torch_device", "available_devices", "select_device", "set_threads"]

_DEVICE_RE = re.compile(r"^(cpu|cuda|mps)(?::(\d+))?$")


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """Device kinds usable here, best first (always ends with 'cpu')."""
    out = []
    if _cuda_count():
        out.append("cuda")
    if _mps_available():
        out.append("mps")
    return [*out, "cpu"]


def select_device(want: Any = None, *, gpus: int = 0) -> str:
    """The device string a run should use.

    ``want`` None: 'cuda' when the caller was granted ``gpus`` > 0 and CUDA is visible, else 'cpu'
    (a job's device follows the resources its task asked for). ``'auto'``: the best available
    (cuda, then mps, then cpu). ``'cpu'``, ``'cuda'``, ``'cuda:N'``, ``'mps'`` (or a torch.device) are
    checked and returned as given; asking for hardware that is not here is an InvalidInput.
    """
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise InvalidInput(f"gpus must be a non-negative integer, got {gpus!r}")
    if want is None:
        return "cuda" if gpus > 0 and _cuda_count() > 0 else "cpu"
    text = str(want).strip().lower()
    if text == "auto":
        return available_devices()[0]
    m = _DEVICE_RE.match(text)
    if m is None:
        raise InvalidInput(f"unknown device {want!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
    kind, index = m.group(1), m.group(2)
    if kind == "cuda":
        n = _cuda_count()
        if n == 0:
            raise InvalidInput(f"device {text!r} requested but CUDA is not available")
        if index is not None and int(index) >= n:
            raise InvalidInput(f"device {text!r} requested but only {n} CUDA device(s) are visible")
    elif kind == "mps":
        if not _mps_available():
            raise InvalidInput("device 'mps' requested but Apple MPS is not available")
        if index not in (None, "0"):
            raise InvalidInput(f"unknown device {want!r}: MPS has one device")
    elif index not in (None, "0"):
        raise InvalidInput(f"unknown device {want!r}: use 'cpu'")
    return text


def as_torch_device(want: Any = "cpu") -> Any:
    """``select_device(want)`` as a ``torch.device`` (what trainers hold)."""
    import torch

    return torch.device(select_device(want))


def set_threads(n: int | None) -> int:
    """Let torch use ``n`` CPU threads for intra-op work (None: leave as is); returns the count in effect.

    Results are only bitwise reproducible at the same thread count, so trainers record it.
    """
    import torch

    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise InvalidInput(f"threads must be an integer, got {n!r}")
        torch.set_num_threads(max(1, n))
    return int(torch.get_num_threads())
