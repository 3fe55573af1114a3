"""probe_with_thumbnail: one decode for PNGs, same validation and thumbnails as the separate calls."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.errors import MediaError
from reelforge.media import MediaLimits, probe, probe_with_thumbnail, write_video


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp")])
def test_thumbnail_matches_probe(tmp_path: Path, fmt: str, suffix: str) -> None:
    arr = np.random.default_rng(0).integers(0, 255, (300, 500, 3), dtype=np.uint8)
    path = tmp_path / f"a{suffix}"
    Image.fromarray(arr).save(path, format=fmt)
    info, thumb = probe_with_thumbnail(path, MediaLimits(), 128)
    assert info.to_dict() == probe(path).to_dict()
    im = Image.open(io.BytesIO(thumb))
    assert im.format == "JPEG" and im.size == (128, 77)


def test_video_gets_a_poster_and_bad_files_still_fail(tmp_path: Path) -> None:
    frames = [np.full((48, 64, 3), 40 * i, dtype=np.uint8) for i in range(6)]
    write_video(iter(frames), tmp_path / "v.mp4", fps=6)
    info, thumb = probe_with_thumbnail(tmp_path / "v.mp4")
    assert info.kind == "video" and Image.open(io.BytesIO(thumb)).size[0] <= 256
    good = (tmp_path / "a.png")
    Image.fromarray(frames[3]).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:-40])
    with pytest.raises(MediaError):
        probe_with_thumbnail(tmp_path / "cut.png")
