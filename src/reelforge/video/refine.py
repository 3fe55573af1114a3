"""A small CNN that corrects flow-interpolated frames, trained on the studio's own footage.

Input (per pixel, 11 channels): both frames warped to time t, their occlusion-aware blend (what
``video.interpolate`` makes without a network) and the two visibility masks. Output: a residual added to
the blend. The last layer starts near zero, so an untrained network returns the blend (almost) unchanged and
training moves away from it only where that lowers the loss.

Training data are triplets of consecutive frames: frames i and i + 2 are interpolated at t = 0.5 and the
network learns to turn that into frame i + 1 (motion twice as large as between neighbours, which is what the
network later sees at the edges of its range). Pairs across a cut are skipped. Seeded, resumable (the
state is a plain dict of tensors) and saved as a ``reelforge.interpolator`` model folder (safetensors).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reelforge.errors import Cancelled, InvalidInput, NotFound
from reelforge.training.callbacks import CheckpointFn, MetricFn, ProgressFn, StopFn
from reelforge.training.device import as_torch_device
from reelforge.training.optim import load_optimizer_state, optimizer_state
from reelforge.training.saved import load_model_folder, save_model_folder
from reelforge.training.seeds import item_rng, seeded_generator
from reelforge.training.weights import cpu_state_dict, load_weights
from reelforge.video.interpolate import Interpolated, InterpSettings
from reelforge.video.triplets import (  # noqa: F401  (re-exported: the training data API lives with the model)
    IN_CHANNELS,
    Triplets,
    collect_triplets,
    features,
    make_triplets,
    triplet_chunk,
    triplet_items,
)

MODEL_FORMAT = "reelforge.interpolator"
MODEL_FORMAT_VERSION = 1
STATE_FORMAT = "reelforge.interpolator.train/1"


@dataclass(frozen=True)
class RefineConfig:
    width: int = 24  # channels at full resolution (twice that at half)

    def __post_init__(self) -> None:
        if not 4 <= self.width <= 256:
            raise InvalidInput(f"refinement width must be in [4, 256], got {self.width}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RefineConfig:
        return cls(width=int(data.get("width", 24)))


class RefineNet(nn.Module):
    """A two-scale conv net (a tiny U-Net): full resolution for edges, half resolution for context."""

    def __init__(self, config: RefineConfig) -> None:
        super().__init__()
        w = config.width
        self.enc = nn.Sequential(nn.Conv2d(IN_CHANNELS, w, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
                                 nn.Conv2d(w, w, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))
        self.down = nn.Sequential(nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.LeakyReLU(0.1, inplace=True),
                                  nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))
        self.dec = nn.Sequential(nn.Conv2d(3 * w, w, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))
        self.out = nn.Conv2d(w, 3, 3, padding=1)

    def init_weights(self, generator: torch.Generator) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                with torch.no_grad():
                    m.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)
                    m.bias.zero_()
        with torch.no_grad():  # near the identity at the start: the blend goes through almost unchanged
            self.out.weight.normal_(0.0, 1e-3, generator=generator)  # not zero: the layers below need a gradient
            self.out.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (N, 11, H, W) in 0..1, H and W even; returns the corrected frame in 0..1."""
        e = self.enc(x)
        d = self.down(e)
        u = F.interpolate(d, size=e.shape[-2:], mode="bilinear", align_corners=False)
        residual = self.out(self.dec(torch.cat([e, u], dim=1)))
        return x[:, 6:9] + residual


def _to_input(feats: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    x = torch.as_tensor(feats).to(device)
    return x.float().div_(255.0)


# ----------------------------------------------------------------------------------- trained model


def _psnr(x: np.ndarray, y: np.ndarray) -> float:
    mse = float(((x.astype(np.float64) - y.astype(np.float64)) ** 2).mean())
    return 99.0 if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


class Refiner:
    """A trained RefineNet, callable on an :class:`Interpolated` (what ``video.interpolate`` takes)."""

    def __init__(self, config: RefineConfig, model: RefineNet, settings: InterpSettings,
                 history: list[dict[str, Any]] | None = None, metrics: dict[str, Any] | None = None) -> None:
        self.config, self.model, self.settings = config, model.eval(), settings
        self.history = list(history or [])
        self.metrics = dict(metrics or {})

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def refine_features(self, feats: np.ndarray) -> np.ndarray:
        """(N, 11, H, W) uint8 features -> (N, H, W, 3) float32 frames 0..255."""
        h, w = feats.shape[-2:]
        x = _to_input(feats, self.device)
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")  # the half-resolution branch needs even sides
        cuda = self.device.type == "cuda"
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            y = self.model(x)
        y = y.float()[:, :, :h, :w].clamp(0, 1) * 255.0
        return y.permute(0, 2, 3, 1).cpu().numpy()

    def __call__(self, detail: Interpolated) -> np.ndarray:
        return self.refine_features(features(detail)[None])[0]

    def evaluate(self, triplets: Triplets, batch: int = 8) -> dict[str, float]:
        """Mean PSNR of the plain blend and of the refined frame against the true middle frames."""
        before, after = [], []
        for s in range(0, len(triplets), batch):
            feats = triplets.inputs[s:s + batch]
            refined = self.refine_features(feats)
            for f, r, t in zip(feats, refined, triplets.targets[s:s + batch], strict=True):
                truth = t.transpose(1, 2, 0)
                before.append(_psnr(f[6:9].transpose(1, 2, 0), truth))
                after.append(_psnr(np.clip(np.rint(r), 0, 255), truth))
        return {"psnr_blend": float(np.mean(before)), "psnr_refined": float(np.mean(after)),
                "triplets": len(triplets)}

    def save(self, directory: str | Path) -> Path:
        return save_model_folder(
            directory, {"refine": self.config.to_dict(), "interp": self.settings.to_dict()},
            {"model": self.model}, format=MODEL_FORMAT, format_version=MODEL_FORMAT_VERSION,
            metadata={"history": self.history, "metrics": self.metrics},
        )

    @classmethod
    def load(cls, directory: str | Path, *, device: str | torch.device = "cpu") -> Refiner:
        try:
            folder = load_model_folder(directory, MODEL_FORMAT, MODEL_FORMAT_VERSION, what="interpolator")
        except NotFound as exc:  # a model path is an input: a bad one is bad input
            raise InvalidInput(str(exc)) from exc
        config = RefineConfig.from_dict(folder.config.get("refine") or {})
        try:
            settings = InterpSettings(**(folder.config.get("interp") or {}))
        except TypeError as exc:
            raise InvalidInput(f"{directory}: bad interpolation settings ({exc})") from exc
        model = folder.load_into("model", RefineNet(config), as_torch_device(device))
        meta = folder.metadata
        return cls(config, model, settings, meta.get("history"), meta.get("metrics"))


# ------------------------------------------------------------------------------------------ training


def _lr_at(step: int, total: int, base: float) -> float:
    warm = max(1, total // 20)
    if step < warm:
        return base * (step + 1) / warm
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))


def _batch(triplets: Triplets, rng: np.random.Generator, size: int, crop: int) -> tuple[np.ndarray, np.ndarray]:
    n, _, h, w = triplets.inputs.shape
    ch, cw = min(crop, h) // 2 * 2, min(crop, w) // 2 * 2
    idx = rng.integers(0, n, size)
    ys = rng.integers(0, h - ch + 1, size)
    xs = rng.integers(0, w - cw + 1, size)
    flips = rng.random(size) < 0.5
    xb = np.empty((size, IN_CHANNELS, ch, cw), np.uint8)
    yb = np.empty((size, 3, ch, cw), np.uint8)
    for j, (i, y, x, fl) in enumerate(zip(idx, ys, xs, flips, strict=True)):
        a = triplets.inputs[i, :, y:y + ch, x:x + cw]
        b = triplets.targets[i, :, y:y + ch, x:x + cw]
        xb[j], yb[j] = (a[:, :, ::-1], b[:, :, ::-1]) if fl else (a, b)
    return xb, yb


def train_refiner(
    triplets: Triplets,
    config: RefineConfig = RefineConfig(),
    *,
    settings: InterpSettings = InterpSettings(),
    steps: int = 300,
    batch_size: int = 8,
    crop: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    log_every: int = 10,
    progress: ProgressFn | None = None,
    on_metric: MetricFn | None = None,
    should_stop: StopFn | None = None,
    checkpoint: CheckpointFn | None = None,
    checkpoint_every: int = 100,
    state: dict[str, Any] | None = None,
) -> Refiner:
    """Train a RefineNet on triplets with an L1 loss on random crops (flipped half the time).

    Batches and crops come from ``item_rng(seed, step)``, so a run resumed from ``state`` (what
    ``checkpoint`` received) ends with the weights an uninterrupted run would. On ``should_stop()`` the
    state is checkpointed and :class:`Cancelled` raised. CUDA trains under bf16 autocast, channels_last.
    """
    if len(triplets) < 1:
        raise InvalidInput("no triplets to train on")
    if steps < 1 or batch_size < 1 or crop < 8 or lr <= 0:
        raise InvalidInput("steps, batch_size and lr must be positive and crop at least 8")
    dev = as_torch_device(device)
    cuda = dev.type == "cuda"
    model = RefineNet(config)
    model.init_weights(seeded_generator(int(seed)))
    model.to(dev).train()
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    start = 0
    history: list[dict[str, Any]] = []
    shape = list(triplets.inputs.shape[1:])
    if state is not None:
        start, history = _restore(state, model, opt, config, seed, steps, shape, dev)

    def snapshot(step: int) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "step": int(step), "seed": int(seed), "steps": int(steps),
                "shape_json": json.dumps(shape), "config_json": json.dumps(config.to_dict(), sort_keys=True),
                "history_json": json.dumps(history), "model": cpu_state_dict(model),
                "optimizer": optimizer_state(opt)}

    running = 0.0
    for step in range(start, steps):
        if should_stop is not None and should_stop():
            if checkpoint is not None:
                checkpoint(snapshot(step))
            raise Cancelled(f"interpolator training cancelled at step {step}/{steps}")
        xb, yb = _batch(triplets, item_rng(seed, 1, step), batch_size, crop)
        x, y = _to_input(xb, dev), _to_input(yb, dev)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, steps, lr)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            pred = model(x)
        loss = F.l1_loss(pred.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = float(loss.detach())
        running = value if step == start else 0.9 * running + 0.1 * value
        done = step + 1
        if done % max(1, log_every) == 0 or done == steps:
            history.append({"step": done, "loss": running})
            if on_metric is not None:
                on_metric("train/l1", running, done)
        if progress is not None:
            progress(done, steps, f"step {done}/{steps} l1 {running:.4f}")
        if checkpoint is not None and checkpoint_every > 0 and done % checkpoint_every == 0 and done < steps:
            checkpoint(snapshot(done))
    model.eval()
    return Refiner(config, model, settings, history)


def _restore(state: dict[str, Any], model: RefineNet, opt: torch.optim.Optimizer, config: RefineConfig,
             seed: int, steps: int, shape: list[int], device: torch.device) -> tuple[int, list[dict[str, Any]]]:
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise InvalidInput(f"training state is not a {STATE_FORMAT} state")
    try:
        same = (json.loads(state["config_json"]) == config.to_dict() and int(state["seed"]) == int(seed)
                and int(state["steps"]) == steps and json.loads(state["shape_json"]) == shape)
        if not same:
            raise InvalidInput("training state was made with a different config, seed, step count or data")
        step = int(state["step"])
        history = json.loads(state["history_json"])
        load_weights(model, dict(state["model"]), where="training state")
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"training state is incomplete: {exc}") from exc
    model.to(device)
    load_optimizer_state(opt, state["optimizer"])
    return step, history
