"""Decode-time bombs: small files that pass every per-frame limit but cost minutes to decode.

Each builder writes a file whose frames are individually legal (each within ``max_pixels``) while
frames x width x height is enormous. They are built from tiny, highly compressible pieces so that
the test itself stays fast; ``benchmarks/bench_media_bombs.py`` builds the full-size ones.
"""

from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image


def _u16le(v: int) -> bytes:
    return struct.pack("<H", v)


def gif_bomb(path: Path, side: int = 7000, frames: int = 500) -> Path:
    """A GIF with a ``side``² logical screen and ``frames`` 1x1 frames (each composited on the canvas)."""
    # Smallest LZW stream for one pixel of colour 0 at minimum code size 2: CLEAR(4), 0, EOI(5).
    pixel = b"\x02\x02\x44\x01\x00"
    out = bytearray(b"GIF89a" + _u16le(side) + _u16le(side) + b"\x80\x00\x00")
    out += b"\x00\x00\x00\xff\xff\xff"  # 2-colour global table
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for i in range(frames):
        # Graphic control: disposal 1 (keep), 20 ms; then a 1x1 image moving along the diagonal.
        out += b"\x21\xf9\x04\x04" + _u16le(2) + b"\x00\x00"
        pos = i % side
        out += b"\x2c" + _u16le(pos) + _u16le(pos) + _u16le(1) + _u16le(1) + b"\x00" + pixel
    out += b"\x3b"
    path.write_bytes(bytes(out))
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zeros_zlib(nbytes: int) -> bytes:
    comp = zlib.compressobj(9)
    block = b"\x00" * (1 << 20)
    parts = []
    left = nbytes
    while left:
        n = min(left, len(block))
        parts.append(comp.compress(block[:n]))
        left -= n
    parts.append(comp.flush())
    return b"".join(parts)


def apng_bomb(path: Path, side: int = 7000, frames: int = 500) -> Path:
    """An RGBA APNG: one ``side``² transparent default image, then ``frames - 1`` 1x1 frames.

    Each small frame is alpha-blended over the canvas and then disposed back to the previous
    canvas, so a decoder copies and composites the whole canvas per frame.
    """
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    seq = 0
    out = bytearray(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr))
    out += _png_chunk(b"acTL", struct.pack(">II", frames, 0))

    def fctl(width: int, height: int, x: int, y: int) -> bytes:
        nonlocal seq
        # delay 1/50 s, dispose_op 2 (previous), blend_op 1 (over)
        data = struct.pack(">IIIIIHHBB", seq, width, height, x, y, 1, 50, 2, 1)
        seq += 1
        return _png_chunk(b"fcTL", data)

    out += fctl(side, side, 0, 0)
    out += _png_chunk(b"IDAT", _zeros_zlib((4 * side + 1) * side))  # filter byte + row, all zero
    tiny = zlib.compress(b"\x00\xff\xff\xff\xff")
    for i in range(1, frames):
        pos = i % side
        out += fctl(1, 1, pos, pos)
        out += _png_chunk(b"fdAT", struct.pack(">I", seq) + tiny)
        seq += 1
    out += _png_chunk(b"IEND", b"")
    path.write_bytes(bytes(out))
    return path


def tiff_bomb(path: Path, side: int = 7000, pages: int = 500) -> Path:
    """A multi-page TIFF whose ``pages`` directories all point at the strips of one blank ``side``² page.

    The page is 8-bit grey, Deflate-compressed (50 MB of zeros become 50 KB), so every page costs a
    full inflate and unpack while the file stays small.
    """
    buf = io.BytesIO()
    Image.new("L", (side, side), 0).save(buf, format="TIFF", compression="tiff_deflate")
    raw = buf.getvalue()
    with Image.open(io.BytesIO(raw)) as page:
        offsets, counts = list(page.tag_v2[273]), list(page.tag_v2[279])
        rows_per_strip = int(page.tag_v2.get(278, side))
        compression = int(page.tag_v2[259])
    lo, hi = min(offsets), max(o + c for o, c in zip(offsets, counts, strict=True))
    # Little-endian TIFF: header, the shared strips, the shared strip tables, then a chain of IFDs.
    data = bytearray(b"II*\x00" + struct.pack("<I", 0))
    base = len(data)
    data += raw[lo:hi]
    if len(data) % 2:
        data += b"\x00"
    offsets_at = len(data)
    data += b"".join(struct.pack("<I", base + o - lo) for o in offsets)
    counts_at = len(data)
    data += b"".join(struct.pack("<I", c) for c in counts)
    n = len(offsets)
    first_ifd = len(data)
    entries = [  # (tag, type, count, value or offset); type 3 SHORT, 4 LONG
        (256, 4, 1, side),  # ImageWidth
        (257, 4, 1, side),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, compression),
        (262, 3, 1, 1),  # Photometric: BlackIsZero
        (273, 4, n, offsets_at if n > 1 else base + offsets[0] - lo),  # StripOffsets
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, rows_per_strip),
        (279, 4, n, counts_at if n > 1 else counts[0]),  # StripByteCounts
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    for i in range(pages):
        data += struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            packed = struct.pack("<I", value) if typ == 4 or count > 1 else struct.pack("<HH", value, 0)
            data += struct.pack("<HHI", tag, typ, count) + packed
        nxt = first_ifd + (i + 1) * ifd_size if i + 1 < pages else 0
        data += struct.pack("<I", nxt)
    data[4:8] = struct.pack("<I", first_ifd)
    path.write_bytes(bytes(data))
    return path


def h264_bomb(path: Path, side: int = 8192, frames: int = 1500, fps: int = 25) -> Path:
    """An H.264 MP4 of ``frames`` ``side``² frames in one GOP (only the first is a keyframe).

    x264 encodes a keyframe and one P-frame of skipped macroblocks; the P-frame's packet is then
    repeated, so the file is tiny and quick to make while a decoder still has to produce every
    frame. ``frames`` is what a validator that decodes "the last GOP" has to decode.
    """
    tmp = path.with_name(path.name + ".seed.mp4")
    with av.open(str(tmp), "w", format="mp4") as out:
        stream = out.add_stream(
            "libx264", rate=fps, options={"preset": "ultrafast", "crf": "40", "bframes": "0", "scenecut": "0"}
        )
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame(side, side, "yuv420p")
        for plane in frame.planes:
            plane.update(b"\x80" * plane.buffer_size)
        for i in range(2):
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    try:
        with av.open(str(tmp)) as src:
            vin = src.streams.video[0]
            key, delta = (bytes(p) for p in [p for p in src.demux(vin) if p.size][:2])
            with av.open(str(path), "w", format="mp4") as out:
                vout = out.add_stream_from_template(vin)
                vout.time_base = Fraction(1, fps)
                for i in range(frames):
                    packet = av.Packet(key if i == 0 else delta)
                    packet.stream = vout
                    packet.time_base = Fraction(1, fps)
                    packet.pts = packet.dts = i
                    packet.duration = 1
                    packet.is_keyframe = i == 0
                    out.mux(packet)
    finally:
        tmp.unlink(missing_ok=True)
    return path
