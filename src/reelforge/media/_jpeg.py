"""JPEG structure check, without decoding: markers, scans, and whether the scan data can be complete.

libjpeg (through Pillow) does not fail on a scan that ends early: it warns "premature end of data
segment", fills the rest of the image with grey, and Pillow drops the warning. So a 633-byte file
whose header says 7000x7000 decodes "successfully". This walk catches that before decoding:

* the file must reach an end-of-image marker (EOI) through well-formed segments;
* each Huffman-coded scan must hold at least the bits its blocks need: every 8x8 block of a
  sequential scan costs a DC code and an AC code (>= 2 bits), of a progressive DC scan >= 1 bit.
  Arithmetic-coded and lossless JPEGs have no such floor and are only checked for structure;
* the number of scans gives the decode cost of a progressive file (each scan is a pass over its
  components' blocks), so thousands of tiny scans count against ``max_total_pixels``.
"""

from __future__ import annotations

import math
import mmap
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.errors import MediaError

# A marker inside entropy-coded data: 0xFF not followed by a stuffed zero, RSTn or a fill byte. (No
# "\xff+": a single literal first byte lets the regex engine scan at memchr speed, ~40x faster.)
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_SOF_HUFFMAN = {0xC0, 0xC1, 0xC2}  # baseline, extended sequential, progressive
_SOF_OTHER = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}  # lossless, arithmetic, ...
_STANDALONE = {0x01} | set(range(0xD0, 0xD8))


@dataclass
class Scan:
    components: list[int]
    spectral_start: int
    approx_high: int
    data_bytes: int


@dataclass
class JpegLayout:
    sof: int
    width: int
    height: int
    components: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (H, V) sampling
    scans: list[Scan] = field(default_factory=list)

    def blocks(self, component: int) -> int:
        """8x8 blocks of one component (without MCU padding: a lower bound for interleaved scans)."""
        h, v = self.components.get(component, (1, 1))
        hmax = max(c[0] for c in self.components.values())
        vmax = max(c[1] for c in self.components.values())
        cols = math.ceil(math.ceil(self.width * h / hmax) / 8)
        rows = math.ceil(math.ceil(self.height * v / vmax) / 8)
        return cols * rows

    def min_scan_bits(self, scan: Scan) -> int:
        if self.sof not in _SOF_HUFFMAN or not self.height:
            return 0
        blocks = sum(self.blocks(c) for c in scan.components)
        if self.sof != 0xC2:
            return 2 * blocks  # sequential: one DC and at least one AC code (EOB) per block
        if scan.spectral_start == 0:
            return blocks  # progressive DC: a Huffman code (first scan) or one bit (refinement)
        return 0  # progressive AC: end-of-band runs can cover thousands of blocks in a few bits

    def decode_pixels(self) -> int:
        """Pixels' worth of work to decode: one pass per scan over the components it carries."""
        area = self.width * max(self.height, 1)
        n = max(len(self.components), 1)
        passes = sum(len(s.components) for s in self.scans) / n
        return int(area * max(1.0, passes))


def read_layout(path: Path, name: str) -> JpegLayout:
    """Walk the markers of ``path`` from SOI to EOI; MediaError if truncated or malformed."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size < 4:
            raise MediaError(f"{name}: corrupt or truncated JPEG (too short)")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _walk(data, size, name)


def layout_of(data: bytes, name: str) -> JpegLayout:
    """``read_layout`` of a file's bytes already in memory."""
    if len(data) < 4:
        raise MediaError(f"{name}: corrupt or truncated JPEG (too short)")
    return _walk(data, len(data), name)


def _walk(data: mmap.mmap | bytes, size: int, name: str) -> JpegLayout:
    if data[:2] != b"\xff\xd8":
        raise MediaError(f"{name}: not a JPEG file")
    layout: JpegLayout | None = None
    pos = 2
    while True:
        if pos >= size:
            raise MediaError(f"{name}: corrupt or truncated JPEG (no end-of-image marker)")
        if data[pos] != 0xFF:
            raise MediaError(f"{name}: corrupt or truncated JPEG (no marker at offset {pos})")
        while pos < size and data[pos] == 0xFF:
            pos += 1  # the marker's 0xFF, plus any fill bytes
        if pos >= size:
            raise MediaError(f"{name}: corrupt or truncated JPEG (no end-of-image marker)")
        code = data[pos]
        pos += 1
        if code == 0xD9:
            break
        if code in _STANDALONE:
            continue
        if pos + 2 > size:
            raise MediaError(f"{name}: corrupt or truncated JPEG (no end-of-image marker)")
        length = struct.unpack(">H", data[pos : pos + 2])[0]
        end = pos + length
        if length < 2 or end > size:
            raise MediaError(f"{name}: corrupt or truncated JPEG (a segment runs past the end of the file)")
        segment = data[pos + 2 : end]
        if code in _SOF_HUFFMAN or code in _SOF_OTHER:
            layout = _frame(code, segment, name)
        elif code == 0xDA:
            if layout is None:
                raise MediaError(f"{name}: corrupt JPEG (image data before the frame header)")
            found = _SCAN_END.search(data, end)
            if found is None:
                raise MediaError(f"{name}: corrupt or truncated JPEG (the image data has no end-of-image marker)")
            # Entropy-coded bytes: from the segment's end to the next marker (fill bytes included).
            layout.scans.append(_scan(segment, found.start() - end, name))
            pos = found.start()
            continue
        pos = end
    if layout is None:
        raise MediaError(f"{name}: corrupt JPEG (no frame header)")
    if not layout.scans:
        raise MediaError(f"{name}: truncated JPEG (no image data)")
    for i, scan in enumerate(layout.scans):
        need = math.ceil(layout.min_scan_bits(scan) / 8)
        if scan.data_bytes < need:
            raise MediaError(
                f"{name}: truncated JPEG (scan {i + 1} holds {scan.data_bytes:,} bytes of image data; "
                f"a {layout.width}x{layout.height} image needs at least {need:,})"
            )
    return layout


def _frame(code: int, segment: bytes, name: str) -> JpegLayout:
    if len(segment) < 6:
        raise MediaError(f"{name}: corrupt JPEG frame header")
    height, width, count = struct.unpack(">HHB", segment[1:6])
    if len(segment) < 6 + 3 * count or count == 0:
        raise MediaError(f"{name}: corrupt JPEG frame header")
    layout = JpegLayout(code, width, height)
    for i in range(count):
        cid, sampling = segment[6 + 3 * i], segment[7 + 3 * i]
        layout.components[cid] = (max(1, sampling >> 4), max(1, sampling & 15))
    return layout


def _scan(segment: bytes, data_bytes: int, name: str) -> Scan:
    if not segment or len(segment) < 1 + 2 * segment[0] + 3:
        raise MediaError(f"{name}: corrupt JPEG scan header")
    count = segment[0]
    ids = [segment[1 + 2 * i] for i in range(count)]
    ss, _se, a = segment[1 + 2 * count], segment[2 + 2 * count], segment[3 + 2 * count]
    return Scan(components=ids, spectral_start=ss, approx_high=a >> 4, data_bytes=data_bytes)
