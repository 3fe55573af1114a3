from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reelforge.errors import InvalidInput, NotFound
from reelforge.vision.gan import (
    GANTrainer,
    load_gan,
    load_training_state,
    save_gan,
    save_training_state,
)

from .conftest import small_config
from .test_trainer import assert_states_equal


def _trained(digits: tuple, **cfg: object) -> GANTrainer:
    images, labels = digits
    tr = GANTrainer(small_config(num_classes=10, **cfg), images[:128], labels=labels[:128], seed=1)
    tr.train(8)
    return tr


def test_save_load_round_trip_gives_identical_samples(digits: tuple, tmp_path: Path) -> None:
    tr = _trained(digits)
    model = tr.to_model(include_training_nets=True)
    model.metadata["dataset"] = "sklearn digits"
    save_gan(tmp_path / "m", model)
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == [
        "config.json",
        "discriminator.safetensors",
        "generator.safetensors",
        "generator_ema.safetensors",
    ]
    doc = json.loads((tmp_path / "m" / "config.json").read_text())
    assert doc["config"]["num_classes"] == 10 and doc["metadata"]["step"] == 8

    loaded = load_gan(tmp_path / "m", load_training_nets=True)
    assert loaded.config == tr.config
    assert loaded.metadata["dataset"] == "sklearn digits"
    a, za = model.generate(20, seed=5, truncation=0.8)
    b, zb = loaded.generate(20, seed=5, truncation=0.8)
    assert np.array_equal(a, b) and np.array_equal(za, zb)
    assert loaded.discriminator is not None and loaded.generator_raw is not None
    # the trainer's own EMA generator gives the same pixels too
    c, _ = tr.to_model().generate(20, seed=5, truncation=0.8)
    assert np.array_equal(a, c)


def test_inference_only_save(digits: tuple, tmp_path: Path) -> None:
    model = _trained(digits).to_model()
    save_gan(tmp_path / "m", model)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "generator_ema.safetensors"]
    frames = list(load_gan(tmp_path / "m").latent_walk([0, 1], frames_per_segment=3, class_id=2))
    assert len(frames) == 6


def test_load_errors(digits: tuple, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_gan(tmp_path / "nothing")
    save_gan(tmp_path / "m", _trained(digits).to_model())
    cfg_path = tmp_path / "m" / "config.json"
    doc = json.loads(cfg_path.read_text())
    doc["config"]["base_channels"] = 8
    cfg_path.write_text(json.dumps(doc))
    with pytest.raises(InvalidInput, match="do not match"):
        load_gan(tmp_path / "m")
    doc["config"]["base_channels"] = 4
    doc["config"]["resolution"] = 48
    cfg_path.write_text(json.dumps(doc))
    with pytest.raises(InvalidInput, match="resolution"):
        load_gan(tmp_path / "m")
    (tmp_path / "m" / "generator_ema.safetensors").write_bytes(b"\x80\x04 not safetensors")
    doc["config"]["resolution"] = 32
    cfg_path.write_text(json.dumps(doc))
    with pytest.raises(InvalidInput, match="safetensors"):
        load_gan(tmp_path / "m")
    cfg_path.write_text("{broken")
    with pytest.raises(InvalidInput, match="JSON"):
        load_gan(tmp_path / "m")


def test_training_state_file_round_trip_and_resume(digits: tuple, tmp_path: Path) -> None:
    images, labels = digits
    fresh = GANTrainer(small_config(num_classes=10), images[:128], labels=labels[:128], seed=1)
    path = save_training_state(tmp_path / "ckpt.safetensors", fresh.state_dict())  # empty optimizer state
    assert_states_equal(load_training_state(path), fresh.state_dict())

    tr = _trained(digits)
    path = save_training_state(tmp_path / "ckpt.safetensors", tr.state_dict())
    state = load_training_state(path)
    assert_states_equal(state, tr.state_dict())
    resumed = GANTrainer(small_config(num_classes=10), images[:128], labels=labels[:128], seed=0)
    resumed.load_state_dict(state)
    tr.train(12)
    resumed.train(12)
    assert_states_equal(tr.state_dict(), resumed.state_dict())
