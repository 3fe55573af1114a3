"""The shared training toolkit (after StyleGAN2-ADA's ``torch_utils/``): each helper written once.

- ``saved``: the saved-model folder (``config.json`` with format name + version, ``.safetensors``);
- ``optim``: optimizer / LR-scheduler state as checkpoint-friendly nested dicts, restored exactly;
- ``weights``: strict weight loading with one-line reports, safetensors read/write, CPU copies;
- ``device``: device selection and CPU thread settings;
- ``seeds``: seeded generators, derived and per-item seeds, global RNG state for checkpoints;
- ``callbacks``: the progress / stop / metric / checkpoint callables trainers take (torch-free);
- ``embed``: the sentence embedders (MiniLM, lexical fallback) and their width.

A capability room: it imports ``reelforge.errors`` and nothing from the platform. Names are loaded on
first use, so ``import reelforge.training`` (or its torch-free ``callbacks``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CheckpointFn": "callbacks",
    "MetricFn": "callbacks",
    "ProgressFn": "callbacks",
    "StopFn": "callbacks",
    "never_stop": "callbacks",
    "no_checkpoint": "callbacks",
    "no_metric": "callbacks",
    "no_progress": "callbacks",
    "as_torch_device": "device",
    "available_devices": "device",
    "select_device": "device",
    "set_threads": "device",
    "Embedder": "embed",
    "HashingEmbedder": "embed",
    "MiniLMEmbedder": "embed",
    "sentence_embedder": "embed",
    "load_optimizer_state": "optim",
    "load_scheduler_state": "optim",
    "optimizer_state": "optim",
    "scheduler_state": "optim",
    "ModelFolder": "saved",
    "load_model_folder": "saved",
    "save_model_folder": "saved",
    "derive_seeds": "seeds",
    "global_rng_state": "seeds",
    "item_rng": "seeds",
    "seed_everything": "seeds",
    "seeded_generator": "seeds",
    "set_global_rng_state": "seeds",
    "sub_seed": "seeds",
    "WeightsReport": "weights",
    "cpu_state_dict": "weights",
    "load_weights": "weights",
    "read_safetensors": "weights",
    "write_safetensors": "weights",
}

__all__ = [
    "CheckpointFn",
    "Embedder",
    "HashingEmbedder",
    "MetricFn",
    "MiniLMEmbedder",
    "ModelFolder",
    "ProgressFn",
    "StopFn",
    "WeightsReport",
    "as_torch_device",
    "available_devices",
    "cpu_state_dict",
    "derive_seeds",
    "global_rng_state",
    "item_rng",
    "load_model_folder",
    "load_optimizer_state",
    "load_scheduler_state",
    "load_weights",
    "never_stop",
    "no_checkpoint",
    "no_metric",
    "no_progress",
    "optimizer_state",
    "read_safetensors",
    "save_model_folder",
    "scheduler_state",
    "seed_everything",
    "seeded_generator",
    "select_device",
    "sentence_embedder",
    "set_global_rng_state",
    "set_threads",
    "sub_seed",
    "write_safetensors",
]

if TYPE_CHECKING:
    from reelforge.training.callbacks import (
        CheckpointFn,
        MetricFn,
        ProgressFn,
        StopFn,
        never_stop,
        no_checkpoint,
        no_metric,
        no_progress,
    )
    from reelforge.training.device import as_torch_device, available_devices, select_device, set_threads
    from reelforge.training.embed import Embedder, HashingEmbedder, MiniLMEmbedder, sentence_embedder
    from reelforge.training.optim import (
        load_optimizer_state,
        load_scheduler_state,
        optimizer_state,
        scheduler_state,
    )
    from reelforge.training.saved import ModelFolder, load_model_folder, save_model_folder
    from reelforge.training.seeds import (
        derive_seeds,
        global_rng_state,
        item_rng,
        seed_everything,
        seeded_generator,
        set_global_rng_state,
        sub_seed,
    )
    from reelforge.training.weights import (
        WeightsReport,
        cpu_state_dict,
        load_weights,
        read_safetensors,
        write_safetensors,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reelforge.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"reelforge.training.{module}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
