"""A corpus of hostile or broken files that every reader must reject cleanly.

``make_bad_corpus(dir)`` is imported by other rooms' tests (the catalog's ingest) as well as ours:
each file must make ``reelforge.media.probe`` raise MediaError or LimitExceeded, quickly and without
allocating anything big.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from reelforge.media import write_video


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png_bytes(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose IHDR (with a valid CRC) declares a gigantic RGB image."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _noise_image(rng: np.random.Generator, size: int = 256) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def make_bad_corpus(directory: Path) -> list[Path]:
    """Write the bad files into ``directory`` and return their paths (deterministic content)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240611)
    paths: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = directory / name
        path.write_bytes(data)
        paths.append(path)

    buf = io.BytesIO()
    _noise_image(rng).save(buf, format="PNG")
    png = buf.getvalue()
    put("truncated.png", png[: len(png) * 6 // 10])

    buf = io.BytesIO()
    _noise_image(rng).save(buf, format="JPEG", quality=90)
    jpeg = buf.getvalue()
    sos = jpeg.index(b"\xff\xda")
    sos_header_len = struct.unpack(">H", jpeg[sos + 2 : sos + 4])[0]
    garbage = rng.integers(0, 256, 8192, dtype=np.uint8).tobytes()
    put("corrupt.jpg", jpeg[: sos + 2 + sos_header_len] + garbage)

    put("bomb.png", bomb_png_bytes())
    put("empty.jpg", b"")
    put("x.fountain", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    put("latin1.txt", "INT. CAFÉ - NUIT\n\nHélène entre, très émue.\n".encode("latin-1"))

    video = directory / "_good_for_truncation.mp4"
    # Noise frames make the media data dominate the file, so the cut lands inside it (the index,
    # written first for faststart, survives and lists packets that are no longer there).
    frames = (rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in range(24))
    write_video(frames, video, fps=24)
    data = video.read_bytes()
    video.unlink()
    put("truncated.mp4", data[: len(data) // 2])

    put("random.mp4", rng.integers(0, 256, 65536, dtype=np.uint8).tobytes())
    return paths
