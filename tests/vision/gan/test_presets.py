"""Presets: picked from the data, resolution and device; explicit values win; 128 px stays affordable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from reelforge.errors import InvalidInput
from reelforge.vision.gan import GANConfig
from reelforge.vision.gan.models import build_models
from reelforge.vision.gan.presets import PRESETS, choose_preset, r1_gamma_heuristic, stationarity

from .conftest import faces, hubble_crops


def test_stationarity_tells_star_fields_from_faces_and_digits(digits: tuple) -> None:
    stars = stationarity(hubble_crops(96, seed=0))
    face = stationarity(faces())
    digit = stationarity(digits[0][:300])
    assert stars < 0.2 < 0.4 < face < digit, (stars, face, digit)
    # noise: random images have a flat mean image too (a small set's mean is rough, hence the floor)
    rng = np.random.default_rng(0)
    assert stationarity(rng.integers(0, 256, (200, 16, 16, 3), dtype=np.uint8)) < 0.3


def test_auto_picks_the_architecture_from_the_data() -> None:
    stars = choose_preset("auto", n_images=96, resolution=64, stationarity_score=0.1)
    face = choose_preset("auto", n_images=96, resolution=64, stationarity_score=0.6)
    assert stars.name == "stationary" and stars.config["latent_map"] and not stars.config["skip_excitation"]
    assert face.name == "object" and face.config["skip_excitation"] and not face.config["latent_map"]
    for p in (stars, face):
        assert p.config["arch"] == "fewshot" and p.config["diffaug_fill"] == "mean"
        assert p.config["ada_target"] == 0.6 and p.config["ema_bn"] == "standing" and p.config["ema_rampup"] > 0
        assert p.config["r1_every"] == 16
        assert p.config["r1_gamma"] == pytest.approx(r1_gamma_heuristic(64, p.config["batch_size"]))
        GANConfig(**p.config)  # a valid config as it stands
    # a tiny set's mean image is rough by chance: not mistaken for an object
    assert choose_preset("auto", n_images=20, resolution=32, stationarity_score=0.5).name == "stationary"
    assert "stationary data" in stars.summary() and "4x4 latent map" in stars.summary()
    assert "skip-layer excitation" in face.summary()


def test_sizing_follows_data_resolution_and_device() -> None:
    small = choose_preset("stationary", n_images=96, resolution=64)
    large = choose_preset("stationary", n_images=5000, resolution=64)
    gpu = choose_preset("stationary", n_images=96, resolution=64, device="cuda")
    assert large.steps is not None and small.steps is not None and large.steps > small.steps
    assert gpu.config["base_channels"] > small.config["base_channels"]
    assert gpu.config["batch_size"] > small.config["batch_size"] and gpu.steps > small.steps  # type: ignore[operator]
    assert choose_preset("object", n_images=5, resolution=32).config["batch_size"] <= 8  # batch <= the set, roughly
    hi = choose_preset("object", n_images=96, resolution=128)
    assert hi.config["base_channels"] < small.config["base_channels"]  # narrow high-resolution stages


def _step_flops(config: GANConfig) -> int:
    g, d = build_models(config, 0)
    z = torch.randn(config.batch_size, config.z_dim)
    counter = FlopCounterMode(display=False)
    with counter:
        fake = g(z)
        d(torch.cat([fake.detach(), fake.detach()])).sum().backward()
        d(fake).sum().backward()
    return int(counter.get_total_flops())


def test_128px_costs_the_same_order_as_64px() -> None:
    f64 = _step_flops(GANConfig(**choose_preset("stationary", n_images=96, resolution=64).config))
    f128 = _step_flops(GANConfig(**choose_preset("stationary", n_images=96, resolution=128).config))
    assert f128 < 2.0 * f64, (f128 / f64)


def test_explicit_values_override_the_preset() -> None:
    p = choose_preset("auto", n_images=96, resolution=32, stationarity_score=0.1)
    fields, steps = p.apply({"batch_size": 8, "steps": 7, "lr_g": None})
    assert fields["batch_size"] == 8 and steps == 7 and fields["latent_map"]
    assert sorted(p.overridden) == ["batch_size", "steps"]
    assert "overridden by the given parameters: batch_size, steps" in p.summary()
    assert p.to_dict()["name"] == "stationary"


def test_dcgan_preset_is_the_old_configuration_and_none_is_empty() -> None:
    old = choose_preset("dcgan", n_images=96, resolution=64)
    cfg = GANConfig(**old.config)
    assert cfg.arch == "dcgan" and cfg.ema_bn == "copy" and cfg.diffaug_fill == "zero" and cfg.ada_target == 0
    assert cfg.ema_rampup == 0 and not cfg.noise_injection
    g, _ = build_models(cfg, 0)
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules())
    none = choose_preset("none", n_images=96, resolution=64)
    assert none.name == "none" and none.config == {} and none.steps is None
    assert set(PRESETS) >= {"auto", "none", "stationary", "object", "dcgan"}
    with pytest.raises(InvalidInput, match="preset"):
        choose_preset("fancy", n_images=96, resolution=64)
    with pytest.raises(InvalidInput, match="resolution"):
        choose_preset("auto", n_images=96, resolution=48)
