"""Time the weight-free image metrics on 100 vs 100 images at 64 px (CPU by default).

    python benchmarks/bench_metrics.py [--n 100] [--size 64] [--repeats 3] [--threads 1] [--out FILE]

Real images: random crops of scikit-image's bundled Hubble deep field (the "real" set) and astronaut
photograph (the "fake" set); nothing is downloaded. Prints a Markdown table (and appends it to
``--out`` when given, e.g. docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from skimage import data

from reelforge.vision.metrics import (
    fid_from_features,
    kid,
    kid_random_features,
    random_feature_extractor,
    swd,
)


def crops(img: np.ndarray, n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    ys = rng.integers(0, h - size + 1, n)
    xs = rng.integers(0, w - size + 1, n)
    return np.stack([img[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)])


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="images per set")
    ap.add_argument("--size", type=int, default=64, help="image side in pixels")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--out", type=Path, default=None, help="append the Markdown table to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    real = crops(data.hubble_deep_field(), args.n, args.size, seed=0)
    fake = crops(data.astronaut(), args.n, args.size, seed=1)
    rows: list[tuple[str, float, float, str]] = []

    best, med, r = timed(lambda: swd(real, fake, seed=0), args.repeats)
    rows.append(("SWD (128 desc/img, 512 proj x 4)", best, med, f"mean {r.mean:.1f}"))  # type: ignore[union-attr]
    best, med, r = timed(lambda: swd(real, fake, seed=0, n_projections=128, n_repeats=1), args.repeats)
    rows.append(("SWD (128 desc/img, 128 proj x 1)", best, med, f"mean {r.mean:.1f}"))  # type: ignore[union-attr]
    best, med, r = timed(lambda: kid_random_features(real, fake, seed=0), args.repeats)
    rows.append(("KID random-conv(seed=0), 10 subsets", best, med, f"{r.mean:.4f} ± {r.std:.4f}"))  # type: ignore[union-attr]

    net = random_feature_extractor(seed=0)
    best, med, feats = timed(lambda: (net.features(real), net.features(fake)), args.repeats)
    rows.append(("  of which: random-conv features", best, med, f"dim {net.dim}"))
    fr, ff = feats  # type: ignore[misc]
    best, med, r = timed(lambda: kid(fr, ff), args.repeats)
    rows.append(("  of which: KID on features", best, med, f"{r[0]:.4f}"))  # type: ignore[index]
    best, med, r = timed(lambda: fid_from_features(fr, ff), args.repeats)
    rows.append(("FID on the same random-conv features", best, med, f"{r:.2f}"))

    header = (
        f"### vision.metrics: {args.n} vs {args.n} images at {args.size} px\n\n"
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} thread(s), best/median of {args.repeats}\n\n"
        "| metric | best (s) | median (s) | value |\n|---|---:|---:|---|\n"
    )
    table = header + "".join(f"| {name} | {b:.3f} | {m:.3f} | {v} |\n" for name, b, m, v in rows)
    print(table)
    if args.out is not None:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write("\n" + table)


if __name__ == "__main__":
    main()
