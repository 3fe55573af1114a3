"""Seeds and random streams that make a run reproducible and resumable.

Trainers draw from their own generators (``seeded_generator``, ``item_rng``) rather than the global
RNGs, so a caller's random state is left alone and a checkpoint can hold every stream it needs.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import numpy as np

from reelforge.errors import InvalidInput

__all__ = [
    "derive_seeds",
    "global_rng_state",
    "item_rng",
    "seed_everything",
    "seeded_generator",
    "set_global_rng_state",
    "sub_seed",
]

_MAX_SEED = 2**63 - 1


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= _MAX_SEED:
        raise InvalidInput(f"seed must be an integer in [0, 2**63), got {seed!r}")
    return int(seed)


def _key_int(key: int | str) -> int:
    if isinstance(key, bool) or not isinstance(key, int | np.integer | str):
        raise InvalidInput(f"seed keys must be ints or strings, got {type(key).__name__}")
    if isinstance(key, str):
        # A stable hash: Python's hash() of a str changes between processes.
        return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    if int(key) < 0:
        raise InvalidInput(f"seed keys must be non-negative, got {key}")
    return int(key)


def derive_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent 63-bit seeds (one per RNG stream of a run) from one user seed."""
    seed = _check_seed(seed)
    if n < 0:
        raise InvalidInput(f"n must be >= 0, got {n}")
    return [int(s) >> 1 for s in np.random.SeedSequence(seed).generate_state(n, dtype=np.uint64)]


def sub_seed(seed: int, *keys: int | str) -> int:
    """A deterministic 63-bit seed for one item (``sub_seed(seed, "epoch", 3)``), independent of others."""
    entropy = [_check_seed(seed), *(_key_int(k) for k in keys)]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]) >> 1


def item_rng(seed: int, *keys: int) -> np.random.Generator:
    """A numpy Generator for one item of a run (``item_rng(seed, 2, step)``: step's augmentation)."""
    return np.random.default_rng([_check_seed(seed), *(_key_int(k) for k in keys)])


def seeded_generator(seed: int, device: Any = "cpu") -> Any:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (CPU generators are the portable ones)."""
    import torch

    return torch.Generator(device=device).manual_seed(_check_seed(seed))


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's legacy global RNG and torch (CPU and all CUDA devices).

    For code that draws from the global RNGs (third-party layers, dropout); trainers that own their
    generators do not need it.
    """
    seed = _check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # the legacy global RNG takes 32-bit seeds
    import torch

    torch.manual_seed(seed)  # also seeds every CUDA device


def global_rng_state(device: Any = "cpu") -> dict[str, Any]:
    """torch's global CPU RNG state (and ``device``'s, when it is a CUDA device), for a checkpoint."""
    import torch

    dev = torch.device(device)
    state = {"torch": torch.get_rng_state().clone()}
    if dev.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(dev).clone()
    return state


def set_global_rng_state(state: dict[str, Any], device: Any = "cpu") -> None:
    """Inverse of :func:`global_rng_state` (a CUDA state is restored only on a CUDA device)."""
    import torch

    dev = torch.device(device)
    try:
        torch.set_rng_state(torch.as_tensor(state["torch"]).to(torch.uint8))
        if dev.type == "cuda" and "cuda" in state:
            torch.cuda.set_rng_state(torch.as_tensor(state["cuda"]).to(torch.uint8), dev)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise InvalidInput(f"unusable RNG state in checkpoint: {str(exc).splitlines()[0]}") from exc
