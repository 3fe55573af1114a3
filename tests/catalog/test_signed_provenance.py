"""Signed provenance end to end: a generated image goes through ``ctx.save_image`` (watermark, record,
C2PA manifest), and ``reelforge provenance`` tells, offline, which of signature, watermark and
catalog hold for the file, for a stripped JPEG copy, and for tampered or foreign files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import Field
from skimage import data

from reelforge.catalog.provenance import IPTC_SOURCE, pixel_sha256, read_record, verify
from reelforge.catalog.signing import load_identity, verify_signature
from reelforge.cli.main import main
from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, task
from reelforge.media import read_xmp
from reelforge.media import watermark as wm
from reelforge.studio import Studio


class PaintParams(Params):
    crop: int = Field(400, ge=16, le=400, description="side of the square taken from the sample picture")


@task("testing.provenance_paint", params=PaintParams, description="A 'generated' picture (tests)")
def paint(ctx: TaskContext, p: PaintParams) -> None:
    img = Image.fromarray(data.coffee()[:p.crop, 100:100 + p.crop])
    ctx.result["image"] = ctx.save_image(img, "generated/paint.png", source_type="trainedAlgorithmicMedia",
                                         record={"crop": p.crop}, tags=["generated"]).id


class ClipParams(Params):
    frames: int = Field(6, ge=2, le=30, description="frames in the clip")


@task("testing.provenance_clip", params=ClipParams, description="A 'generated' MP4 (tests)")
def clip(ctx: TaskContext, p: ClipParams) -> None:
    from reelforge.media import write_video

    src = data.chelsea()[:96, :128]
    path = ctx.workdir / "clip.mp4"
    write_video(iter([np.roll(src, 4 * i, axis=1) for i in range(p.frames)]), path, fps=8)
    ctx.result["video"] = ctx.save_asset(path, "generated/clip.mp4", source_type="trainedAlgorithmicMedia").id


def rf(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def painted(studio: Studio, tmp_path: Path) -> tuple[Studio, str, str, Path]:
    """A generated picture, on SQLite and on PostgreSQL (the watermark lookup is a JSON-path query)."""
    s = studio
    job = s.jobs.submit("testing.provenance_paint", {"crop": 400}, seed=11).run()
    assert job.status == "succeeded", job.error
    asset_id = job.result["image"]
    path = s.assets.export([asset_id], tmp_path / "out")[0]
    return s, job.id, asset_id, path


def _stripped_copy(src: Path, dst: Path, scale: float) -> Path:
    """What a social network does: decode, resize, re-encode as JPEG q75, no metadata."""
    with Image.open(src) as im:
        small = im.convert("RGB").resize((round(im.width * scale), round(im.height * scale)),
                                         Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=75)
    dst.write_bytes(buf.getvalue())
    return dst


def test_generated_png_is_watermarked_recorded_and_signed(painted: tuple[Studio, str, str, Path]) -> None:
    s, job_id, asset_id, path = painted
    asset = s.assets.get(asset_id)
    rec = read_record(path)
    assert rec is not None and rec["asset_id"] == asset_id and rec["job_id"] == job_id and rec["crop"] == 400
    # The record's pixel hash is of the final (watermarked) pixels, and signing kept both.
    with Image.open(path) as im:
        assert pixel_sha256(im) == rec["pixel_sha256"]
        found = wm.detect(im, load_identity(s.settings).watermark_key)
    assert found.found and found.payload_hex == rec["watermark"] == asset.meta["provenance"]["watermark"]
    assert asset.meta["provenance"]["c2pa"] is True
    xmp = read_xmp(path)
    assert xmp is not None and (IPTC_SOURCE + "trainedAlgorithmicMedia").encode() in xmp
    sig = verify_signature(path, load_identity(s.settings))
    assert sig.status == "valid" and sig.lineage is not None
    assert sig.lineage["job_id"] == job_id and sig.lineage["seed"] == 11 and sig.lineage["params"] == {"crop": 400}
    assert sig.lineage["watermark"] == rec["watermark"] and sig.lineage["code_version"] == rec["code_version"]
    v = verify(s, path)
    assert v.verified and v.asset_id == asset_id and v.matched_by == "file hash", v.problems
    assert v.signature and v.signature["status"] == "valid"
    assert v.watermark and v.watermark["payload"] == rec["watermark"]
    assert v.catalog and v.catalog["job_id"] == job_id and v.catalog["task"] == "testing.provenance_paint"
    # Invisible: against the unmarked picture the task painted.
    original = Image.fromarray(data.coffee()[:400, 100:500])
    with Image.open(path) as im:
        assert wm.psnr(original, im) >= 38.0


def test_regenerating_from_the_seed_gives_the_same_pixels(painted: tuple[Studio, str, str, Path]) -> None:
    s, _job_id, asset_id, _path = painted
    again = s.jobs.submit("testing.provenance_paint", {"crop": 400}, seed=11).run()
    first, second = s.assets.get(asset_id), s.assets.get(again.result["image"])
    assert first.meta["provenance"]["pixel_sha256"] == second.meta["provenance"]["pixel_sha256"]
    assert first.meta["provenance"]["watermark"] == second.meta["provenance"]["watermark"]


def test_cli_on_original_stripped_copy_and_tampered_files(painted: tuple[Studio, str, str, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    s, job_id, asset_id, path = painted
    home = s.home
    code, out, err = rf(capsys, "--studio", home, "provenance", path)
    assert code == 0, err
    assert "signature  valid" in out and "watermark  found" in out and f"catalog    {asset_id}" in out
    assert job_id in out and "verified" in out

    # Stripped, resized to 60%, JPEG q75: no signature, but watermark and catalog hold.
    copy = _stripped_copy(path, tmp_path / "copy.jpg", 0.6)
    code, out, err = rf(capsys, "--studio", home, "provenance", copy)
    assert code == 0, err
    assert "signature  absent" in out and "by watermark" in out and f"catalog    {asset_id}" in out
    code, out, _ = rf(capsys, "--studio", home, "--json", "provenance", copy)
    v = json.loads(out)
    assert v["verified"] and v["matched_by"] == "watermark" and v["catalog"]["job_id"] == job_id
    assert v["signature"]["status"] == "absent" and v["watermark"]["found"] and v["record"] is None

    # One flipped bit in the signed image data: C2PA fails, and the command says so.
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"IDAT") + 100] ^= 0x01
    tampered = tmp_path / "tampered.png"
    tampered.write_bytes(bytes(raw))
    code, out, err = rf(capsys, "--studio", home, "provenance", tampered)
    assert code == 1 and "INVALID" in out and "C2PA signature does not verify" in err

    # One pixel changed and saved again with the record: the pixel hash catches it (PIL drops the manifest).
    with Image.open(path) as im:
        im.load()
        edited = im.copy()
    edited.putpixel((5, 5), (255, 0, 0))
    from reelforge.catalog.provenance import TEXT_KEY
    from reelforge.media import save_png_with_text

    save_png_with_text(edited, tmp_path / "edited.png", {TEXT_KEY: json.dumps(read_record(path))})
    code, _, err = rf(capsys, "--studio", home, "provenance", tmp_path / "edited.png")
    assert code == 1 and "pixels differ" in err


def test_unmarked_and_foreign_payloads_are_not_matched(painted: tuple[Studio, str, str, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    s, _job_id, _asset_id, _path = painted
    key = load_identity(s.settings).watermark_key
    picture = Image.fromarray(data.chelsea())
    plain = tmp_path / "plain.jpg"
    picture.save(plain, quality=75)
    v = verify(s, plain)
    assert not v.verified and v.watermark is not None and not v.watermark["found"] and v.asset_id is None
    # This studio's key with a payload no asset carries: found, named, and refused.
    stranger = tmp_path / "stranger.jpg"
    wm.embed(picture, 0x0123_4567_89AB_CDEF, key).save(stranger, quality=90)
    code, out, err = rf(capsys, "--studio", s.home, "provenance", stranger)
    assert code == 1 and "0123456789abcdef" in out and "matches no asset" in err


def test_generated_video_is_signed(sqlite_studio: Studio, tmp_path: Path) -> None:
    s = sqlite_studio
    job = s.jobs.submit("testing.provenance_clip", {"frames": 6}, seed=3).run()
    assert job.status == "succeeded", job.error
    asset = s.assets.get(job.result["video"])
    assert asset.kind == "video" and asset.meta["provenance"]["c2pa"] is True
    path = s.assets.export([asset.id], tmp_path / "out")[0]
    v = verify(s, path)
    assert v.verified and v.signature and v.signature["status"] == "valid", v.problems
    assert v.signature["lineage"]["asset_id"] == asset.id and v.signature["lineage"]["job_id"] == job.id
    assert v.catalog and v.catalog["job_id"] == job.id
