"""Training the restorer (clean frames + synthetic damage) and pix2pix (real input/target pairs).

Restorer: every step cuts random crops from the studio's clean frames, damages each with the seeded
degradation model (``degrade.py``) and teaches the U-Net to give the clean crop back (L1) and to mark
the defects (mask head, BCE against the model's ground-truth mask).

pix2pix (Isola et al. 2017): the same U-Net as generator (not residual: the target may look nothing
like the input, e.g. sketch -> render), a PatchGAN discriminator on (input, output) pairs, and
L1 to the target weighted by ``l1_weight``.

Determinism: weights init, each step's crops and each crop's damage come from ``seed`` and the
step number, never from global RNG state, so a run resumed from its checkpoint ends with the same
weights as one that never stopped (at the same thread count).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from reelforge.errors import Cancelled, InvalidInput, NotFound
from reelforge.training.callbacks import CheckpointFn, MetricFn, ProgressFn, StopFn
from reelforge.training.device import as_torch_device
from reelforge.training.optim import load_optimizer_state, optimizer_state
from reelforge.training.saved import load_model_folder, save_model_folder
from reelforge.training.seeds import item_rng, seeded_generator, sub_seed
from reelforge.training.weights import cpu_state_dict, load_weights
from reelforge.vision.restore.degrade import Damage, degrade, degrade_sequence, rgb
from reelforge.vision.restore.unet import PatchDiscriminator, UNet, UNetConfig

__all__ = ["MODEL_FORMAT", "TrainConfig", "TrainedRestorer", "evaluate_pix2pix", "evaluate_restorer", "psnr",
           "train_pix2pix", "train_restorer"]

MODEL_FORMAT = "reelforge.restore"
MODEL_FORMAT_VERSION = 1
STATE_FORMAT = "reelforge.restore.train/1"


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 600
    batch_size: int = 8
    crop: int = 64
    lr: float = 2e-3
    mask_weight: float = 0.2  # restorer: weight of the mask head's BCE next to the L1
    l1_weight: float = 100.0  # pix2pix: weight of L1 next to the adversarial loss
    hflip: bool = True
    damage: Damage = field(default_factory=Damage)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise InvalidInput("steps and batch_size must be positive")
        if not 16 <= self.crop <= 1024:
            raise InvalidInput(f"crop must be 16..1024 px, got {self.crop}")
        if self.lr <= 0:
            raise InvalidInput(f"lr must be positive, got {self.lr}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["damage"] = self.damage.to_dict()
        return d


def _lr_at(step: int, total: int, base: float) -> float:
    """Short linear warm-up, then cosine decay to a tenth."""
    warm = max(1, int(0.03 * total))
    if step < warm:
        return base * (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total - warm))
    return base * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * t)))


def _to_tensor(batch: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in -1..1."""
    return torch.from_numpy(np.require(batch, requirements=["C", "W"])).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    return t.float().clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _check_frames(frames: Sequence[np.ndarray], crop: int, what: str) -> list[np.ndarray]:
    if len(frames) == 0:
        raise InvalidInput(f"no {what} to train on")
    out = [rgb(f) for f in frames]
    small = [f.shape[:2] for f in out if min(f.shape[:2]) < crop]
    if small:
        raise InvalidInput(f"{len(small)} {what} are smaller than the {crop} px training crop "
                           f"(e.g. {small[0][1]}x{small[0][0]}): lower crop")
    return out


def _crop_at(rng: np.random.Generator, frame: np.ndarray, crop: int) -> tuple[int, int]:
    h, w = frame.shape[:2]
    return int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))


def _autocast(device: torch.device) -> Any:
    import contextlib

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class TrainedRestorer:
    """A trained U-Net (restorer or pix2pix generator) with its configs; restores uint8 frames."""

    def __init__(self, unet: UNet, kind: str, train_config: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None, discriminator: PatchDiscriminator | None = None) -> None:
        if kind not in ("restore", "pix2pix"):
            raise InvalidInput(f"unknown restorer kind {kind!r}")
        self.unet = unet.eval()
        self.kind = kind
        self.train_config = dict(train_config or {})
        self.metadata = dict(metadata or {})
        self.discriminator = discriminator

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    def to(self, device: str | torch.device) -> TrainedRestorer:
        self.unet.to(device)
        return self

    @property
    def temporal(self) -> bool:
        """Whether the network also looks at the two flow-aligned neighbours of a frame."""
        return self.unet.config.in_channels == 9

    def run(self, frame: np.ndarray, neighbours: tuple[np.ndarray, np.ndarray] | None = None, *,
            tile: int = 512, overlap: int = 32) -> tuple[np.ndarray, np.ndarray | None]:
        """(restored uint8 (H, W, 3), defect probability float32 (H, W) or None) of one frame.

        ``neighbours``: the previous and next frames already aligned onto this one (a temporal
        model; a still, or None, is looked at alone). Large frames go through in overlapping tiles
        (each tile's border is discarded), so memory stays bounded whatever the frame size.
        """
        img = rgb(frame)
        if self.temporal:
            a, b = neighbours if neighbours is not None else (img, img)
            img = np.concatenate([img, rgb(a), rgb(b)], axis=2)
        h, w = img.shape[:2]
        out = np.empty((h, w, 3), np.uint8)
        prob = np.empty((h, w), np.float32) if self.unet.config.mask_head else None
        step = max(16, tile - 2 * overlap)
        dev = self.device
        with torch.inference_mode(), _autocast(dev):
            for y0 in range(0, h, step):
                for x0 in range(0, w, step):
                    ys, xs = max(0, y0 - overlap), max(0, x0 - overlap)
                    ye, xe = min(h, y0 + step + overlap), min(w, x0 + step + overlap)
                    x = _to_tensor(img[None, ys:ye, xs:xe]).to(dev)
                    y, logits = self.unet(x)
                    oy, ox = y0 - ys, x0 - xs
                    hh, ww = min(step, h - y0), min(step, w - x0)
                    out[y0 : y0 + hh, x0 : x0 + ww] = _to_uint8(y)[0, oy : oy + hh, ox : ox + ww]
                    if prob is not None and logits is not None:
                        p = torch.sigmoid(logits.float())[0, 0].cpu().numpy()
                        prob[y0 : y0 + hh, x0 : x0 + ww] = p[oy : oy + hh, ox : ox + ww]
        return out, prob

    def restore(self, frame: np.ndarray, neighbours: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        return self.run(frame, neighbours)[0]

    def mask(self, frame: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """The mask head's defect mask (bool (H, W)); a restorer trained without one has none."""
        _, prob = self.run(frame)
        if prob is None:
            raise InvalidInput("this model has no mask head")
        return prob >= threshold

    def save(self, directory: str | Path) -> Path:
        parts: dict[str, Any] = {"unet": self.unet}
        if self.discriminator is not None:
            parts["discriminator"] = self.discriminator
        return save_model_folder(
            directory, {"kind": self.kind, "unet": self.unet.config.to_dict(), "train": self.train_config},
            parts, format=MODEL_FORMAT, format_version=MODEL_FORMAT_VERSION, metadata=self.metadata,
        )

    @classmethod
    def load(cls, directory: str | Path, *, device: str | torch.device = "cpu") -> TrainedRestorer:
        try:
            folder = load_model_folder(directory, MODEL_FORMAT, MODEL_FORMAT_VERSION, what="restorer")
        except NotFound as exc:
            raise InvalidInput(f"{directory} is not a saved restorer") from exc
        cfg = UNetConfig.from_dict(folder.config.get("unet") or {})
        unet = folder.load_into("unet", UNet(cfg), device)
        disc = None
        if folder.has("discriminator"):
            disc = folder.load_into("discriminator", PatchDiscriminator(in_channels=2 * cfg.in_channels), device)
        return cls(unet, str(folder.config.get("kind", "restore")), folder.config.get("train"), folder.metadata, disc)


# -- shared loop plumbing --------------------------------------------------------------------------
def _snapshot(step: int, seed: int, total: int, kind: str, config: dict[str, Any], nets: dict[str, Any],
              opts: dict[str, torch.optim.Optimizer], history: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": STATE_FORMAT, "kind": kind, "step": int(step), "seed": int(seed), "total_steps": int(total),
        "config_json": json.dumps(config, sort_keys=True), "history_json": json.dumps(history),
        **{name: cpu_state_dict(net) for name, net in nets.items()},
        **{f"opt_{name}": optimizer_state(opt) for name, opt in opts.items()},
    }


def _resume(state: dict[str, Any], seed: int, total: int, kind: str, config: dict[str, Any],
            nets: dict[str, Any], opts: dict[str, torch.optim.Optimizer], device: torch.device) -> tuple[int, list[Any]]:
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or state.get("kind") != kind:
        raise InvalidInput(f"training state is not a {kind} {STATE_FORMAT} state")
    try:
        same = (json.loads(state["config_json"]) == json.loads(json.dumps(config, sort_keys=True))
                and int(state["seed"]) == seed and int(state["total_steps"]) == total)
        if not same:
            raise InvalidInput("training state was made with a different config, seed or step count")
        step = int(state["step"])
        history = json.loads(state["history_json"])
        for name, net in nets.items():
            load_weights(net, dict(state[name]), where="training state")
            net.to(device)
        for name, opt in opts.items():
            load_optimizer_state(opt, state[f"opt_{name}"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"training state is incomplete: {exc}") from exc
    return step, history


@dataclass
class _Hooks:
    progress: ProgressFn | None
    on_metric: MetricFn | None
    should_stop: StopFn | None
    checkpoint: CheckpointFn | None
    checkpoint_every: int
    log_every: int


def _damaged_batch(frames: list[np.ndarray], cfg: TrainConfig, seed: int, step: int,
                   temporal: bool) -> tuple[np.ndarray, ...]:
    """(clean, network input, defect mask) for one step. A temporal restorer sees the frame and two
    neighbours as flow would align them: the same scene a pixel or so off, damaged independently
    (dust differs, scratches persist); a fifth of the samples are stills (the frame three times)."""
    rng = item_rng(seed, 1, step)
    clean, inputs, masks = [], [], []
    pad = 2 if temporal else 0
    for i in range(cfg.batch_size):
        f = frames[int(rng.integers(0, len(frames)))]
        size = cfg.crop + 2 * pad
        if min(f.shape[:2]) < size:
            pad, size = 0, cfg.crop
        y, x = _crop_at(rng, f, size)
        region = f[y : y + size, x : x + size]
        if cfg.hflip and rng.random() < 0.5:
            region = region[:, ::-1]
        c = np.ascontiguousarray(region[pad : pad + cfg.crop, pad : pad + cfg.crop])
        if not temporal:
            d = degrade(c, sub_seed(seed, "damage", step, i), cfg.damage)
            clean.append(c)
            inputs.append(d.image)
            masks.append(d.mask)
            continue
        looks = [c]
        for _ in range(2):
            dy, dx = (int(v) for v in np.clip(np.rint(rng.normal(0, 0.6, 2)), -pad, pad))
            looks.append(np.ascontiguousarray(region[pad + dy : pad + dy + cfg.crop, pad + dx : pad + dx + cfg.crop]))
        seq = degrade_sequence([looks[1], c, looks[2]], sub_seed(seed, "damage", step, i), cfg.damage)
        cur = seq[1].image
        if rng.random() < 0.2:  # a still: no neighbours to look at
            stack = [cur, cur, cur]
        else:
            stack = [cur, seq[0].image, seq[2].image]
        clean.append(c)
        inputs.append(np.concatenate(stack, axis=2))
        masks.append(seq[1].mask)
    return np.stack(clean), np.stack(inputs), np.stack(masks)


def train_restorer(
    frames: Sequence[np.ndarray],
    config: TrainConfig | None = None,
    unet: UNetConfig | None = None,
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
) -> TrainedRestorer:
    """Train a U-Net restorer on clean uint8 frames (any sizes at least ``crop`` px) with synthetic damage.

    ``checkpoint(state)`` every ``checkpoint_every`` steps and on stop; pass ``state`` back (same
    frames, configs and seed) to resume. On ``should_stop()`` the state is checkpointed and
    :class:`Cancelled` raised.
    """
    cfg = config or TrainConfig()
    ucfg = unet or UNetConfig()
    if not ucfg.residual or ucfg.in_channels not in (3, 9) or ucfg.out_channels != 3:
        raise InvalidInput("a restorer is a residual U-Net from RGB (or RGB + two neighbours) to RGB")
    data = _check_frames(frames, cfg.crop, "frames")
    dev = as_torch_device(device)
    with torch.random.fork_rng(devices=[]):  # layer constructors draw from the global RNG: leave it as it was
        net = UNet(ucfg)
    _init(net, seed)
    net.to(dev).train()
    if dev.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    full = {"train": cfg.to_dict(), "unet": ucfg.to_dict()}
    start, history = 0, []
    if state is not None:
        start, history = _resume(state, seed, cfg.steps, "restore", full, {"unet": net}, {"unet": opt}, dev)
    hooks = _Hooks(progress, on_metric, should_stop, checkpoint, checkpoint_every, log_every)
    run_sum, run_n = 0.0, 0
    for step in range(start, cfg.steps):
        if should_stop is not None and should_stop():
            if checkpoint is not None:
                checkpoint(_snapshot(step, seed, cfg.steps, "restore", full, {"unet": net}, {"unet": opt}, history))
            raise Cancelled(f"restorer training stopped at step {step}/{cfg.steps}")
        clean, damaged, masks = _damaged_batch(data, cfg, seed, step, ucfg.in_channels == 9)
        x, target = _to_tensor(damaged).to(dev), _to_tensor(clean).to(dev)
        m = torch.from_numpy(masks).float()[:, None].to(dev)
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, cfg.steps, cfg.lr)
        with _autocast(dev):
            out, logits = net(x)
            loss_l1 = F.l1_loss(out.float(), target)
            loss = loss_l1
            if logits is not None and cfg.mask_weight > 0:
                loss_mask = F.binary_cross_entropy_with_logits(logits.float(), m)
                loss = loss + cfg.mask_weight * loss_mask
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        value = float(loss_l1.detach())
        run_sum += value
        run_n += 1
        _report(hooks, done, cfg.steps, {"train/l1": value, "train/loss": float(loss.detach())})
        if done % max(1, log_every) == 0 or done == cfg.steps:
            history.append({"step": done, "l1": run_sum / max(1, run_n)})
            run_sum, run_n = 0.0, 0
        if checkpoint is not None and checkpoint_every > 0 and done % checkpoint_every == 0 and done < cfg.steps:
            checkpoint(_snapshot(done, seed, cfg.steps, "restore", full, {"unet": net}, {"unet": opt}, history))
    net.eval()
    net = net.to(memory_format=torch.contiguous_format)
    return TrainedRestorer(net, "restore", cfg.to_dict(), {"history": history, "steps": cfg.steps, "seed": seed})


def _init(net: torch.nn.Module, seed: int) -> None:
    """Seeded Kaiming-uniform init of every conv (layers default to the global RNG otherwise)."""
    gen = seeded_generator(int(seed))
    for mod in net.modules():
        if isinstance(mod, torch.nn.Conv2d):
            fan_in = mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1] // mod.groups
            bound = 1.0 / math.sqrt(fan_in)
            with torch.no_grad():
                mod.weight.uniform_(-bound * math.sqrt(3), bound * math.sqrt(3), generator=gen)
                if mod.bias is not None:
                    mod.bias.uniform_(-bound, bound, generator=gen)
    out = getattr(net, "out", None)
    if isinstance(net, UNet) and net.config.residual and out is not None:
        torch.nn.init.zeros_(out.weight)
        torch.nn.init.zeros_(out.bias)


def _report(hooks: _Hooks, done: int, total: int, values: dict[str, float]) -> None:
    if hooks.on_metric is not None and (done % max(1, hooks.log_every) == 0 or done == total):
        for k, v in values.items():
            hooks.on_metric(k, v, done)
    if hooks.progress is not None:
        shown = " ".join(f"{k.split('/')[-1]} {v:.4f}" for k, v in values.items())
        hooks.progress(done, total, f"step {done}/{total} {shown}")


# -- pix2pix ---------------------------------------------------------------------------------------
def _paired_batch(inputs: list[np.ndarray], targets: list[np.ndarray], cfg: TrainConfig, seed: int,
                  step: int) -> tuple[np.ndarray, np.ndarray]:
    rng = item_rng(seed, 2, step)
    xs, ys = [], []
    for _ in range(cfg.batch_size):
        k = int(rng.integers(0, len(inputs)))
        y, x = _crop_at(rng, inputs[k], cfg.crop)
        a = inputs[k][y : y + cfg.crop, x : x + cfg.crop]
        b = targets[k][y : y + cfg.crop, x : x + cfg.crop]
        if cfg.hflip and rng.random() < 0.5:
            a, b = a[:, ::-1], b[:, ::-1]
        xs.append(a)
        ys.append(b)
    return np.stack(xs), np.stack(ys)


def train_pix2pix(
    inputs: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    config: TrainConfig | None = None,
    unet: UNetConfig | None = None,
    *,
    disc_channels: int = 32,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: ProgressFn | None = None,
    on_metric: MetricFn | None = None,
    should_stop: StopFn | None = None,
    checkpoint: CheckpointFn | None = None,
    checkpoint_every: int = 200,
    state: dict[str, Any] | None = None,
    log_every: int = 10,
) -> TrainedRestorer:
    """pix2pix on aligned (input, target) uint8 pairs of equal sizes: U-Net G, PatchGAN D, LSGAN + L1."""
    cfg = config or TrainConfig(lr=2e-4)
    ucfg = unet or UNetConfig(residual=False, mask_head=False)
    if ucfg.residual or ucfg.mask_head:
        ucfg = UNetConfig(**{**ucfg.to_dict(), "residual": False, "mask_head": False})
    xs = _check_frames(inputs, cfg.crop, "input images")
    ys = _check_frames(targets, cfg.crop, "target images")
    if len(xs) != len(ys):
        raise InvalidInput(f"{len(xs)} inputs but {len(ys)} targets: pix2pix needs pairs")
    bad = [i for i, (a, b) in enumerate(zip(xs, ys, strict=True)) if a.shape != b.shape]
    if bad:
        raise InvalidInput(f"pair {bad[0]}: input {xs[bad[0]].shape[:2]} and target {ys[bad[0]].shape[:2]} differ in size")
    dev = as_torch_device(device)
    with torch.random.fork_rng(devices=[]):
        g = UNet(ucfg)
        d = PatchDiscriminator(in_channels=2 * ucfg.in_channels, base_channels=disc_channels)
    _init(g, seed)
    _init(d, sub_seed(seed, "discriminator"))
    g.to(dev).train()
    d.to(dev).train()
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    full = {"train": cfg.to_dict(), "unet": ucfg.to_dict(), "disc_channels": disc_channels}
    nets, opts = {"unet": g, "discriminator": d}, {"unet": opt_g, "discriminator": opt_d}
    start, history = 0, []
    if state is not None:
        start, history = _resume(state, seed, cfg.steps, "pix2pix", full, nets, opts, dev)
    hooks = _Hooks(progress, on_metric, should_stop, checkpoint, checkpoint_every, log_every)
    for step in range(start, cfg.steps):
        if should_stop is not None and should_stop():
            if checkpoint is not None:
                checkpoint(_snapshot(step, seed, cfg.steps, "pix2pix", full, nets, opts, history))
            raise Cancelled(f"pix2pix training stopped at step {step}/{cfg.steps}")
        a, b = _paired_batch(xs, ys, cfg, seed, step)
        x, y = _to_tensor(a).to(dev), _to_tensor(b).to(dev)
        with _autocast(dev):
            fake, _ = g(x)
            # D: real pairs -> 1, fake pairs -> 0 (least squares: steadier on tiny data than BCE).
            d_real = d(torch.cat([x, y], 1)).float()
            d_fake = d(torch.cat([x, fake.detach()], 1)).float()
            loss_d = 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake**2).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with _autocast(dev):
            adv = ((d(torch.cat([x, fake], 1)).float() - 1) ** 2).mean()
            l1 = F.l1_loss(fake.float(), y)
            loss_g = adv + cfg.l1_weight * l1
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        done = step + 1
        _report(hooks, done, cfg.steps, {"train/l1": float(l1.detach()), "train/loss_d": float(loss_d.detach()),
                                         "train/loss_g": float(adv.detach())})
        if done % max(1, log_every) == 0 or done == cfg.steps:
            history.append({"step": done, "l1": float(l1.detach()), "loss_d": float(loss_d.detach())})
        if checkpoint is not None and checkpoint_every > 0 and done % checkpoint_every == 0 and done < cfg.steps:
            checkpoint(_snapshot(done, seed, cfg.steps, "pix2pix", full, nets, opts, history))
    g.eval()
    d.eval()
    return TrainedRestorer(g, "pix2pix", cfg.to_dict(), {"history": history, "steps": cfg.steps, "seed": seed},
                           discriminator=d)


def evaluate_restorer(model: TrainedRestorer, frames: Sequence[np.ndarray], *, seed: int = 0,
                      damage: Damage | None = None) -> dict[str, float]:
    """Mean PSNR of damaged and of restored frames against the clean ones (synthetic damage, seeded)."""
    before, after = [], []
    for i, f in enumerate(frames):
        clean = rgb(f)
        d = degrade(clean, sub_seed(seed, "eval", i), damage)
        before.append(psnr(d.image, clean))
        after.append(psnr(model.restore(d.image), clean))
    return {"psnr_damaged": float(np.mean(before)), "psnr_restored": float(np.mean(after)),
            "psnr_gain": float(np.mean(after) - np.mean(before)), "frames": float(len(frames))}


def evaluate_pix2pix(model: TrainedRestorer, inputs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> dict[str, float]:
    """Mean L1 (0..1) and PSNR of translated inputs against their targets."""
    l1, db = [], []
    for x, y in zip(inputs, targets, strict=True):
        out = model.restore(x)
        t = rgb(y)
        if out.shape != t.shape:
            raise InvalidInput(f"an input {x.shape[:2]} and its target {t.shape[:2]} differ in size")
        l1.append(float(np.abs(out.astype(np.float32) - t).mean() / 255.0))
        db.append(psnr(out, t))
    return {"l1": float(np.mean(l1)), "psnr": float(np.mean(db)), "pairs": float(len(l1))}
