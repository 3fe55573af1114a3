from __future__ import annotations

import pytest
import torch

from reelforge.errors import InvalidInput
from reelforge.vision.gan import Discriminator, GANConfig, Generator
from reelforge.vision.gan.models import build_models, minibatch_stddev

from .conftest import small_config

KINDS = {"unconditional": {}, "class": {"num_classes": 5}, "text": {"text_dim": 384}}


@pytest.mark.parametrize("resolution", [32, 64, 128])
@pytest.mark.parametrize("kind", list(KINDS))
def test_shapes(resolution: int, kind: str) -> None:
    cfg = small_config(resolution=resolution, **KINDS[kind])
    g, d = build_models(cfg, seed=0)
    z = torch.randn(3, cfg.z_dim)
    y = torch.tensor([0, 4, 2]) if cfg.num_classes else None
    t = torch.randn(3, 384) if cfg.text_dim else None
    x = g(z, y, t)
    assert x.shape == (3, 3, resolution, resolution)
    assert float(x.detach().min()) >= -1.0 and float(x.detach().max()) <= 1.0
    logits = d(x, y, t)
    assert logits.shape == (3,)
    assert torch.isfinite(logits).all()


def test_conditioning_changes_output() -> None:
    g, _ = build_models(small_config(num_classes=3), seed=0)
    with torch.no_grad():  # give the class embedding a say (CBN starts as plain BN by design)
        for norm in g.norms:
            norm.bias.weight.normal_()
    g.eval()
    z = torch.randn(1, 16).expand(2, -1)
    out = g(z, torch.tensor([0, 1]))
    assert not torch.equal(out[0], out[1])


def test_discriminator_uses_spectral_norm() -> None:
    d = Discriminator(small_config(num_classes=3))
    parametrized = [n for n, _ in d.named_modules() if n.endswith("parametrizations.weight")]
    assert len(parametrized) >= 5  # from_rgb, downs, head, out, embed


def test_build_models_is_seeded_and_leaves_global_rng_alone() -> None:
    state = torch.get_rng_state()
    g1, d1 = build_models(small_config(), seed=3)
    g2, d2 = build_models(small_config(), seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    for a, b in zip(
        list(g1.state_dict().values()) + list(d1.state_dict().values()),
        list(g2.state_dict().values()) + list(d2.state_dict().values()),
        strict=True,
    ):
        assert torch.equal(a, b)


@pytest.mark.parametrize("resolution", [16, 48, 256, 0])
def test_unsupported_resolution(resolution: int) -> None:
    with pytest.raises(InvalidInput, match="resolution"):
        GANConfig(resolution=resolution)


@pytest.mark.parametrize(
    "overrides",
    [
        {"loss": "wasserstein"},
        {"channels": 2},
        {"diffaug": "color,zoom"},
        {"ema_decay": 1.0},
        {"num_classes": 3, "text_dim": 8},
        {"batch_size": 0},
    ],
)
def test_bad_config(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        small_config(**overrides)


def test_config_round_trip() -> None:
    cfg = small_config(num_classes=7, betas=(0.5, 0.9), diffaug="color,cutout")
    d = cfg.to_dict()
    assert d["betas"] == [0.5, 0.9]
    assert GANConfig.from_dict(d) == cfg
    with pytest.raises(InvalidInput, match="unknown"):
        GANConfig.from_dict({**d, "learning_rate": 1})


def test_missing_conditioning_is_a_clear_error() -> None:
    g = Generator(small_config(num_classes=3))
    with pytest.raises(InvalidInput, match="class ids"):
        g(torch.randn(2, 16))
    d = Discriminator(small_config(text_dim=10))
    with pytest.raises(InvalidInput, match="text"):
        d(torch.zeros(2, 3, 32, 32))


def test_minibatch_stddev_sees_collapse_within_groups_only() -> None:
    varied = torch.randn(8, 5, 4, 4)
    collapsed = torch.randn(1, 5, 4, 4).expand(8, -1, -1, -1)
    both = torch.cat([varied, collapsed])  # [reals, fakes]: groups of 4 never straddle the halves
    out = minibatch_stddev(both, 4)
    assert out.shape == (16, 6, 4, 4)
    assert torch.equal(out[:, :5], both)
    spread = out[:, 5, 0, 0]
    assert (spread[:8] > 0.3).all() and (spread[8:] < 1e-3).all()
    assert torch.equal(minibatch_stddev(varied[:1], 4)[:, 5], torch.zeros(1, 4, 4))  # no group: zero
    assert minibatch_stddev(varied[:6], 4).shape == (6, 6, 4, 4)  # falls back to groups of 3


def test_discriminator_groups_never_mix_reals_and_fakes() -> None:
    d = Discriminator(small_config(batch_size=6, mbstd_group=4)).eval()  # groups of gcd(4, 6) = 2
    reals, fakes = torch.randn(6, 3, 32, 32), torch.randn(6, 3, 32, 32)
    with torch.no_grad():
        together = d(torch.cat([reals, fakes]))
        apart = torch.cat([d(reals), d(fakes)])
    assert torch.allclose(together, apart, atol=1e-5)
