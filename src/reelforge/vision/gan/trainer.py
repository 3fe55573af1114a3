"""GAN training loop that a job can drive: callbacks for progress/metrics/samples/checkpoints,
cooperative cancel, and exact resume.

Determinism: all randomness comes from four CPU ``torch.Generator`` streams derived from the seed
(model init, latents, DiffAugment, data sampling; ``reelforge.training.seeds``); the global torch RNG
is neither used nor changed.
On CPU, the same seed and thread count give bitwise-identical weights, and resuming from
``state_dict()`` taken at step k gives bitwise the same weights as the run that never stopped.
Noise maps of the few-shot generator come from the latent stream, right after each batch's latents.

GPU: on CUDA the networks run in channels_last with bf16 autocast (losses, R1 and the optimizers in
float32; an R1 step runs entirely in float32), cuDNN autotuning is off and deterministic algorithms
are requested (``torch.use_deterministic_algorithms(True, warn_only=True)``; the trainer sets
``CUBLAS_WORKSPACE_CONFIG`` if unset), so a run reproduces at equal seeds on the same GPU and
software, except where an op has no deterministic CUDA kernel (torch then warns once).

Conditional models draw their fakes in pairs that share a condition (the batch's first half of
conditions, twice) so the mode-seeking term (config.mode_seeking) can pay G for making different
images from different latents; without it a class-conditional G tends to draw one prototype per class.

CPU performance: models and batches use the channels_last memory format (oneDNN's fast path), real and
fake images share one D forward pass, and D's parameter gradients are switched off during the G step.
Thread count is the caller's choice: call ``reelforge.training.set_threads(k)`` before training (results
are only bitwise reproducible at the same thread count). ``compile=True`` wraps G and D with
``torch.compile`` (not used for the R1 pass: compiled graphs do not support double backward).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from reelforge.errors import Cancelled, InvalidInput
from reelforge.training.callbacks import CheckpointFn, MetricFn, ProgressFn, StopFn
from reelforge.training.device import as_torch_device
from reelforge.training.optim import load_optimizer_state, optimizer_state
from reelforge.training.seeds import derive_seeds, seeded_generator
from reelforge.training.weights import cpu_state_dict
from reelforge.vision.gan.diffaug import AdaptiveP, DiffAugment
from reelforge.vision.gan.ema import EMA
from reelforge.vision.gan.losses import (
    d_loss,
    g_loss,
    mode_seeking_loss,
    r1_penalty,
    r1_weight,
    should_apply_r1,
)
from reelforge.vision.gan.models import GANConfig, build_models
from reelforge.vision.gan.sampling import image_grid, sample

STATE_FORMAT = "reelforge.gan.trainer/3"  # 3: adaptive augmentation state; 2: toolkit optimizer state
_READABLE_STATES = ("reelforge.gan.trainer/2", STATE_FORMAT)
MIN_IMAGE_SIZE = 8
STANDING_STATS_BATCHES = 8  # batches of latents that recompute the EMA copy's batch-norm statistics

ImageLike = np.ndarray | torch.Tensor | Image.Image
# A stacked uint8 array/tensor (N, H, W[, C]) of same-size images, or a sequence of images of any size
# (e.g. large plates trained on as random crops). C may be 1 (grey), 3 (RGB) or 4 (alpha dropped).
ImageSource = np.ndarray | torch.Tensor | Sequence[ImageLike]

SampleFn = Callable[[int, Image.Image], None]
HealthFn = Callable[[int, Any], None]  # (step, HealthReport)


@dataclass
class AugmentConfig:
    """How training images become model-sized batches (before DiffAugment, which is always on top).

    crop_size: side of the square cut from each source image before resizing to the model
    resolution. None means: the largest square for a stacked dataset (whole images, resized), and
    exactly the model resolution for a list of images (native-scale random crops of large plates).
    Images smaller than the crop are cropped to their shorter side and upscaled.
    """

    random_crop: bool = True
    hflip: bool = True
    crop_size: int | None = None

    def __post_init__(self) -> None:
        if self.crop_size is not None and self.crop_size < MIN_IMAGE_SIZE:
            raise InvalidInput(f"crop_size must be >= {MIN_IMAGE_SIZE} px, got {self.crop_size}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentConfig:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise InvalidInput(f"augment config: unknown field(s) {unknown}")
        return cls(**data)


@dataclass
class TrainResult:
    step: int  # global step reached (counts steps of earlier, resumed runs too)
    steps_run: int  # steps run by this call
    stopped: bool  # True when should_stop ended the run early
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)  # last logged values
    collapsed: bool = False  # the health checks saw a collapsed generator (see GANTrainer.train)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cuda_determinism(on: bool) -> None:
    """Reproducible CUDA runs: no cuDNN autotuning, deterministic kernels where torch has them."""
    import os

    torch.backends.cudnn.benchmark = False
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)


def _to_hwc_uint8(img: ImageLike, index: int, out_channels: int) -> torch.Tensor:
    """One image -> contiguous uint8 tensor (H, W, out_channels), or a clear InvalidInput."""
    if isinstance(img, Image.Image):
        try:
            img = np.array(img.convert("RGB"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"image {index}: PIL mode {img.mode!r} cannot be converted to RGB") from exc
    if isinstance(img, torch.Tensor):
        t = img.detach().cpu()
    elif isinstance(img, np.ndarray):
        a = np.ascontiguousarray(img)
        t = torch.from_numpy(a if a.flags.writeable else a.copy())  # torch warns on read-only memory
    else:
        raise InvalidInput(
            f"image {index}: expected a numpy array, torch tensor or PIL image, got {type(img).__name__}"
        )
    if t.dtype != torch.uint8:
        raise InvalidInput(f"image {index}: expected uint8 pixels (0-255), got {t.dtype}")
    if t.ndim == 2:
        t = t[:, :, None]
    if t.ndim != 3:
        raise InvalidInput(f"image {index}: expected (H, W) or (H, W, C) pixels, got shape {tuple(t.shape)}")
    h, w, c = t.shape
    if c not in (1, 3, 4):
        raise InvalidInput(f"image {index}: {c} channels cannot be converted to RGB (need 1, 3 or 4)")
    if min(h, w) < MIN_IMAGE_SIZE:
        raise InvalidInput(
            f"image {index} is {w}x{h} px; images must be at least {MIN_IMAGE_SIZE} px on each side"
        )
    t = t[:, :, :3] if c == 4 else t  # drop alpha
    if out_channels == 3 and t.shape[2] == 1:
        t = t.expand(h, w, 3)
    elif out_channels == 1 and t.shape[2] == 3:  # ITU-R 601 luma
        t = (
            (t.float() @ torch.tensor([0.299, 0.587, 0.114]))
            .round()
            .clamp(0, 255)
            .to(torch.uint8)[:, :, None]
        )
    return t.contiguous()


class _ImageData:
    """Validated training images plus the batch sampler (random crops, flips, resize)."""

    def __init__(self, images: ImageSource, config: GANConfig, augment: AugmentConfig) -> None:
        self.res = config.resolution
        self.augment = augment
        self.stack: torch.Tensor | None = None
        self.items: list[torch.Tensor] = []
        if images is None:
            raise InvalidInput("no training images given")
        if isinstance(images, np.ndarray | torch.Tensor):
            arr = images
            if arr.ndim not in (3, 4):
                raise InvalidInput(
                    f"stacked images must be (N, H, W) or (N, H, W, C), got shape {tuple(arr.shape)}"
                )
            if arr.shape[0] == 0:
                raise InvalidInput("the training dataset is empty")
            if arr.ndim == 4 and arr.shape[3] not in (1, 3, 4):
                raise InvalidInput(
                    f"images have {arr.shape[3]} channels; cannot convert to RGB (need 1, 3 or 4)"
                )
            self.stack = torch.stack(
                [_to_hwc_uint8(arr[i], i, config.channels) for i in range(arr.shape[0])]
            )  # (N, H, W, C), uint8
            self.n = int(self.stack.shape[0])
            h, w = int(self.stack.shape[1]), int(self.stack.shape[2])
            crop = augment.crop_size or min(h, w)
            if augment.crop_size is not None and augment.crop_size > min(h, w):
                raise InvalidInput(f"crop_size {augment.crop_size} is larger than the images ({w}x{h} px)")
            self.fast = (h, w) == (self.res, self.res) and crop == self.res
            if not self.fast and not augment.random_crop:
                # Centre crops are the same every time: resize the whole set once.
                self.stack = torch.cat(
                    [self._crop_resize(self.stack[i], crop, None) for i in range(self.n)]
                ).permute(0, 2, 3, 1)
                self.stack = ((self.stack + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).contiguous()
                self.fast = True
        else:
            try:
                seq = list(images)
            except TypeError as exc:
                raise InvalidInput("images must be an array/tensor (N, H, W, C) or a list of images") from exc
            if not seq:
                raise InvalidInput("the training dataset is empty")
            self.items = [_to_hwc_uint8(img, i, config.channels) for i, img in enumerate(seq)]
            self.n = len(self.items)
            self.fast = False

    def _crop_resize(self, img: torch.Tensor, crop: int, gen: torch.Generator | None) -> torch.Tensor:
        """uint8 (H, W, C) -> float (1, C, res, res) in [-1, 1]: a square crop, resized if needed."""
        h, w = int(img.shape[0]), int(img.shape[1])
        cs = min(crop, h, w)
        if gen is not None and self.augment.random_crop:
            y0 = int(torch.randint(0, h - cs + 1, (1,), generator=gen))
            x0 = int(torch.randint(0, w - cs + 1, (1,), generator=gen))
        else:
            y0, x0 = (h - cs) // 2, (w - cs) // 2
        x = img[y0 : y0 + cs, x0 : x0 + cs].permute(2, 0, 1)[None].float() / 127.5 - 1.0
        if cs != self.res:
            x = F.interpolate(
                x, size=(self.res, self.res), mode="bilinear", align_corners=False, antialias=cs > self.res
            )
        return x

    def reference(self, limit: int = 512) -> np.ndarray:
        """Up to `limit` training images at model size, uint8 (N, res, res, C): centre crops (the
        crop size training uses, or the largest square), for comparisons such as health checks."""
        n = min(self.n, limit)
        if self.fast and self.stack is not None:
            return self.stack[:n].numpy()
        out = []
        for i in range(n):
            img = self.stack[i] if self.stack is not None else self.items[i]
            crop = self.augment.crop_size or min(int(img.shape[0]), int(img.shape[1]))
            x = self._crop_resize(img, crop, None)
            out.append(((x[0].permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8))
        return torch.stack(out).numpy()

    def batch(self, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(images float (B, C, res, res) in [-1, 1] in channels_last layout, dataset indices (B,))."""
        idx = torch.randint(0, self.n, (size,), generator=gen)
        if self.fast:
            assert self.stack is not None
            # (B, H, W, C) permuted to NCHW is already channels_last in memory.
            x = self.stack[idx].permute(0, 3, 1, 2).float() / 127.5 - 1.0
        else:
            crops = []
            for i in idx.tolist():
                img = self.stack[i] if self.stack is not None else self.items[i]
                crop = self.augment.crop_size or (
                    min(img.shape[0], img.shape[1]) if self.stack is not None else self.res
                )
                crops.append(self._crop_resize(img, crop, gen))
            x = torch.cat(crops).contiguous(memory_format=torch.channels_last)
        if self.augment.hflip:
            flip = torch.rand(size, generator=gen) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        return x, idx


class GANTrainer:
    """Owns G, D, the EMA generator, both optimizers and all RNG streams of one training run."""

    def __init__(
        self,
        config: GANConfig,
        images: ImageSource,
        labels: Sequence[int] | np.ndarray | torch.Tensor | None = None,
        text_embeddings: np.ndarray | torch.Tensor | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
        augment: AugmentConfig | None = None,
        channels_last: bool = True,
        compile: bool = False,
        heldout: np.ndarray | Sequence[np.ndarray] | None = None,
        deterministic: bool = True,
    ) -> None:
        """`heldout`: real images not trained on (uint8, any size: resized to the model's); when given,
        train() runs the health checks at every sample grid (see train's on_health)."""
        config.validate()
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InvalidInput(f"seed must be a non-negative integer, got {seed!r}")
        self.config = config
        self.augment = augment or AugmentConfig()
        self.seed = int(seed)
        self.device = self._check_device(device)
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            channels_last = True
            _cuda_determinism(deterministic)
        self.channels_last = channels_last
        self.data = _ImageData(images, config, self.augment)
        self.labels = self._check_labels(labels)
        self.text = self._check_text(text_embeddings)

        init_seed, z_seed, aug_seed, data_seed = derive_seeds(self.seed, 4)
        g, d = build_models(config, init_seed)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.G = g.to(self.device, memory_format=fmt).train()
        self.D = d.to(self.device, memory_format=fmt).train()
        self.ema = EMA(self.G, config.ema_decay, warmup=config.ema_warmup, rampup=config.ema_rampup,
                       kimg=config.ema_kimg, batch_size=config.batch_size, bn=config.ema_bn)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=config.betas)
        self.z_gen = seeded_generator(z_seed)
        self.aug_gen = seeded_generator(aug_seed)
        self.data_gen = seeded_generator(data_seed)
        self.diffaug = DiffAugment(config.diffaug, fill=config.diffaug_fill)
        self.ada: AdaptiveP | None = None
        if config.ada_target > 0 and self.diffaug:
            self.ada = AdaptiveP(config.ada_target, config.ada_kimg)
        self.heldout = self._check_heldout(heldout)
        self.health: Any = None  # the last HealthReport, when heldout images were given
        self.step = 0
        self._g_fwd: Any = self.G
        self._d_fwd: Any = self.D
        if compile:
            self._g_fwd = torch.compile(self.G)
            self._d_fwd = torch.compile(self.D)

    # ----------------------------------------------------------------------------- validation
    @staticmethod
    def _check_device(device: str | torch.device) -> torch.device:
        return as_torch_device(device)

    def _check_heldout(self, heldout: Any) -> np.ndarray | None:
        if heldout is None:
            return None
        items = list(heldout) if not isinstance(heldout, np.ndarray | torch.Tensor) else heldout
        if len(items) < 2:
            raise InvalidInput("held-out images: need at least 2")
        res = self.config.resolution
        out = []
        for i, img in enumerate(items):
            t = _to_hwc_uint8(img, i, 3)
            h, w = int(t.shape[0]), int(t.shape[1])
            s = min(h, w)
            y0, x0 = (h - s) // 2, (w - s) // 2
            x = t[y0 : y0 + s, x0 : x0 + s].permute(2, 0, 1)[None].float()
            if s != res:
                x = F.interpolate(x, size=(res, res), mode="bilinear", align_corners=False, antialias=s > res)
            out.append(x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8))
        return torch.stack(out).numpy()

    def _check_labels(self, labels: Any) -> torch.Tensor | None:
        k = self.config.num_classes
        if k == 0:
            if labels is not None:
                raise InvalidInput("labels given but the model is not class-conditional (num_classes=0)")
            return None
        if labels is None:
            raise InvalidInput(f"the model is class-conditional ({k} classes): labels are required")
        arr = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
        if arr.shape != (self.data.n,) or not np.issubdtype(arr.dtype, np.integer):
            raise InvalidInput(
                f"labels must be {self.data.n} integers (one per image), got shape {arr.shape}"
            )
        if arr.min() < 0 or arr.max() >= k:
            raise InvalidInput(f"labels must be in [0, {k}), got {int(arr.min())}..{int(arr.max())}")
        return torch.as_tensor(arr, dtype=torch.long)

    def _check_text(self, text: Any) -> torch.Tensor | None:
        dim = self.config.text_dim
        if dim == 0:
            if text is not None:
                raise InvalidInput("text_embeddings given but the model is not text-conditioned (text_dim=0)")
            return None
        if text is None:
            raise InvalidInput(
                f"the model is text-conditioned (text_dim={dim}): text_embeddings are required"
            )
        t = torch.as_tensor(
            np.asarray(text.cpu() if isinstance(text, torch.Tensor) else text, dtype=np.float32)
        )
        if t.shape != (self.data.n, dim):
            raise InvalidInput(
                f"text_embeddings must have shape ({self.data.n}, {dim}), got {tuple(t.shape)}"
            )
        if not bool(torch.isfinite(t).all()):
            raise InvalidInput("text_embeddings contain NaN or infinite values")
        return t

    # ----------------------------------------------------------------------------- one step
    def _conditioning(self, idx: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        y = None if self.labels is None else self.labels[idx].to(self.device)
        t = None if self.text is None else self.text[idx].to(self.device)
        return y, t

    def _aug(self, x: torch.Tensor) -> torch.Tensor:
        if self.diffaug:
            x = self.diffaug(x, self.aug_gen, 1.0 if self.ada is None else self.ada.p)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _autocast(self, enabled: bool = True) -> Any:
        """bf16 autocast on CUDA; a no-op context on other devices."""
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda and enabled)

    def _noise(self, n: int) -> list[torch.Tensor] | None:
        noise = self.G.make_noise(n, self.z_gen)
        if noise is None:
            return None
        return [m.to(self.device) for m in noise]

    def train_step(self) -> dict[str, float]:
        """One D update then one G update; returns this step's metrics."""
        cfg = self.config
        bs = cfg.batch_size
        real, idx = self.data.batch(bs, self.data_gen)
        real = real.to(self.device)
        y, t = self._conditioning(idx)
        z = torch.randn(bs, cfg.z_dim, generator=self.z_gen).to(self.device)
        noise = self._noise(bs)
        half = bs // 2
        pairs = cfg.conditional and cfg.mode_seeking > 0 and half > 0
        fy, ft = y, t
        if pairs:  # fakes come in pairs sharing a condition, for the mode-seeking term
            fidx = torch.cat([idx[:half], idx[:half], idx[2 * half :]])
            fy, ft = self._conditioning(fidx)

        # --- D step: real and fake in one forward pass (exact: D has no batch norm, and its
        # minibatch-stddev groups divide the batch size, so no group mixes reals and fakes).
        self.D.requires_grad_(True)
        with self._autocast():
            fake = self._g_fwd(z, fy, ft, noise)
        use_r1 = should_apply_r1(self.step, cfg.r1_gamma, cfg.r1_every)
        if use_r1:
            real.requires_grad_(True)
        real_aug = self._aug(real)
        both = torch.cat([real_aug, self._aug(fake.detach()).to(real_aug.dtype)])
        y2 = None if y is None else torch.cat([y, fy])
        t2 = None if t is None else torch.cat([t, ft])
        recon = cfg.recon_weight > 0
        with self._autocast(enabled=not use_r1):  # R1's double backward runs in float32
            if recon:
                logits, feat8 = self.D.forward_features(both, y2, t2)
            else:
                logits, feat8 = (self.D if use_r1 else self._d_fwd)(both, y2, t2), None
            recon_img = None if feat8 is None else self.D.reconstruct(feat8[:bs])
        logits = logits.float()
        real_logits, fake_logits = logits[:bs], logits[bs:]
        loss_d = d_loss(real_logits, fake_logits, cfg.loss)
        metrics = {
            "loss_d": float(loss_d.detach()),
            "d_real": float(real_logits.detach().mean()),
            "d_fake": float(fake_logits.detach().mean()),
        }
        total_d = loss_d
        if recon_img is not None:
            from reelforge.vision.gan.fewshot import recon_target

            loss_rec = F.mse_loss(recon_img.float(), recon_target(real_aug.detach()).float())
            total_d = total_d + cfg.recon_weight * loss_rec
            metrics["recon"] = float(loss_rec.detach())
        if use_r1:
            r1 = r1_penalty(real_logits, real)
            total_d = total_d + r1_weight(cfg.r1_gamma, cfg.r1_every) * r1
            metrics["r1"] = float(r1.detach())
        if self.ada is not None:
            self.ada.observe(real_logits)
            metrics["ada_p"] = self.ada.p
        self.opt_d.zero_grad(set_to_none=True)
        total_d.backward()
        self.opt_d.step()

        # --- G step, reusing the same fake batch (saves a G forward per step).
        self.D.requires_grad_(False)
        with self._autocast():
            fake_logits_g = self._d_fwd(self._aug(fake), fy, ft)
        loss_g = g_loss(fake_logits_g.float(), cfg.loss)
        total_g = loss_g
        if pairs:
            ms = mode_seeking_loss(fake[:half].float(), fake[half : 2 * half].float(), z[:half], z[half : 2 * half])
            total_g = total_g + cfg.mode_seeking * ms
            metrics["mode_seeking"] = float(ms.detach())
        self.opt_g.zero_grad(set_to_none=True)
        total_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        self.ema.update(self.G)
        self.step += 1
        metrics["loss_g"] = float(loss_g.detach())
        return metrics

    # ----------------------------------------------------------------------------- the loop
    def train(
        self,
        steps: int,
        progress: ProgressFn | None = None,
        on_metric: MetricFn | None = None,
        should_stop: StopFn | None = None,
        on_sample: SampleFn | None = None,
        sample_every: int = 500,
        checkpoint: CheckpointFn | None = None,
        checkpoint_every: int = 1000,
        metric_every: int = 1,
        sample_count: int = 64,
        raise_on_stop: bool = False,
        on_health: HealthFn | None = None,
        health_samples: int = 256,
        stop_on_collapse: bool = False,
        collapse_after: int = 0,
    ) -> TrainResult:
        """Train until the global step reaches `steps` (a resumed trainer continues where it was).

        Callbacks fire after the step they describe: metrics and progress every `metric_every`
        steps, a grid of `sample_count` EMA samples (fixed latents from the seed) every
        `sample_every` steps, and `checkpoint(self.state_dict())` every `checkpoint_every` steps and
        once at the end (also after a stop request). When `should_stop()` returns True the loop
        returns early (result.stopped), or raises Cancelled if `raise_on_stop`.

        With held-out images (the constructor's `heldout`), each sample grid also runs the health
        checks (``reelforge.vision.gan.health``) on `health_samples` EMA samples: the report goes to
        `on_health(step, report)` and to self.health, and its values to on_metric as ``health_*``.
        When the report says the generator collapsed at a step >= `collapse_after`, result.collapsed
        is set, and with `stop_on_collapse` training stops there (result.stopped as well).
        """
        for name, v in (
            ("sample_every", sample_every),
            ("checkpoint_every", checkpoint_every),
            ("metric_every", metric_every),
            ("sample_count", sample_count),
        ):
            if v < 1:
                raise InvalidInput(f"{name} must be >= 1, got {v}")
        if steps < 0:
            raise InvalidInput(f"steps must be >= 0, got {steps}")
        start_step, started = self.step, time.perf_counter()
        last: dict[str, float] = {}
        stopped = collapsed = False
        last_ckpt = self.step
        while self.step < steps:
            if should_stop is not None and should_stop():
                stopped = True
                break
            metrics = self.train_step()
            last.update(metrics)
            if self.step % metric_every == 0 or self.step == steps:
                if on_metric is not None:
                    for name, value in metrics.items():
                        on_metric(name, value, self.step)
                if progress is not None:
                    progress(
                        self.step,
                        steps,
                        f"step {self.step}/{steps} loss_d={metrics['loss_d']:.3f} "
                        f"loss_g={metrics['loss_g']:.3f}",
                    )
            sample_now = self.step % sample_every == 0 or self.step == steps
            if on_sample is not None and sample_now:
                on_sample(self.step, self.sample_grid(sample_count))
            if self.heldout is not None and sample_now:
                report = self.health_check(health_samples)
                if on_metric is not None:
                    for name, value in report.scalars().items():
                        on_metric(name, value, self.step)
                if on_health is not None:
                    on_health(self.step, report)
                from reelforge.vision.gan.health import collapse_detected

                if self.step >= collapse_after and collapse_detected(report):
                    collapsed = True
                    if stop_on_collapse:
                        stopped = True
            if checkpoint is not None and self.step % checkpoint_every == 0:
                checkpoint(self.state_dict())
                last_ckpt = self.step
            if stopped:
                break
        if checkpoint is not None and last_ckpt != self.step:
            checkpoint(self.state_dict())
        if stopped and raise_on_stop:
            raise Cancelled(f"GAN training cancelled at step {self.step}")
        return TrainResult(self.step, self.step - start_step, stopped, time.perf_counter() - started, last,
                           collapsed=collapsed)

    # ----------------------------------------------------------------------------- samples
    def sample_grid(self, n: int = 64, truncation: float | None = None) -> Image.Image:
        """EMA samples on fixed latents (from the trainer seed) tiled into one image, for progress views.

        Class-conditional grids cycle through the classes (one column per class, up to 16 classes);
        text-conditioned grids use the first training embeddings in order.
        """
        text = None
        if self.text is not None:
            text = self.text[torch.arange(n) % self.data.n]
        ncols = None
        if 0 < self.config.num_classes <= 16:
            ncols = self.config.num_classes  # one column per class
        self.refresh_ema_stats()
        images, _ = sample(self.ema.module, n, self.seed, truncation=truncation, text_embeddings=text)
        return image_grid(images, ncols=ncols)

    def _cycle_text(self, n: int, start: int = 0) -> torch.Tensor | None:
        if self.text is None:
            return None
        return self.text[(torch.arange(n) + start) % self.data.n]

    def refresh_ema_stats(self) -> bool:
        """Standing batch-norm statistics for the EMA copy (config.ema_bn == "standing" and a G with
        batch norm): recomputed from the EMA weights on fixed latents; a no-op otherwise."""
        cfg = self.config
        bs = max(cfg.batch_size, 64)

        def batches() -> Any:
            gen = seeded_generator(derive_seeds(self.seed, 5)[4])  # fixed latents, from the run's seed
            for k in range(STANDING_STATS_BATCHES):
                z = torch.randn(bs, cfg.z_dim, generator=gen).to(self.device)
                y = None
                if cfg.num_classes:
                    y = ((torch.arange(bs) + k * bs) % cfg.num_classes).to(self.device)
                t = self._cycle_text(bs, k * bs)
                noise = self.ema.module.make_noise(bs, gen)
                yield (z, y, None if t is None else t.to(self.device),
                       None if noise is None else [m.to(self.device) for m in noise])

        return self.ema.refresh_stats(batches)

    def health_check(self, n: int = 256, seed: int | None = None) -> Any:
        """HealthReport of `n` EMA samples against the held-out images (constructor `heldout`)."""
        from reelforge.vision.gan.health import health_report

        if self.heldout is None:
            raise InvalidInput("health checks need held-out images: pass heldout= to GANTrainer")
        self.refresh_ema_stats()
        seed = self.seed if seed is None else seed
        images, _ = sample(self.ema.module, n, seed, truncation=None, text_embeddings=self._cycle_text(n))
        self.health = health_report(images, self.data.reference(), self.heldout, seed=seed)
        return self.health

    def to_model(self, include_training_nets: bool = False) -> Any:
        """A GANModel (EMA generator, optionally G and D) for sampling or save_gan."""
        from reelforge.vision.gan.io import GANModel

        self.refresh_ema_stats()
        return GANModel.from_trainer(self, include_training_nets=include_training_nets)

    # ----------------------------------------------------------------------------- resume
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bitwise-identically: nested dict of CPU tensors/ints/floats/strs."""
        self.refresh_ema_stats()  # standing statistics are a function of the EMA weights: save them fresh
        return {
            "format": STATE_FORMAT,
            "config": json.dumps(self.config.to_dict(), sort_keys=True),
            "augment": json.dumps(self.augment.to_dict(), sort_keys=True),
            "seed": self.seed,
            "step": self.step,
            "G": cpu_state_dict(self.G),
            "D": cpu_state_dict(self.D),
            "G_ema": cpu_state_dict(self.ema.state_dict()),
            "ema_updates": self.ema.num_updates,
            "opt_g": optimizer_state(self.opt_g),
            "opt_d": optimizer_state(self.opt_d),
            "ada": {} if self.ada is None else self.ada.state_dict(),
            "rng": {
                "z": self.z_gen.get_state(),
                "aug": self.aug_gen.get_state(),
                "data": self.data_gen.get_state(),
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from state_dict(); the architecture must match this trainer's config."""
        fmt = state.get("format") if isinstance(state, dict) else None
        if fmt == "reelforge.gan.trainer/1":
            raise InvalidInput("GAN checkpoint from an older reelforge (trainer state 1): start again")
        if fmt not in _READABLE_STATES:
            raise InvalidInput("not a GAN trainer checkpoint (missing or unknown 'format')")
        try:
            saved = GANConfig.from_dict(json.loads(state["config"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("GAN checkpoint: unreadable config") from exc
        if saved.resolution != self.config.resolution:
            raise InvalidInput(
                f"checkpoint is for {saved.resolution} px but this trainer was built for {self.config.resolution} px"
            )
        mine, theirs = self.config.architecture(), saved.architecture()
        diff = sorted(k for k in mine if mine[k] != theirs[k])
        if diff:
            raise InvalidInput(f"checkpoint architecture differs from this trainer in {diff}")
        try:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            self.ema.load_state_dict(state["G_ema"], int(state["ema_updates"]))
            load_optimizer_state(self.opt_g, state["opt_g"])
            load_optimizer_state(self.opt_d, state["opt_d"])
            self.z_gen.set_state(state["rng"]["z"])
            self.aug_gen.set_state(state["rng"]["aug"])
            self.data_gen.set_state(state["rng"]["data"])
            if self.ada is not None:
                self.ada.load_state_dict(state["ada"])
            self.step = int(state["step"])
            self.seed = int(state["seed"])
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise InvalidInput(f"GAN checkpoint could not be loaded: {str(exc).splitlines()[0]}") from exc

