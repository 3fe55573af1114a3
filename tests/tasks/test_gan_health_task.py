"""gan.evaluate's health checks through the job system: held-out split, verdict lines, metrics, report,
and the deterministic hold-out (said out loud) when the model trained on every image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from reelforge.studio import Studio
from reelforge.vision.gan.health import CHECKS

TINY = {"resolution": 32, "base_channels": 8, "batch_size": 8, "z_dim": 16, "threads": 1}


def _plates(folder: Path, n: int = 40, size: int = 48) -> Path:
    from skimage import data

    field = data.hubble_deep_field()
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        y, x = rng.integers(0, field.shape[0] - size), rng.integers(0, field.shape[1] - size)
        Image.fromarray(field[y : y + size, x : x + size]).save(folder / f"p{i:02d}.png")
    return folder


def test_evaluate_reports_health_against_held_out_images(sqlite_studio: Studio, tmp_path: Path) -> None:
    s = sqlite_studio
    s.assets.add([_plates(tmp_path / "plates")])
    ds = s.datasets.create("plates", kind="image", seed=0)  # 80/10/10 splits
    splits = ds.counts["splits"]
    assert splits.get("val", 0) + splits.get("test", 0) >= 2
    train = s.jobs.submit("gan.train", {"dataset": ds.ref, "name": "tiny", "steps": 12, **TINY}, seed=1).run()
    assert train.status == "succeeded", train.error

    job = s.jobs.submit("gan.evaluate", {"model": "tiny", "dataset": ds.ref, "n": 64, "kid_random": False},
                        seed=0).run()
    assert job.status == "succeeded", job.error
    health = job.result["health"]
    assert [c["name"] for c in health["checks"]] == list(CHECKS)
    assert health["note"] == "", "the val and test splits are the held-out images"
    assert health["heldout_images"] >= 2 and health["train_images"] + health["heldout_images"] == 40
    assert splits["train"] == health["train_images"]
    # A 12-step generator is nowhere near the real images: the checks say so, one verdict line each.
    assert health["passed"] is False and "diversity" in health["failed"]
    logs = [line["message"] for line in s.jobs.logs(job.id)]
    for check in CHECKS:
        assert any(m.split()[:2] in (["PASS", check], ["FAIL", check]) for m in logs), check
    assert any(m.startswith("health: failed: ") for m in logs)
    series = s.jobs.metrics(job.id)
    assert {f"health_{c}" for c in CHECKS} <= set(series) and "swd_mean" in series
    report = json.loads(s.assets.local_path(s.assets.get(job.result["report"])).read_bytes())
    assert report["health"] == health and report["swd"] == job.result["swd"]

    # Trained on every image: nothing is held out, so a deterministic quarter stands in, and it says so.
    every = s.jobs.submit("gan.train", {"dataset": ds.ref, "name": "all", "split": "all", "steps": 2, **TINY},
                          seed=1).run()
    assert every.status == "succeeded", every.error
    runs = [s.jobs.submit("gan.evaluate", {"model": "all", "dataset": ds.ref, "n": 32, "kid_random": False,
                                           "swd": False}, seed=0).run() for _ in range(2)]
    assert all(r.status == "succeeded" for r in runs), [r.error for r in runs]
    first, second = (r.result["health"] for r in runs)
    assert first["heldout_images"] == 10 and first["train_images"] == 30
    assert first["note"].startswith("no held-out images: held out 10 of 40") and "trained on them" in first["note"]
    assert first["checks"] == second["checks"], "same seed, same verdicts"

    off = s.jobs.submit("gan.evaluate", {"model": "tiny", "dataset": ds.ref, "n": 16, "health": False,
                                         "kid_random": False}, seed=0).run()
    assert off.status == "succeeded" and "health" not in off.result
