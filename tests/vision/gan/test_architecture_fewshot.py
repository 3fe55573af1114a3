"""The few-shot architecture's parts, each on its own: no transposed convolutions, noise injection,
latent map / skip-layer excitation, D's self-supervised decoder, lazy R1, mean fills, adaptive
augmentation, EMA half-life and standing statistics, old models still loading, and the CUDA path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from reelforge.errors import InvalidInput
from reelforge.vision.gan import EMA, GANConfig, GANModel, GANTrainer, load_gan, sample, save_gan
from reelforge.vision.gan.diffaug import AdaptiveP, DiffAugment, cutout, translation
from reelforge.vision.gan.ema import half_life_images, standing_stats
from reelforge.vision.gan.fewshot import FewShotDiscriminator, FewShotGenerator, NoiseInjection, upsample2x
from reelforge.vision.gan.models import DCGANGenerator, build_models

from .conftest import small_config


def test_fewshot_generator_has_no_transposed_convolutions_and_injects_noise() -> None:
    g, d = build_models(small_config(resolution=64, skip_excitation=True), seed=0)
    assert isinstance(g, FewShotGenerator) and isinstance(d, FewShotDiscriminator)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in g.modules())
    assert sum(isinstance(m, NoiseInjection) for m in g.modules()) == len(g.noise_shapes()) >= 4
    assert [s for s, _ in g.noise_shapes()] == [8, 8, 16, 16, 32, 32, 64, 64]  # two layers a stage
    assert len(g.sle) == 2  # 32 px gated by 4 px, 64 px by 8 px
    # noise changes the image only where the learned scales let it: zero at init, then per-channel
    z = torch.randn(2, 16)
    g.eval()
    a, b = g(z, noise=g.make_noise(2)), g(z, noise=g.make_noise(2))
    assert torch.equal(a, b)  # scales start at zero: G starts deterministic
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, NoiseInjection):
                m.scale.fill_(0.05)
    assert not torch.equal(g(z, noise=g.make_noise(2)), g(z, noise=g.make_noise(2)))


def test_latent_map_generator_has_no_position_specific_weights() -> None:
    g, _ = build_models(small_config(latent_map=True, z_dim=32), seed=0)
    assert g.fc is None and g.input_conv is not None
    assert not any(isinstance(m, nn.Linear) for m in g.modules())  # unconditional: convolutions only
    with pytest.raises(InvalidInput, match="divisible by 16"):
        small_config(latent_map=True, z_dim=24)


def test_upsampling_is_bilinear() -> None:
    x = torch.randn(2, 3, 5, 7)
    assert torch.equal(upsample2x(x), F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))


def test_discriminator_reconstructs_reals_from_its_8x8_features(digits: tuple) -> None:
    cfg = small_config(recon_weight=1.0, diffaug="none", r1_gamma=0.0)
    tr = GANTrainer(cfg, digits[0][:64], seed=0)
    logits, feat8 = tr.D.forward_features(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2,) and feat8 is not None and feat8.shape[-2:] == (8, 8)
    assert tr.D.reconstruct(feat8).shape == (2, 3, 16, 16)
    first = [tr.train_step()["recon"] for _ in range(5)]
    for _ in range(40):
        tr.train_step()
    last = [tr.train_step()["recon"] for _ in range(5)]
    # D learns to describe what it sees: 45 steps cut the error by 20-30% (an untrained decoder's
    # error does not move: see the first five)
    assert np.mean(last) < 0.9 * np.mean(first), (first, last)
    with pytest.raises(InvalidInput, match="no reconstruction"):
        build_models(small_config(recon_weight=0.0), seed=0)[1].reconstruct(feat8)


def test_lazy_r1_every_16_steps(digits: tuple) -> None:
    tr = GANTrainer(small_config(r1_every=16, r1_gamma=0.01), digits[0][:64], seed=0)
    seen: list[int] = []
    tr.train(34, on_metric=lambda name, value, step: seen.append(step) if name == "r1" else None)
    assert seen == [1, 17, 33]


def test_fills_use_the_image_mean() -> None:
    x = torch.rand(64, 3, 16, 16) * 0.1 - 0.9  # near-black images, like a star field
    mean = x.mean(dim=(2, 3), keepdim=True)
    moved = translation(x, torch.Generator().manual_seed(0), fill="mean")
    grey = translation(x, torch.Generator().manual_seed(0), fill="zero")
    uncovered = grey == 0  # the zero fill marks the pixels the shift uncovered
    assert uncovered.any()
    assert torch.allclose(moved[uncovered], mean.expand_as(x)[uncovered], atol=1e-6)
    cut = cutout(x, torch.Generator().manual_seed(1), fill="mean")
    changed = cut != x
    assert torch.allclose(cut[changed], mean.expand_as(x)[changed], atol=1e-6)
    assert float(cut.max()) < -0.7  # no mid-grey patch on black data
    with pytest.raises(InvalidInput, match="fill"):
        DiffAugment("cutout", fill="grey")


def test_augmentation_probability_applies_per_image() -> None:
    x = torch.randn(400, 3, 8, 8)
    aug = DiffAugment("translation,cutout", fill="mean")
    none = aug(x, torch.Generator().manual_seed(0), p=0.0)
    some = aug(x, torch.Generator().manual_seed(0), p=0.3)
    assert torch.equal(none, x)
    touched = (some != x).flatten(1).any(1).float().mean()
    assert 0.3 < float(touched) < 0.65  # 1 - 0.7**2 = 0.51 of images get at least one of two ops


def test_adaptive_probability_follows_the_sign_of_d_on_reals() -> None:
    ada = AdaptiveP(target=0.6, speed_kimg=0.1, interval=4)
    for _ in range(40):
        ada.observe(torch.ones(16))  # D sure of every real: overfitting -> more augmentation
    assert ada.p == pytest.approx(1.0)
    for _ in range(8):
        ada.observe(-torch.ones(16))
    assert ada.p < 1.0 and ada.last_rt == -1.0
    state = ada.state_dict()
    other = AdaptiveP(0.6, 0.1)
    other.load_state_dict(state)
    assert other.state_dict() == state
    with pytest.raises(InvalidInput):
        AdaptiveP(target=1.5, speed_kimg=1)


def test_ema_half_life_grows_with_the_run() -> None:
    assert half_life_images(10_000, 0.05) == 500 and half_life_images(10_000, 0.05, kimg=0.2) == 200
    ema = EMA(nn.Linear(2, 2), rampup=0.05, batch_size=16)
    assert ema.current_decay() == 0.0  # first update copies G
    decays = []
    for n in (10, 100, 1000):
        ema.num_updates = n
        decays.append(ema.current_decay())
        # after n steps the half-life is 5% of the n * 16 images seen
        assert decays[-1] == pytest.approx(0.5 ** (16 / (0.05 * n * 16)))
    assert decays == sorted(decays)


def test_standing_statistics_belong_to_the_ema_weights() -> None:
    cfg = small_config(ema_bn="standing", g_norm="batch")
    g, _ = build_models(cfg, 0)
    ema = EMA(g, rampup=0.05, batch_size=8, bn="standing")
    with torch.no_grad():
        for p in g.parameters():
            p.add_(0.3 * torch.randn_like(p))
    g.train()(torch.randn(8, 16))  # G's own running stats move
    ema.update(g)
    bn = next(m for m in ema.module.modules() if isinstance(m, nn.BatchNorm2d))
    assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))  # not copied from G
    gen = torch.Generator().manual_seed(0)
    zs = [torch.randn(64, 16, generator=gen) for _ in range(3)]
    assert ema.refresh_stats(lambda: ((z,) for z in zs))
    # the statistics are exactly those of the EMA weights on these latents (a plain average over batches)
    ref = EMA(ema.module, bn="standing").module
    standing_stats(ref, ((z,) for z in zs))
    assert torch.allclose(bn.running_mean, next(
        m for m in ref.modules() if isinstance(m, nn.BatchNorm2d)).running_mean)
    assert not torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert not EMA(g, bn="copy").refresh_stats(lambda: iter(()))  # copy mode: nothing to do


def test_trainer_refreshes_standing_stats_before_sampling_and_saving(digits: tuple) -> None:
    tr = GANTrainer(small_config(arch="dcgan", noise_injection=False, recon_weight=0.0, ema_bn="standing"),
                    digits[0][:64], seed=0)
    tr.train(6)
    bn = next(m for m in tr.ema.module.modules() if isinstance(m, nn.BatchNorm2d))
    bn.running_mean.fill_(123.0)  # stale
    model = tr.to_model()
    saved_bn = next(m for m in model.generator.modules() if isinstance(m, nn.BatchNorm2d))
    assert float(saved_bn.running_mean.abs().max()) < 50  # recomputed, not the stale value
    state = tr.state_dict()
    assert torch.equal(state["G_ema"][next(k for k in state["G_ema"] if k.endswith("running_mean"))],
                       next(v for k, v in tr.ema.state_dict().items() if k.endswith("running_mean")))


def test_old_dcgan_models_still_load_and_sample(tmp_path: Path) -> None:
    """A model folder written before GANConfig had `arch` (ConvTranspose generator) loads as a DCGAN."""
    old = {"resolution": 32, "z_dim": 8, "base_channels": 4, "channels": 3, "num_classes": 0, "text_dim": 0,
           "cond_dim": 8, "mbstd_group": 4, "loss": "hinge", "r1_gamma": 0.0, "r1_every": 4,
           "mode_seeking": 0.1, "ema_decay": 0.999, "ema_warmup": True, "diffaug": "color,translation,cutout",
           "lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.0, 0.99], "batch_size": 64}
    cfg = GANConfig.from_dict(old)
    assert cfg.arch == "dcgan" and cfg.ema_bn == "copy" and cfg.diffaug_fill == "zero" and cfg.ada_target == 0
    g, _ = build_models(cfg, 3)
    assert isinstance(g, DCGANGenerator) and any(isinstance(m, nn.ConvTranspose2d) for m in g.modules())
    save_gan(tmp_path / "m", GANModel(cfg, g))
    doc = json.loads((tmp_path / "m" / "config.json").read_text())
    doc["config"] = old  # exactly the old file: no new fields
    (tmp_path / "m" / "config.json").write_text(json.dumps(doc))
    loaded = load_gan(tmp_path / "m")
    a, _ = loaded.generate(4, seed=1)
    b, _ = sample(g, 4, seed=1)
    assert np.array_equal(a, b)


def test_new_models_record_their_architecture(tmp_path: Path, digits: tuple) -> None:
    tr = GANTrainer(small_config(latent_map=True), digits[0][:32], seed=0)
    tr.train(2)
    save_gan(tmp_path / "m", tr.to_model())
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())["config"]
    assert cfg["arch"] == "fewshot" and cfg["latent_map"] is True and cfg["g_norm"] == "pixel"
    a, _ = load_gan(tmp_path / "m").generate(3, seed=4)
    b, _ = tr.to_model().generate(3, seed=4)
    assert np.array_equal(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_reproduces_at_equal_seeds(digits: tuple) -> None:
    def run() -> dict[str, torch.Tensor]:
        tr = GANTrainer(small_config(latent_map=True), digits[0][:64], seed=5, device="cuda")
        assert tr.cuda and tr.channels_last
        tr.train(6)
        return {k: v.detach().cpu() for k, v in tr.G.state_dict().items()}

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_conditional_fewshot_weights_save_once_each(tmp_path: Path, digits: tuple) -> None:
    """Every weight under one name: safetensors refuses tensors that share memory under two names."""
    from safetensors.torch import save_file

    tr = GANTrainer(small_config(num_classes=10), digits[0][:32], labels=digits[1][:32], seed=0)
    tr.train(2)
    state = tr.G.state_dict()
    assert len({t.data_ptr() for t in state.values()}) == len(state)
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "g.safetensors"))
    save_gan(tmp_path / "m", tr.to_model())
    a, _ = load_gan(tmp_path / "m").generate(4, seed=1)
    b, _ = tr.to_model().generate(4, seed=1)
    assert np.array_equal(a, b)
