from __future__ import annotations

import math

import pytest
import torch

from reelforge.errors import InvalidInput
from reelforge.vision.gan.losses import (
    d_loss,
    g_loss,
    mode_seeking_loss,
    r1_penalty,
    r1_weight,
    should_apply_r1,
)


def test_hinge() -> None:
    confident = d_loss(torch.tensor([2.0, 1.5]), torch.tensor([-3.0, -1.0]), "hinge")
    assert float(confident) == 0.0
    assert float(d_loss(torch.zeros(4), torch.zeros(4), "hinge")) == 2.0
    assert float(g_loss(torch.tensor([1.0, 3.0]), "hinge")) == -2.0


def test_non_saturating() -> None:
    assert math.isclose(float(d_loss(torch.zeros(3), torch.zeros(3), "ns")), 2 * math.log(2), rel_tol=1e-6)
    good = d_loss(torch.full((3,), 10.0), torch.full((3,), -10.0), "ns")
    assert 0 < float(good) < 1e-3
    # G's loss falls as D is fooled, and keeps a useful gradient when D is confident (non-saturating)
    fake = torch.tensor([-10.0], requires_grad=True)
    g_loss(fake, "ns").backward()
    assert fake.grad is not None and float(fake.grad) < -0.99
    assert float(g_loss(torch.tensor([5.0]), "ns")) < float(g_loss(torch.tensor([-5.0]), "ns"))


def test_unknown_loss() -> None:
    with pytest.raises(InvalidInput):
        d_loss(torch.zeros(1), torch.zeros(1), "lsgan")
    with pytest.raises(InvalidInput):
        g_loss(torch.zeros(1), "lsgan")


def test_r1_of_a_linear_critic_is_its_squared_weight_norm() -> None:
    w = torch.randn(3 * 4 * 4, requires_grad=True)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = x.flatten(1) @ w
    r1 = r1_penalty(logits, x)
    assert torch.allclose(r1, w.pow(2).sum())
    r1.backward()  # the penalty is differentiable w.r.t. D's weights: d||w||^2/dw = 2w
    assert w.grad is not None and torch.allclose(w.grad, 2 * w.detach())
    with pytest.raises(InvalidInput):
        r1_penalty(logits, x.detach())


def test_lazy_r1_schedule() -> None:
    assert [should_apply_r1(s, 1.0, 4) for s in range(6)] == [True, False, False, False, True, False]
    assert not should_apply_r1(0, 0.0, 1)
    assert r1_weight(10.0, 4) == 20.0


def test_mode_seeking_rewards_distinct_images_for_distinct_latents() -> None:
    za, zb = torch.zeros(4, 8), torch.ones(4, 8)
    same = torch.zeros(4, 3, 8, 8)
    collapsed = mode_seeking_loss(same, same.clone(), za, zb)
    varied = mode_seeking_loss(same, same + 0.5, za, zb)
    assert float(varied) < float(collapsed)
    assert torch.isclose(varied, torch.tensor(1.0 / (0.5 + 1e-5)))
