"""Safe image decoding, thumbnails, web proxies and PNG provenance metadata.

Every decode goes through :func:`open_image`, which checks the header's dimensions against
:class:`MediaLimits` before a single pixel is decoded. Pillow's global state is never modified:
``ImageFile.LOAD_TRUNCATED_IMAGES`` stays False (truncation is an error) and ``Image.MAX_IMAGE_PIXELS``
is left alone; its DecompressionBombError becomes ``LimitExceeded`` and its DecompressionBombWarning
is captured (our ``max_pixels`` check decides), so a bomb never passes with only a warning.
"""

from __future__ import annotations

import contextlib
import io
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from reelforge.errors import InvalidInput, LimitExceeded, MediaError, ReelforgeError
from reelforge.media._io import atomic_path
from reelforge.media.info import MediaInfo
from reelforge.media.limits import MediaLimits
from reelforge.media.sniff import MIME_TYPES, Sniffed, sniff

PIL_FORMATS = {
    "png": "PNG",
    "jpeg": "JPEG",
    "gif": "GIF",
    "webp": "WEBP",
    "tiff": "TIFF",
    "bmp": "BMP",
    "avif": "AVIF",
}
XMP_KEY = "XML:com.adobe.xmp"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WHITE = (255, 255, 255)
_WARNINGS_LOCK = threading.Lock()


def check_image_size(size: tuple[int, int], name: str, limits: MediaLimits) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise MediaError(f"{name}: image has an empty size {width}x{height}")
    if max(width, height) > limits.max_image_side:
        raise LimitExceeded(
            f"{name}: image is {width}x{height}, a side is over the limit of {limits.max_image_side}"
        )
    if width * height > limits.max_pixels:
        raise LimitExceeded(
            f"{name}: image is {width}x{height} = {width * height} pixels, "
            f"over the limit of {limits.max_pixels}"
        )


def png_header(path: Path, name: str) -> tuple[int, int, int]:
    """(width, height, frames) of a PNG from its IHDR and acTL chunks, read before Pillow opens it.

    Opening an APNG makes Pillow allocate a full canvas for the first frame's disposal, before any
    size check of ours could run, so PNG sizes are checked from these bytes instead.
    """
    width = height = 0
    frames = 1
    with open(path, "rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            raise MediaError(f"{name}: not a PNG file")
        for index in range(64):  # acTL precedes the image data; a handful of chunks come first
            header = f.read(8)
            if len(header) < 8:
                raise MediaError(f"{name}: truncated PNG header")
            length, ctype = struct.unpack(">I4s", header)
            if index == 0 and (ctype != b"IHDR" or length != 13):
                raise MediaError(f"{name}: corrupt PNG (no IHDR chunk first)")
            if ctype in (b"IDAT", b"IEND"):
                break
            if ctype in (b"IHDR", b"acTL"):
                data = f.read(8)
                if len(data) < 8:
                    raise MediaError(f"{name}: truncated PNG header")
                first, second = struct.unpack(">II", data)
                if ctype == b"IHDR":
                    width, height = first, second
                else:
                    frames = max(1, first)
                f.seek(length - 8 + 4, io.SEEK_CUR)
            else:
                f.seek(length + 4, io.SEEK_CUR)
    return width, height, frames


@contextlib.contextmanager
def decoding(name: str) -> Iterator[None]:
    """Translate whatever a decoder raises on hostile input into MediaError / LimitExceeded."""
    try:
        yield
    except ReelforgeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise LimitExceeded(f"{name}: image rejected as a decompression bomb ({err})") from None
    except MemoryError:
        raise LimitExceeded(f"{name}: image is too large to decode in memory") from None
    except UnidentifiedImageError:
        raise MediaError(f"{name}: image data cannot be identified") from None
    except Exception as err:  # decoders raise OSError, SyntaxError, ValueError, struct.error, ...
        reason = " ".join(str(err).split()) or type(err).__name__
        raise MediaError(f"{name}: corrupt or truncated image ({reason})") from None


def _image_sniffed(path: Path, limits: MediaLimits) -> Sniffed:
    sniffed = sniff(path, limits)
    if sniffed.kind != "image":
        raise MediaError(f"{path.name}: not an image (content is {sniffed.format} {sniffed.kind})")
    return sniffed


@contextlib.contextmanager
def open_image(
    path: Path | str, limits: MediaLimits = MediaLimits(), sniffed: Sniffed | None = None, *,
    content: bytes | None = None,
) -> Iterator[Image.Image]:
    """Open lazily (header only) with the decoder matching the sniffed type, and check its size.
    ``content``: the file's bytes, when the caller holds them already (read from there instead)."""
    path = Path(path)
    sniffed = sniffed or _image_sniffed(path, limits)
    if sniffed.format == "png":
        check_image_size(png_header(path, path.name)[:2], path.name, limits)
    # Pillow warns (DecompressionBombWarning) from Image.open when an image exceeds its global
    # MAX_IMAGE_PIXELS. Our own check below is the one that decides, so the warning is captured
    # here instead of leaking; the lock keeps concurrent catch_warnings blocks from corrupting the
    # global warning filters. Other warnings are re-emitted.
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught, decoding(path.name):
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        im = Image.open(path if content is None else io.BytesIO(content), formats=[PIL_FORMATS[sniffed.format]])
    for message in caught:
        if not issubclass(message.category, Image.DecompressionBombWarning):
            warnings.warn_explicit(message.message, message.category, message.filename, message.lineno)
    try:
        check_image_size(im.size, path.name, limits)
        yield im
    finally:
        im.close()


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _to_8bit(im: Image.Image) -> Image.Image:
    """Scale 16/32-bit and float images into 8 bits (Pillow's own convert clips instead of scaling)."""
    if im.mode.startswith("I;16"):
        arr = np.asarray(im).astype(np.uint32) >> 8
        return Image.fromarray(arr.astype(np.uint8), mode="L")
    if im.mode == "I":
        arr = np.asarray(im).astype(np.int64)
        top = 65535 if arr.max(initial=0) > 255 else 255
        return Image.fromarray((np.clip(arr, 0, top) * 255 // top).astype(np.uint8), mode="L")
    if im.mode == "F":
        arr = np.nan_to_num(np.asarray(im, dtype=np.float64))
        lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
        if lo >= 0.0 and hi <= 1.0:
            lo, hi = 0.0, 1.0
        scaled = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        return Image.fromarray((scaled * 255 + 0.5).astype(np.uint8), mode="L")
    return im


def _to_srgb(im: Image.Image) -> Image.Image:
    """Apply an embedded ICC profile so CMYK and wide-gamut images look right on the web."""
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK"):
        return im
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(im, source, target, outputMode="RGBA" if im.mode == "RGBA" else "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return im  # a broken profile is not worth failing for: fall back to a plain conversion
    if out is None:
        return im
    out.info = {k: v for k, v in im.info.items() if k != "icc_profile"}
    return out


def convert_mode(im: Image.Image, mode: str | None) -> Image.Image:
    """Convert to ``mode``; transparency is flattened onto white when the target has no alpha."""
    if mode is None or im.mode == mode:
        return im
    im = _to_8bit(im)
    if mode in ("RGB", "RGBA"):
        im = _to_srgb(im)
    if mode in ("RGB", "L") and _has_alpha(im):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        im = flat
    return im if im.mode == mode else im.convert(mode)


def load_image(
    path: Path | str, limits: MediaLimits = MediaLimits(), mode: str | None = "RGB", orient: bool = True
) -> Image.Image:
    """Fully decode the first frame, apply EXIF orientation, and convert to ``mode`` (None: keep)."""
    path = Path(path)
    with open_image(path, limits) as im, decoding(path.name):
        im.load()
        out = ImageOps.exif_transpose(im) if orient else im.copy()
    return convert_mode(out, mode)


def _reduced(path: Path, max_side: int, limits: MediaLimits) -> Image.Image:
    """Decode at the smallest JPEG DCT scale that still covers ``max_side``, oriented, in RGB."""
    with open_image(path, limits) as im, decoding(path.name):
        if im.format == "JPEG":
            im.draft("RGB", (max_side, max_side))
        im.load()
        out = ImageOps.exif_transpose(im)
    out = convert_mode(out, "RGB")
    if max(out.size) > max_side:
        out.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return out


def thumbnail_image(path: Path | str, size: int = 256, limits: MediaLimits = MediaLimits()) -> Image.Image:
    """An RGB image whose longer side is at most ``size`` (aspect kept)."""
    if size < 1:
        raise InvalidInput(f"thumbnail size must be positive, got {size}")
    return _reduced(Path(path), size, limits)


def jpeg_bytes(im: Image.Image, quality: int = 85, optimize: bool = True) -> bytes:
    """JPEG of ``im`` in RGB. ``optimize`` (a second pass for optimal Huffman tables) saves a few
    percent of bytes for about four times the encoding time: ingest's thumbnails go without."""
    buf = io.BytesIO()
    convert_mode(im, "RGB").save(buf, format="JPEG", quality=quality, optimize=optimize)
    return buf.getvalue()


def thumbnail_bytes(path: Path | str, size: int = 256, limits: MediaLimits = MediaLimits()) -> bytes:
    """JPEG thumbnail of an image file, longer side at most ``size``."""
    return jpeg_bytes(thumbnail_image(path, size, limits))


def image_proxy(
    src: Path | str,
    dst: Path | str,
    max_side: int = 1280,
    quality: int = 85,
    limits: MediaLimits = MediaLimits(),
) -> MediaInfo:
    """Write a web-size JPEG (EXIF orientation applied, alpha flattened onto white) atomically."""
    if max_side < 1 or not 1 <= quality <= 100:
        raise InvalidInput(f"invalid proxy settings: max_side={max_side}, quality={quality}")
    out = _reduced(Path(src), max_side, limits)
    data = jpeg_bytes(out, quality)
    with atomic_path(dst) as tmp:
        tmp.write_bytes(data)
    return MediaInfo(
        kind="image",
        format="jpeg",
        mime=MIME_TYPES[("image", "jpeg")],
        size_bytes=len(data),
        width=out.width,
        height=out.height,
        mode="RGB",
        frames=1,
    )


# ---------------------------------------------------------------------------------- PNG provenance


def _check_keyword(key: str) -> None:
    # PNG keywords: 1-79 printable Latin-1 characters, no leading/trailing space.
    ok = (
        1 <= len(key) <= 79
        and key == key.strip()
        and all(32 <= ord(c) <= 126 or 161 <= ord(c) <= 255 for c in key)
    )
    if not ok:
        raise InvalidInput(f"invalid PNG text key {key!r}: use 1-79 printable Latin-1 characters")


def save_png_with_text(
    img: Image.Image, dst: Path | str, text: dict[str, str], xmp: bytes | None = None
) -> None:
    """Save ``img`` as PNG with provenance: tEXt (Latin-1) or iTXt (UTF-8) chunks, plus an XMP packet.

    Values over 1 KiB are compressed (zTXt / compressed iTXt). The XMP packet goes, uncompressed as the
    XMP spec asks, in the iTXt chunk keyed "XML:com.adobe.xmp". The write is atomic.
    """
    info = PngInfo()
    for key, value in text.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInput("PNG text keys and values must be strings")
        _check_keyword(key)
        if key == XMP_KEY:
            raise InvalidInput(f"use the xmp argument, not the text key {XMP_KEY!r}")
        if "\x00" in value:
            raise InvalidInput(f"PNG text value for {key!r} contains a NUL character")
        compress = len(value.encode("utf-8")) > 1024
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            info.add_itxt(key, value, zip=compress)
        else:
            info.add_text(key, value, zip=compress)
    if xmp is not None:
        try:
            packet = xmp.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("XMP packet must be UTF-8") from None
        info.add_itxt(XMP_KEY, packet, lang="", tkey="", zip=False)
    if img.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        img = convert_mode(img, "RGBA" if _has_alpha(img) else "RGB")
    with atomic_path(dst) as tmp:
        img.save(tmp, format="PNG", pnginfo=info)


def _inflate(data: bytes, limit: int, name: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as err:
        raise MediaError(f"{name}: corrupt compressed PNG text ({err})") from None
    if inflater.unconsumed_tail:
        raise LimitExceeded(f"{name}: compressed PNG text expands beyond {limit} bytes")
    return out


def _png_text_chunks(path: Path, limits: MediaLimits) -> Iterator[tuple[str, str]]:
    """Parse tEXt/zTXt/iTXt chunks directly, skipping image data: no pixel is decoded.

    The IHDR's size is still checked against ``limits``: a file over them is refused by every
    reader alike, and whoever reads the text next (provenance) would decode the pixels.
    """
    name = path.name
    budget = limits.max_text_bytes
    with open(path, "rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            raise MediaError(f"{name}: not a PNG file")
        ihdr = f.read(8 + 13)
        if len(ihdr) < 21 or ihdr[:8] != b"\x00\x00\x00\x0dIHDR":
            raise MediaError(f"{name}: corrupt PNG (no IHDR chunk first)")
        check_image_size(struct.unpack(">II", ihdr[8:16]), name, limits)
        f.seek(4, io.SEEK_CUR)  # IHDR's CRC
        while True:
            header = f.read(8)
            if len(header) < 8:
                raise MediaError(f"{name}: truncated PNG (no IEND chunk)")
            length, ctype = struct.unpack(">I4s", header)
            if ctype == b"IEND":
                return
            if ctype not in (b"tEXt", b"zTXt", b"iTXt"):
                f.seek(length + 4, io.SEEK_CUR)
                continue
            if length > budget:
                raise LimitExceeded(f"{name}: PNG text chunks exceed {limits.max_text_bytes} bytes")
            data, crc = f.read(length), f.read(4)
            if len(data) < length or len(crc) < 4:
                raise MediaError(f"{name}: truncated PNG text chunk")
            if zlib.crc32(ctype + data) != struct.unpack(">I", crc)[0]:
                raise MediaError(f"{name}: PNG {ctype.decode()} chunk has a bad CRC")
            key_raw, sep, rest = data.partition(b"\x00")
            if not sep:
                raise MediaError(f"{name}: malformed PNG {ctype.decode()} chunk")
            key = key_raw.decode("latin-1")
            try:
                if ctype == b"tEXt":
                    value = rest.decode("latin-1")
                elif ctype == b"zTXt":
                    value = _inflate(rest[1:], budget, name).decode("latin-1")
                else:
                    compressed, _method = rest[0], rest[1]
                    _lang, _, rest = rest[2:].partition(b"\x00")
                    _tkey, _, body = rest.partition(b"\x00")
                    value = (_inflate(body, budget, name) if compressed else body).decode("utf-8")
            except (IndexError, UnicodeDecodeError):
                raise MediaError(f"{name}: malformed PNG {ctype.decode()} chunk") from None
            budget -= len(value)
            if budget < 0:
                raise LimitExceeded(f"{name}: PNG text chunks exceed {limits.max_text_bytes} bytes")
            yield key, value


def read_png_text(path: Path | str, limits: MediaLimits = MediaLimits()) -> dict[str, str]:
    """All PNG text chunks except the XMP packet (see :func:`read_xmp`)."""
    return {k: v for k, v in _png_text_chunks(Path(path), limits) if k != XMP_KEY}


def read_xmp(path: Path | str, limits: MediaLimits = MediaLimits()) -> bytes | None:
    """The XMP packet of a PNG (iTXt chunk), JPEG (APP1), WebP or TIFF file, or None."""
    path = Path(path)
    sniffed = _image_sniffed(path, limits)
    if sniffed.format == "png":
        packets = [v for k, v in _png_text_chunks(path, limits) if k == XMP_KEY]
        return packets[-1].encode("utf-8") if packets else None
    with open_image(path, limits, sniffed) as im:
        xmp = im.info.get("xmp")
    if isinstance(xmp, str):
        return xmp.encode("utf-8")
    return bytes(xmp) if xmp else None
