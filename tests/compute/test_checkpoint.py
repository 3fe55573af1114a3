from __future__ import annotations

import numpy as np
import pytest
import torch

from reelforge.compute import checkpoint
from reelforge.errors import InvalidInput


def test_round_trip_nested_state_without_pickle() -> None:
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    state = {
        "step": 7,
        "model": model.state_dict(),
        "opt": opt.state_dict(),  # int keys, nested lists, floats, tuples
        "rng": torch.get_rng_state(),
        "np": np.arange(5, dtype=np.int64),
        "name": "nebula",
        "none": None,
        "pair": (1.5, "x"),
    }
    data = checkpoint.dumps(state)
    assert b"pickle" not in data[:100]
    back = checkpoint.loads(data)
    assert back["step"] == 7 and back["name"] == "nebula" and back["none"] is None and back["pair"] == (1.5, "x")
    assert torch.equal(back["model"]["weight"], model.weight.detach())
    assert torch.equal(back["rng"], torch.get_rng_state()) or back["rng"].dtype == torch.uint8
    assert back["np"].tolist() == [0, 1, 2, 3, 4]
    opt2 = torch.optim.Adam(model.parameters())
    opt2.load_state_dict(back["opt"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_tied_weights_and_numpy_only() -> None:
    w = torch.randn(3, 3)
    back = checkpoint.loads(checkpoint.dumps({"a": w, "b": w}))  # shared storage
    assert torch.equal(back["a"], back["b"])
    back = checkpoint.loads(checkpoint.dumps({"x": np.ones(3), "n": 1}))
    assert back["x"].tolist() == [1.0, 1.0, 1.0]


def test_unsupported_values_are_refused() -> None:
    with pytest.raises(InvalidInput):
        checkpoint.dumps({"f": lambda: 1})
    with pytest.raises(InvalidInput):
        checkpoint.dumps({(1, 2): 3})
    with pytest.raises(InvalidInput):
        checkpoint.loads(__import__("safetensors.numpy", fromlist=["save"]).save({"a": np.zeros(1)}))
