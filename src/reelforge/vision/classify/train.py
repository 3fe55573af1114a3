"""Training loop, resumable state and the trained-classifier object (predict / evaluate / save / load).

Determinism: the network init, the train/val split, each epoch's shuffle and each step's augmentation
are all derived from ``seed`` (and the step number), never from global RNG state, so an interrupted run
resumed from its last state ends with exactly the same weights as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from reelforge.errors import Cancelled, InvalidInput, NotFound
from reelforge.training.callbacks import CheckpointFn, MetricFn, ProgressFn, StopFn
from reelforge.training.device import as_torch_device
from reelforge.training.optim import load_optimizer_state, optimizer_state
from reelforge.training.saved import load_model_folder, save_model_folder
from reelforge.training.seeds import item_rng, seeded_generator
from reelforge.training.weights import cpu_state_dict, load_weights
from reelforge.vision.classify.data import (
    Augment,
    ImageBatch,
    augment_batch,
    batch_size_of,
    to_float_nchw,
    to_uint8_nchw,
    validate_labels,
)
from reelforge.vision.classify.model import ClassifierConfig, CompactCNN

STATE_FORMAT = "reelforge.classifier.train/2"  # 2: optimizer state in the toolkit's format
MODEL_FORMAT = "reelforge.classifier"
MODEL_FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class TrainedClassifier:
    """A trained CompactCNN plus its config; inputs follow ``classify.data`` conventions."""

    def __init__(
        self,
        config: ClassifierConfig,
        model: CompactCNN,
        *,
        history: list[dict[str, Any]] | None = None,
        val_metrics: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.model = model.eval()
        self.history = list(history or [])
        self.val_metrics = val_metrics

    @property
    def class_names(self) -> list[str]:
        return self.config.names

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> TrainedClassifier:
        self.model.to(device)
        return self

    def predict_proba(self, images: ImageBatch, *, batch_size: int = 256) -> np.ndarray:
        """Class probabilities, float32 (N, num_classes). Images are resized to the config resolution."""
        n = batch_size_of(images)
        out = np.empty((n, self.config.num_classes), dtype=np.float32)
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                x = to_float_nchw(
                    images[start : start + batch_size],
                    channels=self.config.channels,
                    size=self.config.resolution,
                ).to(self.device)
                out[start : start + x.shape[0]] = F.softmax(self.model(x), dim=1).float().cpu().numpy()
        return out

    def predict(self, images: ImageBatch, *, batch_size: int = 256) -> np.ndarray:
        """Predicted class indices, int64 (N,)."""
        return self.predict_proba(images, batch_size=batch_size).argmax(axis=1).astype(np.int64)

    def evaluate(self, images: ImageBatch, labels: np.ndarray | list[int]) -> dict[str, Any]:
        """Accuracy, per-class accuracy (None for absent classes) and the confusion matrix [true][pred]."""
        n = batch_size_of(images)
        y = validate_labels(labels, n, self.config.num_classes)
        return _score(self.predict(images), y, self.config)

    def save(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory`` (created if needed)."""
        return save_model_folder(
            directory, self.config.to_dict(), {"model": self.model}, format=MODEL_FORMAT,
            format_version=MODEL_FORMAT_VERSION, filenames={"model": WEIGHTS_FILE},
            metadata={"history": self.history, "val_metrics": self.val_metrics},
        )

    @classmethod
    def load(cls, directory: str | Path, *, device: str | torch.device = "cpu") -> TrainedClassifier:
        """Load a classifier written by :meth:`save`; keys and shapes must match exactly."""
        try:
            folder = load_model_folder(directory, MODEL_FORMAT, MODEL_FORMAT_VERSION, what="classifier")
        except NotFound as exc:  # a classifier path is an input like any other: a bad one is bad input
            raise InvalidInput(
                f"{directory} is not a saved classifier (needs {CONFIG_FILE} and {WEIGHTS_FILE})"
            ) from exc
        config = ClassifierConfig.from_dict(folder.config)
        model = folder.load_into("model", CompactCNN(config), device)
        meta = folder.metadata
        return cls(config, model, history=meta.get("history") or [], val_metrics=meta.get("val_metrics"))


def _score(pred: np.ndarray, y: np.ndarray, config: ClassifierConfig) -> dict[str, Any]:
    k = config.num_classes
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_class: dict[str, float | None] = {}
    for i, name in enumerate(config.names):
        total = int(confusion[i].sum())
        per_class[name] = float(confusion[i, i] / total) if total else None
    return {
        "accuracy": float((pred == y).mean()) if y.size else 0.0,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "n": int(y.size),
    }


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/val split: every class with >= 2 images contributes to validation."""
    rng = item_rng(seed, 0)
    train: list[np.ndarray] = []
    val: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = round(len(idx) * val_fraction) if val_fraction > 0 else 0
        if val_fraction > 0 and len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        else:
            n_val = 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _lr_at(step: int, total: int, base_lr: float) -> float:
    """Linear warm-up over the first 5% of steps, then cosine decay to zero."""
    warm = max(1, int(0.05 * total))
    if step < warm:
        return base_lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def train_classifier(
    images: ImageBatch,
    labels: np.ndarray | list[int],
    config: ClassifierConfig,
    *,
    epochs: int = 10,
    steps: int | None = None,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 5e-4,
    seed: int = 0,
    val_fraction: float = 0.1,
    augment: Augment | bool = True,
    device: str | torch.device = "cpu",
    log_every: int = 10,
    progress: ProgressFn | None = None,
    on_metric: MetricFn | None = None,
    should_stop: StopFn | None = None,
    checkpoint: CheckpointFn | None = None,
    checkpoint_every: int = 200,
    state: dict[str, Any] | None = None,
    val_images: ImageBatch | None = None,
    val_labels: np.ndarray | list[int] | None = None,
    select: Literal["last", "best"] = "last",
) -> TrainedClassifier:
    """Train a CompactCNN on uint8 (N,H,W,C) images (or float NCHW tensors) with integer labels.

    ``steps`` (optimizer steps) overrides ``epochs``. ``checkpoint(state)`` is called every
    ``checkpoint_every`` steps and on cancel; pass that ``state`` back (same data, config and seed)
    to resume. ``state`` is a nested dict of tensors and scalars (no pickle needed to store it).
    On ``should_stop()`` the current state is checkpointed and :class:`Cancelled` is raised.

    ``val_images``/``val_labels`` give a separate validation set (a dataset's val split); then every
    image passed in trains and ``val_fraction`` is ignored. ``select="best"`` keeps the weights of the
    epoch with the best validation accuracy (ties: lower validation loss, then the later epoch)
    instead of the last epoch's; the best weights travel in the checkpoint, so resuming picks the same.
    """
    n = batch_size_of(images)
    y_all = validate_labels(labels, n, config.num_classes)
    if n < 2:
        raise InvalidInput(f"need at least 2 labelled images to train a classifier, got {n}")
    if not 0.0 <= val_fraction < 1.0:
        raise InvalidInput(f"val_fraction must be in [0, 1), got {val_fraction}")
    if batch_size < 1 or epochs < 1 or (steps is not None and steps < 1):
        raise InvalidInput("batch_size, epochs and steps must be positive")
    if lr <= 0:
        raise InvalidInput(f"lr must be positive, got {lr}")
    if select not in ("last", "best"):
        raise InvalidInput(f"select must be 'last' or 'best', got {select!r}")
    if (val_images is None) != (val_labels is None):
        raise InvalidInput("give both val_images and val_labels, or neither")
    aug = Augment() if augment is True else (augment or None)
    dev = as_torch_device(device)

    x_u8 = to_uint8_nchw(images, channels=config.channels, size=config.resolution)
    if val_images is not None:
        train_idx = np.arange(n)
        x_val = to_uint8_nchw(val_images, channels=config.channels, size=config.resolution)
        y_val = validate_labels(val_labels, int(x_val.shape[0]), config.num_classes)  # type: ignore[arg-type]
    else:
        train_idx, val_idx = stratified_split(y_all, val_fraction, seed)
        if train_idx.size == 0:
            raise InvalidInput("no training images left after the validation split")
        x_val, y_val = x_u8[val_idx], y_all[val_idx]
    if select == "best" and y_val.size == 0:
        raise InvalidInput("select='best' needs validation images (val_images or val_fraction > 0)")
    y_t = torch.from_numpy(y_all)
    n_train = int(train_idx.size)
    bs = min(batch_size, n_train)
    steps_per_epoch = max(1, n_train // bs)
    total = int(steps) if steps is not None else int(epochs) * steps_per_epoch

    model = CompactCNN(config)
    model.init_weights(seeded_generator(int(seed)))
    model.to(dev).train()
    cuda = dev.type == "cuda"
    if cuda:  # NHWC convolutions are the fast path for tensor cores
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)

    def autocast() -> contextlib.AbstractContextManager[Any]:
        return torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()

    start = 0
    history: list[dict[str, Any]] = []
    loss_sum, loss_count = 0.0, 0
    # The best epoch so far (select="best"): its score and a CPU copy of its weights.
    best: dict[str, Any] | None = None
    best_weights: dict[str, torch.Tensor] | None = None
    if state is not None:
        start, history, loss_sum, loss_count = _restore(state, model, opt, config, seed, n_train, total, dev)
        if state.get("select", "last") != select:
            raise InvalidInput(f"training state was made with select={state.get('select', 'last')!r}, not {select!r}")
        if "best_json" in state:
            best = json.loads(state["best_json"])
            best_weights = {k: v for k, v in state["best_model"].items()}

    def snapshot(step: int) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "step": int(step),
            "seed": int(seed),
            "total_steps": int(total),
            "n_train": n_train,
            "config_json": json.dumps(config.to_dict(), sort_keys=True),
            "history_json": json.dumps(history),
            "epoch_loss_sum": float(loss_sum),
            "epoch_loss_count": int(loss_count),
            "model": cpu_state_dict(model),
            "optimizer": optimizer_state(opt),
            "select": select,
            **({"best_json": json.dumps(best), "best_model": best_weights} if best_weights is not None else {}),
        }

    def validate() -> dict[str, Any] | None:
        if y_val.size == 0:
            return None
        model.eval()
        preds, loss_total = [], 0.0
        with torch.inference_mode(), autocast():
            for s in range(0, int(y_val.size), 256):
                xb = x_val[s : s + 256].to(dev).float().div_(127.5).sub_(1.0)
                logits = model(xb).float()
                yb = torch.from_numpy(y_val[s : s + 256]).to(dev)
                loss_total += float(F.cross_entropy(logits, yb, reduction="sum"))
                preds.append(logits.argmax(1).cpu().numpy())
        model.train()
        return {**_score(np.concatenate(preds), y_val, config), "loss": loss_total / int(y_val.size)}

    perm_epoch, perm = -1, np.empty(0, dtype=np.int64)
    for step in range(start, total):
        if should_stop is not None and should_stop():
            if checkpoint is not None:
                checkpoint(snapshot(step))
            raise Cancelled(f"classifier training cancelled at step {step}/{total}")
        epoch, k = divmod(step, steps_per_epoch)
        if epoch != perm_epoch:
            perm = item_rng(seed, 1, epoch).permutation(train_idx)
            perm_epoch = epoch
        idx = perm[k * bs : (k + 1) * bs]
        xb = x_u8[idx].float().div_(127.5).sub_(1.0)
        if aug is not None:
            xb = augment_batch(xb, aug, item_rng(seed, 2, step))
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, total, lr)
        xb = xb.to(dev, memory_format=torch.channels_last) if cuda else xb.to(dev)
        with autocast():
            logits = model(xb)
            loss = F.cross_entropy(logits.float(), y_t[idx].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

        value = float(loss.detach())
        loss_sum += value
        loss_count += 1
        done = step + 1
        if on_metric is not None and (done % max(1, log_every) == 0 or done == total):
            on_metric("train/loss", value, done)
        if progress is not None:
            progress(done, total, f"step {done}/{total} loss {value:.4f}")
        if k == steps_per_epoch - 1 or done == total:
            val = validate()
            record: dict[str, Any] = {
                "step": done,
                "epoch": epoch + 1,
                "train_loss": loss_sum / max(1, loss_count),
            }
            if val is not None:
                record["val_accuracy"] = val["accuracy"]
                record["val_loss"] = val["loss"]
                if on_metric is not None:
                    on_metric("val/accuracy", val["accuracy"], done)
                score = (val["accuracy"], -val["loss"])
                if select == "best" and (best is None or score >= (best["accuracy"], -best["loss"])):
                    best = {"epoch": epoch + 1, "step": done, "accuracy": val["accuracy"], "loss": val["loss"]}
                    best_weights = cpu_state_dict(model)
            history.append(record)
            loss_sum, loss_count = 0.0, 0
        if checkpoint is not None and checkpoint_every > 0 and done % checkpoint_every == 0 and done < total:
            checkpoint(snapshot(done))

    if best_weights is not None and best is not None:
        load_weights(model, best_weights, where="best epoch")
        model.to(dev)
    model.eval()
    val_metrics = validate()
    if val_metrics is not None:
        val_metrics["n_train"] = n_train
        if best is not None:
            val_metrics["selected_epoch"] = best["epoch"]
    return TrainedClassifier(config, model, history=history, val_metrics=val_metrics)


def _restore(
    state: dict[str, Any],
    model: CompactCNN,
    opt: torch.optim.Optimizer,
    config: ClassifierConfig,
    seed: int,
    n_train: int,
    total: int,
    device: torch.device,
) -> tuple[int, list[dict[str, Any]], float, int]:
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise InvalidInput(f"training state is not a {STATE_FORMAT} state (from another reelforge version?)")
    try:
        saved_cfg = json.loads(state["config_json"])
        same = (
            saved_cfg == config.to_dict()
            and int(state["seed"]) == int(seed)
            and int(state["n_train"]) == n_train
            and int(state["total_steps"]) == total
        )
        if not same:
            raise InvalidInput(
                "training state was made with a different config, seed, data size or step count"
            )
        step = int(state["step"])
        if not 0 <= step <= total:
            raise InvalidInput(f"training state step {step} is outside [0, {total}]")
        tensors = {k: v for k, v in state["model"].items()}
        history = json.loads(state["history_json"])
        loss_sum, loss_count = float(state["epoch_loss_sum"]), int(state["epoch_loss_count"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"training state is incomplete: {exc}") from exc
    load_weights(model, tensors, where="training state")
    model.to(device)
    load_optimizer_state(opt, state["optimizer"])
    return step, history, loss_sum, loss_count
