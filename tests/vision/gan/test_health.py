"""Health checks on real data: real images the model never saw pass every check; the failures the
issue describes (collapse, a lattice of blobs, checkerboard texture, copies of the training set, a
green-grey cast) and a real DCGAN with the demo's settings fail the checks that name them.

Real sets: the demo's 96 Hubble crops (stationary) and scikit-image's LFW faces (object-centric).
``python tests/vision/gan/test_health.py`` writes build/health/health_sets.png: real crops beside
each bad set, with the checks each one fails.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from reelforge.demo import hubble_crops
from reelforge.errors import InvalidInput
from reelforge.vision.gan import (
    GANConfig,
    GANModel,
    GANTrainer,
    HealthReport,
    collapse_detected,
    health_report,
)
from reelforge.vision.gan.health import CHECKS

Sets = dict[str, np.ndarray]
SIDE = 64  # the demo trains at 64 px


# -- real data -------------------------------------------------------------------------------------
def _side(images: np.ndarray, side: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(a).resize((side, side), Image.Resampling.LANCZOS)) for a in images])


def _load(paths: list[Path], side: int) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("RGB").resize((side, side), Image.Resampling.LANCZOS))
                     for p in paths])


def hubble_sets(folder: Path) -> Sets:
    """train: the demo's 96 crops; heldout and fresh: crops at other positions (never trained on)."""
    return {
        "train": _load(hubble_crops(folder / "train"), SIDE),
        "heldout": _load(hubble_crops(folder / "heldout", n=32, seed=1), SIDE),
        "fresh": _load(hubble_crops(folder / "fresh", n=64, seed=2), SIDE),
    }


def face_sets(side: int = 32) -> Sets:
    """The 100 LFW faces of skimage's lfw_subset (25 px grey), upsampled: 50 train, 25 + 25 not."""
    faces = data.lfw_subset()[:100]
    up = np.stack([np.asarray(Image.fromarray((f * 255).round().astype(np.uint8)).resize(
        (side, side), Image.Resampling.LANCZOS)) for f in faces])
    rgb = np.repeat(up[..., None], 3, axis=-1)
    order = np.random.default_rng(0).permutation(len(rgb))
    return {"train": rgb[order[:50]], "heldout": rgb[order[50:75]], "fresh": rgb[order[75:]]}


# -- bad outputs, built from real images -----------------------------------------------------------
def _u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * 255).round().astype(np.uint8)


def _f(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / 255.0


def collapsed(real: np.ndarray, n: int = 64, seed: int = 0) -> np.ndarray:
    """One real image over and over, with a little noise: mode collapse."""
    rng = np.random.default_rng(seed)
    return _u8(_f(real[0])[None] + rng.normal(0, 0.01, (n, *real.shape[1:])))


LATTICE = [(SIDE * (2 * i + 1) // 6, SIDE * (2 * j + 1) // 6) for i in range(3) for j in range(3)]


def lattice(n: int = 64, seed: int = 0) -> np.ndarray:
    """The broken demo's look: dim green-grey frames with blobs on a fixed 3x3 grid; 1 in 8 has a
    brighter blob elsewhere (the issue: 87.5% put their brightest pixel on one of 9 positions)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    tint = np.array([0.85, 1.0, 0.85], np.float32)

    def blob(y: int, x: int) -> np.ndarray:
        return np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.5**2))

    out = []
    for _ in range(n):
        img = 0.06 + rng.normal(0, 0.01, (SIDE, SIDE))
        for y, x in LATTICE:
            img += rng.uniform(0.05, 0.5) * blob(y, x)
        if rng.random() < 0.125:
            img += 0.8 * blob(*rng.integers(4, SIDE - 4, 2))
        out.append(img[..., None] * tint)
    return _u8(np.stack(out))


def checkerboard(real: np.ndarray, amplitude: float = 0.03) -> np.ndarray:
    """Real images plus a 2-px period pattern (±8/255): transposed-convolution texture."""
    h, w = real.shape[1:3]
    pattern = np.where((np.arange(h)[:, None] + np.arange(w)[None]) % 2 == 0, amplitude, -amplitude)
    return _u8(_f(real) + pattern[None, :, :, None])


def memorised(train: np.ndarray, n: int = 48, seed: int = 0) -> np.ndarray:
    """Training images handed back with a little noise."""
    rng = np.random.default_rng(seed)
    picked = train[rng.permutation(len(train))[:n]]
    return _u8(_f(picked) + rng.normal(0, 0.01, picked.shape))


def green_grey(real: np.ndarray) -> np.ndarray:
    """Real images desaturated to grey with a green cast on a lifted background."""
    lum = _f(real) @ np.array([0.299, 0.587, 0.114], np.float32)
    return _u8(lum[..., None] * np.array([0.9, 1.0, 0.9], np.float32) + np.array([0.03, 0.05, 0.03], np.float32))


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hubble(tmp_path_factory: pytest.TempPathFactory) -> Sets:
    return hubble_sets(tmp_path_factory.mktemp("hubble"))


@pytest.fixture(scope="module")
def faces() -> Sets:
    return face_sets()


@pytest.fixture(scope="module")
def real_sets(hubble: Sets, faces: Sets) -> dict[str, Sets]:
    return {"hubble": hubble, "faces": faces}


def _report(samples: np.ndarray, sets: Sets) -> HealthReport:
    return health_report(samples, sets["train"], sets["heldout"], seed=0)


def _why(report: HealthReport) -> str:
    return "\n".join(report.lines())


# -- good: real images not trained on ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["hubble", "faces"])
def test_real_images_not_trained_on_pass_every_check(real_sets: dict[str, Sets], name: str) -> None:
    sets = real_sets[name]
    report = _report(sets["fresh"], sets)
    assert [c.name for c in report.checks] == list(CHECKS)
    assert report.passed, _why(report)
    assert not collapse_detected(report)
    assert all(line.startswith("PASS ") for line in report.lines())
    assert 0.7 <= report["diversity"].value <= 1.4 and report["near_duplicates"].value <= 0.2
    assert report["memorisation"].value > 0.8, "new real images are as far from the training set as held-out ones"
    # Deterministic for a seed, and the dict form round-trips.
    again = _report(sets["fresh"], sets)
    assert again.to_dict() == report.to_dict()
    assert HealthReport.from_dict(report.to_dict()).to_dict() == report.to_dict()
    assert report.to_dict()["passed"] is True and report.to_dict()["failed"] == []


# -- bad: each failure fails the checks that name it -------------------------------------------------
@pytest.mark.parametrize("name", ["hubble", "faces"])
def test_collapsed_set_fails_diversity_and_near_duplicates(real_sets: dict[str, Sets], name: str) -> None:
    sets = real_sets[name]
    report = _report(collapsed(sets["fresh"]), sets)
    assert {"diversity", "near_duplicates"} <= set(report.failed), _why(report)
    assert report["diversity"].value < 0.1 and report["near_duplicates"].value == 1.0
    assert collapse_detected(report)
    assert report.lines()[0].startswith("FAIL diversity")


def test_lattice_set_fails_position_lock(hubble: Sets) -> None:
    bad = lattice()
    # The synthetic set reproduces the measurement: most brightest pixels on the 9 lattice
    # positions, while no position holds more than 2 of the 96 real crops.
    lum = bad.astype(np.float32).mean(-1).reshape(len(bad), -1).argmax(1)
    on_lattice = np.isin(lum, [y * SIDE + x for y, x in LATTICE]).mean()
    assert on_lattice >= 0.8
    real_max = np.bincount(hubble["train"].astype(np.float32).mean(-1).reshape(96, -1).argmax(1)).max()
    assert real_max <= 2

    report = _report(bad, hubble)
    assert "position_lock" in report.failed, _why(report)
    assert report["position_lock"].value > 10
    assert _report(hubble["fresh"], hubble)["position_lock"].value < 2


@pytest.mark.parametrize("name", ["hubble", "faces"])
def test_checkerboard_set_fails_the_spectral_checks(real_sets: dict[str, Sets], name: str) -> None:
    sets = real_sets[name]
    report = _report(checkerboard(sets["fresh"]), sets)
    assert {"finest_frequency_power", "spectral_spikes"} <= set(report.failed), _why(report)
    # The peak sits at the checkerboard's frequency.
    assert "(-0.500, -0.500) cycles/px" in report["spectral_spikes"].detail
    # Only the texture is wrong: the checks about content still pass.
    for check in ("diversity", "near_duplicates", "position_lock", "colour_mean", "memorisation"):
        assert report[check].passed, _why(report)


@pytest.mark.parametrize("name", ["hubble", "faces"])
def test_memorised_set_fails_memorisation(real_sets: dict[str, Sets], name: str) -> None:
    sets = real_sets[name]
    report = _report(memorised(sets["train"], n=len(sets["fresh"])), sets)
    assert "memorisation" in report.failed, _why(report)
    assert report["memorisation"].value < 0.2
    assert report["diversity"].passed and report["finest_frequency_power"].passed, _why(report)
    assert "100% of samples closer than any held-out image" in report["memorisation"].detail


def test_green_grey_set_fails_colour_and_saturation(hubble: Sets) -> None:
    report = _report(green_grey(hubble["fresh"]), hubble)
    assert {"colour_mean", "saturation"} <= set(report.failed), _why(report)
    assert "worst channel G" in report["colour_mean"].detail
    for check in ("position_lock", "spectral_spikes", "memorisation"):
        assert report[check].passed, _why(report)


# -- a real generator with the demo's settings ---------------------------------------------------------
DEMO_STEPS = 200


def train_demo_generator(train64: np.ndarray) -> dict[str, np.ndarray]:
    """The demo's configuration (DCGAN: transposed convolutions, batch norm statistics copied to the
    EMA copy; width 16, batch 16) at 32 px: samples untrained and after a short run."""
    train32 = _side(train64, 32)
    # A config dict without the newer fields rebuilds what the demo model had (see GANConfig.from_dict).
    config = GANConfig.from_dict({"resolution": 32, "z_dim": 128, "base_channels": 16, "batch_size": 16})
    assert getattr(config, "arch", "dcgan") == "dcgan"
    trainer = GANTrainer(config, train32, seed=2026)
    out = {"train": train32, "untrained": GANModel.from_trainer(trainer).generate(256, seed=0)[0]}
    trainer.train(DEMO_STEPS)
    out["trained"] = GANModel.from_trainer(trainer).generate(256, seed=0)[0]
    return out


@pytest.fixture(scope="module")
def demo_generator(hubble: Sets) -> dict[str, np.ndarray]:
    return train_demo_generator(hubble["train"])


def test_untrained_and_briefly_trained_demo_generators_fail(
    hubble: Sets, demo_generator: dict[str, np.ndarray]
) -> None:
    held32 = _side(hubble["heldout"], 32)
    real = health_report(_side(hubble["fresh"], 32), demo_generator["train"], held32)
    assert real.passed, _why(real)

    untrained = health_report(demo_generator["untrained"], demo_generator["train"], held32)
    assert {"diversity", "near_duplicates", "colour_mean"} <= set(untrained.failed), _why(untrained)
    assert collapse_detected(untrained)

    trained = health_report(demo_generator["trained"], demo_generator["train"], held32)
    assert not trained.passed
    # Transposed convolutions: a checkerboard peak; blobs locked in place; samples alike.
    assert {"spectral_spikes", "position_lock", "diversity"} <= set(trained.failed), _why(trained)


# -- inputs ----------------------------------------------------------------------------------------
def test_inputs_are_checked_and_normalised(hubble: Sets) -> None:
    fresh, train, held = hubble["fresh"][:16], hubble["train"], hubble["heldout"]
    as_float = health_report(fresh.astype(np.float32) / 255, train, held)
    assert as_float.to_dict() == health_report(fresh, train, held).to_dict()
    # Real images of another size are resized to the samples' size; grey (N, H, W) is accepted.
    big = np.stack([np.asarray(Image.fromarray(a).resize((128, 128))) for a in held])
    assert health_report(fresh, train, big).info["resolution"] == SIDE
    assert health_report(fresh.mean(-1).astype(np.uint8), train, held).info["n_samples"] == 16
    with pytest.raises(InvalidInput, match=r"\(x \+ 1\) / 2"):
        health_report(fresh.astype(np.float32) / 127.5 - 1, train, held)
    with pytest.raises(InvalidInput, match="at least 16 px"):
        health_report(fresh[:, :8, :8], train, held)
    with pytest.raises(InvalidInput, match=r"\(N, H, W, 3\)"):
        health_report(torch.zeros(4, 3, 32, 32), train, held)
    with pytest.raises(InvalidInput, match="at least 2"):
        health_report(fresh, train, held[:1])


# -- the contact sheet ---------------------------------------------------------------------------
def write_sheet(dest: Path) -> Path:
    """Real crops beside each bad set and a briefly trained demo-configuration DCGAN, each row
    labelled with the checks it fails (for eyes, not CI)."""
    from reelforge.media import contact_sheet

    with tempfile.TemporaryDirectory() as tmp:
        sets = hubble_sets(Path(tmp))
    rows = {"real, not trained on": (sets["fresh"], sets), "collapsed": (collapsed(sets["fresh"]), sets),
            "lattice": (lattice(), sets), "checkerboard": (checkerboard(sets["fresh"]), sets),
            "memorised": (memorised(sets["train"]), sets), "green-grey": (green_grey(sets["fresh"]), sets)}
    gen = train_demo_generator(sets["train"])
    held32 = _side(sets["heldout"], 32)
    rows[f"DCGAN, demo settings, {DEMO_STEPS} steps"] = (gen["trained"], {**sets, "train": gen["train"],
                                                                          "heldout": held32})
    cells = []
    for name, (images, ref) in rows.items():
        report = _report(images, ref)
        labels = [name] + (["passes every check"] if report.passed else [f"fails {c}" for c in report.failed])
        for i, img in enumerate(images[:8]):
            big = Image.fromarray(img).resize((128, 128), Image.Resampling.NEAREST)
            cells.append((big, labels[i] if i < len(labels) else ""))
    title = "health checks: Hubble crops, bad sets, a demo-config DCGAN"
    sheet = contact_sheet(cells, columns=8, cell=128, title=title)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(dest)
    return dest


if __name__ == "__main__":
    print(write_sheet(Path(__file__).resolve().parents[3] / "build" / "health" / "health_sets.png"))
