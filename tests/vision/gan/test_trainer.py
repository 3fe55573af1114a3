from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from reelforge.errors import Cancelled, InvalidInput
from reelforge.vision.gan import AugmentConfig, GANTrainer

from .conftest import small_config

# mode_seeking: conditional G; recon: the few-shot D's self-supervision; ada_p: adaptive augmentation
METRICS = {"loss_d", "loss_g", "d_real", "d_fake", "r1", "mode_seeking", "recon", "ada_p"}


def _flat(state: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in state.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def assert_states_equal(a: dict[str, Any], b: dict[str, Any]) -> None:
    fa, fb = _flat(a), _flat(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        if isinstance(fa[k], torch.Tensor):
            assert fa[k].dtype == fb[k].dtype and torch.equal(fa[k], fb[k]), k
        else:
            assert fa[k] == fb[k], k


def _trainer(digits: tuple, seed: int = 0, **cfg: Any) -> GANTrainer:
    images, labels = digits
    config = small_config(num_classes=10, diffaug="color,translation,cutout", **cfg)
    return GANTrainer(
        config,
        images[:200],
        labels=labels[:200],
        seed=seed,
        augment=AugmentConfig(random_crop=True, hflip=True, crop_size=28),
    )


def test_training_runs_and_reports(digits: tuple) -> None:
    tr = _trainer(digits)
    seen: dict[str, list[tuple[float, int]]] = {}
    progress: list[tuple[int, int, str]] = []
    grids: list[tuple[int, Image.Image]] = []
    ckpts: list[int] = []
    result = tr.train(
        30,
        progress=lambda done, total, msg: progress.append((done, total, msg)),
        on_metric=lambda name, value, step: seen.setdefault(name, []).append((value, step)),
        on_sample=lambda step, img: grids.append((step, img)),
        sample_every=15,
        sample_count=20,
        checkpoint=lambda state: ckpts.append(state["step"]),
        checkpoint_every=25,
    )
    assert result.step == 30 and result.steps_run == 30 and not result.stopped
    assert set(seen) == METRICS
    assert [s for _, s in seen["loss_d"]] == list(range(1, 31))
    assert [s for _, s in seen["r1"]] == [1, 5, 9, 13, 17, 21, 25, 29]  # lazy R1 every 4 D steps
    assert all(math.isfinite(v) for vals in seen.values() for v, _ in vals)
    assert progress[-1][:2] == (30, 30) and "loss_d" in progress[-1][2]
    assert [s for s, _ in grids] == [15, 30]
    assert grids[0][1].mode == "RGB" and grids[0][1].size == (10 * 34 + 2, 2 * 34 + 2)  # 10 classes per row
    assert ckpts == [25, 30]
    # the hinge D loss moved away from its chance value of 2 as D learned
    assert seen["loss_d"][-1][0] < 2.0
    # train() continues to a global step count
    assert tr.train(32).steps_run == 2


def test_same_seed_same_weights_different_seed_different(digits: tuple) -> None:
    a, b, c = _trainer(digits, seed=7), _trainer(digits, seed=7), _trainer(digits, seed=8)
    for t in (a, b, c):
        t.train(12)
    assert_states_equal(a.state_dict(), b.state_dict())
    assert not torch.equal(a.G.fc.weight, c.G.fc.weight)


def test_resume_is_bitwise_equal(digits: tuple) -> None:
    full = _trainer(digits, seed=3)
    full.train(20)

    saved: list[dict[str, Any]] = []
    first = _trainer(digits, seed=3)
    first.train(10, checkpoint=saved.append, checkpoint_every=10)
    first.train(13)  # keeps training after the snapshot: the snapshot must not alias live tensors
    assert saved[0]["step"] == 10

    resumed = _trainer(digits, seed=99)  # seed and weights come from the checkpoint
    resumed.load_state_dict(saved[0])
    assert resumed.step == 10
    resumed.train(20)
    assert_states_equal(full.state_dict(), resumed.state_dict())


def test_state_dict_holds_only_plain_values(digits: tuple) -> None:
    tr = _trainer(digits)
    tr.train(2)
    flat = _flat(tr.state_dict())
    assert all(isinstance(v, torch.Tensor | int | float | str) for v in flat.values())
    assert {k for k in flat if k.startswith("rng/")} == {"rng/z", "rng/aug", "rng/data"}
    assert all(flat[k].dtype == torch.uint8 for k in flat if k.startswith("rng/"))


def test_should_stop_returns_early_or_raises(digits: tuple) -> None:
    tr = _trainer(digits)
    calls = iter(range(100))
    ckpts: list[int] = []
    result = tr.train(50, should_stop=lambda: next(calls) >= 4, checkpoint=lambda s: ckpts.append(s["step"]))
    assert result.stopped and result.step == 4
    assert ckpts == [4]  # final state handed over so the job can resume
    with pytest.raises(Cancelled):
        tr.train(50, should_stop=lambda: True, raise_on_stop=True)


def _find_window(plate: np.ndarray, crop: torch.Tensor) -> bool:
    """Is `crop` ((3, h, w) in [-1, 1]) an exact window of `plate`, possibly mirrored?"""
    if plate.ndim == 2:
        plate = np.repeat(plate[:, :, None], 3, axis=2)
    c = ((crop.permute(1, 2, 0) + 1.0) * 127.5).round().to(torch.uint8).numpy()
    h, w, _ = c.shape
    patches = np.lib.stride_tricks.sliding_window_view(plate, (4, 4, 3))[:, :, 0]
    for cand in (c, c[:, ::-1]):
        hits = np.argwhere((patches == cand[:4, :4]).all(axis=(2, 3, 4)))
        if any(np.array_equal(plate[y : y + h, x : x + w], cand) for y, x in hits):
            return True
    return False


def test_random_crops_from_large_plates(plates: list[np.ndarray]) -> None:
    cfg = small_config(resolution=64, diffaug="translation")
    tr = GANTrainer(cfg, plates, seed=0, augment=AugmentConfig(random_crop=True, hflip=True))
    real, idx = tr.data.batch(6, torch.Generator().manual_seed(0))
    assert real.shape == (6, 3, 64, 64)
    assert float(real.min()) >= -1.0 and float(real.max()) <= 1.0
    assert set(idx.tolist()) <= {0, 1, 2}
    # native-scale crops: each is a 64x64 window of its plate, as is or mirrored
    crops, which = tr.data.batch(4, torch.Generator().manual_seed(1))
    for crop, i in zip(crops, which.tolist(), strict=True):
        assert _find_window(plates[i], crop), f"crop from plate {i} not found in it"
    result = tr.train(3)
    assert result.step == 3


def test_text_conditioned_training(digits: tuple) -> None:
    images, labels = digits
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((10, 24)).astype(np.float32)[labels[:64]]  # one "sentence" per digit
    tr = GANTrainer(small_config(text_dim=24), images[:64], text_embeddings=emb, seed=0)
    metrics: list[str] = []
    tr.train(5, on_metric=lambda n, v, s: metrics.append(n))
    assert "loss_g" in metrics
    assert tr.sample_grid(4).size == (2 * 34 + 2, 2 * 34 + 2)


def test_unconditional_grey_and_rgba_inputs(digits: tuple) -> None:
    grey = digits[0][:32, :, :, 0]  # (N, H, W)
    rgba = np.concatenate([digits[0][:32], np.full((32, 32, 32, 1), 255, np.uint8)], axis=3)
    for data in (grey, rgba, [Image.fromarray(g) for g in grey]):
        tr = GANTrainer(small_config(diffaug="none", r1_gamma=0.0), data, seed=0)
        assert tr.train(2).step == 2


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (np.zeros((0, 32, 32, 3), np.uint8), "empty"),
        ([], "empty"),
        (None, "no training images"),
        (np.zeros((4, 6, 32, 3), np.uint8), "at least 8 px"),
        ([np.zeros((64, 64, 3), np.uint8), np.zeros((7, 90, 3), np.uint8)], "image 1 is 90x7"),
        (np.zeros((4, 32, 32, 2), np.uint8), "channels"),
        ([np.zeros((32, 32, 5), np.uint8)], "channels"),
        (np.zeros((4, 32, 32, 3), np.float32), "uint8"),
        (np.zeros((32, 32, 3), np.uint8)[None, None], "shape"),
        (["not an image"], "expected a numpy array"),
    ],
)
def test_bad_images(images: Any, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        GANTrainer(small_config(), images)


def test_bad_labels_text_device_and_crop(digits: tuple) -> None:
    images, labels = digits
    x, y = images[:16], labels[:16]
    with pytest.raises(InvalidInput, match="labels are required"):
        GANTrainer(small_config(num_classes=10), x)
    with pytest.raises(InvalidInput, match=r"in \[0, 3\)"):
        GANTrainer(small_config(num_classes=3), x, labels=y)
    with pytest.raises(InvalidInput, match="16 integers"):
        GANTrainer(small_config(num_classes=10), x, labels=y[:5])
    with pytest.raises(InvalidInput, match="not class-conditional"):
        GANTrainer(small_config(), x, labels=y)
    with pytest.raises(InvalidInput, match="text_embeddings are required"):
        GANTrainer(small_config(text_dim=8), x)
    with pytest.raises(InvalidInput, match="shape"):
        GANTrainer(small_config(text_dim=8), x, text_embeddings=np.zeros((16, 9)))
    with pytest.raises(InvalidInput, match="NaN"):
        GANTrainer(small_config(text_dim=2), x, text_embeddings=np.full((16, 2), np.nan))
    with pytest.raises(InvalidInput, match="crop_size"):
        GANTrainer(small_config(), x, augment=AugmentConfig(crop_size=64))
    with pytest.raises(InvalidInput, match="device"):
        GANTrainer(small_config(), x, device="tpu")
    with pytest.raises(InvalidInput, match="seed"):
        GANTrainer(small_config(), x, seed=-1)


def test_checkpoint_for_another_resolution_is_rejected(digits: tuple, plates: list[np.ndarray]) -> None:
    tr32 = _trainer(digits)
    tr64 = GANTrainer(small_config(resolution=64, num_classes=10), plates, labels=[0, 1, 2])
    with pytest.raises(InvalidInput, match="64 px but this trainer was built for 32 px"):
        tr32.load_state_dict(tr64.state_dict())
    wider = GANTrainer(small_config(num_classes=10, base_channels=8), digits[0][:16], labels=digits[1][:16])
    with pytest.raises(InvalidInput, match="base_channels"):
        tr32.load_state_dict(wider.state_dict())
    with pytest.raises(InvalidInput, match="format"):
        tr32.load_state_dict({"step": 3})
