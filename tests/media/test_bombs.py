"""Issue 15: decode-time bombs, truncated JPEGs, names that lie, oversized screenplays.

Every bomb here passes the per-frame limits (each frame is within ``max_pixels``) and used to take a
minute or more to validate. Each must now be refused from its header or its packet index, before
the frames are decoded: a spy on Pillow's ``load`` counts decoded frames, and peak memory is checked
like the bad-corpus test does (tests never assert wall-clock times).
"""

from __future__ import annotations

import io
import resource

import pytest
from PIL import Image, ImageFile

from reelforge.errors import LimitExceeded, MediaError
from reelforge.media import MediaLimits, iter_frames, poster_frame, probe, probe_with_thumbnail, sniff
from reelforge.media.limits import DecodeBudget
from tests.media.bombs import apng_bomb, gif_bomb, h264_bomb, tiff_bomb


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Sizes of the image frames Pillow decodes while the test runs."""
    seen: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile):  # type: ignore[no-untyped-def]
        if self.tile:
            seen.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return seen


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    ("builder", "kwargs", "frames"),
    [
        (gif_bomb, {"side": 7000, "frames": 500}, 500),  # 11.5 KB
        (apng_bomb, {"side": 7000, "frames": 500}, 500),  # 223 KB
        (tiff_bomb, {"side": 7000, "pages": 500}, 500),  # 129 KB
    ],
    ids=["gif", "apng", "tiff"],
)
def test_animated_image_bombs_are_refused_before_decoding(tmp_path, loads, builder, kwargs, frames):
    path = builder(tmp_path / f"bomb.{builder.__name__[:4]}", **kwargs)
    before = _peak_mib()
    with pytest.raises(LimitExceeded, match="max_total_pixels") as caught:
        probe(path)
    message = str(caught.value)
    assert path.name in message and f"{frames} frames of 7000x7000" in message and "\n" not in message
    assert loads == []  # not one frame decoded
    assert _peak_mib() - before < 150  # one decoded 7000² RGBA frame alone is 187 MiB


def test_frame_budget_is_exact(tmp_path):
    path = gif_bomb(tmp_path / "small.gif", side=100, frames=50)  # 500,000 pixels in all
    assert probe(path, MediaLimits(max_total_pixels=500_000)).frames == 50
    with pytest.raises(LimitExceeded, match="500,000 pixels"):
        probe(path, MediaLimits(max_total_pixels=499_999))


def test_tiff_pages_are_counted_at_their_own_size(tmp_path):
    pages = [Image.new("L", (300, 200)), Image.new("L", (30, 20)), Image.new("L", (30, 20))]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert probe(path, MediaLimits(max_total_pixels=300 * 200 + 2 * 600)).frames == 3
    with pytest.raises(LimitExceeded, match="max_total_pixels"):
        probe(path, MediaLimits(max_total_pixels=300 * 200 + 2 * 600 - 1))


def test_h264_long_gop_bomb_is_refused_from_the_packet_index(tmp_path):
    # 4096² x 1500 frames in one GOP is 25 G pixels: over the default budget. (The 8192²
    # file is built by benchmarks/bench_media_bombs.py; x264 takes seconds for its keyframe.)
    path = h264_bomb(tmp_path / "bomb.mp4", side=4096, frames=1500)
    assert path.stat().st_size < 200_000
    before = _peak_mib()
    with pytest.raises(LimitExceeded, match=r"a GOP of (at least )?\d+ frames of 4096x4096") as caught:
        probe(path)
    assert "max_total_pixels" in str(caught.value)
    assert _peak_mib() - before < 300  # decoding the GOP with frame threads held GBs


def test_long_gop_within_budget_passes_and_previews_are_bounded(tmp_path):
    path = h264_bomb(tmp_path / "gop.mp4", side=256, frames=100)
    frame = 256 * 256
    # The first frame, plus the packets a frame-threaded decoder takes in before it emits it, plus the GOP.
    assert probe(path, MediaLimits(max_total_pixels=frame * 130)).frames == 100
    with pytest.raises(LimitExceeded, match=r"a GOP of (at least )?\d+ frames of 256x256"):
        probe(path, MediaLimits(max_total_pixels=frame * 100))
    # A poster frame at 90% decodes the GOP from its keyframe: 90 frames.
    assert poster_frame(path, MediaLimits(max_total_pixels=frame * 95), at=0.9).size == (256, 256)
    with pytest.raises(LimitExceeded, match="max_total_pixels"):
        poster_frame(path, MediaLimits(max_total_pixels=frame * 50), at=0.9)


def test_pixel_rate_limit(video_mp4):
    limits = MediaLimits(max_pixels_per_second=1_000_000)  # the fixture is 320x240 at 24 fps
    for reader in (probe, poster_frame, lambda p, lim: next(iter_frames(p, lim))):
        with pytest.raises(LimitExceeded, match="320x240 at 24 fps = 1,843,200 pixels/s"):
            reader(video_mp4, limits)
    assert probe(video_mp4, MediaLimits(max_pixels_per_second=1_900_000)).frames == 48


def test_decode_time_cap(tmp_path, video_mp4):
    path = gif_bomb(tmp_path / "anim.gif", side=64, frames=20)
    instant = MediaLimits(max_decode_seconds=1e-9)
    for target in (path, video_mp4):
        with pytest.raises(LimitExceeded, match="max_decode_seconds"):
            probe(target, instant)


def test_decode_budget_counts_before_work():
    budget = DecodeBudget("x.gif", MediaLimits(max_total_pixels=100))
    budget.reserve(60)
    with pytest.raises(LimitExceeded, match=r"x\.gif: decoding it means 120 pixels \(two more\)"):
        budget.reserve(60, "two more")
    assert budget.pixels == 60  # a refused reservation is not counted


def test_new_limits_round_trip_and_settings_env(tmp_path, monkeypatch):
    from reelforge.config import load_settings

    limits = MediaLimits.from_dict(
        {"max_total_pixels": 10, "max_pixels_per_second": 20, "max_decode_seconds": 0.5, "max_screenplay_bytes": 30}
    )
    assert MediaLimits.from_dict(limits.to_dict()) == limits
    monkeypatch.setenv("REELFORGE_LIMIT_MAX_TOTAL_PIXELS", "123456")
    monkeypatch.setenv("REELFORGE_LIMIT_MAX_DECODE_SECONDS", "2.5")
    monkeypatch.setenv("REELFORGE_LIMIT_MAX_PIXELS_PER_SECOND", "99")
    monkeypatch.setenv("REELFORGE_LIMIT_MAX_SCREENPLAY_BYTES", "1000")
    settings = load_settings(tmp_path)
    assert settings.limits.max_total_pixels == 123456
    assert settings.limits.max_decode_seconds == 2.5
    assert settings.limits.max_pixels_per_second == 99
    assert settings.limits.max_screenplay_bytes == 1000


def test_ordinary_files_fit_the_defaults():
    limits = MediaLimits()
    assert 500 * 1920 * 1080 < limits.max_total_pixels  # a long 1080p GIF
    assert 300 * 2480 * 3508 < limits.max_total_pixels  # a 300-page A4 scan at 300 dpi
    assert (1 + 600) * 3840 * 2160 < limits.max_total_pixels  # 4K60, first frame + a 10 s GOP
    assert 7680 * 4320 * 120 <= limits.max_pixels_per_second


# ------------------------------------------------------------------------------------- truncated JPEG


def _jpeg(image: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", **kwargs)
    return buf.getvalue()


def test_tiny_jpeg_claiming_a_huge_image_is_refused_before_decoding(tmp_path, loads):
    data = _jpeg(Image.new("L", (7000, 7000), 90), quality=50)
    path = tmp_path / "claims7000.jpg"
    path.write_bytes(data[:631] + b"\xff\xd9")  # 633 bytes, and it even ends with end-of-image
    with pytest.raises(MediaError, match=r"truncated JPEG \(scan 1 holds \d+ bytes"):
        probe(path)
    assert loads == []
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_jpeg_cut_inside_its_scan_is_refused(tmp_path):
    import numpy as np

    noise = np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    data = _jpeg(Image.fromarray(noise), quality=90)
    cut_with_eoi = tmp_path / "cut_eoi.jpg"  # libjpeg only warns and paints the rest grey
    cut_with_eoi.write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    for path in (cut_with_eoi, cut):
        with pytest.raises(MediaError, match="truncated"):
            probe(path)
        with pytest.raises(MediaError, match="truncated"):
            probe_with_thumbnail(path)


def test_legitimate_jpegs_still_pass(tmp_path):
    grey = tmp_path / "grey.jpg"  # exactly mid-grey: the one case that is double-checked
    grey.write_bytes(_jpeg(Image.new("RGB", (64, 48), (128, 128, 128))))
    progressive = tmp_path / "progressive.jpg"
    progressive.write_bytes(_jpeg(Image.new("RGB", (640, 480), (10, 200, 30)), progressive=True))
    trailing = tmp_path / "trailing.jpg"  # cameras append data after the end-of-image marker
    trailing.write_bytes(_jpeg(Image.new("L", (33, 17), 7)) + b"MAKERNOTE")
    cmyk = tmp_path / "cmyk.jpg"
    cmyk.write_bytes(_jpeg(Image.new("CMYK", (40, 40), (0, 50, 100, 0))))
    for path in (grey, progressive, trailing, cmyk):
        assert probe(path).format == "jpeg", path.name


# ------------------------------------------------------------------------------- names and screenplays


@pytest.mark.parametrize(
    ("name", "claim"),
    [("still.png", "PNG image"), ("clip.mp4", "MP4 video"), ("take.wav", "WAV audio"), ("a.pdf", "PDF document")],
)
def test_text_under_a_media_name_is_refused(tmp_path, name, claim):
    path = tmp_path / name
    path.write_text("INT. HOUSE - DAY\n\nANNA\nHello.\n")
    with pytest.raises(MediaError, match=f"name says {claim} but the content is text"):
        sniff(path)
    with pytest.raises(MediaError, match=f"{name}: name says"):
        probe(path)


def test_binary_under_another_name_keeps_its_content_kind_with_a_note(tmp_path):
    path = tmp_path / "really_a_jpeg.png"
    path.write_bytes(_jpeg(Image.new("RGB", (16, 16), (200, 0, 0))))
    info = probe(path)
    assert (info.kind, info.format) == ("image", "jpeg")
    assert info.extra["name_mismatch"] == "name says PNG image but the content is JPEG image"
    same, _ = probe_with_thumbnail(path)
    assert same.extra["name_mismatch"] == info.extra["name_mismatch"]
    honest = tmp_path / "honest.jpg"
    honest.write_bytes(path.read_bytes())
    assert "name_mismatch" not in probe(honest).extra


def test_screenplay_size_limit(tmp_path):
    path = tmp_path / "epic.fountain"
    path.write_text("INT. HOUSE - DAY\n\nAnna waits.\n\n" * 100)
    size = path.stat().st_size
    assert probe(path, MediaLimits(max_screenplay_bytes=size)).kind == "screenplay"
    with pytest.raises(LimitExceeded, match="max_screenplay_bytes"):
        probe(path, MediaLimits(max_screenplay_bytes=size - 1))
    assert MediaLimits().max_screenplay_bytes >= 2 * 1024**2  # a feature screenplay is ~300 KB
