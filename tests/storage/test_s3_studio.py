"""A whole studio on an S3 blob store (a real SeaweedFS): ingest real images and a video, fsck,
export byte-identical, detect an object another client damaged, and gc through the registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.storage.base import CorruptBlob
from reelforge.storage.s3 import S3BlobStore
from reelforge.studio import Studio


def _media(folder: Path) -> list[Path]:
    from skimage import data

    from reelforge.media import write_video

    folder.mkdir()
    out = []
    for name, fmt in (("astronaut", "PNG"), ("coffee", "JPEG"), ("chelsea", "PNG")):
        path = folder / f"{name}.{fmt.lower().replace('jpeg', 'jpg')}"
        Image.fromarray(getattr(data, name)()).save(path, format=fmt)
        out.append(path)
    # A real clip: the astronaut panning, 24 frames of H.264.
    still = data.astronaut()[::4, ::4]
    frames = [np.roll(still, 4 * i, axis=1) for i in range(24)]
    clip = folder / "pan.mp4"
    write_video(iter(frames), clip, fps=24)
    out.append(clip)
    return out


def test_studio_on_s3_ingests_verifies_and_exports_byte_identical(
    s3_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reelforge.cli.main import main

    files = _media(tmp_path / "src")
    studio = Studio.init(tmp_path / "studio", blob_url=s3_url)
    try:
        assert isinstance(studio.blobs, S3BlobStore)
        report = studio.ingest(files)
        assert sorted(a.kind for a in report.added) == ["image", "image", "image", "video"]
        assets = {a.name: a for a in report.added}
        stored = {b.sha256 for b in studio.blobs.iter_blobs()}
        assert {a.sha256 for a in assets.values()} <= stored
        assert all(a.thumb_sha256 in stored for a in assets.values() if a.thumb_sha256)
        fsck = studio.fsck()
        assert fsck.clean and fsck.checked >= 4 and not fsck.stale_staging, fsck.to_dict()
        capsys.readouterr()
        assert main(["--studio", str(studio.home), "--json", "fsck"]) == 0
        assert json.loads(capsys.readouterr().out)["clean"] is True

        written = studio.assets.export([a.id for a in assets.values()], tmp_path / "out")
        assert sorted(p.name for p in written) == sorted(p.name for p in files)
        for src in files:
            assert (tmp_path / "out" / src.name).read_bytes() == src.read_bytes()
        # A task input is materialised from S3 into the cache, verified.
        local = studio.assets.local_path(assets["pan.mp4"])
        assert local.read_bytes() == files[-1].read_bytes()

        # Another S3 client overwrites an object: fsck names it, exports refuse it.
        victim = assets["coffee.jpg"]
        key = studio.blobs._key(victim.sha256)
        studio.blobs.client.put_object(Bucket=studio.blobs.bucket, Key=key, Body=b"not a coffee")
        fsck = studio.fsck()
        assert fsck.corrupt == [victim.sha256] and not fsck.clean
        assert main(["--studio", str(studio.home), "fsck"]) == 1
        with pytest.raises(CorruptBlob):
            studio.assets.export([victim.id], tmp_path / "out2")
        assert not (tmp_path / "out2" / "coffee.jpg").exists()
        # Adding the original file again repairs the object.
        studio.ingest([files[1]])
        assert studio.fsck().clean

        # gc goes through the S3 catalog registry and removes only garbage.
        garbage = studio.blobs.put_bytes(b"nobody references me")
        removed = studio.gc(grace_seconds=0)
        assert list(removed) == [garbage.sha256]
        assert not studio.blobs.exists(garbage.sha256) and studio.fsck().clean
        assert studio.catalog_key in studio.blobs.catalogs()
    finally:
        studio.close()


def test_two_studios_share_one_bucket_prefix_and_gc_honours_both(s3_url: str, tmp_path: Path) -> None:
    src = tmp_path / "a.png"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(src)
    a = Studio.init(tmp_path / "a", blob_url=s3_url)
    b = Studio.init(tmp_path / "b", blob_url=s3_url)
    try:
        asset = a.ingest([src]).added[0]
        assert b.shared_with() == [str(a.home)]
        assert asset.sha256 not in b.gc(grace_seconds=0)  # b does not reference it; a does
        assert a.blobs.exists(asset.sha256)
    finally:
        a.close()
        b.close()
