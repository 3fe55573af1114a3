"""Fast feed-forward style transfer (Johnson et al. 2016): one network per style, trained on content
images with the same perceptual losses as the optimisation, then one forward pass per image.

Architecture: reflection-padded 9x9 conv, two stride-2 convs, residual blocks, two nearest-neighbour
upsample + conv stages (no transposed convs: they leave checkerboard artefacts, Odena et al. 2016),
a 9x9 conv out; instance normalisation throughout (Ulyanov et al. 2016). A sigmoid keeps the
output in 0..1.

Saved through the training toolkit's model folder (``config.json`` + ``transform.safetensors``,
format ``reelforge.style.fast`` version 1).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
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
from reelforge.vision.style.features import RANDOM, build_features, features_label
from reelforge.vision.style.optimize import (
    MIN_SIDE,
    StyleObjective,
    check_image,
    fit_size,
    tv_loss,
)

__all__ = ["FastStyleConfig", "FastStyleModel", "TransformNet", "train_fast"]

MODEL_FORMAT = "reelforge.style.fast"
MODEL_FORMAT_VERSION = 1
STATE_FORMAT = "reelforge.style.fast.train/1"


@dataclass
class FastStyleConfig:
    """The network's shape and how it is trained; saved with the weights."""

    width: int = 32  # channels of the first conv; 2x and 4x after the downsampling convs
    res_blocks: int = 5
    size: int = 256  # training crop side
    batch_size: int = 4
    steps: int = 2000
    lr: float = 1e-3
    style_weight: float = 10.0
    content_weight: float = 1.0
    tv_weight: float = 0.5
    features: str = RANDOM  # "random" or the VGG-19 file the losses were measured with (training only)
    feature_seed: int = 0
    style_scale: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 4 <= self.width <= 256 or not 0 <= self.res_blocks <= 16:
            raise InvalidInput(f"width must be in [4, 256] and res_blocks in [0, 16], got {self.width}, {self.res_blocks}")
        if not 32 <= self.size <= 2048 or self.size % 4:
            raise InvalidInput(f"size must be a multiple of 4 in [32, 2048], got {self.size}")
        if self.batch_size < 1 or self.steps < 1 or self.lr <= 0:
            raise InvalidInput("batch_size and steps must be >= 1 and lr > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FastStyleConfig:
        known = set(cls.__dataclass_fields__)
        try:
            return cls(**{k: v for k, v in d.items() if k in known})
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"invalid fast style config: {exc}") from exc


def _conv(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(k // 2), nn.Conv2d(c_in, c_out, k, stride))


class _Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(c, c, 3), nn.InstanceNorm2d(c, affine=True), nn.ReLU(),
                                  _conv(c, c, 3), nn.InstanceNorm2d(c, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformNet(nn.Module):
    """Image (N, 3, H, W) in 0..1 to stylised image in 0..1 (H, W multiples of 4 are kept exactly)."""

    def __init__(self, width: int = 32, res_blocks: int = 5) -> None:
        super().__init__()
        w = width

        def block(c_in: int, c_out: int, k: int, stride: int = 1) -> list[nn.Module]:
            return [_conv(c_in, c_out, k, stride), nn.InstanceNorm2d(c_out, affine=True), nn.ReLU()]

        def up(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Upsample(scale_factor=2, mode="nearest"), *block(c_in, c_out, 3)]

        self.net = nn.Sequential(
            *block(3, w, 9), *block(w, 2 * w, 3, 2), *block(2 * w, 4 * w, 3, 2),
            *[_Residual(4 * w) for _ in range(res_blocks)],
            *up(4 * w, 2 * w), *up(2 * w, w), _conv(w, 3, 9),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:  # two stride-2 stages: pad to a multiple of 4, crop back after
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        return torch.sigmoid(self.net(x * 2 - 1))[..., :h, :w]

    def init_weights(self, generator: torch.Generator) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=generator)
                nn.init.zeros_(m.bias)  # type: ignore[arg-type]


class FastStyleModel:
    """A trained transform network and its config: ``stylize`` images, ``save`` / ``load`` folders."""

    def __init__(self, config: FastStyleConfig, net: TransformNet, metadata: dict[str, Any] | None = None) -> None:
        self.config, self.net, self.metadata = config, net.eval(), dict(metadata or {})

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def stylize_batch(self, frames: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """uint8 ``(N, H, W, 3)`` to uint8 ``(N, H, W, 3)``, ``batch_size`` frames per forward pass."""
        out = np.empty_like(frames)
        cuda = self.device.type == "cuda"
        with torch.inference_mode():
            for s in range(0, len(frames), batch_size):
                x = torch.from_numpy(np.array(frames[s : s + batch_size])).to(self.device).permute(0, 3, 1, 2).float() / 255
                if cuda:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                    y = self.net(x)
                out[s : s + len(x)] = np.rint(y.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255)
        return out

    def stylize(self, image: np.ndarray) -> np.ndarray:
        """One uint8 RGB image, at its own size."""
        return self.stylize_batch(check_image(image, "content")[None])[0]

    def save(self, directory: str | Path) -> Path:
        return save_model_folder(directory, self.config.to_dict(), {"transform": self.net}, format=MODEL_FORMAT,
                                 format_version=MODEL_FORMAT_VERSION, metadata=self.metadata)

    @classmethod
    def load(cls, directory: str | Path, *, device: str | torch.device = "cpu") -> FastStyleModel:
        try:
            folder = load_model_folder(directory, MODEL_FORMAT, MODEL_FORMAT_VERSION, what="style network")
        except NotFound as exc:
            raise InvalidInput(str(exc)) from exc
        config = FastStyleConfig.from_dict(folder.config)
        net = folder.load_into("transform", TransformNet(config.width, config.res_blocks), device)
        if torch.device(device).type == "cuda":
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return cls(config, net, folder.metadata)


def _crops(images: list[np.ndarray], size: int, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random square crops (a random 60-100% of the short side), resized to ``size``."""
    from PIL import Image

    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        img = images[int(rng.integers(len(images)))]
        h, w = img.shape[:2]
        side = int(min(h, w) * rng.uniform(0.6, 1.0))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(img[y : y + side, x : x + side]).resize((size, size), Image.Resampling.BILINEAR)
        out[i] = np.asarray(crop)
        if rng.random() < 0.5:
            out[i] = out[i, :, ::-1]
    return out


def _lr_at(step: int, total: int, base: float) -> float:
    """Constant, then a cosine decay over the last half."""
    half = total // 2
    if step < half:
        return base
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - half) / max(1, total - half))))


def train_fast(
    content_images: list[np.ndarray],
    style: np.ndarray,
    config: FastStyleConfig,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: ProgressFn | None = None,
    on_metric: MetricFn | None = None,
    should_stop: StopFn | None = None,
    checkpoint: CheckpointFn | None = None,
    checkpoint_every: int = 200,
    state: dict[str, Any] | None = None,
    log_every: int = 10,
) -> FastStyleModel:
    """Train a transform network for ``style`` on random crops of ``content_images`` (uint8 RGB).

    Every random draw comes from ``seed`` and the step number, so a run resumed from a
    ``checkpoint`` state ends with the same weights as an uninterrupted one. On ``should_stop()``
    the state is checkpointed and :class:`Cancelled` raised.
    """
    if not content_images:
        raise InvalidInput("training a style network needs at least one content image")
    images = [check_image(im, f"content #{i + 1}", MIN_SIDE) for i, im in enumerate(content_images)]
    style = check_image(style, "style")
    dev = as_torch_device(device)
    cuda = dev.type == "cuda"
    features = build_features(config.features, seed=config.feature_seed, device=dev)
    objective = StyleObjective(features, style, device=dev, size=max(MIN_SIDE, round(config.size * config.style_scale)))
    net = TransformNet(config.width, config.res_blocks)
    net.init_weights(seeded_generator(seed))
    net.to(dev).train()
    if cuda:
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    start, history = 0, []
    if state is not None:
        start, history = _restore(state, net, opt, config, seed, len(images))
    total = config.steps

    def snapshot(step: int) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "step": int(step), "seed": int(seed), "n_images": len(images),
                "config_json": json.dumps(config.to_dict(), sort_keys=True), "history_json": json.dumps(history),
                "model": cpu_state_dict(net), "optimizer": optimizer_state(opt)}

    for step in range(start, total):
        if should_stop is not None and should_stop():
            if checkpoint is not None:
                checkpoint(snapshot(step))
            raise Cancelled(f"style network training cancelled at step {step}/{total}")
        batch = _crops(images, config.size, item_rng(seed, 1, step), config.batch_size)
        x = torch.from_numpy(batch).to(dev).permute(0, 3, 1, 2).float() / 255
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, total, config.lr)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            y = net(x)
            targets = objective.content_targets(x)
            feats = features(y)
            ls = objective.style_loss(feats)
            lc = objective.content_loss(feats, targets)
        loss = config.style_weight * ls + config.content_weight * lc + config.tv_weight * tv_loss(y.float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        if done % max(1, log_every) == 0 or done == total or step == start:
            record = {"step": done, "loss": float(loss.detach()), "style": float(ls.detach()),
                      "content": float(lc.detach())}
            history.append(record)
            if on_metric is not None:
                for k in ("loss", "style", "content"):
                    on_metric(f"train/{k}", record[k], done)
        if progress is not None:
            progress(done, total, f"step {done}/{total} loss {float(loss.detach()):.4f}")
        if checkpoint is not None and checkpoint_every > 0 and done % checkpoint_every == 0 and done < total:
            checkpoint(snapshot(done))
    meta = {"history": history, "seed": seed, "images": len(images),
            "features": features_label(config.features, config.feature_seed)}
    return FastStyleModel(config, net.eval(), meta)


def _restore(state: dict[str, Any], net: TransformNet, opt: torch.optim.Optimizer, config: FastStyleConfig,
             seed: int, n_images: int) -> tuple[int, list[dict[str, Any]]]:
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise InvalidInput(f"training state is not a {STATE_FORMAT} state")
    try:
        same = (json.loads(state["config_json"]) == json.loads(json.dumps(config.to_dict(), sort_keys=True))
                and int(state["seed"]) == seed and int(state["n_images"]) == n_images)
        if not same:
            raise InvalidInput("training state was made with a different config, seed or image count")
        step, history = int(state["step"]), json.loads(state["history_json"])
        tensors = dict(state["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"training state is incomplete: {exc}") from exc
    load_weights(net, tensors, where="training state")
    load_optimizer_state(opt, state["optimizer"])
    return step, history


def stylize_with(model: FastStyleModel, image: np.ndarray, size: int | None = None) -> np.ndarray:
    """``image`` resized to long side ``size`` (None: as is), through the network."""
    img = check_image(image, "content")
    return model.stylize(fit_size(img, size) if size else img)
