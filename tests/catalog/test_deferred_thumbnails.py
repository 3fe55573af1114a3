"""Big PNGs: checked whole on the way in (every chunk, the whole image stream inflated), thumbnail
from a derived ``media.thumbnails`` job; the thumbnail is the one ingest would have made.

Real files, a real worker run of the job, real decoding.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.catalog.staging import DEFER_THUMB_FROM_PIXELS, THUMB_SIZE
from reelforge.errors import MediaError
from reelforge.media import probe_with_thumbnail
from reelforge.studio import Studio
from tests.conftest import make_image


def _big_png(path: Path, size: tuple[int, int] = (900, 640)) -> Path:
    """A gradient with a bright square top-left: a thumbnail that lost the picture shows it."""
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    arr = np.stack([x, x[::-1, ::-1] * 0.5, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    arr[: h // 4, : w // 4] = 250
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def _folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    _big_png(src / "plate.png")
    make_image(src / "small.png", (120, 90), seed=1)
    make_image(src / "photo.jpg", (1200, 800), seed=2, fmt="JPEG")
    return src


def test_big_pngs_get_their_thumbnail_from_a_job(tmp_path: Path) -> None:
    assert 900 * 640 > DEFER_THUMB_FROM_PIXELS >= 120 * 90
    s = Studio.init(tmp_path / "studio")
    report = s.ingest([_folder(tmp_path)])
    by_name = {a.name: a for a in report.added}
    assert by_name["plate.png"].thumb_sha256 is None
    assert by_name["plate.png"].info["width"] == 900 and by_name["plate.png"].info["mode"] == "RGB"
    assert by_name["small.png"].thumb_sha256 and by_name["photo.jpg"].thumb_sha256
    (job_id,) = report.jobs
    job = s.jobs.get(job_id)
    assert job.task == "media.thumbnails" and job.params["assets"] == [by_name["plate.png"].id]

    s.jobs.run_inline(job_id)
    done = s.jobs.get(job_id)
    assert done.status == "succeeded", done.error
    plate = s.assets.get(by_name["plate.png"].id)
    assert plate.thumb_sha256 is not None
    data = s.blobs.read_bytes(plate.thumb_sha256)
    # The thumbnail ingest would have made, byte for byte, and it shows the picture.
    assert data == probe_with_thumbnail(tmp_path / "in" / "plate.png", s.settings.limits, THUMB_SIZE)[1]
    thumb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)
    assert thumb.shape == (182, 256, 3)
    assert thumb[: 182 // 4 - 4, : 256 // 4 - 4].mean() > 240  # the bright square, top-left
    assert abs(thumb[-20:, -40:, 0].mean() - 240) < 20  # the red ramp's bright end, right
    # The job's inputs are recorded (lineage), and it made no assets.
    assert [i["id"] for i in done.inputs] == [plate.id] and done.result == {"thumbnails": 1, "outputs": []}
    assert len(s.assets.list()) == 3
    # The web route serves it now.
    assert s.blobs.stat(plate.thumb_sha256).size == len(data)


def test_without_deferral_the_thumbnail_is_made_in_the_ingest_path(tmp_path: Path) -> None:
    src = _folder(tmp_path)
    off = Studio.init(tmp_path / "off", ingest_defer_thumbnails=False)
    report = off.ingest([src])
    assert report.jobs == [] and all(a.thumb_sha256 for a in report.added)
    # assets.add (what job outputs and the SDK use) makes every thumbnail inline.
    direct = Studio.init(tmp_path / "direct").assets.add([src])
    assert all(a.thumb_sha256 for a in direct.added)
    plate = next(a for a in direct.added if a.name == "plate.png")
    inline = next(a for a in report.added if a.name == "plate.png")
    assert plate.thumb_sha256 == inline.thumb_sha256


@pytest.mark.parametrize("damage", ["truncated", "crc", "filter"])
def test_a_damaged_big_png_is_refused_and_nothing_is_stored(tmp_path: Path, damage: str) -> None:
    src = _folder(tmp_path)
    data = bytearray((src / "plate.png").read_bytes())
    idat = data.index(b"IDAT")
    if damage == "truncated":
        data = data[: len(data) * 7 // 10]
    elif damage == "crc":
        data[idat + 4 + 1000] ^= 0x01
    else:  # a valid stream and CRC whose first scanline has filter type 9
        import zlib

        w, h = 900, 640
        raw = bytearray(np.asarray(Image.open(io.BytesIO(bytes(data)))).reshape(h, w * 3).tobytes())
        rows = bytearray()
        for y in range(h):
            rows += (b"\x09" if y == 0 else b"\x00") + raw[y * w * 3 : (y + 1) * w * 3]
        ihdr = bytes(data[8 : 8 + 25])
        body = zlib.compress(bytes(rows))
        idat_chunk = len(body).to_bytes(4, "big") + b"IDAT" + body + zlib.crc32(b"IDAT" + body).to_bytes(4, "big")
        iend = (0).to_bytes(4, "big") + b"IEND" + zlib.crc32(b"IEND").to_bytes(4, "big")
        data = bytearray(bytes(data[:8]) + ihdr + idat_chunk + iend)
    (src / "plate.png").write_bytes(bytes(data))
    s = Studio.init(tmp_path / "studio")
    with pytest.raises(MediaError, match=r"plate\.png"):
        s.ingest([src])
    assert s.assets.list() == [] and s.jobs.list() == []
    assert list(s.blobs.iter_blobs()) == [] and not list(s.blobs.tmp.iterdir())  # type: ignore[attr-defined]
