"""Acceptance: a class-conditional GAN trained on scikit-learn's digits draws the digit it is asked for.

The whole path a studio would use: digits as PNG files in class folders → ingest → a labelled dataset
→ `gan.train` (class conditioning picked from the labels) → `gan.evaluate`, whose judge is a classifier
trained on the real digits; it must assign generated samples to the requested class ≥ 80% of the time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from reelforge.studio import Studio

STEPS = int(os.environ.get("REELFORGE_TEST_DIGITS_STEPS", "600"))


def write_digits(folder: Path, size: int = 32) -> int:
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (img, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        arr = (img / 16.0 * 255).astype(np.uint8)
        out = folder / str(label) / f"{i:04d}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).resize((size, size), Image.Resampling.BILINEAR).convert("RGB").save(out)
    return len(digits.images)


def test_conditional_digits_reach_80_percent_class_accuracy(tmp_path: Path) -> None:
    s = Studio.init(tmp_path / "studio")
    n = write_digits(tmp_path / "digits")
    report = s.assets.add([tmp_path / "digits"])
    assert len(report.added) == n
    ds = s.datasets.create("digits", assets=report.added, label_from="folder", splits=(1, 0, 0))
    assert len(ds.labels) == 10
    train = s.jobs.submit("gan.train", {
        "dataset": ds.ref, "name": "digits", "split": "all", "resolution": 32, "steps": STEPS,
        "batch_size": 64, "base_channels": 16, "z_dim": 64, "ema_decay": 0.99, "diffaug": "translation",
        "hflip": False,
        "random_crop": False, "sample_every": STEPS, "checkpoint_every": STEPS, "threads": 2,
    }, seed=0).run()
    assert train.status == "succeeded", train.error
    assert train.result["conditioning"] == "class"
    ev = s.jobs.submit("gan.evaluate", {"model": "digits", "dataset": ds.ref, "n": 500, "swd": False,
                                        "kid_random": False, "classifier_epochs": 6}, seed=1).run()
    assert ev.status == "succeeded", ev.error
    acc = ev.result["classifier_accuracy"]
    assert acc["judge_val_accuracy"] is None or acc["judge_val_accuracy"] >= 0.9
    assert acc["overall"] >= 0.8, acc
    s.close()
