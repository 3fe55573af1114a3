import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from reelforge.errors import LimitExceeded, MediaError, NotFound
from reelforge.media import MediaLimits, sniff
from tests.media.conftest import write_av


def _image_bytes(fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 10, 10)).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("pil_format", "expected"),
    [
        ("PNG", "png"),
        ("JPEG", "jpeg"),
        ("GIF", "gif"),
        ("WEBP", "webp"),
        ("TIFF", "tiff"),
        ("BMP", "bmp"),
        ("AVIF", "avif"),
    ],
)
def test_images_by_content_not_extension(tmp_path, pil_format, expected):
    path = tmp_path / "misleading.mp3"
    path.write_bytes(_image_bytes(pil_format))
    sniffed = sniff(path)
    assert (sniffed.kind, sniffed.format) == ("image", expected)
    assert sniffed.mime.startswith("image/")


def test_animated_gif_is_an_image(tmp_path):
    frames = [Image.new("RGB", (8, 8), (i * 40, 0, 0)) for i in range(4)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert sniff(path).kind == "image"


def test_video_and_audio_containers(tmp_path, video_mp4, wav_mono):
    assert sniff(video_mp4).to_dict() == {"kind": "video", "format": "mp4", "mime": "video/mp4"}
    assert sniff(wav_mono).format == "wav" and sniff(wav_mono).kind == "audio"
    cases = {
        "a.m4a": ("mp4", None, "aac", ("audio", "m4a")),
        "v.mov": ("mov", "libx264", None, ("video", "mov")),
        "v.mkv": ("matroska", "libx264", None, ("video", "mkv")),
        "a.mka": ("matroska", None, "flac", ("audio", "mkv")),
        "v.webm": ("webm", "libvpx-vp9", None, ("video", "webm")),
        "v.avi": ("avi", "mpeg4", None, ("video", "avi")),
        "a.mp3": ("mp3", None, "libmp3lame", ("audio", "mp3")),
        "a.flac": ("flac", None, "flac", ("audio", "flac")),
        "a.ogg": ("ogg", None, "libvorbis", ("audio", "ogg")),
    }
    for name, (fmt, vcodec, acodec, expected) in cases.items():
        path = write_av(tmp_path / name, fmt, vcodec, acodec, frames=6)
        renamed = tmp_path / f"renamed_{name}.bin"
        shutil.copy(path, renamed)
        assert (sniff(renamed).kind, sniff(renamed).format) == expected, name


def test_text_formats(tmp_path):
    fountain = tmp_path / "scene.fountain"
    fountain.write_text("INT. HOUSE - DAY\n\nANNA\nHello.\n", encoding="utf-8")
    assert sniff(fountain).format == "fountain"
    plain = tmp_path / "notes.txt"
    plain.write_bytes("\ufeffCafé notes\n".encode())  # a BOM is fine
    assert (sniff(plain).kind, sniff(plain).format) == ("screenplay", "text")
    fdx = tmp_path / "script.xml"
    fdx.write_text(
        '<?xml version="1.0"?>\n<!-- x -->\n<FinalDraft DocumentType="Script"><Content/></FinalDraft>'
    )
    assert sniff(fdx).format == "fdx"
    other_xml = tmp_path / "other.fdx"
    other_xml.write_text("<html><body/></html>")
    with pytest.raises(MediaError, match="not a Final Draft"):
        sniff(other_xml)


def test_rejections(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty file"):
        sniff(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Hélène".encode("latin-1"))
    with pytest.raises(MediaError, match="is not UTF-8 text"):
        sniff(latin)
    binary = tmp_path / "bin.fountain"
    binary.write_bytes(b"INT. \x00\x01\x02 HOUSE")
    with pytest.raises(MediaError, match="binary data"):
        sniff(binary)
    controls = tmp_path / "controls.txt"
    controls.write_bytes(bytes(range(1, 32)) * 10)
    with pytest.raises(MediaError, match="binary data"):
        sniff(controls)
    unknown = tmp_path / "mystery.dat"
    unknown.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(MediaError, match="unsupported file type"):
        sniff(unknown)
    with pytest.raises(NotFound):
        sniff(tmp_path / "missing.png")
    with pytest.raises(MediaError, match="not a regular file"):
        sniff(tmp_path)


def test_size_limit(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(_image_bytes("PNG"))
    with pytest.raises(LimitExceeded):
        sniff(path, MediaLimits(max_bytes=10))


def test_text_starting_like_bmp_is_text(tmp_path):
    path = tmp_path / "bmw.txt"
    path.write_text("BMW drives past the window.\n" * 3)
    assert sniff(path).format == "text"


def test_heic_brand_is_unsupported(tmp_path):
    path = tmp_path / "photo.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    with pytest.raises(MediaError, match="unsupported"):
        sniff(path)


def test_screenplay_text_in_utf16_and_gb18030_is_accepted_latin1_is_not(tmp_path: Path) -> None:
    from reelforge.media.sniff import screenplay_encoding

    cn = "第一场 日 内 客厅\n\n李明坐在沙发上，看着窗外。\n\n李明\n你好。\n"
    u16 = tmp_path / "u16.fountain"
    u16.write_bytes("INT. ROOM - DAY\n\nAnna waits.\n".encode("utf-16"))
    gb = tmp_path / "cn.txt"
    gb.write_bytes(cn.encode("gb18030"))
    assert sniff(u16).kind == "screenplay" and sniff(gb).kind == "screenplay"
    assert screenplay_encoding(gb.read_bytes(), True) == "gb18030"
    assert screenplay_encoding(u16.read_bytes(), True) == "utf-16"
    # Accented Latin-1 text also decodes as GB18030, but is not taken for Chinese.
    assert screenplay_encoding("Hélène est partie à Noël, déçue.".encode("latin-1"), True) is None
    assert screenplay_encoding(bytes(range(256)) * 4, True) is None
