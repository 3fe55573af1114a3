from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from reelforge.errors import InvalidInput
from reelforge.media import dhash, near_duplicate_groups


def _reference_groups(hashes: dict[str, int], threshold: int) -> list[list[str]]:
    """The task's former O(n²) pure-Python single linkage, kept as the oracle."""
    ids = sorted(hashes)
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a_i, a in enumerate(ids):
        for b in ids[a_i + 1 :]:
            if (hashes[a] ^ hashes[b]).bit_count() <= threshold:
                parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(find(i), []).append(i)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))


def test_grouping_matches_the_pairwise_reference():
    rng = random.Random(7)
    base = [rng.getrandbits(64) for _ in range(40)]
    hashes: dict[str, int] = {}
    for i in range(300):
        h = base[i % len(base)]
        for _ in range(rng.randrange(0, 12)):
            h ^= 1 << rng.randrange(64)  # near-copies at various distances
        hashes[f"ast_{i:04d}"] = h
    hashes["ast_top"] = (1 << 64) - 1  # the top bit must survive the uint64 path
    hashes["ast_top2"] = (1 << 64) - 2
    for threshold in (0, 1, 6, 10, 32, 64):
        assert near_duplicate_groups(hashes, threshold) == _reference_groups(hashes, threshold), threshold
    assert near_duplicate_groups({}, 6) == [] and near_duplicate_groups({"a": 1}, 6) == []
    with pytest.raises(InvalidInput):
        near_duplicate_groups({"a": 1, "b": -1}, 6)
    with pytest.raises(InvalidInput):
        near_duplicate_groups({"a": 1, "b": 2}, 65)


def test_dhash_survives_rescaling_and_tells_content_apart(tmp_path):
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).resize((512, 512))
    noise.save(tmp_path / "a.png")
    noise.resize((300, 300)).save(tmp_path / "a_small.jpg", quality=85)
    other = Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).resize((512, 512))
    other.save(tmp_path / "b.png")
    a, a_small, b = (dhash(tmp_path / n) for n in ("a.png", "a_small.jpg", "b.png"))
    assert 0 <= a < 1 << 64
    assert (a ^ a_small).bit_count() <= 6 < (a ^ b).bit_count()
    assert near_duplicate_groups({"a": a, "a_small": a_small, "b": b}, 6) == [["a", "a_small"]]
