"""What issue 11 asks to show: generators trained by `--preset auto` pass the health checks against
held-out real images, on stationary data (the demo's Hubble crops) and on object-centric data (LFW
faces), while the old demo configuration fails them (tests/vision/gan/test_health.py).

Each test trains the preset's own run (its steps, width, batch) at 32 px on one CPU thread: about
three minutes for the Hubble crops and one for the faces on a quiet 2-core machine. The sample
sheets beside the real images are written to build/gan-quality/ for review.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.vision.gan import GANConfig, GANModel, GANTrainer, HealthReport
from reelforge.vision.gan.presets import Preset, choose_preset, is_grey, stationarity

from .conftest import faces, hubble_crops

SIDE = 32
OUT = Path(__file__).resolve().parents[3] / "build" / "gan-quality"


def _side(images: np.ndarray, side: int = SIDE) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(a).resize((side, side), Image.Resampling.LANCZOS)) for a in images])


def _sheet(rows: list[np.ndarray], path: Path, n: int = 36, cols: int = 6) -> None:
    """Side by side: one block of n images per set (real first), 2x enlarged, grey gaps."""
    blocks = []
    for images in rows:
        rgb = images[..., :3] if images.shape[-1] >= 3 else np.repeat(images, 3, axis=-1)
        s = rgb.shape[1] + 2
        block = np.full(((n // cols) * s, cols * s, 3), 40, np.uint8)
        for i, img in enumerate(rgb[:n]):
            r, c = divmod(i, cols)
            block[r * s + 1 : r * s + 1 + rgb.shape[1], c * s + 1 : c * s + 1 + rgb.shape[2]] = img
        blocks.append(block)
    gap = np.full((blocks[0].shape[0], 12, 3), 90, np.uint8)
    out = np.concatenate([x for b in blocks for x in (b, gap)][:-1], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(out).resize((out.shape[1] * 2, out.shape[0] * 2), Image.Resampling.NEAREST).save(path)


def train_preset(train: np.ndarray, heldout: np.ndarray, seed: int = 2026) -> tuple[Preset, HealthReport, np.ndarray]:
    """The auto preset's full run on `train`; its final health report and 36 EMA samples."""
    preset = choose_preset("auto", n_images=len(train), resolution=SIDE, device="cpu",
                           stationarity_score=stationarity(train), grey=is_grey(train))
    fields, steps = preset.apply({})
    assert steps is not None
    trainer = GANTrainer(GANConfig(**{**fields, "resolution": SIDE}), train, seed=seed, heldout=heldout)
    trainer.train(steps, sample_every=steps)  # the health checks run at the last step
    samples = GANModel.from_trainer(trainer).generate(36, seed=0)[0]
    return preset, trainer.health, samples


def _why(report: HealthReport) -> str:
    return "\n".join(report.lines())


@pytest.mark.timeout(900)
def test_preset_on_hubble_crops_passes_the_health_checks() -> None:
    train = _side(hubble_crops(96, seed=0))  # the demo's nebula plates
    heldout = _side(hubble_crops(96, seed=1))
    preset, report, samples = train_preset(train, heldout)
    _sheet([train, samples], OUT / "hubble-real-vs-preset.png")
    assert preset.name == "stationary" and preset.config["latent_map"]
    # Every check that the old demo configuration fails (lattice, checkerboard, collapse, cast) passes.
    for name in ("diversity", "near_duplicates", "finest_frequency_power", "spectral_spikes", "position_lock",
                 "colour_mean", "saturation", "memorisation"):
        assert report[name].passed, _why(report)
    # And SWD at the bound, 2x the real-vs-real floor: the 32 px stationary preset measured
    # 1.36x on this seed (1.61x and 1.62x on seeds 0 and 1; see choose_preset).
    assert report["swd"].value <= 2.0, _why(report)
    assert report.passed, _why(report)


@pytest.mark.timeout(900)
def test_preset_on_faces_passes_every_health_check() -> None:
    all_faces = faces(SIDE)
    order = np.random.default_rng(0).permutation(len(all_faces))
    train, heldout = all_faces[order[:75]], all_faces[order[75:]]
    preset, report, samples = train_preset(train, heldout)
    _sheet([train, samples], OUT / "faces-real-vs-preset.png")
    assert preset.name == "object" and preset.config["skip_excitation"]
    assert preset.config.get("channels") == 1  # grey faces: a grey model
    assert report.passed, _why(report)
