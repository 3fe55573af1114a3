"""PNG check without decoding pixels: the cheapest check that still proves the file is complete.

A PNG's pixels are zlib-compressed scanlines, each a filter-type byte followed by the row's bytes.
Once the structure below holds, *every* byte sequence is a valid set of pixel values (unfiltering
is byte arithmetic modulo 256, every sample value is legal, a palette index past the palette's end
is tolerated by decoders), so decoding the pixels could not fail where this check passes. It proves:

* the chunk walk: 8-byte signature, IHDR first with valid fields, every chunk's length inside the
  file and its CRC correct (type + data), PLTE where the colour type needs / allows one, the IDAT
  chunks consecutive, and an IEND chunk (bytes after IEND are tolerated, like libpng and Pillow do);
* the image data: the IDAT zlib stream has a valid header (checked here too: a faster inflater
  might accept windows zlib refuses), inflates without error, reaches its end (so its Adler-32
  checksum matched), and yields exactly the bytes the header's size, depth, colour type and
  interlacing (Adam7: the 7 passes, empty ones skipped) call for, every scanline starting with a
  filter type 0..4. Bytes after the end of the zlib stream are tolerated silently (libpng only
  warns, Pillow ignores them).

It does not prove anything about what the pixels look like, nor about ancillary chunks' contents
(text, EXIF: a bad eXIf only gives ``orientation=None``); unknown chunks, critical or not, are only
CRC-checked, as Pillow ignores them. APNG frames (fcTL / fdAT) are not checked:
an APNG with more than one frame is returned right after its header chunks for Pillow to decode.

The inflater is zlib-ng (a zlib fork with SIMD, ~1.4x zlib's speed here; stdlib zlib when it is not
installed): it accepts exactly the streams zlib, and so Pillow, accepts. ISA-L's inflate, ~2x zlib,
was tried and left out: it inflates deflate blocks whose Huffman code is incomplete, which zlib
refuses, so a crafted file would pass here and then fail to decode (a test keeps such a stream).

Memory stays bounded whatever the header declares: the file is read through one 256 KiB buffer and
inflated at most 1 MiB at a time, stopping as soon as the output passes the expected length.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from io import FileIO
from types import ModuleType

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import _MODES

from reelforge.errors import MediaError
from reelforge.media.limits import MediaLimits


def _inflate_module() -> ModuleType:
    try:
        from zlib_ng import zlib_ng
    except ImportError:  # zlib-ng only speeds this up: stdlib zlib accepts exactly the same streams
        return zlib
    return zlib_ng


_Z = _inflate_module()
_Z_ERRORS: tuple[type[Exception], ...] = (zlib.error, _Z.error)

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_READ_BUFFER = 256 * 1024
_MAX_OUTPUT = 1024 * 1024  # bytes inflated per call: bounds memory whatever the stream holds
_MAX_EXIF = 1024 * 1024  # a bigger eXIf chunk is not parsed (orientation=None); real ones are < 64 KiB
_MAX_CHUNK = 0x7FFFFFFF
# Samples per pixel and the bit depths the PNG spec allows, by colour type.
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# Adam7 passes: (x start, y start, x step, y step).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
# Chunks whose data the result needs, and how many bytes of it.
_KEEP = {b"IHDR": 13, b"acTL": 8, b"fcTL": 26, b"eXIf": _MAX_EXIF}
_U32 = struct.Struct(">I")
_CHUNK_HEAD = struct.Struct(">I4s")
_IHDR = struct.Struct(">IIBBBBB")


@dataclass(frozen=True)
class PngCheck:
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlaced: bool
    mode: str  # the mode Pillow opens this file in
    frames: int  # as Pillow counts them: acTL frames (+1 when IDAT is not the first frame), else 1
    has_alpha: bool  # colour type 4 or 6, or a tRNS chunk
    orientation: int | None  # EXIF orientation 1..8 from an eXIf chunk
    icc_profile: bool  # an iCCP chunk is present


class _Invalid(Exception):
    """Internal: a problem found in the file; ``check_png`` words it with the file's name."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind  # "corrupt" or "truncated"
        self.detail = detail


def _corrupt(detail: str) -> _Invalid:
    return _Invalid("corrupt", detail)


def _truncated(detail: str) -> _Invalid:
    return _Invalid("truncated", detail)


def check_png(path: str | os.PathLike[str], name: str, limits: MediaLimits) -> PngCheck:
    """Walk, CRC-check and inflate ``path`` (see the module docstring); MediaError if it is not whole.

    LimitExceeded when the header's size is over ``limits``, before anything is inflated.
    """
    try:
        with open(path, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            return _Walk(_Reader(f, size), name, limits).run()
    except _Invalid as err:
        raise MediaError(f"{name}: {err.kind} PNG ({err.detail})") from None
    except OSError as err:
        raise MediaError(f"{name}: cannot read PNG ({err.strerror or err})") from None
    except (struct.error, ValueError, *_Z_ERRORS) as err:  # a safety net: the walk raises _Invalid
        raise MediaError(f"{name}: corrupt PNG ({err})") from None


class _Reader:
    """Sequential reads through one reusable buffer: memory stays at its size whatever the file."""

    def __init__(self, f: FileIO, size: int) -> None:
        self.f = f
        self.size = size
        self.buf = bytearray(_READ_BUFFER)
        self.view = memoryview(self.buf)
        self.pos = self.end = 0
        self.offset = 0  # file offset of the next byte handed out

    def left(self) -> int:
        return self.size - self.offset

    def _fill(self) -> None:
        rest = self.end - self.pos
        if rest:  # a few header bytes straddle the buffer's end: move them to the front
            self.buf[:rest] = self.buf[self.pos : self.end]
        self.pos, self.end = 0, rest
        n = self.f.readinto(self.view[rest:])
        if not n:  # lengths are checked against the size first, so the file shrank while read
            raise _truncated("the file ends early")
        self.end += n

    def read(self, n: int) -> bytes:
        """``n`` (<= the buffer's size) bytes, copied."""
        while self.end - self.pos < n:
            self._fill()
        out = bytes(self.view[self.pos : self.pos + n])
        self.pos += n
        self.offset += n
        return out

    def pieces(self, n: int) -> Iterator[memoryview]:
        """The next ``n`` bytes as views of the buffer, each valid only until the next piece."""
        while n:
            if self.pos == self.end:
                self._fill()
            take = min(n, self.end - self.pos)
            piece = self.view[self.pos : self.pos + take]
            self.pos += take
            self.offset += take
            n -= take
            yield piece


class _Stream:
    """The IDAT zlib stream, inflated piece by piece, its scanlines' filter bytes checked as they come."""

    def __init__(self, width: int, height: int, bits_per_pixel: int, interlaced: bool) -> None:
        # Scanlines as runs of (offset of the first row, bytes per row incl. filter byte, rows, pass).
        self.runs: list[tuple[int, int, int, int]] = []
        offset = 0
        passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
        for number, (x0, y0, dx, dy) in enumerate(passes, 1):
            pass_width = (width - x0 + dx - 1) // dx if width > x0 else 0
            rows = (height - y0 + dy - 1) // dy if height > y0 else 0
            if pass_width and rows:
                stride = 1 + (pass_width * bits_per_pixel + 7) // 8
                self.runs.append((offset, stride, rows, number))
                offset += stride * rows
        self.expected = offset
        self.interlaced = interlaced
        self.produced = 0
        self.inflater = _Z.decompressobj()
        self.head = b""  # the zlib header's two bytes, which may straddle IDAT chunks

    def feed(self, data: memoryview | bytes) -> None:
        if self.inflater.eof:
            return  # data after the end of the stream: tolerated
        if len(self.head) < 2:
            self.head += bytes(data[: 2 - len(self.head)])
            if len(self.head) == 2:
                self._check_header()
        while True:
            # Never ask for more than one byte past the expected length (0 would mean "unlimited").
            limit = min(_MAX_OUTPUT, self.expected - self.produced + 1)
            try:
                out = self.inflater.decompress(data, limit)
            except _Z_ERRORS as err:
                raise _corrupt(f"bad zlib data in IDAT: {_zlib_reason(err)}") from None
            if out:
                self._scanlines(out)
            if self.inflater.eof:
                return
            data = self.inflater.unconsumed_tail
            # A full output may leave more pending inside the inflater even with no input left.
            if not data and len(out) < limit:
                return

    def _check_header(self) -> None:
        cmf, flg = self.head
        if cmf & 0x0F != 8 or cmf >> 4 > 7 or (cmf << 8 | flg) % 31 or flg & 0x20:
            raise _corrupt("bad zlib header in IDAT")

    def _scanlines(self, out: bytes) -> None:
        start = self.produced
        stop = start + len(out)
        if stop > self.expected:
            raise _corrupt(f"too much image data: over the {self.expected:,} bytes the header calls for")
        array = np.frombuffer(out, dtype=np.uint8)
        for first_row, stride, rows, number in self.runs:
            run_end = first_row + stride * rows
            if run_end <= start:
                continue
            if first_row >= stop:
                break
            # The first scanline start at or after ``start`` within this run.
            first = first_row + max(0, -(-(start - first_row) // stride)) * stride
            end = min(run_end, stop)
            if first >= end:
                continue
            filters = array[first - start : end - start : stride]
            if int(filters.max()) > 4:
                bad = int(np.argmax(filters > 4))
                row = (first - first_row) // stride + bad
                where = f"row {row}" + (f" of Adam7 pass {number}" if self.interlaced else "")
                raise _corrupt(f"bad filter type {int(filters[bad])} in {where}")
        self.produced = stop

    def finish(self) -> None:
        """At the end of the IDAT chunks: the stream must have ended, with exactly the expected bytes."""
        if not self.inflater.eof:
            raise _corrupt(
                f"the IDAT zlib stream is incomplete ({self.produced:,} of {self.expected:,} bytes inflated)"
            )
        if self.produced != self.expected:
            raise _corrupt(f"too little image data: {self.produced:,} of {self.expected:,} bytes")


def _zlib_reason(err: Exception) -> str:
    return str(err).removeprefix("Error ").split(" ", 1)[-1].removeprefix("while decompressing data: ")


class _Walk:
    def __init__(self, reader: _Reader, name: str, limits: MediaLimits) -> None:
        self.r = reader
        self.name = name
        self.limits = limits
        self.width = self.height = self.depth = self.color = 0
        self.interlaced = False
        self.palette = self.transparency = self.icc = False
        self.exif: bytes | None = None
        self.actl_seen = False
        self.actl_frames: int | None = None  # as Pillow reads acTL: None when absent or invalid
        self.fctl: tuple[int, int, int, int] | None = None  # an fcTL before IDAT: x, y, width, height
        self.stream: _Stream | None = None
        self.idat = 0  # 0: none seen yet, 1: in the IDAT run, 2: after it

    def run(self) -> PngCheck:
        r = self.r
        head = r.read(min(8, r.size))
        if head != SIGNATURE:
            if len(head) < 8 and SIGNATURE.startswith(head) and head:
                raise _truncated("the file ends inside the signature")
            raise MediaError(f"{self.name}: not a PNG file")
        while True:
            if r.left() < 12:
                raise _truncated("no IEND chunk" + (" (the file ends inside a chunk)" if r.left() else ""))
            length, ctype = _CHUNK_HEAD.unpack(r.read(8))
            if not ctype.isalpha():
                raise _corrupt(f"invalid chunk type {ctype!r} at offset {r.offset - 4}")
            label = ctype.decode("ascii")
            if length > _MAX_CHUNK:
                raise _corrupt(f"{label} chunk length {length:,} is over 2^31-1")
            if length + 4 > r.left():
                raise _truncated(f"the {label} chunk runs past the end of the file")
            if not self.width and ctype != b"IHDR":
                raise _corrupt(f"the first chunk is {label}, not IHDR")
            if ctype == b"IDAT":
                if self.idat == 2:
                    raise _corrupt("IDAT chunks are not consecutive")
                if self.idat == 0:
                    self._before_image_data()
                    if self._frames() > 1:
                        return self._result()  # APNG: Pillow decodes it; its header chunks are checked
                    self.idat = 1
                self._idat(length)
                continue
            if self.idat == 1:
                self.idat = 2  # the stream is judged at IEND, so a stray later IDAT gets the clearer error
            if ctype == b"IEND":
                if length:
                    raise _corrupt("IEND chunk is not empty")
                self._check_crc(_Z.crc32(ctype), label)
                if self.stream is None:
                    raise _corrupt("no IDAT chunk")
                self.stream.finish()
                return self._result()
            self._chunk(ctype, label, length)

    # -- chunks --------------------------------------------------------------------------------

    def _check_crc(self, crc: int, label: str) -> None:
        if _U32.unpack(self.r.read(4))[0] != crc:
            raise _corrupt(f"bad CRC in {label} chunk")

    def _idat(self, length: int) -> None:
        """CRC and inflate one IDAT chunk; a stream error waits for the CRC, which is the likelier cause."""
        assert self.stream is not None
        crc = _Z.crc32(b"IDAT")
        problem: _Invalid | None = None
        for piece in self.r.pieces(length):
            crc = _Z.crc32(piece, crc)
            if problem is None:
                try:
                    self.stream.feed(piece)
                except _Invalid as err:
                    problem = err  # stop inflating (bounded work) but finish the CRC
        self._check_crc(crc, "IDAT")
        if problem is not None:
            raise problem

    def _chunk(self, ctype: bytes, label: str, length: int) -> None:
        """Any chunk but IDAT and IEND: CRC it, keep (the start of) what the result needs."""
        keep = _KEEP.get(ctype, 0)
        if ctype == b"eXIf" and length > keep:
            keep = 0  # too big to be a real camera's EXIF: no orientation rather than a big copy
        crc = _Z.crc32(ctype)
        parts: list[bytes] = []
        kept = 0
        for piece in self.r.pieces(length):
            crc = _Z.crc32(piece, crc)
            if kept < keep:
                parts.append(bytes(piece[: keep - kept]))
                kept += len(parts[-1])
        self._check_crc(crc, label)
        data = b"".join(parts)
        if ctype == b"IHDR":
            self._ihdr(data, length)
        elif ctype == b"PLTE":
            self._plte(length)
        elif ctype == b"tRNS":
            self.transparency = True
        elif ctype == b"iCCP":
            self.icc = True
        elif ctype == b"eXIf":
            self.exif = data or None  # Pillow keeps the last one
        elif ctype == b"acTL" and self.idat == 0:
            self._actl(data)
        elif ctype == b"fcTL" and self.idat == 0 and self.fctl is None:
            self._fctl(data)

    def _ihdr(self, data: bytes, length: int) -> None:
        if self.width:
            raise _corrupt("a second IHDR chunk")
        if length != 13:
            raise _corrupt(f"IHDR chunk is {length} bytes, not 13")
        width, height, depth, color, compression, filtering, interlace = _IHDR.unpack(data)
        if not 1 <= width <= _MAX_CHUNK or not 1 <= height <= _MAX_CHUNK:
            raise _corrupt(f"invalid image size {width}x{height}")
        if depth not in _DEPTHS.get(color, ()):
            raise _corrupt(f"invalid bit depth {depth} for colour type {color}")
        if compression or filtering or interlace > 1:
            raise _corrupt(
                f"unknown compression, filter or interlace method ({compression}, {filtering}, {interlace})"
            )
        # Late import: images.py is where the caller lives, and may import this module.
        from reelforge.media.images import check_image_size

        check_image_size((width, height), self.name, self.limits)
        self.width, self.height, self.depth, self.color = width, height, depth, color
        self.interlaced = bool(interlace)

    def _plte(self, length: int) -> None:
        if self.color in (0, 4):
            raise _corrupt("PLTE chunk in a greyscale PNG")
        if self.palette:
            raise _corrupt("a second PLTE chunk")
        if self.idat:
            raise _corrupt("PLTE chunk after the image data")
        if not length or length % 3 or length > 3 * 256:
            raise _corrupt(f"PLTE chunk of {length} bytes is not 1 to 256 RGB entries")
        self.palette = True

    def _actl(self, data: bytes) -> None:
        if len(data) < 8:
            raise _corrupt("acTL chunk is short")  # Pillow refuses it too
        if self.actl_seen:
            self.actl_frames = None  # Pillow ignores the animation then, and shows the IDAT image
            return
        self.actl_seen = True
        frames = _U32.unpack_from(data)[0]
        self.actl_frames = frames if 0 < frames <= 0x80000000 else None

    def _fctl(self, data: bytes) -> None:
        if len(data) < 26:
            raise _corrupt("fcTL chunk is short")
        sequence, width, height, x, y = struct.unpack_from(">IIIII", data)
        if sequence != 0:
            raise _corrupt("APNG frame sequence does not start at 0")
        self.fctl = (x, y, width, height)

    def _before_image_data(self) -> None:
        if self.color == 3 and not self.palette:
            raise _corrupt("no PLTE chunk before the image data of a palette PNG")
        # Pillow decodes IDAT into an fcTL's rectangle when one comes first; APNG demands the whole image.
        if self.fctl is not None and self.fctl != (0, 0, self.width, self.height):
            raise _corrupt("the first APNG frame does not cover the image")
        self.stream = _Stream(self.width, self.height, self.depth * _CHANNELS[self.color], self.interlaced)

    def _frames(self) -> int:
        if self.actl_frames is None:
            return 1
        # Pillow counts an IDAT image that is not the animation's first frame (no fcTL before it).
        return self.actl_frames + (1 if self.fctl is None else 0)

    def _result(self) -> PngCheck:
        return PngCheck(
            width=self.width,
            height=self.height,
            bit_depth=self.depth,
            color_type=self.color,
            interlaced=self.interlaced,
            mode=_MODES[(self.depth, self.color)][0],
            frames=self._frames(),
            has_alpha=self.color in (4, 6) or self.transparency,
            orientation=_orientation(self.exif),
            icc_profile=self.icc,
        )


def _orientation(data: bytes | None) -> int | None:
    """EXIF orientation (tag 0x0112) of an eXIf chunk's TIFF data; None when absent or unreadable."""
    if not data:
        return None
    try:
        exif = Image.Exif()
        exif.load(data)  # takes the TIFF header as eXIf holds it (an "Exif\0\0" prefix is stripped too)
        value = exif.get(0x0112)
    except Exception:  # a bad EXIF block only loses the orientation, never the file
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None
