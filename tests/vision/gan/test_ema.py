from __future__ import annotations

import torch
from torch import nn

from reelforge.vision.gan import EMA


def test_ema_averages_parameters_and_copies_buffers() -> None:
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = EMA(net, decay=0.9, warmup=False)
    w0 = net[0].weight.detach().clone()
    with torch.no_grad():
        net[0].weight.add_(1.0)
    net.train()(torch.randn(8, 3))  # moves the BN running stats
    ema.update(net)
    assert torch.allclose(ema.module[0].weight, 0.9 * w0 + 0.1 * (w0 + 1.0))
    assert torch.equal(ema.module[1].running_mean, net[1].running_mean)
    assert not ema.module.training
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_ema_warmup_ramps_decay() -> None:
    ema = EMA(nn.Linear(2, 2), decay=0.999, warmup=True)
    assert ema.current_decay() == 0.1
    ema.num_updates = 10_000
    assert ema.current_decay() == 0.999
