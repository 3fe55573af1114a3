"""Models saved by the trainers before the shared toolkit still load (the layouts they wrote then)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from reelforge.script.dialogue import CharVocab, DialogueLM, DialogueLMConfig, TrainedLM
from reelforge.vision.classify import ClassifierConfig, CompactCNN, TrainedClassifier
from reelforge.vision.gan import GANConfig, GANModel, load_gan
from reelforge.vision.gan.models import build_models


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def test_old_gan_folder(tmp_path: Path) -> None:
    # A folder from before the few-shot family: its config has no "arch" (from_dict reads it as DCGAN).
    config = GANConfig.from_dict({"resolution": 32, "z_dim": 8, "base_channels": 4, "cond_dim": 8, "num_classes": 3})
    assert config.arch == "dcgan"
    g, _ = build_models(config, 5)
    # As save_gan wrote it: "format": "reelforge.gan/1", no format_version.
    header = {"format": "reelforge.gan/1"}
    save_file(_weights(g), str(tmp_path / "generator_ema.safetensors"), metadata=header)
    doc = {"format": "reelforge.gan/1", "config": config.to_dict(),
           "files": {"generator_ema": "generator_ema.safetensors"}, "metadata": {"step": 40, "seed": 5}}
    (tmp_path / "config.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")

    loaded = load_gan(tmp_path)
    assert loaded.config == config and loaded.metadata == {"step": 40, "seed": 5}
    a, _ = loaded.generate(6, seed=2)
    b, _ = GANModel(config, g).generate(6, seed=2)
    assert np.array_equal(a, b)


def test_old_classifier_folder(tmp_path: Path) -> None:
    config = ClassifierConfig(num_classes=2, resolution=8, width=4, depth=1, class_names=["cat", "dog"])
    model = CompactCNN(config)
    model.init_weights(torch.Generator().manual_seed(0))
    header = {"format": "reelforge.classifier/1"}
    save_file(_weights(model), str(tmp_path / "model.safetensors"), metadata=header)
    meta = {"format": "reelforge.classifier/1", "config": config.to_dict(), "history": [{"step": 1}],
            "val_metrics": {"accuracy": 0.5}}
    (tmp_path / "config.json").write_text(json.dumps(meta, indent=2, sort_keys=True))

    loaded = TrainedClassifier.load(tmp_path)
    assert loaded.config == config and loaded.history == [{"step": 1}]
    assert loaded.val_metrics == {"accuracy": 0.5}
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    expected = TrainedClassifier(config, model).predict_proba(images)
    assert np.array_equal(loaded.predict_proba(images), expected)


def test_old_dialogue_folder(tmp_path: Path) -> None:
    vocab = CharVocab.build("ANNA\nhello there\n\n")
    config = DialogueLMConfig(vocab_size=vocab.size, block_size=16, n_layer=1, n_head=2, n_embd=8)
    torch.manual_seed(0)
    model = DialogueLM(config).eval()
    header = {"format": "reelforge.script.dialogue_lm"}
    save_file(_weights(model), str(tmp_path / "model.safetensors"), metadata=header)
    meta = {"format": "reelforge.script.dialogue_lm", "version": 1, "config": config.to_dict(),
            "vocab": vocab.to_dict(), "step": 30, "val_loss": 1.5, "train_loss": 1.25}
    (tmp_path / "config.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")

    loaded = TrainedLM.load(tmp_path)
    assert loaded.vocab.chars == vocab.chars and loaded.config == config
    assert (loaded.step, loaded.val_loss, loaded.train_loss) == (30, 1.5, 1.25)
    probe = "ANNA\nhello"
    assert torch.equal(loaded.logits(probe), TrainedLM(model, vocab, config).logits(probe))


def test_new_folders_carry_format_version(tmp_path: Path) -> None:
    vocab = CharVocab.build("BO\nhi\n\n")
    config = DialogueLMConfig(vocab_size=vocab.size, block_size=8, n_layer=1, n_head=1, n_embd=4, dropout=0.0)
    TrainedLM(DialogueLM(config), vocab, config, step=3).save(tmp_path / "lm")
    doc = json.loads((tmp_path / "lm" / "config.json").read_text())
    assert doc["format"] == "reelforge.script.dialogue_lm" and doc["format_version"] == 1
    assert doc["metadata"]["step"] == 3 and doc["files"] == {"model": "model.safetensors"}
