"""Weights in and out of modules: safetensors only, strict by default, one-line errors.

``load_weights`` reports every missing key, unexpected key and shape mismatch in one message instead
of torch's multi-line RuntimeError, and refuses pickled checkpoints (``.pt``/``.pth``/``.bin``...)
without ever unpickling them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reelforge.errors import InvalidInput, NotFound

__all__ = [
    "WeightsReport",
    "check_safetensors_file",
    "cpu_state_dict",
    "load_weights",
    "read_safetensors",
    "write_safetensors",
]

_PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".tar"}
_SHOW = 5  # names listed per kind of problem; the rest are counted


def _looks_pickled(head: bytes) -> bool:
    # Pickle protocol 2+ starts with PROTO (0x80) + version; torch.save writes a zip ("PK\x03\x04").
    return (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5) or head.startswith(b"PK\x03\x04")


def check_safetensors_file(path: Path) -> None:
    """Refuse anything at ``path`` that is not a well-formed safetensors file, reading only its header."""
    name = path.name
    if path.suffix.lower() in _PICKLE_SUFFIXES:
        raise InvalidInput(f"{name}: pickled weights are refused; reelforge loads .safetensors only")
    if not path.is_file():
        raise InvalidInput(f"{name}: weights file is missing")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if _looks_pickled(head):
            raise InvalidInput(f"{name} is a pickle, not a safetensors file; reelforge never loads pickles")
        if len(head) < 8:
            raise InvalidInput(f"{name}: not a readable safetensors file (too short)")
        n = int.from_bytes(head, "little")
        if n < 2 or n > size - 8:
            raise InvalidInput(f"{name}: not a readable safetensors file (bad header length)")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, ValueError):
            raise InvalidInput(f"{name}: not a readable safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise InvalidInput(f"{name}: not a readable safetensors file")


def read_safetensors(path: str | Path, device: Any = "cpu") -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file; pickles and malformed files are an InvalidInput."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    p = Path(path)
    if not p.exists():
        raise NotFound(f"no weights file at {p}")
    check_safetensors_file(p)
    try:
        return load_file(str(p), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InvalidInput(f"{p.name}: not a readable safetensors file ({str(exc).splitlines()[0]})") from exc


def cpu_state_dict(source: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU copies of a module's (or a state dict's) tensors.

    Copies, so later training steps do not change a checkpoint, and tied weights do not share storage
    (safetensors refuses shared tensors).
    """
    sd = source.state_dict() if isinstance(source, nn.Module) else source
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in sd.items()}


def write_safetensors(
    path: str | Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None
) -> Path:
    """Write tensors (copied to CPU) as one safetensors file; returns its path.

    At most one ``metadata`` entry: safetensors writes several in a random order, and the same
    weights must give the same bytes (blobs are content-addressed; resume tests compare hashes).
    """
    from safetensors.torch import save_file

    p = Path(path)
    if metadata and len(metadata) > 1:
        raise InvalidInput(f"{p.name}: at most one safetensors metadata entry, got {sorted(metadata)}")
    bad = sorted(k for k, v in tensors.items() if not isinstance(v, torch.Tensor))
    if bad:
        raise InvalidInput(f"{p.name}: only tensors can be saved as weights, not {bad[:_SHOW]}")
    save_file(cpu_state_dict(tensors), str(p), metadata=dict(metadata) if metadata else None)
    return p


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOW])
    more = f", +{len(keys) - _SHOW} more" if len(keys) > _SHOW else ""
    return f"[{shown}{more}]"


@dataclass
class WeightsReport:
    """What did not line up between a module and a set of weights."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    # (key, shape in the weights, shape the module expects)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing {_names(self.missing)}")
        if self.unexpected:
            parts.append(f"unexpected {_names(self.unexpected)}")
        for key, got, want in self.mismatched[:_SHOW]:
            parts.append(f"{key} has shape {got}, expected {want}")
        if len(self.mismatched) > _SHOW:
            parts.append(f"+{len(self.mismatched) - _SHOW} more shape mismatches")
        return "; ".join(parts) or "all keys and shapes match"


def load_weights(
    module: nn.Module,
    source: Mapping[str, torch.Tensor] | str | Path,
    strict: bool = True,
    *,
    where: str | None = None,
) -> WeightsReport:
    """Copy weights (a state dict, or a ``.safetensors`` path) into ``module``.

    ``strict``: any missing/unexpected key or shape mismatch is one InvalidInput naming them all, and
    nothing is loaded. Not strict: the keys that match are loaded and the report says what did not.
    Values are cast to the module's dtypes and land on its devices.
    """
    if isinstance(source, str | Path):
        where = where or Path(source).name
        tensors: Mapping[str, Any] = read_safetensors(source)
    else:
        tensors = source
    label = f"{where}: " if where else ""
    if not isinstance(tensors, Mapping):
        raise InvalidInput(f"{label}weights must be a mapping of names to tensors")
    expected = module.state_dict()
    report = WeightsReport(
        missing=sorted(set(expected) - set(tensors)),
        unexpected=sorted(set(tensors) - set(expected)),
    )
    usable: dict[str, torch.Tensor] = {}
    for key in expected:
        if key not in tensors:
            continue
        value = tensors[key]
        if not isinstance(value, torch.Tensor):
            try:
                value = torch.as_tensor(value)
            except (TypeError, ValueError, RuntimeError) as exc:
                raise InvalidInput(f"{label}weight {key} is not a tensor") from exc
        if tuple(value.shape) != tuple(expected[key].shape):
            report.mismatched.append((key, tuple(value.shape), tuple(expected[key].shape)))
            continue
        usable[key] = value
    if strict and not report.ok:
        raise InvalidInput(f"{label}weights do not match the model: {report.describe()}")
    try:
        module.load_state_dict(usable, strict=False)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied
        raise InvalidInput(f"{label}weights could not be loaded: {str(exc).splitlines()[0]}") from exc
    return report
