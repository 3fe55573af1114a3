"""Ingest's one cheap decode still refuses what the full decodes refused.

JPEGs are decoded DCT-scaled (every entropy-coded byte still read); videos are demuxed packet by
packet with one keyframe decoded for the poster, whatever the keyframe interval.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reelforge.errors import MediaError
from reelforge.media import MediaLimits, probe, probe_with_thumbnail, thumbnail_bytes


def _clip(path: Path, frames: int, gop: int, size: tuple[int, int] = (128, 96), fps: int = 24) -> Path:
    """Noise with a brightness ramp (frame i has mean ~ 2*i): big packets, a keyframe every ``gop``."""
    rng = np.random.default_rng(0)
    w, h = size
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=Fraction(fps), options={
            "preset": "ultrafast", "crf": "18", "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            base = np.full((h, w, 3), 2 * i, dtype=np.int16)
            arr = np.clip(base + rng.integers(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _keyframes(path: Path) -> list[tuple[float, int, int]]:
    """(time, byte position, size) of every keyframe packet."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(float(p.pts * p.time_base), p.pos, p.size) for p in c.demux(s) if p.size and p.is_keyframe]


@pytest.mark.parametrize("gop", [24, 240])
def test_one_keyframe_decoded_for_the_poster_whatever_the_gop(tmp_path: Path, gop: int) -> None:
    path = _clip(tmp_path / "c.mp4", 240, gop)
    info, thumb = probe_with_thumbnail(path, MediaLimits(), 64)
    assert info.frames == 240 and info.kind == "video"
    # The first keyframe, plus the keyframe nearest 10% in when that is another one.
    assert info.extra["decoded_frames"] == (2 if gop == 24 else 1)
    poster = np.asarray(Image.open(io.BytesIO(thumb)))
    assert poster.shape[:2] == (48, 64)
    # 10% of 10 s: the keyframe at 1.0 s (frame 24, mean ~ 2*24 + 20) or, with one GOP, frame 0.
    expected = 2 * (24 if gop == 24 else 0) + 20
    assert abs(poster.mean() - expected) < 8
    assert probe(path).to_dict() == info.to_dict()


def test_truncated_in_the_last_gop_is_refused(tmp_path: Path) -> None:
    path = _clip(tmp_path / "long_gop.mp4", 240, 240)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) - 2000])  # only the last packets are gone; the index survives
    with pytest.raises(MediaError, match=r"cut\.mp4: truncated"):
        probe_with_thumbnail(cut)


def test_corrupt_poster_keyframe_is_refused(tmp_path: Path) -> None:
    path = _clip(tmp_path / "v.mp4", 240, 24)
    keys = _keyframes(path)
    _, pos, size = min(keys, key=lambda k: abs(k[0] - 1.0))  # the poster's keyframe, 10% in
    data = bytearray(path.read_bytes())
    keep = 12  # its NAL length and header (still an IDR slice), then noise for the slice itself
    data[pos + keep : pos + size] = np.random.default_rng(1).integers(0, 256, size - keep, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(MediaError, match=r"bad\.mp4"):
        probe_with_thumbnail(bad)


def _noise_jpeg(path: Path, size: tuple[int, int], **kw: object) -> bytes:
    arr = np.random.default_rng(2).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format="JPEG", quality=90, **kw)
    return path.read_bytes()


def test_reduced_jpeg_decode_still_refuses_a_file_cut_near_its_end(tmp_path: Path) -> None:
    # (A progressive file cut inside its last refinement scan is complete enough to show, and
    # passes, as it did with full-size decoding: see media/_jpeg.py.)
    data = _noise_jpeg(tmp_path / "full.jpg", (1600, 1200))
    cut = tmp_path / "cut.jpg"  # the last rows of blocks are gone, the end-of-image marker is there
    cut.write_bytes(data[: len(data) - len(data) // 100] + b"\xff\xd9")
    for check in (probe, probe_with_thumbnail):
        with pytest.raises(MediaError, match="truncated"):
            check(cut)
    assert probe(tmp_path / "full.jpg").width == 1600


def test_reduced_jpeg_thumbnail_matches_a_full_decode(tmp_path: Path) -> None:
    base = np.linspace(0, 255, 1800, dtype=np.uint8)
    arr = np.stack([np.tile(base, (1200, 1)), np.tile(base[::-1], (1200, 1)),
                    np.full((1200, 1800), 90, np.uint8)], axis=-1)
    path = tmp_path / "ramp.jpg"
    Image.fromarray(arr).save(path, quality=92)
    info, thumb = probe_with_thumbnail(path, MediaLimits(), 256)
    assert (info.width, info.height, info.mode) == (1800, 1200, "RGB")
    ours = np.asarray(Image.open(io.BytesIO(thumb)), dtype=np.int16)
    full = np.asarray(Image.open(io.BytesIO(thumbnail_bytes(path, 256))), dtype=np.int16)
    assert ours.shape == full.shape == (171, 256, 3)
    assert np.abs(ours - full).mean() < 3


def test_exif_orientation_and_alpha_in_thumbnails(tmp_path: Path) -> None:
    im = Image.new("RGB", (600, 300), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated by 90 degrees
    im.save(tmp_path / "rot.jpg", exif=exif.tobytes())
    info, thumb = probe_with_thumbnail(tmp_path / "rot.jpg")
    assert info.extra["exif_orientation"] == 6 and (info.width, info.height) == (600, 300)
    assert Image.open(io.BytesIO(thumb)).size == (128, 256)
    rgba = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    rgba.save(tmp_path / "clear.png")
    _, thumb = probe_with_thumbnail(tmp_path / "clear.png")
    assert np.asarray(Image.open(io.BytesIO(thumb))).min() > 245  # transparency shown on white
