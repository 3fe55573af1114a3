import io
import resource
import struct
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

from reelforge.errors import LimitExceeded, MediaError
from reelforge.media import MediaInfo, MediaLimits, probe, write_video
from tests.media.bad_corpus import bomb_png_bytes, make_bad_corpus
from tests.media.conftest import AUDIO_RATE, VIDEO_FPS, VIDEO_FRAMES, VIDEO_SIZE, sine, write_av, write_wav


def test_png_and_jpeg(astronaut_png, camera_jpeg):
    info = probe(astronaut_png)
    assert (info.kind, info.format, info.mime) == ("image", "png", "image/png")
    assert (info.width, info.height, info.mode, info.frames) == (512, 512, "RGB", 1)
    assert info.size_bytes == astronaut_png.stat().st_size
    assert info.extra["animated"] is False
    jpeg = probe(camera_jpeg)
    assert (jpeg.format, jpeg.width, jpeg.height, jpeg.mode) == ("jpeg", 512, 512, "L")
    assert MediaInfo.from_dict(info.to_dict()) == info


def test_animated_gif(tmp_path):
    frames = [Image.new("RGB", (40, 30), (i * 30, 0, 255 - i * 30)) for i in range(6)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    info = probe(path)
    assert (info.kind, info.frames, info.width, info.height) == ("image", 6, 40, 30)
    assert info.extra["animated"] is True
    assert info.duration == pytest.approx(0.3)
    assert info.fps == pytest.approx(20.0)


def test_multipage_tiff_and_avif(tmp_path):
    pages = [Image.new("RGB", (30, 20), (i * 80, 0, 0)) for i in range(3)]
    tiff = tmp_path / "pages.tif"
    pages[0].save(tiff, save_all=True, append_images=pages[1:])
    info = probe(tiff)
    assert (info.format, info.frames, info.width, info.height) == ("tiff", 3, 30, 20)
    avif = tmp_path / "a.avif"
    pages[0].save(avif, format="AVIF")
    info = probe(avif)
    assert (info.kind, info.format, info.mime, info.width) == ("image", "avif", "image/avif", 30)


def test_video(video_mp4):
    info = probe(video_mp4)
    assert (info.kind, info.format, info.codec) == ("video", "mp4", "h264")
    assert (info.width, info.height) == VIDEO_SIZE
    assert info.fps == pytest.approx(VIDEO_FPS)
    assert info.frames == VIDEO_FRAMES
    assert info.duration == pytest.approx(VIDEO_FRAMES / VIDEO_FPS, abs=1e-3)
    assert info.sample_rate is None


def test_video_with_audio(video_with_audio):
    info = probe(video_with_audio)
    assert info.frames == VIDEO_FRAMES
    assert (info.sample_rate, info.channels, info.extra["audio_codec"]) == (AUDIO_RATE, 2, "aac")


def test_audio(wav_mono, tmp_path):
    info = probe(wav_mono)
    assert (info.kind, info.format, info.codec) == ("audio", "wav", "pcm_s16le")
    assert (info.sample_rate, info.channels) == (22050, 1)
    assert info.duration == pytest.approx(1.5, abs=1e-3)
    flac = write_av(tmp_path / "a.flac", "flac", None, "flac", frames=24)
    info = probe(flac)
    assert (info.format, info.sample_rate, info.channels) == ("flac", AUDIO_RATE, 2)
    assert info.duration == pytest.approx(1.0, abs=0.01)


def test_text_and_fdx(tmp_path):
    path = tmp_path / "scene.fountain"
    path.write_bytes("\ufeffINT. HOUSE - DAY\r\n\r\nANNA\r\nHéllo.".encode())
    info = probe(path)
    assert (info.kind, info.format, info.text_encoding, info.line_count) == (
        "screenplay",
        "fountain",
        "utf-8-sig",
        4,
    )
    fdx = tmp_path / "a.fdx"
    fdx.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<FinalDraft DocumentType="Script" Version="5">'
        '<Content><Paragraph Type="Scene Heading"><Text>INT. HOUSE</Text></Paragraph></Content></FinalDraft>\n'
    )
    info = probe(fdx)
    assert info.format == "fdx" and info.extra["paragraphs"] == 1 and info.line_count == 2
    broken = tmp_path / "broken.fdx"
    broken.write_text("<FinalDraft><Content><Paragraph></Content>")
    with pytest.raises(MediaError, match="malformed"):
        probe(broken)
    entities = tmp_path / "lol.fdx"
    entities.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><FinalDraft>&a;</FinalDraft>')
    with pytest.raises(MediaError, match="entity"):
        probe(entities)


def test_bad_corpus_is_rejected_cheaply(tmp_path):
    paths = make_bad_corpus(tmp_path)
    assert len(paths) == 8
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for path in paths:
        with pytest.raises((MediaError, LimitExceeded)) as caught:
            probe(path)
        message = str(caught.value)
        assert path.name in message and "\n" not in message
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200  # a decoded 100000x100000 bomb would be ~28 GiB


def test_bad_corpus_messages(tmp_path):
    by_name = {p.name: p for p in make_bad_corpus(tmp_path)}
    expectations = {
        "truncated.png": (MediaError, "truncated"),
        "corrupt.jpg": (MediaError, "corrupt"),
        "bomb.png": (LimitExceeded, "bomb"),
        "empty.jpg": (MediaError, "empty file"),
        "x.fountain": (MediaError, "binary data|not UTF-8"),
        "latin1.txt": (MediaError, "not UTF-8 text"),
        "truncated.mp4": (MediaError, "truncated"),
        "random.mp4": (MediaError, "unsupported file type"),
    }
    for name, (kind, pattern) in expectations.items():
        with pytest.raises(kind, match=pattern):
            probe(by_name[name])


def test_pixel_limits_checked_from_header(tmp_path):
    # 10000 x 10000 is under Pillow's own bomb error threshold, so our limit must catch it.
    path = tmp_path / "big.png"
    path.write_bytes(bomb_png_bytes(10_000, 10_000))
    with pytest.raises(LimitExceeded, match="100000000 pixels"):
        probe(path)
    with pytest.raises(LimitExceeded, match="side"):
        probe(path, MediaLimits(max_pixels=10**9, max_image_side=5000))
    # Pillow's DecompressionBombWarning (100M > its 89M default) must not leak, even when warnings
    # are errors: our limit decides and reports it.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(LimitExceeded, match="pixels"):
            probe(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(LimitExceeded):
            probe(path)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_pil_global_state_untouched(tmp_path, astronaut_png):
    max_pixels = Image.MAX_IMAGE_PIXELS
    corpus = make_bad_corpus(tmp_path)
    probe(astronaut_png)
    for path in corpus:
        with pytest.raises((MediaError, LimitExceeded)):
            probe(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert Image.MAX_IMAGE_PIXELS == max_pixels


def test_image_frame_count_limit(tmp_path):
    frames = [Image.new("L", (4, 4), i * 20) for i in range(5)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40)
    with pytest.raises(LimitExceeded, match="frames"):
        probe(path, MediaLimits(max_image_frames=3))


def test_video_limits(video_mp4):
    with pytest.raises(LimitExceeded, match="320x240"):
        probe(video_mp4, MediaLimits(max_video_width=300))
    with pytest.raises(LimitExceeded, match="lasts"):
        probe(video_mp4, MediaLimits(max_video_seconds=1.0))


def test_audio_and_text_limits(wav_mono, tmp_path):
    with pytest.raises(LimitExceeded, match="audio lasts"):
        probe(wav_mono, MediaLimits(max_audio_seconds=1.0))
    text = tmp_path / "long.txt"
    text.write_text("line\n" * 100)
    with pytest.raises(LimitExceeded, match="text is"):
        probe(text, MediaLimits(max_text_bytes=100))


def test_truncated_wav(tmp_path):
    good = write_wav(tmp_path / "good.wav", sine(2.0, 16000), 16000)
    data = good.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated"):
        probe(cut)


def test_truncated_mp4_without_faststart(tmp_path):
    """A plain (index-last) MP4 cut in half loses its index entirely."""
    import av

    path = tmp_path / "plain.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(
                rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), format="rgb24"
            )
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    assert probe(path).frames == 12
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=r"cut\.mp4"):
        probe(cut)


def test_corrupted_video_payload(tmp_path):
    """Overwriting the middle of the media data must not pass silently as a good file."""
    path = tmp_path / "v.mp4"
    rng = np.random.default_rng(1)
    write_video((rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(12)), path, fps=12)
    data = bytearray(path.read_bytes())
    mdat = data.index(b"mdat") + 4
    data[mdat : mdat + 64] = b"\xff" * 64  # wreck the first (key)frame's bitstream
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(MediaError):
        probe(bad)


def test_audio_only_mp4_without_video_is_audio(tmp_path):
    path = write_av(tmp_path / "voice.mp4", "mp4", None, "aac", frames=12)
    info = probe(path)
    assert (info.kind, info.format, info.mime) == ("audio", "m4a", "audio/mp4")


def test_mp4_with_wrong_box_sizes_is_rejected(tmp_path):
    path = tmp_path / "weird.mp4"
    path.write_bytes(struct.pack(">I4s4sI", 24, b"ftyp", b"isom", 0) + b"isomavc1" + b"\x00" * 64)
    with pytest.raises(MediaError):
        probe(path)


def test_bytes_io_not_needed_for_probe(tmp_path):
    # Probe reads files by path only; an in-memory PNG written to disk round-trips.
    buf = io.BytesIO()
    Image.new("RGBA", (3, 2), (1, 2, 3, 4)).save(buf, format="PNG")
    path = tmp_path / "tiny.png"
    path.write_bytes(buf.getvalue())
    info = probe(path)
    assert (info.width, info.height, info.mode, info.extra["has_alpha"]) == (3, 2, "RGBA", True)
