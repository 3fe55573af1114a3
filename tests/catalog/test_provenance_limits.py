"""Issue 15: reading provenance must respect the decode limits, from the PNG header, before decoding."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest
from PIL import Image

from reelforge.catalog.provenance import TEXT_KEY, pixel_sha256, read_record, verify
from reelforge.errors import LimitExceeded
from reelforge.media import MediaLimits, read_png_text, save_png_with_text
from reelforge.studio import Studio
from tests.media.bad_corpus import _png_chunk, bomb_png_bytes

FORGED = {"schema": "reelforge.provenance/1", "asset_id": "ast_forged", "job_id": "job_forged",
          "pixel_sha256": "0" * 64}


def _forged_bomb(path: Path, side: int) -> Path:
    """A PNG whose IHDR says side x side, carrying a forged record in a tEXt chunk."""
    png = bomb_png_bytes(side, side)
    iend = png.rindex(b"IEND") - 4
    text = _png_chunk(b"tEXt", TEXT_KEY.encode() + b"\x00" + json.dumps(FORGED).encode())
    path.write_bytes(png[:iend] + text + png[iend:])
    return path


def test_forged_record_on_a_huge_png_is_refused_from_its_header(studio: Studio, tmp_path: Path) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for side in (13_000, 20_000):
        path = _forged_bomb(tmp_path / f"forged{side}.png", side)
        with pytest.raises(LimitExceeded, match=f"forged{side}.png: image is {side}x{side}"):
            verify(studio, path)
        with pytest.raises(LimitExceeded):
            read_png_text(path)
        with pytest.raises(LimitExceeded):
            read_record(path)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 100


def test_verify_uses_the_limits_it_is_given(studio: Studio, tmp_path: Path) -> None:
    img = Image.new("RGB", (300, 200), (10, 20, 30))
    path = tmp_path / "small.png"
    save_png_with_text(img, path, {TEXT_KEY: json.dumps({**FORGED, "pixel_sha256": pixel_sha256(img)})})
    v = verify(studio, path)  # the studio's limits: readable, and (forged) not verified
    assert v.record is not None and not v.verified
    assert not any("pixels differ" in p for p in v.problems)
    with pytest.raises(LimitExceeded, match="60000 pixels"):
        verify(studio, path, MediaLimits(max_pixels=50_000))


def test_pixel_hash_is_unchanged_by_banding() -> None:
    import hashlib

    img = Image.effect_noise((700, 1300), 50).convert("RGB")  # more rows than one band
    rgba = img.convert("RGBA")
    whole = hashlib.sha256(f"{rgba.width}x{rgba.height}:".encode() + rgba.tobytes()).hexdigest()
    assert pixel_sha256(img) == whole
