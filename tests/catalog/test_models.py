from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from reelforge.errors import InvalidInput, NotFound
from reelforge.studio import Studio


def test_register_versions_and_export(studio: Studio, tmp_path: Path) -> None:
    w = tmp_path / "w.safetensors"
    save_file({"layer.weight": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(w))
    m1 = studio.models.register("nebula-gan", {"weights.safetensors": w, "config.json": b'{"res": 64}'},
                                kind="gan", config={"res": 64}, metrics={"swd": 12.5})
    m2 = studio.models.register("nebula-gan", {"weights.safetensors": w}, kind="gan")
    assert (m1.version, m2.version) == (1, 2)
    assert studio.models.get("nebula-gan").id == m2.id
    assert studio.models.get("nebula-gan@1").metrics == {"swd": 12.5}
    out = studio.models.export("nebula-gan@1", tmp_path / "export")
    loaded = load_file(str(out / "weights.safetensors"))
    assert loaded["layer.weight"].tolist() == np.arange(12).reshape(3, 4).tolist()
    assert (out / "config.json").read_bytes() == b'{"res": 64}'
    folder = studio.models.materialize(m1)
    assert (folder / "weights.safetensors").is_file()


def test_pickles_and_broken_files_are_refused(studio: Studio, tmp_path: Path) -> None:
    pkl = tmp_path / "model.pt"
    pkl.write_bytes(pickle.dumps({"w": [1, 2, 3]}))
    with pytest.raises(InvalidInput, match="safetensors"):
        studio.models.register("m", {"model.pt": pkl}, kind="x")
    with pytest.raises(InvalidInput, match="not a safetensors"):
        studio.models.register("m", {"w.safetensors": pickle.dumps([1])}, kind="x")
    w = tmp_path / "w.safetensors"
    save_file({"a": np.zeros(100, dtype=np.float32)}, str(w))
    with pytest.raises(InvalidInput, match="truncated"):
        studio.models.register("m", {"w.safetensors": w.read_bytes()[:-10]}, kind="x")
    assert studio.models.list() == []
    assert list(studio.blobs.iter_blobs()) == []
    with pytest.raises(NotFound):
        studio.models.get("m")
