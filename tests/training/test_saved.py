"""The saved-model folder: round trip, format/version checks, pickles refused, older layouts read."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from reelforge.errors import InvalidInput, NotFound
from reelforge.training import load_model_folder, save_model_folder


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(autouse=True)
def _no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    # Refusing a pickle must never mean opening it: any unpickling attempt fails the test.
    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(torch, "load", boom)
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)


def test_round_trip(tmp_path: Path) -> None:
    enc, dec = _net(1), _net(2)
    out = save_model_folder(
        tmp_path / "m", {"width": 4, "names": ["a", "b"]}, {"encoder": enc, "decoder": dec.state_dict()},
        format="reelforge.test", format_version=3, metadata={"step": 12, "loss": 0.25},
        filenames={"decoder": "head.safetensors"},
    )
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "encoder.safetensors", "head.safetensors"]
    doc = json.loads((out / "config.json").read_text())
    assert doc["format"] == "reelforge.test" and doc["format_version"] == 3
    assert doc["files"] == {"encoder": "encoder.safetensors", "decoder": "head.safetensors"}

    folder = load_model_folder(out, "reelforge.test", versions=(2, 3))
    assert folder.format_version == 3
    assert folder.config == {"width": 4, "names": ["a", "b"]}
    assert folder.metadata == {"step": 12, "loss": 0.25}
    assert folder.has("decoder") and not folder.has("other")
    assert _same(folder.load_into("encoder", _net(7)), enc)
    assert _same(folder.load_into("decoder", _net(8)), dec)
    with pytest.raises(InvalidInput, match="no 'other' weights"):
        folder.weights("other")


def test_format_and_version_are_checked(tmp_path: Path) -> None:
    save_model_folder(tmp_path / "m", {}, {"model": _net()}, format="reelforge.a", format_version=2)
    with pytest.raises(InvalidInput, match="version 2 is not supported"):
        load_model_folder(tmp_path / "m", "reelforge.a", versions=1)
    with pytest.raises(InvalidInput, match=r"'reelforge\.a' model, not a classifier"):
        load_model_folder(tmp_path / "m", "reelforge.b", versions=2, what="classifier")
    assert load_model_folder(tmp_path / "m", "reelforge.a", versions=[1, 2]).format_version == 2
    with pytest.raises(InvalidInput, match="format"):
        save_model_folder(tmp_path / "x", {}, {"model": _net()}, format="bad/name", format_version=1)
    with pytest.raises(InvalidInput, match="format_version"):
        save_model_folder(tmp_path / "x", {}, {"model": _net()}, format="ok", format_version=0)
    with pytest.raises(InvalidInput, match="JSON"):
        save_model_folder(tmp_path / "x", {"bad": object()}, {"model": _net()}, format="ok", format_version=1)


def test_missing_and_broken_folders(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"no config\.json"):
        load_model_folder(tmp_path / "nothing", "reelforge.a")
    out = save_model_folder(tmp_path / "m", {}, {"model": _net()}, format="reelforge.a", format_version=1)
    (out / "model.safetensors").unlink()
    with pytest.raises(InvalidInput, match="missing"):
        load_model_folder(out, "reelforge.a")
    (out / "config.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_model_folder(out, "reelforge.a")
    (out / "config.json").write_text(json.dumps({"format": "reelforge.a", "format_version": 1, "files": {
        "model": "../escape.safetensors"}}))
    with pytest.raises(InvalidInput, match="plain name"):
        load_model_folder(out, "reelforge.a")


def test_pickles_are_refused_without_being_opened(tmp_path: Path) -> None:
    out = save_model_folder(tmp_path / "m", {}, {"model": _net()}, format="reelforge.a", format_version=1)
    doc = json.loads((out / "config.json").read_text())
    # A config that points at a .pt file.
    (out / "model.pt").write_bytes(pickle.dumps({"weight": [1.0]}))
    doc["files"] = {"model": "model.pt"}
    (out / "config.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidInput, match="pickle"):
        load_model_folder(out, "reelforge.a")
    # A pickle wearing a .safetensors name.
    (out / "model.safetensors").write_bytes(pickle.dumps({"weight": [1.0]}))
    doc["files"] = {"model": "model.safetensors"}
    (out / "config.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidInput, match="pickle"):
        load_model_folder(out, "reelforge.a")
    # A torch.save zip archive (what .pt files are nowadays) under a .safetensors name.
    (out / "model.safetensors").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(InvalidInput, match="pickle"):
        load_model_folder(out, "reelforge.a")
    # An old-layout folder (no "files") that only holds a pickle.
    (out / "model.safetensors").unlink()
    (out / "config.json").write_text(json.dumps({"format": "reelforge.a/1"}))
    with pytest.raises(InvalidInput, match="pickles"):
        load_model_folder(out, "reelforge.a")


def test_older_layouts_are_read(tmp_path: Path) -> None:
    net = _net(3)
    sd = {k: v.contiguous() for k, v in net.state_dict().items()}
    # "name/N" format, extras at the top level, no "files": the folder's safetensors files are the weights.
    old = tmp_path / "old"
    old.mkdir()
    save_file(sd, str(old / "model.safetensors"))
    (old / "config.json").write_text(json.dumps({
        "format": "reelforge.a/1", "config": {"w": 1}, "history": [1, 2], "val_metrics": None}))
    folder = load_model_folder(old, "reelforge.a", versions=1)
    assert folder.format_version == 1 and folder.config == {"w": 1}
    assert folder.metadata == {"history": [1, 2], "val_metrics": None}
    assert folder.files == {"model": "model.safetensors"}
    assert _same(folder.load_into("model", _net(9)), net)
    # A separate "version" key.
    (old / "config.json").write_text(json.dumps({"format": "reelforge.a", "version": 1, "vocab": "abc"}))
    folder = load_model_folder(old, "reelforge.a")
    assert folder.metadata == {"vocab": "abc"} and folder.config == {}
    (old / "config.json").write_text(json.dumps({"format": "reelforge.a/7"}))
    with pytest.raises(InvalidInput, match="version 7"):
        load_model_folder(old, "reelforge.a")


def test_same_weights_give_the_same_bytes(tmp_path: Path) -> None:
    # Blobs are content-addressed and resume is checked by file hash: saving must be byte-stable.
    net = _net(4)
    for name in ("a", "b", "c"):
        save_model_folder(tmp_path / name, {"w": 1}, {"model": net, "head": net[2]}, format="reelforge.a",
                          format_version=1, metadata={"z": 1, "a": 2})
    for fname in ("config.json", "model.safetensors", "head.safetensors"):
        blobs = {(tmp_path / name / fname).read_bytes() for name in ("a", "b", "c")}
        assert len(blobs) == 1, fname
