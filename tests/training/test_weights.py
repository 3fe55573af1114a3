"""Strict weight loading: every mismatch named in one line; safetensors in, pickles refused."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from reelforge.errors import InvalidInput, NotFound
from reelforge.training import cpu_state_dict, load_weights, read_safetensors, write_safetensors


class Net(nn.Module):
    def __init__(self, width: int = 4, extra: bool = False) -> None:
        super().__init__()
        self.a = nn.Linear(3, width)
        self.b = nn.Linear(width, 2)
        self.c = nn.Linear(2, 2) if extra else None


def test_strict_loading_reports_everything_in_one_line() -> None:
    src = Net(width=4, extra=True).state_dict()
    target = Net(width=5)
    before = cpu_state_dict(target)
    with pytest.raises(InvalidInput) as err:
        load_weights(target, {k: v for k, v in src.items() if k != "b.bias"}, where="model.safetensors")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("model.safetensors: weights do not match the model")
    assert "missing [b.bias]" in msg and "unexpected [c.bias, c.weight]" in msg
    assert "a.weight has shape (4, 3), expected (5, 3)" in msg and "b.weight has shape (2, 4)" in msg
    # nothing was loaded
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_non_strict_loads_what_matches() -> None:
    src = Net(width=4, extra=True)
    target = Net(width=4)
    sd = src.state_dict()
    sd["b.weight"] = torch.zeros(7, 7)
    report = load_weights(target, sd, strict=False)
    assert report.unexpected == ["c.bias", "c.weight"] and report.missing == []
    assert [m[0] for m in report.mismatched] == ["b.weight"] and not report.ok
    assert torch.equal(target.a.weight, src.a.weight) and not torch.equal(target.b.weight, src.b.weight)
    assert load_weights(Net(), Net().state_dict()).ok


def test_from_a_safetensors_path(tmp_path: Path) -> None:
    src = Net()
    path = write_safetensors(tmp_path / "w.safetensors", src.state_dict(), {"note": "x"})
    target = Net()
    load_weights(target, path)
    pairs = zip(src.state_dict().values(), target.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert set(read_safetensors(path)) == set(src.state_dict())
    with pytest.raises(NotFound):
        load_weights(target, tmp_path / "absent.safetensors")
    (tmp_path / "w.pt").write_bytes(pickle.dumps({"a.weight": 1}))
    with pytest.raises(InvalidInput, match="pickled weights are refused"):
        load_weights(target, tmp_path / "w.pt")
    (tmp_path / "bad.safetensors").write_bytes(pickle.dumps({"a.weight": 1}))
    with pytest.raises(InvalidInput, match="is a pickle"):
        read_safetensors(tmp_path / "bad.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(InvalidInput, match="not a readable safetensors file"):
        read_safetensors(tmp_path / "junk.safetensors")
    with pytest.raises(InvalidInput, match="only tensors"):
        write_safetensors(tmp_path / "x.safetensors", {"a": 1})  # type: ignore[dict-item]


def test_cpu_state_dict_is_a_detached_copy() -> None:
    net = Net()
    snap = cpu_state_dict(net)
    with torch.no_grad():
        net.a.weight.add_(1.0)
    assert not torch.equal(snap["a.weight"], net.a.weight)
    assert all(not t.requires_grad and t.device.type == "cpu" for t in snap.values())
