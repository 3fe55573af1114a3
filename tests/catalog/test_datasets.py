from __future__ import annotations

import csv
from pathlib import Path

import pytest

from reelforge.catalog.datasets import assign_splits
from reelforge.errors import InvalidInput, NotFound
from reelforge.studio import Studio
from tests.conftest import make_image


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    root = tmp_path / "classes"
    # Distinct fixed seeds: hash() of a str is salted per process, and two equal seeds made two
    # identical files, which dedup (rightly) kept as one asset: a flaky 29 instead of 30.
    for offset, (label, n) in ((0, ("ship", 20)), (100, ("creature", 10))):
        for i in range(n):
            make_image(root / label / f"{label}_{i:02d}.png", size=(16, 16), seed=offset + i)
    return root


def test_folder_layout_gives_labels_and_stratified_splits(studio: Studio, labelled: Path) -> None:
    ids = [a.id for a in studio.assets.add([labelled]).added]
    v = studio.datasets.create("classes", assets=ids, label_from="folder", splits="0.8,0.1,0.1", seed=7)
    assert v.version == 1 and v.n_items == 30
    assert v.counts["labels"] == {"ship": 20, "creature": 10}
    per = {(i.label, i.split) for i in v.items}
    assert ("creature", "val") in per and ("ship", "test") in per  # stratified: every label in every split
    splits = [i.split for i in v.items]
    assert splits.count("train") == 24 and splits.count("val") == 3 and splits.count("test") == 3
    # Deterministic: the same inputs and seed give the same split; another seed differs.
    again = studio.datasets.create("classes", assets=ids, label_from="folder", seed=7)
    assert [(i.asset_id, i.split) for i in again.items] == [(i.asset_id, i.split) for i in v.items]
    assert again.content_hash == v.content_hash and again.version == 2
    other = studio.datasets.create("classes", assets=ids, label_from="folder", seed=8)
    assert other.content_hash != v.content_hash


def test_versions_are_immutable(studio: Studio, labelled: Path, tmp_path: Path) -> None:
    studio.assets.add([labelled])
    v1 = studio.datasets.create("ships", name_glob="ship/*", label_from="folder")
    make_image(tmp_path / "more" / "ship" / "new.png", seed=999)
    studio.assets.add([tmp_path / "more"])
    v2 = studio.datasets.create("ships", name_glob="ship/*", label_from="folder")
    assert (v1.n_items, v2.n_items) == (20, 21)
    assert studio.datasets.get("ships@1").n_items == 20
    assert studio.datasets.get("ships").version == 2
    assert studio.datasets.get(v1.id).content_hash == v1.content_hash
    assert [v.ref for v in studio.datasets.list()] == ["ships@2", "ships@1"]


def test_export_layout_and_manifest(studio: Studio, labelled: Path, tmp_path: Path) -> None:
    studio.assets.add([labelled])
    v = studio.datasets.create("all", label_from="folder", splits=(1, 0, 0))
    out = studio.datasets.export(v.ref, tmp_path / "export")
    rows = list(csv.DictReader(open(out / "manifest.csv", encoding="utf-8")))
    assert len(rows) == 30 and {r["split"] for r in rows} == {"train"}
    for r in rows:
        assert (out / r["path"]).is_file()
        assert r["path"].startswith(f"train/{r['label']}/")


def test_errors(studio: Studio, labelled: Path) -> None:
    with pytest.raises(InvalidInput):
        studio.datasets.create("empty", kind="image")
    studio.assets.add([labelled / "ship" / "ship_00.png"])
    with pytest.raises(InvalidInput):
        studio.datasets.create("flat", label_from="folder")  # not in a class folder
    with pytest.raises(InvalidInput):
        studio.datasets.create("x", splits="a,b")
    with pytest.raises(InvalidInput):
        studio.datasets.create("bad@name")
    with pytest.raises(NotFound):
        studio.datasets.get("nope@3")


def test_assign_splits_keeps_a_training_example() -> None:
    out = assign_splits([("a", "x"), ("b", "x")], (0.5, 0.25, 0.25), seed=0)
    assert list(out.values()).count("train") >= 1
