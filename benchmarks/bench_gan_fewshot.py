"""The few-shot GAN (issue 11): trainer overhead against a plain PyTorch loop, seconds per kimg at 64
and 128 px on CPU (and on CUDA with the speed-up, when a GPU is present), and an ablation of health
checks after equal-budget training with and without the new parts, on the demo's 96 Hubble crops.

1. Overhead. The preset's 64 px stationary model (reelforge.vision.gan presets) trained by
   ``GANTrainer.train`` (with a metric callback, as a job uses it) and by a loop written here from
   the same modules (G, D, DiffAugment with the adaptive probability, D's reconstruction loss, lazy
   R1, EMA with the growing half-life) and nothing else, in alternating rounds (ABBA) so a drifting
   machine load cancels out; both read the same pre-resized 64 px images. Overhead = plain images/s
   over trainer images/s, minus 1 (target <= 5%).
2. Seconds per thousand training images (s/kimg) of the presets at 64 and 128 px on CPU; on CUDA
   (bf16 autocast, channels_last) too when ``torch.cuda.is_available()``, with the speed-up over CPU
   and a check that two CUDA runs with the same seed end with identical weights.
3. Ablation at 32 px (the test suite's size): the same budget of steps for each variant, health checks
   (reelforge.vision.gan.health) of 256 EMA samples against 96 held-out crops at a few points of
   training. Variants: the new preset; the new preset with the EMA's batch-norm statistics copied
   from G instead of recomputed; with mid-grey instead of mean augmentation fills; with adaptive
   augmentation off (DiffAugment always on); the old DCGAN configuration; the old DCGAN with
   standing statistics.

    .venv/bin/python benchmarks/bench_gan_fewshot.py               # all three, ~15 min on 2 cores
    .venv/bin/python benchmarks/bench_gan_fewshot.py --skip-ablation

Writes section ``gan_fewshot`` of docs/benchmarks.md (``--no-write`` to only print).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_description, table, write_section

from reelforge.vision.gan import GANConfig, GANTrainer
from reelforge.vision.gan.diffaug import AdaptiveP, DiffAugment
from reelforge.vision.gan.ema import half_life_images
from reelforge.vision.gan.fewshot import recon_target
from reelforge.vision.gan.losses import r1_penalty, r1_weight
from reelforge.vision.gan.models import build_models
from reelforge.vision.gan.presets import choose_preset


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_str() -> str:
    a, b, c = os.getloadavg()
    return f"{a:.2f} / {b:.2f} / {c:.2f}"


def demo_crops(n: int, seed: int) -> np.ndarray:
    """The demo's nebula plates (128 px crops of the Hubble deep field); seed 0 is the demo's set."""
    from reelforge.demo import hubble_crops

    with tempfile.TemporaryDirectory() as tmp:
        return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in hubble_crops(Path(tmp), n=n, seed=seed)])


def resized(images: np.ndarray, side: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(a).resize((side, side), Image.Resampling.LANCZOS)) for a in images])


# --------------------------------------------------------------------------------------- plain loop
class PlainLoop:
    """GANTrainer.train_step for an unconditional few-shot model, written out with nothing around it."""

    def __init__(self, cfg: GANConfig, images: np.ndarray, seed: int, device: str = "cpu") -> None:
        self.cfg, self.device = cfg, torch.device(device)
        g, d = build_models(cfg, seed)
        self.G = g.to(self.device, memory_format=torch.channels_last).train()
        self.D = d.to(self.device, memory_format=torch.channels_last).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.stack = torch.from_numpy(images)
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.augment = DiffAugment(cfg.diffaug, fill=cfg.diffaug_fill)
        self.ada = AdaptiveP(cfg.ada_target, cfg.ada_kimg) if cfg.ada_target > 0 else None
        self.step_n = 0

    def aug(self, x: torch.Tensor) -> torch.Tensor:
        x = self.augment(x, self.gen, 1.0 if self.ada is None else self.ada.p)
        return x.contiguous(memory_format=torch.channels_last)

    def step(self) -> float:
        cfg, bs, gen = self.cfg, self.cfg.batch_size, self.gen
        idx = torch.randint(0, self.stack.shape[0], (bs,), generator=gen)
        real = self.stack[idx].permute(0, 3, 1, 2).float() / 127.5 - 1.0
        flip = torch.rand(bs, generator=gen) < 0.5
        real = torch.where(flip[:, None, None, None], real.flip(3), real).to(self.device)
        z = torch.randn(bs, cfg.z_dim, generator=gen).to(self.device)
        noise = [m.to(self.device) for m in self.G.make_noise(bs, gen) or []] or None
        fake = self.G(z, None, None, noise)
        use_r1 = cfg.r1_gamma > 0 and self.step_n % cfg.r1_every == 0
        if use_r1:
            real.requires_grad_(True)
        real_aug = self.aug(real)
        logits, feat8 = self.D.forward_features(torch.cat([real_aug, self.aug(fake.detach())]))
        real_logits, fake_logits = logits[:bs], logits[bs:]
        loss_d = F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
        assert feat8 is not None
        loss_d = loss_d + cfg.recon_weight * F.mse_loss(self.D.reconstruct(feat8[:bs]),
                                                        recon_target(real_aug.detach()))
        if use_r1:
            loss_d = loss_d + r1_weight(cfg.r1_gamma, cfg.r1_every) * r1_penalty(real_logits, real)
        if self.ada is not None:
            self.ada.observe(real_logits)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        self.D.requires_grad_(False)
        loss_g = -self.D(self.aug(fake)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        hl = half_life_images(self.step_n * bs, cfg.ema_rampup, cfg.ema_kimg)
        decay = 0.0 if hl <= 0 else 0.5 ** (bs / hl)
        with torch.no_grad():
            for pe, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
                pe.lerp_(p, 1.0 - decay)
        self.step_n += 1
        return float(loss_g.detach())


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_trainer(cfg: GANConfig, images: np.ndarray, steps: int, warmup: int, device: str = "cpu") -> float:
    """Seconds per step of GANTrainer.train over steps warmup..steps (metrics go to a callback)."""
    tr = GANTrainer(cfg, images, seed=0, device=device)
    seen: list[float] = []
    tr.train(warmup, on_metric=lambda n, v, s: seen.append(v))
    sync(device)
    t = time.perf_counter()
    tr.train(steps, on_metric=lambda n, v, s: seen.append(v))
    sync(device)
    return (time.perf_counter() - t) / (steps - warmup)


def time_plain(cfg: GANConfig, images: np.ndarray, steps: int, warmup: int, device: str = "cpu") -> float:
    loop = PlainLoop(cfg, images, seed=0, device=device)
    for _ in range(warmup):
        loop.step()
    sync(device)
    t = time.perf_counter()
    for _ in range(steps - warmup):
        loop.step()
    sync(device)
    return (time.perf_counter() - t) / (steps - warmup)


def step_flops(cfg: GANConfig, images: np.ndarray) -> tuple[int, int]:
    """FLOPs of one trainer step and one plain-loop step (same count = same work)."""
    from torch.utils.flop_counter import FlopCounterMode

    tr = GANTrainer(cfg, images, seed=0)
    tr.train_step()
    tr.train_step()  # a step without R1 (step 1; R1 runs at steps 0, 16, ...)
    c1 = FlopCounterMode(display=False)
    with c1:
        tr.train_step()
    loop = PlainLoop(cfg, images, seed=0)
    loop.step()
    loop.step()
    c2 = FlopCounterMode(display=False)
    with c2:
        loop.step()
    return int(c1.get_total_flops()), int(c2.get_total_flops())


# --------------------------------------------------------------------------------------- ablation
ABLATION: list[tuple[str, str, dict[str, Any]]] = [
    ("new: preset `stationary`", "stationary", {}),
    ("new, two 3x3 convs per stage (not one)", "stationary", {"stage_layers": 2}),
    ("new, D learning rate equal to G's (2e-4, not 4e-4)", "stationary", {"lr_d": 2e-4}),
    ("new, colour jitter in DiffAugment", "stationary", {"diffaug": "color,translation,cutout"}),
    ("new, batch-norm G with EMA statistics copied from G", "stationary", {"g_norm": "batch", "ema_bn": "copy"}),
    ("new, batch-norm G with standing EMA statistics", "stationary", {"g_norm": "batch", "ema_bn": "standing"}),
    ("new, mid-grey augmentation fills", "stationary", {"diffaug_fill": "zero"}),
    ("new, adaptive augmentation off (always on)", "stationary", {"ada_target": 0.0}),
    ("old: DCGAN (the demo before)", "dcgan", {}),
]


def ablation(train: np.ndarray, held: np.ndarray, steps: int, points: list[int], threads: int,
             base: int) -> list[dict[str, Any]]:
    torch.set_num_threads(threads)
    rows = []
    for label, preset, change in ABLATION:
        p = choose_preset(preset, n_images=len(train), resolution=32)
        fields = {**p.config, "base_channels": base, **change}
        tr = GANTrainer(GANConfig(**fields), train, seed=0, heldout=held)
        per: dict[int, Any] = {}
        t0 = time.perf_counter()
        train_s = 0.0
        for k in points:
            t = time.perf_counter()
            tr.train(k)
            train_s += time.perf_counter() - t
            per[k] = tr.health_check(256)
            log(f"  {label} step {k}: {'PASS' if per[k].passed else 'fail ' + ','.join(per[k].failed)} "
                f"{ {c.name: round(c.value, 2) for c in per[k].checks} }")
        rows.append({"label": label, "reports": per, "train_s": train_s, "total_s": time.perf_counter() - t0})
    return rows


# --------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=40, help="steps per overhead round")
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--ablation-steps", type=int, default=3600, help="the 32 px CPU preset's run length")
    ap.add_argument("--ablation-base", type=int, default=16, help="base_channels of the 32 px ablation models")
    ap.add_argument("--skip-ablation", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    cmd = " ".join(["    .venv/bin/python benchmarks/bench_gan_fewshot.py", *(argv if argv is not None else sys.argv[1:])])
    torch.set_num_threads(args.threads)
    t_start, load_start = time.time(), load_str()
    crops = demo_crops(96, seed=0)
    held = demo_crops(96, seed=1)
    cfg64 = GANConfig(**choose_preset("stationary", n_images=96, resolution=64).config)
    cfg128 = GANConfig(**choose_preset("stationary", n_images=96, resolution=128).config)
    x64, x128 = resized(crops, 64), crops

    # 1. overhead
    log("FLOPs per step (trainer vs plain loop)")
    fl_tr, fl_plain = step_flops(cfg64, x64)
    order: list[str] = []
    for r in range(args.rounds):
        order += ["plain", "trainer"] if r % 2 == 0 else ["trainer", "plain"]
    times: dict[str, list[float]] = {"plain": [], "trainer": []}
    for i, kind in enumerate(order):
        fn = time_plain if kind == "plain" else time_trainer
        s = fn(cfg64, x64, args.steps, args.warmup)
        times[kind].append(s)
        log(f"  round {i + 1}/{len(order)} {kind}: {s:.3f} s/step ({cfg64.batch_size / s:.1f} images/s), load {load_str()}")
    plain_s, trainer_s = statistics.median(times["plain"]), statistics.median(times["trainer"])
    overhead = trainer_s / plain_s - 1.0

    # 2. s/kimg, CPU (and CUDA)
    log("128 px on CPU")
    s128 = statistics.median([time_trainer(cfg128, x128, args.steps // 2, args.warmup // 2) for _ in range(2)])
    speed_rows = [["64 px (`stationary` preset, base 16, batch 16)", "CPU", f"{trainer_s * 1000 / cfg64.batch_size:.1f}",
                   f"{cfg64.batch_size / trainer_s:.1f}", ""],
                  ["128 px (`stationary` preset, base 8, batch 16)", "CPU", f"{s128 * 1000 / cfg128.batch_size:.1f}",
                   f"{cfg128.batch_size / s128:.1f}", f"{s128 / trainer_s:.2f}x the 64 px step"]]
    gpu_note = "No CUDA device on this machine: the GPU rows are not measured here (the same command measures them where one is)."
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        gpu_note = f"CUDA: {name}, bf16 autocast, channels_last, deterministic algorithms requested."
        for label, res in (("64 px, GPU preset", 64), ("128 px, GPU preset", 128)):
            p = choose_preset("stationary", n_images=96, resolution=res, device="cuda")
            cfg = GANConfig(**p.config)
            data = x64 if res == 64 else x128
            s_gpu = time_trainer(cfg, data, 60, 10, device="cuda")
            cpu_same = time_trainer(cfg, data, 6, 2) if res == 64 else float("nan")
            speed_rows.append([f"{label} (base {cfg.base_channels}, batch {cfg.batch_size})", "CUDA",
                               f"{s_gpu * 1000 / cfg.batch_size:.2f}", f"{cfg.batch_size / s_gpu:.0f}",
                               f"{cpu_same / s_gpu:.0f}x CPU on the same model" if res == 64 else ""])
        reps = []
        for _ in range(2):
            tr = GANTrainer(GANConfig(**choose_preset("stationary", n_images=96, resolution=64,
                                                      device="cuda").config), x64, seed=3, device="cuda")
            tr.train(20)
            reps.append({k: v.detach().cpu() for k, v in tr.G.state_dict().items()})
        same = all(torch.equal(reps[0][k], reps[1][k]) for k in reps[0])
        gpu_note += f" Two 20-step CUDA runs with seed 3: weights {'identical' if same else 'DIFFERENT'}."

    # 3. ablation
    abl_rows: list[dict[str, Any]] = []
    points = sorted({args.ablation_steps // 4, args.ablation_steps // 2, args.ablation_steps})
    if not args.skip_ablation:
        log(f"ablation at 32 px, {args.ablation_steps} steps each")
        abl_rows = ablation(resized(crops, 32), resized(held, 32), args.ablation_steps, points, args.threads,
                            args.ablation_base)
    total_min = (time.time() - t_start) / 60

    md = [f"""## Few-shot GAN: trainer overhead, s/kimg at 64 and 128 px, ablation of the new parts

{machine_description()}; {args.threads} torch threads. Load average (1/5/15 min) at start {load_start},
at end {load_str()} (other work shares the 2 cores: read the ratios, measured in the same run, rather
than absolute rates). Total runtime {total_min:.1f} min. Command:

{cmd}

### Trainer vs a plain PyTorch loop of the same architecture

`stationary` preset at 64 px: {cfg64.base_channels} base channels, batch {cfg64.batch_size}, hinge loss, DiffAugment
`{cfg64.diffaug}` with the adaptive probability, D's reconstruction loss, lazy R1 every {cfg64.r1_every} steps, EMA with
the growing half-life; data: the demo's 96 crops resized to 64 px. FLOPs per step: trainer
{fl_tr / 1e9:.3f} GFLOP, plain loop {fl_plain / 1e9:.3f} GFLOP ({"the same work" if fl_tr == fl_plain else "DIFFERENT"}).
{len(order)} runs of {args.steps} steps (first {args.warmup} untimed), ABBA order; medians.

""",
          table(["path", "s/step", "images/s"],
                [["plain loop", f"{plain_s:.3f}", f"{cfg64.batch_size / plain_s:.1f}"],
                 ["`GANTrainer.train` (metric callback)", f"{trainer_s:.3f}", f"{cfg64.batch_size / trainer_s:.1f}"]]),
          f"""
**Overhead of the trainer: {100 * overhead:+.1f}%** ({"within" if overhead <= 0.05 else "above"} the 5% target;
per-run s/step: plain {", ".join(f"{v:.3f}" for v in times["plain"])}; trainer {", ".join(f"{v:.3f}" for v in times["trainer"])}).

### Seconds per thousand training images

""",
          table(["model", "device", "s/kimg", "images/s", "note"], speed_rows),
          f"\n{gpu_note}\n"]
    if abl_rows:
        from reelforge.vision.gan.health import CHECKS

        md.append(f"""
### Ablation: health checks after equal budgets (32 px, 96 Hubble crops)

Each variant trains {args.ablation_steps} steps (batch 16, base {args.ablation_base} channels, seed 0) on the
demo's 96 crops at 32 px; health of 256 EMA samples against 96 held-out crops (demo crops with seed 1) at
steps {", ".join(map(str, points))}. Values are ratios to the real images' statistic (near-duplicates: a
rate); **bold** = outside the pass band. Pass bands: diversity 0.7-1.4, near-duplicates <= 0.2,
finest-frequency power <= 2, spectral spikes <= 3, position lock <= 3, colour 0.75-1.33, saturation
0.67-1.5, SWD <= 2 (x the real-vs-real floor), memorisation >= 0.5.

""")
        header = ["variant", "step", *CHECKS, "checks passed", "train s"]
        body = []
        for row in abl_rows:
            for k, rep in row["reports"].items():
                vals = []
                for name in CHECKS:
                    c = rep[name]
                    vals.append(f"{c.value:.2f}" if c.passed else f"**{c.value:.2f}**")
                body.append([row["label"], k, *vals, f"{sum(c.passed for c in rep.checks)}/{len(rep.checks)}",
                             f"{row['train_s']:.0f}" if k == points[-1] else ""])
        md.append(table(header, body))
    text = "".join(md)
    print(text)
    if not args.no_write:
        write_section("gan_fewshot", text)
        log("wrote section gan_fewshot of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
