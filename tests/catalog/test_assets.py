from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.errors import InvalidInput, LimitExceeded, MediaError, NotFound
from reelforge.studio import Studio
from tests.conftest import make_image
from tests.media.bad_corpus import make_bad_corpus


def _snapshot(studio: Studio) -> tuple[list[str], list[str], list[str]]:
    blobs = sorted(b.sha256 for b in studio.blobs.iter_blobs())
    assets = sorted(a.id for a in studio.assets.list())
    staging = sorted(p.name for p in studio.blobs.tmp.iterdir())  # type: ignore[attr-defined]
    return blobs, assets, staging


def test_ingest_every_kind_probes_and_thumbnails(studio: Studio, media_files: dict[str, Path]) -> None:
    report = studio.assets.add(list(media_files.values()), tags=["day1"])
    by_name = {a.name: a for a in report.added}
    assert len(by_name) == 6
    png = by_name["still.png"]
    assert (png.kind, png.format, png.info["width"], png.info["height"]) == ("image", "png", 80, 60)
    assert png.thumb_sha256 and studio.blobs.exists(png.thumb_sha256)
    jpg = by_name["photo.jpg"]
    assert (jpg.kind, jpg.format) == ("image", "jpeg")
    vid = by_name["clip.mp4"]
    assert vid.kind == "video" and vid.info["width"] == 96 and vid.info["height"] == 64
    assert vid.info["frames"] == 12 and abs(vid.info["fps"] - 12) < 1e-6
    assert abs(vid.info["duration"] - 1.0) < 0.1
    assert vid.thumb_sha256, "videos get a poster frame"
    wav = by_name["tone.wav"]
    assert wav.kind == "audio" and wav.info["sample_rate"] == 16000 and wav.info["channels"] == 1
    assert abs(wav.info["duration"] - 1.0) < 0.01
    assert by_name["scene.fountain"].kind == "screenplay" and by_name["scene.fountain"].format == "fountain"
    assert by_name["scene.fdx"].format == "fdx"
    assert all(a.tags == ["day1"] for a in report.added)
    # Stored bytes are the file's bytes.
    assert studio.blobs.read_bytes(png.sha256) == media_files["png"].read_bytes()


def test_type_comes_from_content_not_extension(studio: Studio, tmp_path: Path) -> None:
    disguised = make_image(tmp_path / "really_a_png.jpg", fmt="PNG")
    a = studio.assets.add([disguised]).added[0]
    assert a.format == "png"


def test_dedup_by_content_merges_tags(studio: Studio, images: list[Path], tmp_path: Path) -> None:
    first = studio.assets.add(images[:2])
    copy = tmp_path / "copy.png"
    copy.write_bytes(images[0].read_bytes())
    second = studio.assets.add([copy], tags=["hero"])
    assert not second.added and second.duplicates[0].id == first.added[0].id
    assert second.duplicates[0].duplicate and second.duplicates[0].tags == ["hero"]
    assert len(studio.assets.list()) == 2
    assert len(list(studio.blobs.iter_blobs())) == 4  # 2 images + 2 thumbnails


def test_folder_ingest_names_and_filters(studio: Studio, tmp_path: Path) -> None:
    root = tmp_path / "plates"
    for i in range(3):
        make_image(root / "ships" / f"s{i}.png", seed=i)
    make_image(root / "creatures" / "c0.png", seed=10)
    make_image(root / ".hidden" / "x.png", seed=11)
    (root / ".DS_Store").write_bytes(b"\x00\x01")
    report = studio.assets.add([root])
    assert sorted(a.name for a in report.added) == ["creatures/c0.png", "ships/s0.png", "ships/s1.png", "ships/s2.png"]
    assert [a.name for a in studio.assets.list(name="ships/*")] == ["ships/s0.png", "ships/s1.png", "ships/s2.png"]
    assert studio.assets.list(name="ships/s_.png") == []  # '_' is literal, not a SQL wildcard
    studio.assets.tag([report.added[0].id], add=["keep"])
    assert [a.id for a in studio.assets.list(tags=["keep"])] == [report.added[0].id]
    assert studio.assets.list(kind="video") == []
    with pytest.raises(InvalidInput):
        studio.assets.list(kind="hologram")


def test_projects_group_assets(studio: Studio, images: list[Path]) -> None:
    studio.projects.create("nebula")
    studio.assets.add(images[:1], project="nebula")
    studio.assets.add(images[:1])  # same content in another project is a separate asset
    assert len(studio.assets.list(project="nebula")) == 1
    assert len(studio.assets.list(project="default")) == 1
    with pytest.raises(NotFound):
        studio.assets.list(project="nope")


def test_export_writes_copies_never_outside(studio: Studio, images: list[Path], tmp_path: Path) -> None:
    a = studio.assets.add(images[:1], name="shots/hero.png").added[0]
    out = studio.assets.export([a.id], tmp_path / "out")
    assert out == [(tmp_path / "out" / "shots" / "hero.png").resolve()]
    assert out[0].read_bytes() == images[0].read_bytes()
    out[0].write_bytes(b"edited")  # an edited export must not touch the stored blob
    assert studio.blobs.verify(a.sha256)
    with pytest.raises(InvalidInput):
        studio.assets.export([a.id], tmp_path / "out")


@pytest.mark.parametrize("bad", ["../escape.png", "/abs.png", "a/../../b.png", "", "x\x00.png"])
def test_unsafe_names_are_rejected(studio: Studio, images: list[Path], bad: str) -> None:
    before = _snapshot(studio)
    with pytest.raises(InvalidInput):
        studio.assets.add(images[:1], name=bad)
    assert _snapshot(studio) == before


def test_bad_corpus_changes_nothing(studio: Studio, tmp_path: Path, images: list[Path]) -> None:
    studio.assets.add(images[:1])
    before = _snapshot(studio)
    corpus = make_bad_corpus(tmp_path / "bad")
    assert len(corpus) >= 8
    for path in corpus:
        with pytest.raises((MediaError, LimitExceeded, InvalidInput)) as exc:
            studio.assets.add([path])
        msg = str(exc.value)
        assert "\n" not in msg and path.name in msg
        assert _snapshot(studio) == before, f"{path.name} left something behind"
    # A batch with one bad file adds nothing at all...
    with pytest.raises((MediaError, LimitExceeded, InvalidInput)):
        studio.assets.add([*images[1:3], corpus[0]])
    assert _snapshot(studio) == before
    # ...unless the caller asks to skip invalid files.
    report = studio.assets.add([*images[1:3], *corpus], skip_invalid=True)
    assert len(report.added) == 2 and len(report.rejected) == len(corpus)
    with pytest.raises(NotFound):
        studio.assets.add([tmp_path / "does-not-exist.png"])


def test_limits_apply(tmp_path: Path, images: list[Path]) -> None:
    s = Studio.init(tmp_path / "tiny", limits={"max_pixels": 1000})
    with pytest.raises(LimitExceeded):
        s.assets.add(images[:1])
    assert s.assets.list() == []


def test_fsck_and_gc(studio: Studio, images: list[Path]) -> None:
    a = studio.assets.add(images[:2]).added[0]
    assert studio.fsck().clean
    orphan = studio.blobs.put_bytes(b"garbage nobody references")
    report = studio.fsck()
    assert report.clean and orphan.sha256 in report.unreferenced
    assert studio.gc(grace_seconds=3600) == []  # too young to collect
    assert studio.gc(grace_seconds=0) == [orphan.sha256]
    path = studio.blobs.local_path(a.sha256)  # type: ignore[attr-defined]
    path.chmod(0o644)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    report = studio.fsck()
    assert not report.clean and report.corrupt == [a.sha256]
    path.unlink()
    report = studio.fsck()
    assert report.missing == [a.sha256]
