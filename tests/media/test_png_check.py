"""check_png: the chunk walk, CRCs and the inflated data's structure, on real and hand-built PNGs.

Good files must pass and agree with Pillow (which must then decode them); damaged ones must be
refused with a one-line MediaError naming the file, and bombs refused before the work / memory.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from reelforge.errors import LimitExceeded, MediaError
from reelforge.media import _png
from reelforge.media._png import SIGNATURE, PngCheck, check_png
from reelforge.media.limits import MediaLimits

LIMITS = MediaLimits()
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}

# -- building PNGs by hand ---------------------------------------------------------------------------


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def ihdr(width: int, height: int, depth: int, color: int, interlace: int = 0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace))


def idats(stream: bytes, size: int = 8192) -> bytes:
    return b"".join(chunk(b"IDAT", stream[i : i + size]) for i in range(0, len(stream), size))


def handmade(
    path: Path,
    width: int,
    height: int,
    depth: int,
    color: int,
    raw: bytes,
    *,
    interlace: int = 0,
    before: bytes = b"",
    idat_size: int = 8192,
) -> Path:
    """A PNG whose IDAT stream is ``raw`` (scanlines with their filter bytes), zlib-compressed."""
    body = ihdr(width, height, depth, color, interlace) + before + idats(zlib.compress(raw), idat_size)
    path.write_bytes(SIGNATURE + body + chunk(b"IEND", b""))
    return path


def row_bytes(width: int, depth: int, color: int) -> int:
    return (width * depth * CHANNELS[color] + 7) // 8


def random_rows(width: int, height: int, depth: int, color: int, seed: int = 0) -> bytes:
    """``height`` scanlines of noise, each with filter type 0."""
    rng = np.random.default_rng(seed)
    n = row_bytes(width, depth, color)
    rows = rng.integers(0, 256, (height, 1 + n), dtype=np.uint8)
    rows[:, 0] = 0
    return rows.tobytes()


def adam7_rows(pixels: np.ndarray, bits: int = 8) -> bytes:
    """Adam7 passes of ``pixels`` (H x W x C uint8, or H x W of 0/1 when ``bits`` is 1), filter 0."""
    out = []
    for x0, y0, dx, dy in ADAM7:
        sub = pixels[y0::dy, x0::dx]
        if not sub.size:
            continue  # empty passes have no scanlines at all
        for row in sub:
            out.append(b"\0" + (np.packbits(row).tobytes() if bits == 1 else row.tobytes()))
    return b"".join(out)


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk of a well-formed PNG."""
    out, pos = [], 8
    while pos < len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        out.append((ctype, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def rebuild(parts: list[tuple[bytes, bytes]]) -> bytes:
    return SIGNATURE + b"".join(chunk(t, d) for t, d in parts)


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> Image.Image:
    w, h = size
    bands = len(mode)
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, bands), dtype=np.uint8)
    return Image.fromarray(arr[:, :, 0] if bands == 1 else arr, mode)


# -- good files --------------------------------------------------------------------------------------


def _saved(im: Image.Image, **options: object) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        im.save(path, **options)
        return path

    return make


def _made(width: int, height: int, depth: int, color: int, **kw: int) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        raw = random_rows(width, height, depth, color)
        if kw.get("interlace"):
            shape = (height, width, CHANNELS[color] * depth // 8)
            raw = adam7_rows(np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8))
        before = chunk(b"PLTE", bytes(range(2**depth)) * 3) if color == 3 else b""
        return handmade(path, width, height, depth, color, raw, before=before, **kw)

    return make


def _exif6() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()


def _apng(path: Path) -> Path:
    frames = [noise((40, 30), seed=i) for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def _apng_default_image(path: Path) -> Path:
    frames = [noise((40, 30), seed=i) for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], default_image=True)
    return path


def _srgb() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


GOOD: dict[str, Callable[[Path], Path]] = {
    "rgb": _saved(noise((300, 200))),
    "rgb_911": _saved(noise((911, 911))),
    "rgb_1x1": _saved(noise((1, 1))),
    "rgb_3x5": _saved(noise((3, 5))),
    "rgba": _saved(noise((64, 48), "RGBA")),
    "grey": _saved(noise((65, 33), "L")),
    "grey_alpha": _saved(noise((33, 65), "LA")),
    "grey16": _saved(Image.fromarray(np.arange(35 * 21, dtype=np.uint16).reshape(21, 35) * 80)),
    "rgb16": _made(37, 19, 16, 2),
    "rgba16": _made(19, 37, 16, 6),
    "grey_alpha16": _made(7, 9, 16, 4),
    "palette": _saved(noise((50, 40)).convert("P")),
    "palette_trns": _saved(noise((50, 40)).convert("P"), transparency=3),
    "palette_4bit": _saved(noise((51, 41)).quantize(16), bits=4),
    "palette_1bit_made": _made(13, 7, 1, 3),
    "grey_1bit": _saved(noise((37, 23), "L").convert("1")),
    "grey_2bit": _made(37, 23, 2, 0),
    "grey_4bit": _made(37, 23, 4, 0),
    "grey_trns": _saved(noise((20, 20), "L"), transparency=7),
    "exif6": _saved(noise((30, 20)), exif=_exif6()),
    "icc": _saved(noise((30, 20)), icc_profile=_srgb()),
    "apng": _apng,
    "apng_default_image": _apng_default_image,
    "idat_1_byte_chunks": _made(3, 5, 8, 2, idat_size=1),
    "interlaced_made": _made(29, 17, 8, 6, interlace=1),
}


def _pillow_has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_good_files_pass_and_agree_with_pillow(tmp_path: Path, kind: str) -> None:
    path = GOOD[kind](tmp_path / f"{kind}.png")
    result = check_png(path, path.name, LIMITS)
    assert isinstance(result, PngCheck)
    ihdr_data = chunks(path.read_bytes())[0][1]
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", ihdr_data)
    assert (result.width, result.height, result.bit_depth, result.color_type) == (width, height, depth, color)
    assert result.interlaced is bool(interlace)
    with Image.open(path) as im:
        assert im.size == (result.width, result.height)
        assert im.mode == result.mode
        assert getattr(im, "n_frames", 1) == result.frames
        assert _pillow_has_alpha(im) == result.has_alpha
        assert ("icc_profile" in im.info) == result.icc_profile
        assert result.orientation == (im.getexif().get(0x0112) if "exif" in im.info else None)
        im.load()  # whatever passes the check, Pillow decodes
        if result.frames > 1:
            for frame in range(1, result.frames):
                im.seek(frame)
                im.load()


def test_details_of_some_good_files(tmp_path: Path) -> None:
    exif = GOOD["exif6"](tmp_path / "exif.png")
    assert check_png(exif, "exif.png", LIMITS).orientation == 6
    icc = GOOD["icc"](tmp_path / "icc.png")
    assert check_png(icc, "icc.png", LIMITS).icc_profile is True
    apng = check_png(GOOD["apng"](tmp_path / "a.png"), "a.png", LIMITS)
    assert (apng.frames, apng.mode) == (3, "RGB")
    # Two animation frames, and an IDAT image that is not one of them: Pillow counts three.
    assert check_png(GOOD["apng_default_image"](tmp_path / "d.png"), "d.png", LIMITS).frames == 3
    trns = check_png(GOOD["palette_trns"](tmp_path / "t.png"), "t.png", LIMITS)
    assert (trns.mode, trns.has_alpha, trns.color_type) == ("P", True, 3)
    plain = check_png(GOOD["rgb"](tmp_path / "p.png"), "p.png", LIMITS)
    assert (plain.has_alpha, plain.orientation, plain.icc_profile, plain.frames) == (False, None, False, 1)


@pytest.mark.parametrize(
    ("size", "mode"),
    [((13, 11), "RGB"), ((3, 2), "L"), ((1, 1), "RGBA"), ((5, 9), "LA"), ((33, 17), "RGBA")],
)
def test_adam7_interlaced_png_passes_and_pillow_reads_the_same_pixels(
    tmp_path: Path, size: tuple[int, int], mode: str
) -> None:
    w, h = size
    color = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}[mode]
    pixels = np.random.default_rng(w * h).integers(0, 256, (h, w, len(mode)), dtype=np.uint8)
    path = handmade(tmp_path / "adam7.png", w, h, 8, color, adam7_rows(pixels), interlace=1)
    result = check_png(path, "adam7.png", LIMITS)
    assert result.interlaced and (result.width, result.height, result.mode) == (w, h, mode)
    with Image.open(path) as im:
        assert im.info.get("interlace") == 1
        decoded = np.asarray(im)
    assert np.array_equal(decoded.reshape(h, w, -1), pixels)


def test_adam7_one_bit_grey(tmp_path: Path) -> None:
    w, h = 10, 7
    bits = np.random.default_rng(3).integers(0, 2, (h, w), dtype=np.uint8)
    path = handmade(tmp_path / "bits.png", w, h, 1, 0, adam7_rows(bits, bits=1), interlace=1)
    assert check_png(path, "bits.png", LIMITS).mode == "1"
    with Image.open(path) as im:
        assert np.array_equal(np.asarray(im), bits.astype(bool))


def test_sixteen_bit_rgb_pixels_match_pillow(tmp_path: Path) -> None:
    w, h = 6, 4
    pixels = np.random.default_rng(5).integers(0, 65536, (h, w, 3), dtype=np.uint16)
    raw = b"".join(b"\0" + row.astype(">u2").tobytes() for row in pixels)
    path = handmade(tmp_path / "rgb16.png", w, h, 16, 2, raw)
    assert check_png(path, "rgb16.png", LIMITS).mode == "RGB"
    with Image.open(path) as im:
        assert np.array_equal(np.asarray(im), (pixels >> 8).astype(np.uint8))


def test_tolerated_extras_still_decode_in_pillow(tmp_path: Path) -> None:
    """Bytes after IEND and after the end of the zlib stream inside IDAT: tolerated, like Pillow."""
    w, h = 20, 10
    raw = random_rows(w, h, 8, 2)
    trailing = tmp_path / "trailing.png"
    trailing.write_bytes(handmade(tmp_path / "t0.png", w, h, 8, 2, raw).read_bytes() + b"junk after IEND")
    after_stream = tmp_path / "after_stream.png"
    body = ihdr(w, h, 8, 2) + chunk(b"IDAT", zlib.compress(raw) + b"\0\1garbage") + chunk(b"IDAT", b"more")
    after_stream.write_bytes(SIGNATURE + body + chunk(b"IEND", b""))
    for path in (trailing, after_stream):
        check_png(path, path.name, LIMITS)
        with Image.open(path) as im:
            im.load()


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_bad_exif_gives_no_orientation(tmp_path: Path) -> None:
    w, h = 4, 4
    for junk in (b"II*\x00\xff\xff\xff\xff", b"MM", b"\x00" * 40):
        before = chunk(b"eXIf", junk)
        path = handmade(tmp_path / "e.png", w, h, 8, 2, random_rows(w, h, 8, 2), before=before)
        assert check_png(path, "e.png", LIMITS).orientation is None


# -- bad files ---------------------------------------------------------------------------------------


def refused(path: Path, match: str = "", error: type[Exception] = MediaError) -> str:
    with pytest.raises(error) as info:
        check_png(path, path.name, LIMITS)
    message = str(info.value)
    assert type(info.value) is error
    assert message.startswith(f"{path.name}: ") and "\n" not in message
    if match:
        assert match in message, message
    return message


@pytest.fixture
def noisy(tmp_path: Path) -> Path:
    """300x300 noisy RGB from Pillow: several IDAT chunks."""
    path = tmp_path / "noisy.png"
    noise((300, 300)).save(path)
    assert sum(t == b"IDAT" for t, _ in chunks(path.read_bytes())) > 2
    return path


def test_truncated_anywhere_is_refused(tmp_path: Path, noisy: Path) -> None:
    data = noisy.read_bytes()
    cuts = [len(data) * tenth // 10 for tenth in range(10)] + [len(data) - 12, len(data) - 1, 5, 8, 20, 33]
    for cut in cuts:
        path = tmp_path / f"cut_{cut}.png"
        path.write_bytes(data[:cut])
        message = refused(path)
        assert "truncated PNG" in message or "not a PNG file" in message, message


def _idat_offsets(data: bytes) -> list[tuple[int, int]]:
    """(data offset, length) of each IDAT chunk."""
    out, pos = [], 8
    while pos < len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if ctype == b"IDAT":
            out.append((pos + 8, length))
        pos += 12 + length
    return out


def test_flipped_byte_in_idat_fails_the_crc(tmp_path: Path, noisy: Path) -> None:
    data = noisy.read_bytes()
    for n, (offset, length) in enumerate(_idat_offsets(data)):
        for at in (offset, offset + length // 2, offset + length - 1):
            bad = bytearray(data)
            bad[at] ^= 0x10
            path = tmp_path / f"flip_{n}_{at}.png"
            path.write_bytes(bytes(bad))
            refused(path, "corrupt PNG (bad CRC in IDAT chunk)")


def test_flipped_byte_in_idat_with_crc_fixed_fails_the_stream(tmp_path: Path, noisy: Path) -> None:
    parts = chunks(noisy.read_bytes())
    stream = b"".join(d for t, d in parts if t == b"IDAT")
    others_before = [p for p in parts if p[0] not in (b"IDAT", b"IEND")]
    for at in (0, 1, 2, 100, len(stream) // 3, len(stream) // 2, len(stream) - 30, len(stream) - 2):
        bad = bytearray(stream)
        bad[at] ^= 0x04
        path = tmp_path / f"stream_{at}.png"
        path.write_bytes(rebuild(others_before) + idats(bytes(bad), 65536) + chunk(b"IEND", b""))
        refused(path, "corrupt PNG")


def test_bad_filter_type_is_refused(tmp_path: Path) -> None:
    w, h = 40, 30
    rows = bytearray(random_rows(w, h, 8, 2))
    rows[7 * (1 + 3 * w)] = 5
    refused(handmade(tmp_path / "filter.png", w, h, 8, 2, bytes(rows)), "bad filter type 5 in row 7")
    # Every filter type 0..4 is fine.
    rows = bytearray(random_rows(w, h, 8, 2))
    for r in range(h):
        rows[r * (1 + 3 * w)] = r % 5
    check_png(handmade(tmp_path / "filters.png", w, h, 8, 2, bytes(rows)), "filters.png", LIMITS)
    # In an Adam7 pass.
    pixels = np.zeros((h, w, 3), np.uint8)
    raw = bytearray(adam7_rows(pixels))
    raw[-(1 + 3 * w)] = 200  # the last scanline of pass 7
    path = handmade(tmp_path / "filter7.png", w, h, 8, 2, bytes(raw), interlace=1)
    refused(path, "bad filter type 200 in row 14 of Adam7 pass 7")


def test_too_little_and_too_much_image_data(tmp_path: Path) -> None:
    w, h = 40, 30
    short = handmade(tmp_path / "short.png", w, h, 8, 2, random_rows(w, h - 1, 8, 2))
    refused(short, "too little image data")
    short_byte = handmade(tmp_path / "short1.png", w, h, 8, 2, random_rows(w, h, 8, 2)[:-1])
    refused(short_byte, "too little image data")
    long = handmade(tmp_path / "long.png", w, h, 8, 2, random_rows(w, h + 2, 8, 2))
    refused(long, "too much image data")
    long_byte = handmade(tmp_path / "long1.png", w, h, 8, 2, random_rows(w, h, 8, 2) + b"\0")
    refused(long_byte, "too much image data")
    # Adam7 data sized as if it were not interlaced.
    interlaced = handmade(tmp_path / "i.png", w, h, 8, 2, random_rows(w, h, 8, 2), interlace=1)
    refused(interlaced, "corrupt PNG")


def test_stream_cut_short_inside_complete_chunks(tmp_path: Path) -> None:
    w, h = 40, 30
    stream = zlib.compress(random_rows(w, h, 8, 2))
    path = tmp_path / "cut_stream.png"
    path.write_bytes(SIGNATURE + ihdr(w, h, 8, 2) + idats(stream[:-50]) + chunk(b"IEND", b""))
    refused(path, "IDAT zlib stream is incomplete")
    no_adler = tmp_path / "no_adler.png"
    no_adler.write_bytes(SIGNATURE + ihdr(w, h, 8, 2) + idats(stream[:-4]) + chunk(b"IEND", b""))
    refused(no_adler, "IDAT zlib stream is incomplete")


def test_chunk_order_problems(tmp_path: Path, noisy: Path) -> None:
    parts = chunks(noisy.read_bytes())
    no_iend = tmp_path / "no_iend.png"
    no_iend.write_bytes(rebuild(parts[:-1]))
    refused(no_iend, "truncated PNG (no IEND chunk)")

    no_idat = tmp_path / "no_idat.png"
    no_idat.write_bytes(rebuild([p for p in parts if p[0] != b"IDAT"]))
    refused(no_idat, "no IDAT chunk")

    first_idat = next(i for i, p in enumerate(parts) if p[0] == b"IDAT")
    split = [*parts[: first_idat + 1], (b"tEXt", b"a\0b"), *parts[first_idat + 1 :]]
    separated = tmp_path / "separated.png"
    separated.write_bytes(rebuild(split))
    refused(separated, "IDAT chunks are not consecutive")

    ihdr_second = tmp_path / "ihdr_second.png"
    ihdr_second.write_bytes(rebuild([(b"tEXt", b"a\0b"), *parts]))
    refused(ihdr_second, "the first chunk is tEXt, not IHDR")

    iend_data = tmp_path / "iend_data.png"
    iend_data.write_bytes(rebuild([*parts[:-1], (b"IEND", b"x")]))
    refused(iend_data, "IEND chunk is not empty")


def test_palette_rules(tmp_path: Path) -> None:
    im = noise((30, 20)).convert("P")
    good = tmp_path / "p.png"
    im.save(good)
    parts = chunks(good.read_bytes())
    no_plte = tmp_path / "no_plte.png"
    no_plte.write_bytes(rebuild([p for p in parts if p[0] != b"PLTE"]))
    refused(no_plte, "no PLTE chunk before the image data")

    w, h = 8, 8
    grey_plte = handmade(
        tmp_path / "grey_plte.png", w, h, 8, 0, random_rows(w, h, 8, 0), before=chunk(b"PLTE", b"\0" * 6)
    )
    refused(grey_plte, "PLTE chunk in a greyscale PNG")
    odd = handmade(
        tmp_path / "odd_plte.png", w, h, 8, 3, random_rows(w, h, 8, 3), before=chunk(b"PLTE", b"\0" * 7)
    )
    refused(odd, "PLTE chunk of 7 bytes")


@pytest.mark.parametrize(
    ("depth", "color"), [(16, 3), (4, 2), (1, 4), (2, 6), (8, 1), (8, 5), (3, 0), (0, 0)]
)
def test_bad_bit_depth_and_colour_type(tmp_path: Path, depth: int, color: int) -> None:
    path = tmp_path / "ihdr.png"
    path.write_bytes(
        SIGNATURE + ihdr(4, 4, depth, color) + idats(zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    refused(path, f"invalid bit depth {depth} for colour type {color}")


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ((0, 4, 8, 2, 0, 0, 0), "invalid image size 0x4"),
        ((4, 2**31, 8, 2, 0, 0, 0), "invalid image size"),
        ((4, 4, 8, 2, 1, 0, 0), "unknown compression"),
        ((4, 4, 8, 2, 0, 1, 0), "unknown compression"),
        ((4, 4, 8, 2, 0, 0, 2), "unknown compression"),
    ],
)
def test_bad_ihdr_fields(tmp_path: Path, fields: tuple[int, ...], match: str) -> None:
    path = tmp_path / "ihdr.png"
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", *fields)) + idats(zlib.compress(b"\0" * 64))
    path.write_bytes(SIGNATURE + body + chunk(b"IEND", b""))
    refused(path, match)


def test_malformed_chunks(tmp_path: Path, noisy: Path) -> None:
    data = noisy.read_bytes()
    not_png = tmp_path / "not.png"
    not_png.write_bytes(b"GIF89a" + data[6:])
    refused(not_png, "not a PNG file")

    long_ihdr = tmp_path / "long_ihdr.png"
    long_ihdr.write_bytes(rebuild([(b"IHDR", data[16:29] + b"\0"), *chunks(data)[1:]]))
    refused(long_ihdr, "IHDR chunk is 14 bytes, not 13")

    huge = bytearray(data)
    struct.pack_into(">I", huge, 33, 2**31)  # the length of the chunk after IHDR
    huge_path = tmp_path / "huge_length.png"
    huge_path.write_bytes(bytes(huge))
    refused(huge_path, "over 2^31-1")

    past_end = bytearray(data)
    struct.pack_into(">I", past_end, 33, len(data))
    past_path = tmp_path / "past_end.png"
    past_path.write_bytes(bytes(past_end))
    refused(past_path, "runs past the end of the file")

    bad_type = bytearray(data)
    bad_type[37:41] = b"ID1T"
    bad_type_path = tmp_path / "bad_type.png"
    bad_type_path.write_bytes(bytes(bad_type))
    refused(bad_type_path, "invalid chunk type")

    bad_ihdr_crc = bytearray(data)
    bad_ihdr_crc[20] ^= 1
    crc_path = tmp_path / "ihdr_crc.png"
    crc_path.write_bytes(bytes(bad_ihdr_crc))
    refused(crc_path, "bad CRC in IHDR chunk")

    refused(tmp_path / "missing.png", "cannot read PNG")


def test_zlib_header_zlib_would_refuse(tmp_path: Path) -> None:
    """A 64 KiB window (CINFO 8) or a preset dictionary: zlib (and Pillow) refuse, ISA-L would not."""
    w, h = 8, 8
    stream = zlib.compress(random_rows(w, h, 8, 2))
    for cmf, flg in ((0x88, 0), (0x78, 0x20)):
        flg |= (31 - ((cmf << 8 | flg) % 31)) % 31
        path = tmp_path / f"zhead_{cmf:x}_{flg:x}.png"
        body = ihdr(w, h, 8, 2) + idats(bytes([cmf, flg]) + stream[2:], 1)
        path.write_bytes(SIGNATURE + body + chunk(b"IEND", b""))
        refused(path, "bad zlib header in IDAT")


def test_apng_first_frame_smaller_than_the_image_is_refused(tmp_path: Path) -> None:
    """Pillow would decode IDAT into the fcTL rectangle; APNG says the first frame covers the image."""
    w, h = 8, 8
    actl = chunk(b"acTL", struct.pack(">II", 1, 0))
    fctl = chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, 4, 4, 0, 0, 1, 10, 0, 0))
    path = handmade(tmp_path / "fctl.png", w, h, 8, 2, random_rows(w, h, 8, 2), before=actl + fctl)
    refused(path, "first APNG frame does not cover the image")


def test_huge_declared_size_is_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    # The IDAT is not even zlib: nothing may be inflated before the size check.
    path.write_bytes(
        SIGNATURE + ihdr(100_000, 100_000, 8, 2) + chunk(b"IDAT", b"nonsense") + chunk(b"IEND", b"")
    )
    refused(path, "a side is over the limit", LimitExceeded)
    wide = tmp_path / "wide.png"
    wide.write_bytes(SIGNATURE + ihdr(2**31 - 1, 1, 8, 2) + chunk(b"IDAT", b"nonsense") + chunk(b"IEND", b""))
    refused(wide, "over the limit", LimitExceeded)


def _zeros_stream(total: int) -> bytes:
    """A zlib stream of ``total`` zero bytes (a multiple of 1 MiB), built without compressing it all.

    After a full flush the compressor starts afresh, so each further MiB of zeros compresses to the
    same bytes; the Adler-32 of n zeros is (n mod 65521) << 16 | 1.
    """
    mib = 1 << 20
    block = bytes(mib)
    c = zlib.compressobj(9)
    first = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    assert again == c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    final = b"\x03\x00"  # an empty final block with fixed Huffman codes
    adler = (total % 65521) << 16 | 1
    stream = first + again * (total // mib - 1) + final + struct.pack(">I", adler)
    assert zlib.decompress(stream[: len(first)] + final + struct.pack(">I", (mib % 65521) << 16 | 1)) == block
    return stream


def test_zip_bomb_idat_is_refused_with_little_memory(tmp_path: Path) -> None:
    w, h = 4000, 4000
    expected = h * (1 + 3 * w)
    stream = _zeros_stream(10 * expected // (1 << 20) * (1 << 20))
    path = tmp_path / "bomb.png"
    path.write_bytes(SIGNATURE + ihdr(w, h, 8, 2) + idats(stream, 65536) + chunk(b"IEND", b""))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        message = refused(path, "too much image data")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak
    assert f"{expected:,}" in message


def test_stdlib_zlib_fallback_checks_the_same(
    tmp_path: Path, noisy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without zlib-ng the stdlib inflater is used; its errors are translated the same way."""
    monkeypatch.setattr(_png, "_Z", zlib)
    assert check_png(noisy, "noisy.png", LIMITS).mode == "RGB"
    parts = chunks(noisy.read_bytes())
    stream = bytearray(b"".join(d for t, d in parts if t == b"IDAT"))
    stream[len(stream) // 2] ^= 0x04
    path = tmp_path / "flipped.png"
    path.write_bytes(rebuild(parts[:1]) + idats(bytes(stream), 65536) + chunk(b"IEND", b""))
    refused(path, "corrupt PNG (bad zlib data in IDAT: incorrect data check)")
    w, h = 40, 30
    refused(handmade(tmp_path / "long.png", w, h, 8, 2, random_rows(w, h + 2, 8, 2)), "too much image data")


def _incomplete_code_stream(raw: bytes) -> bytes:
    """A zlib stream of ``raw`` (only zero bytes) in one dynamic deflate block whose literal/length
    code is incomplete (lengths 1 and 2 only: Kraft sum 3/4). zlib refuses it ("invalid
    literal/lengths set"); ISA-L's inflate accepts it, which is why the check does not use ISA-L."""
    assert set(raw) <= {0}
    bits: list[int] = []

    def val(v: int, n: int) -> None:  # header fields and extra bits: least significant bit first
        bits.extend((v >> i) & 1 for i in range(n))

    def code(c: str) -> None:  # Huffman codes: most significant bit first
        bits.extend(int(ch) for ch in c)

    val(1, 1), val(2, 2)  # final block, dynamic Huffman
    val(0, 5), val(0, 5), val(14, 4)  # 257 literal/length codes, 1 distance code, 18 code-length codes
    order = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1)
    lengths = {18: 1, 1: 2, 2: 2}  # the code-length code: 18 -> "0", 1 -> "10", 2 -> "11" (complete)
    for sym in order:
        val(lengths.get(sym, 0), 3)
    code("10")  # literal 0: length 1
    code("0"), val(138 - 11, 7)  # literals 1..138: none
    code("0"), val(117 - 11, 7)  # literals 139..255: none
    code("11")  # 256, end of block: length 2 ("11" of the literal code is left unused)
    code("10")  # distance 0: length 1 (a lone distance code may be incomplete)
    for _ in raw:
        code("0")  # literal 0
    code("10")  # end of block
    bits.extend([0] * (-len(bits) % 8))
    body = bytes(sum(bits[i + j] << j for j in range(8)) for i in range(0, len(bits), 8))
    return b"\x78\x01" + body + zlib.adler32(raw).to_bytes(4, "big")


def test_a_stream_zlib_refuses_is_refused(tmp_path: Path) -> None:
    """An incomplete Huffman code: the check accepts exactly what zlib (and so Pillow) accepts."""
    w, h = 3, 2
    raw = bytes(h * (1 + w))  # filter 0 and three black pixels per row, 8-bit grey
    stream = _incomplete_code_stream(raw)
    with pytest.raises(zlib.error, match="invalid literal/lengths set"):
        zlib.decompress(stream)
    path = tmp_path / "incomplete.png"
    path.write_bytes(SIGNATURE + ihdr(w, h, 8, 0) + idats(stream, 1 << 16) + chunk(b"IEND", b""))
    refused(path, "bad zlib data in IDAT")
    with pytest.raises(OSError):
        Image.open(path).load()
    # The same pixels, properly compressed, pass (the builder above is not what is refused).
    good = tmp_path / "good.png"
    good.write_bytes(SIGNATURE + ihdr(w, h, 8, 0) + idats(zlib.compress(raw), 1 << 16) + chunk(b"IEND", b""))
    assert check_png(good, "good.png", LIMITS).mode == "L"
