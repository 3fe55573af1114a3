"""Saving and loading trained GANs (and trainer checkpoints) with safetensors only, never pickle.

A saved model is a model folder of the shared toolkit (``reelforge.training.saved``), format
``reelforge.gan`` version 1:
- ``config.json``: format name and version, the GANConfig, which weight files exist, free-form metadata;
- ``generator_ema.safetensors``: the EMA generator, the one used for inference;
- ``generator.safetensors`` / ``discriminator.safetensors``: optional, for fine-tuning or inspection.
Folders written before the toolkit (``"format": "reelforge.gan/1"``) load unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

from reelforge.errors import InvalidInput, NotFound
from reelforge.training.saved import load_model_folder, save_model_folder
from reelforge.vision.gan.models import Discriminator, GANConfig, Generator
from reelforge.vision.gan.sampling import latent_walk, sample

if TYPE_CHECKING:
    from reelforge.vision.gan.trainer import GANTrainer

MODEL_FORMAT = "reelforge.gan"
MODEL_FORMAT_VERSION = 1
G_EMA_FILE = "generator_ema.safetensors"
G_FILE = "generator.safetensors"
D_FILE = "discriminator.safetensors"
_STATE_META_KEY = "reelforge_state"


class GANModel:
    """Config + EMA generator for inference; optionally the raw G and D it was trained with."""

    def __init__(
        self,
        config: GANConfig,
        generator: Generator,
        generator_raw: Generator | None = None,
        discriminator: Discriminator | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.generator = generator.eval()
        self.generator_raw = generator_raw
        self.discriminator = discriminator
        self.metadata = dict(metadata or {})

    @classmethod
    def from_trainer(cls, trainer: GANTrainer, include_training_nets: bool = False) -> GANModel:
        """Detached copies of the trainer's networks (training can go on without touching the model)."""
        g = Generator(trainer.config)
        g.load_state_dict(trainer.ema.state_dict())
        g.to(trainer.device)
        raw = d = None
        if include_training_nets:
            raw = Generator(trainer.config)
            raw.load_state_dict(trainer.G.state_dict())
            raw.to(trainer.device)
            d = Discriminator(trainer.config)
            d.load_state_dict(trainer.D.state_dict())
            d.to(trainer.device)
        meta = {"step": trainer.step, "seed": trainer.seed}
        return cls(trainer.config, g, raw, d, meta)

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def to(self, device: str | torch.device) -> GANModel:
        for net in (self.generator, self.generator_raw, self.discriminator):
            if net is not None:
                net.to(device)
        return self

    def generate(
        self,
        n: int,
        seed: int = 0,
        truncation: float | None = 1.0,
        class_ids: int | Sequence[int] | np.ndarray | None = None,
        text_embeddings: np.ndarray | torch.Tensor | None = None,
        batch: int = 64,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(images uint8 (n, H, W, C), latents (n, z_dim)); see sampling.sample for seeds/truncation."""
        return sample(self, n, seed, truncation, class_ids, text_embeddings, batch)

    def latent_walk(
        self,
        seeds: Sequence[int],
        frames_per_segment: int,
        truncation: float | None = 1.0,
        loop: bool = True,
        class_id: int | None = None,
        text_embedding: np.ndarray | torch.Tensor | None = None,
    ) -> Iterator[np.ndarray]:
        return latent_walk(self, seeds, frames_per_segment, truncation, loop, class_id, text_embedding)


def save_gan(directory: str | Path, model: GANModel, include_training_nets: bool = True) -> Path:
    """Write `model` into `directory` (created if needed); returns the directory path."""
    parts: dict[str, torch.nn.Module] = {"generator_ema": model.generator}
    if include_training_nets and model.generator_raw is not None:
        parts["generator"] = model.generator_raw
    if include_training_nets and model.discriminator is not None:
        parts["discriminator"] = model.discriminator
    return save_model_folder(
        directory, model.config.to_dict(), parts, format=MODEL_FORMAT, format_version=MODEL_FORMAT_VERSION,
        metadata=model.metadata,
        filenames={"generator_ema": G_EMA_FILE, "generator": G_FILE, "discriminator": D_FILE},
    )


def load_gan(
    directory: str | Path, device: str | torch.device = "cpu", load_training_nets: bool = False
) -> GANModel:
    """Read a directory written by save_gan. No model there -> NotFound; bad contents -> InvalidInput."""
    folder = load_model_folder(directory, MODEL_FORMAT, MODEL_FORMAT_VERSION, what="GAN model")
    config = GANConfig.from_dict(folder.config)
    if not folder.has("generator_ema"):
        raise NotFound(f"no GAN weights at {folder.path} (missing {G_EMA_FILE})")
    g = folder.load_into("generator_ema", Generator(config), device)
    raw = d = None
    if load_training_nets:
        if folder.has("generator"):
            raw = folder.load_into("generator", Generator(config), device)
        if folder.has("discriminator"):
            d = folder.load_into("discriminator", Discriminator(config), device)
    return GANModel(config, g, raw, d, folder.metadata)


# ----------------------------------------------------------------------------- trainer checkpoints
def _flatten(
    state: dict[str, Any], prefix: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    for key, value in state.items():
        if "/" in key:
            raise InvalidInput(f"state key {key!r} contains '/'")
        path = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            tensors[path] = value.detach().cpu().contiguous()
        elif isinstance(value, dict):
            if not value:
                meta["empty"].append(path)
            _flatten(value, path + "/", tensors, meta)
        elif isinstance(value, bool | int | float | str) or value is None:
            meta["values"][path] = value
        else:
            raise InvalidInput(f"state value at {path!r} has unsupported type {type(value).__name__}")


def _set(root: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split("/")
    node = root
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value


def save_training_state(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a nested state (e.g. GANTrainer.state_dict()) as one safetensors file.

    Tensors become entries named by their '/'-joined path; ints/floats/strings (and empty dicts) go
    into the file's metadata as JSON, so the file round-trips exactly without pickle.
    """
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"values": {}, "empty": []}
    _flatten(state, "", tensors, meta)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={_STATE_META_KEY: json.dumps(meta)})
    return out


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Inverse of save_training_state."""
    p = Path(path)
    if not p.is_file():
        raise NotFound(f"no training state at {p}")
    try:
        from safetensors import safe_open

        with safe_open(str(p), framework="pt", device="cpu") as f:
            raw_meta = (f.metadata() or {}).get(_STATE_META_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as exc:
        raise InvalidInput(f"{p.name}: not a readable safetensors file") from exc
    if raw_meta is None:
        raise InvalidInput(f"{p.name}: not a reelforge training state (no metadata)")
    meta = json.loads(raw_meta)
    state: dict[str, Any] = {}
    for empty in meta.get("empty", []):
        _set(state, empty, {})
    for key, value in meta.get("values", {}).items():
        _set(state, key, value)
    for key, tensor in tensors.items():
        _set(state, key, tensor)
    return state
