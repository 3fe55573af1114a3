"""Does SWD fall during GAN training on 100 images, and does DiffAugment end lower? (measured, not tuned)

Data: 100 random 64x64 crops of scikit-image's Hubble deep field taken from the left half of the image
(training set) and 100 random crops from the right half (held-out set, disjoint pixels). Two runs of
reelforge.vision.gan.GANTrainer with the same seed, config and step count differ only in DiffAugment:
"color,translation,cutout" vs "" (none). The runs are advanced in alternation, checkpoint by checkpoint,
and at every checkpoint 100 samples of the EMA generator (truncation off, fixed sample seed) are compared
with the held-out crops by reelforge.vision.metrics.swd (mean and per pyramid level, x1e3, seed 0), and
at the last checkpoint also with the training crops (lower there than on held-out data hints at
memorisation).
The floor is SWD(training crops, held-out crops): two real sets of the same field.

    .venv/bin/python benchmarks/bench_gan_swd.py            # 2000 steps per run: ~10 min on 2 idle cores
    .venv/bin/python benchmarks/bench_gan_swd.py --checkpoints 0,100,200,300,450,600  # ~4 min idle, ~20 loaded

Runs on the trainer directly (no job system). Writes section ``gan_swd_diffaug`` of docs/benchmarks.md
(``--no-write`` to only print). SWD values are deterministic for a given thread count; the times are not.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_description, table, write_section
from bench_gan import hubble_crops, load_str, log

from reelforge.vision.gan import GANConfig, GANTrainer, sample
from reelforge.vision.metrics import swd

POLICIES = (("with DiffAugment", "color,translation,cutout"), ("without", ""))
SAMPLE_SEED = 10_000


def _num(v: object, digits: int = 3) -> str:
    x = float(v)  # type: ignore[arg-type]
    return "–" if np.isnan(x) else f"{x:.{digits}f}"


def evaluate(
    trainer: GANTrainer, heldout: np.ndarray, train: np.ndarray | None, n: int
) -> dict[str, object]:
    """SWD of n EMA samples vs the held-out crops (and vs the training crops when `train` is given)."""
    fake, _ = sample(trainer.ema.module, n, seed=SAMPLE_SEED, truncation=None)
    r = swd(heldout, fake, seed=0)
    rt = swd(train, fake, seed=0).mean if train is not None else float("nan")
    return {"mean": r.mean, "levels": r.levels, "train_mean": rt}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoints", default="0,100,250,500,1000,1500,2000",
                    help="comma list of global steps at which to evaluate (the last is the run length)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--base-channels", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-images", type=int, default=100, help="training crops (and held-out crops)")
    ap.add_argument("--n-samples", type=int, default=100, help="EMA samples per evaluation")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)
    try:
        checkpoints = sorted({int(s) for s in args.checkpoints.split(",") if s.strip()})
    except ValueError:
        ap.error("--checkpoints must be a comma list of integers")
    if not checkpoints or checkpoints[0] < 0:
        ap.error("--checkpoints must be non-negative integers")

    cmd = " ".join(["    .venv/bin/python benchmarks/bench_gan_swd.py",
                    *(argv if argv is not None else sys.argv[1:])])
    torch.set_num_threads(args.threads)
    load_start = load_str()
    t0 = time.time()
    train = hubble_crops(args.n_images, seed=args.seed, columns=(0.0, 0.5))
    heldout = hubble_crops(args.n_images, seed=args.seed + 1, columns=(0.5, 1.0))
    floor = swd(heldout, train, seed=0)
    log(f"floor SWD(train, held-out) = {floor.mean:.2f}")

    trainers = {}
    for label, policy in POLICIES:
        cfg = GANConfig(resolution=64, base_channels=args.base_channels, batch_size=args.batch, diffaug=policy)
        trainers[label] = GANTrainer(cfg, train, seed=args.seed)
    results: dict[str, dict[int, dict[str, object]]] = {label: {} for label, _ in POLICIES}
    train_s = {label: 0.0 for label, _ in POLICIES}
    loads: dict[int, str] = {}
    for step in checkpoints:
        loads[step] = load_str()
        for label, _ in POLICIES:
            tr = trainers[label]
            t = time.perf_counter()
            res = tr.train(step)
            train_s[label] += time.perf_counter() - t
            results[label][step] = evaluate(tr, heldout, train if step == checkpoints[-1] else None,
                                            args.n_samples)
            results[label][step]["loss_d"] = res.metrics.get("loss_d", float("nan"))
            log(f"step {step:5d} {label:17s} SWD {results[label][step]['mean']:7.2f} "
                f"(vs train {_num(results[label][step]['train_mean'], 2)})  train {train_s[label]:6.0f}s  "
                f"load {loads[step]}")
    total_min = (time.time() - t0) / 60

    w, wo = (label for label, _ in POLICIES)
    levels = sorted(floor.levels, reverse=True)
    rows = []
    for step in checkpoints:
        a, b = results[w][step], results[wo][step]
        rows.append([step, f"{a['mean']:.2f}", f"{b['mean']:.2f}",
                     *[f"{a['levels'][lv]:.2f} / {b['levels'][lv]:.2f}" for lv in levels],
                     loads[step]])
    rows.append(["real vs real (floor)", f"{floor.mean:.2f}", f"{floor.mean:.2f}",
                 *[f"{floor.levels[lv]:.2f}" for lv in levels], ""])
    main_table = table(["step", "SWD mean, with DiffAugment", "SWD mean, without",
                        *[f"level {lv} px (with / without)" for lv in levels], "load avg at checkpoint"], rows)
    train_rows = [[step, _num(results[w][step]["train_mean"], 2), _num(results[wo][step]["train_mean"], 2),
                   _num(results[w][step]["loss_d"]), _num(results[wo][step]["loss_d"])]
                  for step in checkpoints]
    train_table = table(["step", "SWD vs training crops, with", "without", "loss_d with", "loss_d without"],
                        train_rows)

    first, last = checkpoints[0], checkpoints[-1]

    def trend(label: str) -> str:
        vals = [results[label][s]["mean"] for s in checkpoints]
        a, b = vals[0], vals[-1]
        mono = all(y <= x for x, y in itertools.pairwise(vals))
        word = "falls" if b < a else "does not fall"
        shape = "monotonically" if mono and b < a else "(not monotonically)" if b < a else ""
        best = checkpoints[int(np.argmin(vals))]
        return (f"{label}: SWD {word} {shape} from {a:.2f} at step {first} to {b:.2f} at step {last} "
                f"(lowest {min(vals):.2f} at step {best})").replace("  ", " ")

    def later(label: str) -> str:
        """The step-0 value is an untrained generator; whether SWD keeps falling after the first
        checkpoint is the more telling question."""
        if len(checkpoints) < 3:
            return ""
        s1 = checkpoints[1]
        a, b = results[label][s1]["mean"], results[label][last]["mean"]
        verb = "falls further" if b < a else "does not fall further"
        return f" After step {s1}, {label} {verb} ({a:.2f} → {b:.2f})."

    ea, eb = results[w][last]["mean"], results[wo][last]["mean"]
    if ea < eb:
        end = f"DiffAugment ends lower ({ea:.2f} vs {eb:.2f}, {100 * (eb - ea) / eb:.1f}% lower)"
    elif ea > eb:
        end = f"DiffAugment does NOT end lower ({ea:.2f} vs {eb:.2f} without)"
    else:
        end = f"both end equal ({ea:.2f})"
    md = f"""## GAN on 100 images: SWD over training, with vs without DiffAugment

{machine_description()}; {args.threads} torch threads. Load average (1/5/15 min) at start
{load_start}, at end {load_str()}. Total runtime {total_min:.1f} min (training
{train_s[w] / 60:.1f} min with DiffAugment, {train_s[wo] / 60:.1f} min without; the rest is evaluation).
Command:

{cmd}

Setup: `GANTrainer` (no job system), 64 px, base_channels {args.base_channels}, batch {args.batch}, hinge
loss, EMA, seed {args.seed} for both runs; training set: {args.n_images} random 64×64 crops of the left half of
skimage's Hubble deep field; held-out: {args.n_images} crops of the right half. SWD
(`reelforge.vision.metrics.swd`, ×1e3, seed 0) of {args.n_samples} EMA samples (truncation off) vs the
held-out crops; per level: the Laplacian-pyramid level's side in px.

{main_table}

The last step's samples against the training crops (lower than vs held-out would hint at
memorisation), and D's hinge loss at each checkpoint (2.0: D cannot tell real from fake; 0: D wins):

{train_table}

**Result (as measured):** {trend(w)}; {trend(wo)}.{later(w)}{later(wo)} At step {last}, {end}.
"""
    print(md)
    if not args.no_write:
        write_section("gan_swd_diffaug", md)
        log("wrote section gan_swd_diffaug of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
