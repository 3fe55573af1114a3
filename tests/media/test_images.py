import io

import numpy as np
import pytest
from PIL import Image

from reelforge.errors import InvalidInput, LimitExceeded, MediaError
from reelforge.media import (
    MediaLimits,
    image_proxy,
    load_image,
    probe,
    read_png_text,
    read_xmp,
    save_png_with_text,
    thumbnail_bytes,
)

XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="reelforge"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def _oriented_jpeg(path, orientation: int):
    """A 200x100 JPEG (left half red, right half blue) with an EXIF orientation tag."""
    arr = np.zeros((100, 200, 3), np.uint8)
    arr[:, :100] = (255, 0, 0)
    arr[:, 100:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(arr).save(path, format="JPEG", quality=95, exif=exif.tobytes())
    return path


def test_load_image_modes(astronaut_png, camera_jpeg):
    rgb = load_image(astronaut_png)
    assert (rgb.mode, rgb.size) == ("RGB", (512, 512))
    assert load_image(camera_jpeg).mode == "RGB"
    assert load_image(camera_jpeg, mode=None).mode == "L"
    assert load_image(astronaut_png, mode="L").mode == "L"


def test_load_image_applies_orientation(tmp_path):
    path = _oriented_jpeg(tmp_path / "rot.jpg", 6)  # 6: rotate 90 degrees clockwise to display
    img = load_image(path)
    assert img.size == (100, 200)
    assert load_image(path, orient=False).size == (200, 100)
    top = np.asarray(img)[10, 50]
    assert top[0] > 200 and top[2] < 60  # the red (left) half is on top after a clockwise turn


def test_load_image_flattens_alpha_on_white(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    path = tmp_path / "clear.png"
    rgba.save(path)
    assert np.asarray(load_image(path))[5, 5].tolist() == [255, 255, 255]
    assert load_image(path, mode="RGBA").getpixel((5, 5))[3] == 0


def test_sixteen_bit_png_scales_instead_of_clipping(tmp_path):
    arr = np.full((8, 8), 32768, np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    value = np.asarray(load_image(path, mode="L"))[0, 0]
    assert 120 <= value <= 135


def test_load_image_rejects_over_limit_and_non_images(astronaut_png, wav_mono):
    with pytest.raises(LimitExceeded):
        load_image(astronaut_png, MediaLimits(max_pixels=1000))
    with pytest.raises(MediaError, match="not an image"):
        load_image(wav_mono)


def test_thumbnail_bytes(astronaut_png, tmp_path):
    data = thumbnail_bytes(astronaut_png, size=64)
    assert data[:3] == b"\xff\xd8\xff"
    thumb = Image.open(io.BytesIO(data))
    assert thumb.format == "JPEG" and max(thumb.size) == 64
    wide = tmp_path / "wide.jpg"
    Image.new("RGB", (1000, 250), (0, 128, 0)).save(wide)
    assert Image.open(io.BytesIO(thumbnail_bytes(wide, size=100))).size == (100, 25)


def test_image_proxy(tmp_path):
    src = tmp_path / "big.png"
    arr = np.zeros((1500, 3000, 4), np.uint8)
    arr[..., 0] = 255  # red, half transparent on the right half
    arr[:, :1500, 3] = 255
    Image.fromarray(arr, "RGBA").save(src)
    dst = tmp_path / "out" / "proxy.jpg"
    info = image_proxy(src, dst, max_side=1280, quality=80)
    out = Image.open(dst)
    assert out.format == "JPEG" and out.mode == "RGB"
    assert max(out.size) <= 1280 and out.size == (info.width, info.height) == (1280, 640)
    pixels = np.asarray(out)
    assert pixels[320, 100].tolist()[0] > 240 and pixels[320, 100].tolist()[1] < 30  # opaque red
    assert min(pixels[320, 1200].tolist()) > 240  # transparent -> white
    assert [p.name for p in dst.parent.iterdir()] == ["proxy.jpg"]  # no temp files left behind
    assert probe(dst).format == "jpeg"


def test_image_proxy_orientation_and_small_source(tmp_path):
    src = _oriented_jpeg(tmp_path / "rot.jpg", 8)
    info = image_proxy(src, tmp_path / "p.jpg", max_side=1280)
    assert (info.width, info.height) == (100, 200)  # rotated, never upscaled


def test_png_text_and_xmp_round_trip(tmp_path):
    img = Image.new("RGB", (16, 16), (10, 20, 30))
    text = {
        "reelforge:job": "job_01H",
        "Comment": "café latin-1 text",
        "reelforge:prompt": "a cat in 東京 at night",
        "reelforge:params": '{"seed": 7, "steps": 50}' * 80,  # long: stored compressed
    }
    dst = tmp_path / "gen.png"
    save_png_with_text(img, dst, text, xmp=XMP)
    assert read_png_text(dst) == text
    assert read_xmp(dst) == XMP
    raw = dst.read_bytes()
    assert b"tEXtreelforge:job" in raw and b"iTXtreelforge:prompt" in raw
    assert b"zTXtreelforge:params" in raw
    assert b"iTXtXML:com.adobe.xmp\x00\x00\x00" in raw  # uncompressed iTXt, as XMP requires
    assert np.asarray(Image.open(dst)).tolist() == np.asarray(img).tolist()
    assert probe(dst).width == 16


def test_png_without_metadata(tmp_path, astronaut_png, camera_jpeg):
    assert read_png_text(astronaut_png) == {}
    assert read_xmp(astronaut_png) is None
    assert read_xmp(camera_jpeg) is None


def test_jpeg_xmp_is_read(tmp_path):
    path = tmp_path / "x.jpg"
    Image.new("RGB", (8, 8)).save(path, xmp=XMP)
    assert read_xmp(path) == XMP


def test_png_text_validation(tmp_path):
    img = Image.new("L", (4, 4))
    for bad in ({"": "x"}, {" lead": "x"}, {"k" * 80: "x"}, {"ключ": "x"}, {"ok": "nul\x00"}):
        with pytest.raises(InvalidInput):
            save_png_with_text(img, tmp_path / "bad.png", bad)
    assert not (tmp_path / "bad.png").exists()
    with pytest.raises(InvalidInput):
        save_png_with_text(img, tmp_path / "bad.png", {}, xmp=b"\xff\xfe")


def test_corrupt_png_text_chunk_is_detected(tmp_path):
    dst = tmp_path / "t.png"
    save_png_with_text(Image.new("L", (4, 4)), dst, {"key": "value"})
    data = bytearray(dst.read_bytes())
    data[data.index(b"value")] ^= 0x20  # flips a byte under the CRC
    dst.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="CRC"):
        read_png_text(dst)


def test_save_png_cmyk_is_converted(tmp_path):
    dst = tmp_path / "c.png"
    save_png_with_text(Image.new("CMYK", (4, 4), (0, 255, 255, 0)), dst, {"a": "b"})
    assert Image.open(dst).mode == "RGB"
    assert read_png_text(dst) == {"a": "b"}
