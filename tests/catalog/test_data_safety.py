"""Data safety: shared blob stores, nothing read or written outside the paths given, odd names."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from reelforge.errors import Conflict, InvalidInput
from reelforge.storage.export import fit_name
from reelforge.studio import Studio
from tests.conftest import make_image


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- two studios, one blob store ------------------------------------------------------------------
def test_gc_in_either_studio_never_removes_what_the_other_references(
    tmp_path: Path, database_url: str | None
) -> None:
    first = Studio.init(tmp_path / "first")
    img_a = make_image(tmp_path / "a.png", seed=1)
    a = first.assets.add([img_a]).added[0]
    overrides = {"blob_url": first.blobs.url, **({"database_url": database_url} if database_url else {})}
    second = Studio.init(tmp_path / "second", **overrides)
    assert str(first.home) in second.shared_with()
    assert str(second.home) in first.shared_with()
    b = second.assets.add([make_image(tmp_path / "b.png", seed=2)]).added[0]

    assert second.gc(grace_seconds=0) == []  # a.png is the first studio's, not garbage
    assert first.gc(grace_seconds=0) == []
    assert first.fsck().clean and second.fsck().clean
    assert first.blobs.verify(a.sha256) and second.blobs.verify(b.sha256)

    # A blob that neither references is still collected.
    orphan = second.blobs.put_bytes(b"nobody refers to me")
    assert second.gc(grace_seconds=0) == [orphan.sha256]
    first.close()
    second.close()


def test_gc_refuses_when_a_sharing_studio_cannot_be_found(tmp_path: Path) -> None:
    first = Studio.init(tmp_path / "first")
    second = Studio.init(tmp_path / "second", blob_url=first.blobs.url)
    second.assets.add([make_image(tmp_path / "b.png", seed=2)])
    second.close()
    (tmp_path / "second" / "reelforge.toml").rename(tmp_path / "moved.toml")
    before = sorted(b.sha256 for b in first.blobs.iter_blobs())
    with pytest.raises(Conflict, match="shared with a studio"):
        first.gc(grace_seconds=0)
    assert sorted(b.sha256 for b in first.blobs.iter_blobs()) == before
    assert first.forget_catalog(tmp_path / "second")
    first.gc(grace_seconds=0)  # now it may collect the vanished studio's blobs
    first.close()


def test_gc_reports_staging_leftovers(sqlite_studio: Studio) -> None:
    leftover = sqlite_studio.blobs.tmp / "stage-killed-writer"  # type: ignore[attr-defined]
    leftover.write_bytes(b"half a file")
    result = sqlite_studio.gc(grace_seconds=0, dry_run=True)
    assert result.staging == [str(leftover)] and leftover.exists()
    result = sqlite_studio.gc(grace_seconds=0)
    assert result.staging == [str(leftover)] and not leftover.exists()


# -- reading outside the paths given --------------------------------------------------------------
@pytest.fixture
def secret(tmp_path: Path) -> Path:
    p = tmp_path / "outside" / "passwd"
    p.parent.mkdir()
    p.write_text("root:x:0:0:root:/root:/bin/bash\n")
    return p


def test_symlink_leaving_the_folder_is_refused_and_nothing_stored(
    sqlite_studio: Studio, tmp_path: Path, secret: Path
) -> None:
    folder = tmp_path / "plates"
    make_image(folder / "ok.png", seed=1)
    (folder / "script.fountain").symlink_to(secret)
    blobs_before = sorted(b.sha256 for b in sqlite_studio.blobs.iter_blobs())
    with pytest.raises(InvalidInput, match="outside the folder given"):
        sqlite_studio.assets.add([folder])
    assert sqlite_studio.assets.list() == []
    assert sorted(b.sha256 for b in sqlite_studio.blobs.iter_blobs()) == blobs_before
    # With skip_invalid the rest goes in and the link is listed as refused.
    report = sqlite_studio.assets.add([folder], skip_invalid=True)
    assert [a.name for a in report.added] == ["ok.png"]
    assert len(report.rejected) == 1 and "script.fountain" in report.rejected[0][0]
    # Only an explicit opt-in reads through it.
    followed = sqlite_studio.assets.add([folder], follow_symlinks=True)
    assert "script.fountain" in [a.name for a in followed.added]


def test_symlinks_inside_the_folder_and_loops(sqlite_studio: Studio, tmp_path: Path) -> None:
    folder = tmp_path / "plates"
    make_image(folder / "a.png", seed=1)
    (folder / "alias.png").symlink_to(folder / "a.png")  # stays inside: fine
    (folder / "loop").symlink_to(folder)  # a folder loop: refused, never walked
    (folder / "dangling.png").symlink_to(tmp_path / "nope.png")
    report = sqlite_studio.assets.add([folder], skip_invalid=True)
    assert [a.name for a in report.added] == ["a.png"] and len(report.duplicates) == 1  # alias: same bytes
    assert sorted(Path(p).name for p, _ in report.rejected) == ["dangling.png", "loop"]


def test_a_symlink_swapped_in_after_listing_is_refused(
    sqlite_studio: Studio, tmp_path: Path, secret: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reelforge.catalog import assets as assets_module

    folder = tmp_path / "plates"
    make_image(folder / "a.png", seed=1)
    make_image(folder / "b.png", seed=2)
    (folder / "alias.png").symlink_to(folder / "a.png")  # listed as a symlink: followed
    real_collect = assets_module.collect

    def collect_then_swap(*args: object, **kwargs: object) -> object:
        got = real_collect(*args, **kwargs)  # type: ignore[arg-type]
        (folder / "b.png").unlink()  # between the listing and the read, b.png becomes a link out
        (folder / "b.png").symlink_to(secret)
        return got

    monkeypatch.setattr(assets_module, "collect", collect_then_swap)
    with pytest.raises(InvalidInput, match=r"b\.png: is a symlink now") as refused:
        sqlite_studio.assets.add([folder])
    assert sqlite_studio.assets.list() == [] and not list(sqlite_studio.blobs.iter_blobs())
    assert str(refused.value).count("b.png") == 1, str(refused.value)  # named once
    (folder / "b.png").unlink()
    make_image(folder / "b.png", seed=2)
    report = sqlite_studio.assets.add([folder], skip_invalid=True)
    assert [a.name for a in report.added] == ["a.png"] and len(report.duplicates) == 1  # alias.png, followed
    assert len(report.rejected) == 1 and "is a symlink now" in report.rejected[0][1]
    assert secret.read_bytes() not in [sqlite_studio.blobs.read_bytes(a.sha256) for a in sqlite_studio.assets.list()]


# -- writing outside the destination --------------------------------------------------------------
def test_export_never_writes_through_planted_symlinks(
    sqlite_studio: Studio, tmp_path: Path, secret: Path
) -> None:
    a = sqlite_studio.assets.add([make_image(tmp_path / "src" / "hero.png", seed=3)], name="shots/hero.png").added[0]
    dest = tmp_path / "out"
    dest.mkdir()
    original = secret.read_bytes()
    (dest / "shots").symlink_to(secret.parent)  # intermediate folder is a symlink out
    with pytest.raises(InvalidInput):
        sqlite_studio.assets.export([a.id], dest)
    assert secret.read_bytes() == original
    (dest / "shots").unlink()
    (dest / "shots").mkdir()
    (dest / "shots" / "hero.png").symlink_to(secret)  # the final name is a symlink out
    out = sqlite_studio.assets.export([a.id], dest, overwrite=True)
    assert secret.read_bytes() == original
    assert not out[0].is_symlink() and out[0].read_bytes() == sqlite_studio.blobs.read_bytes(a.sha256)
    assert [p.name for p in (dest / "shots").iterdir()] == ["hero.png"]  # no temp file left


def test_dataset_and_model_exports_refuse_a_file_as_destination(sqlite_studio: Studio, tmp_path: Path) -> None:
    sqlite_studio.assets.add([make_image(tmp_path / "src" / "a.png", seed=1)], tags=["x"])
    v = sqlite_studio.datasets.create("set", tags=["x"])
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    with pytest.raises(InvalidInput, match="is a file"):
        sqlite_studio.datasets.export(v.ref, afile)
    with pytest.raises(InvalidInput, match="is a file"):
        sqlite_studio.assets.export([v.items[0].asset_id], afile)
    assert afile.read_text() == "keep me"


def test_names_longer_than_the_file_system_allows_are_shortened(sqlite_studio: Studio, tmp_path: Path) -> None:
    long_name = "é" * 200 + ".png"  # 404 bytes in UTF-8: over NAME_MAX (255)
    a = sqlite_studio.assets.add([make_image(tmp_path / "src" / "x.png", seed=4)], name=long_name).added[0]
    out = sqlite_studio.assets.export([a.id], tmp_path / "out")[0]
    assert out.suffix == ".png" and len(out.name.encode()) <= 255 and out.read_bytes()
    assert fit_name(long_name) != fit_name("é" * 201 + ".png")  # shortened names stay distinct


# -- names that are not UTF-8 ---------------------------------------------------------------------
def test_non_utf8_file_names_are_stored_safely(sqlite_studio: Studio, tmp_path: Path) -> None:
    folder = tmp_path / "plates"
    make_image(folder / "good.png", seed=1)
    raw = os.fsencode(str(folder)) + b"/caf\xe9.png"  # a Latin-1 byte
    make_image(Path(os.fsdecode(raw)), seed=2)
    report = sqlite_studio.assets.add([folder], skip_invalid=True)
    assert not report.rejected
    by_name = {a.name: a for a in report.added}
    assert set(by_name) == {"good.png", "caf\ufffd.png"}
    odd = by_name["caf\ufffd.png"]
    assert base64.b64decode(odd.meta["source_name_bytes"]) == b"caf\xe9.png"
    assert sqlite_studio.fsck().clean and sqlite_studio.gc(grace_seconds=0) == []


# -- a corrupt blob is repaired by adding the original again --------------------------------------
def test_readding_the_original_repairs_a_corrupt_blob(sqlite_studio: Studio, tmp_path: Path) -> None:
    src = make_image(tmp_path / "src" / "a.png", seed=5)
    a = sqlite_studio.assets.add([src]).added[0]
    blob = sqlite_studio.blobs.local_path(a.sha256)  # type: ignore[attr-defined]
    os.chmod(blob, 0o644)
    blob.write_bytes(blob.read_bytes()[:-10] + b"\x00" * 10)
    assert sqlite_studio.fsck().corrupt == [a.sha256]
    again = sqlite_studio.assets.add([src])
    assert again.duplicates[0].id == a.id
    assert sqlite_studio.fsck().clean


def test_a_tag_given_twice_is_one_tag(sqlite_studio: Studio, tmp_path: Path) -> None:
    a = sqlite_studio.assets.add([make_image(tmp_path / "a.png", seed=6)], tags=["x", "x"]).added[0]
    assert a.tags == ["x"]
    assert sqlite_studio.assets.tag([a.id], add=["y", "y"])[0].tags == ["x", "y"]
