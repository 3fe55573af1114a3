"""Decode bombs against the media gate: how long, and how much memory, before each is refused?

Builds the full-size hostile files of issue 15 (the test suite uses smaller ones) in a temporary
folder and runs each reader on each in its own subprocess, so that peak memory (``ru_maxrss`` from
``wait4``) belongs to that one case and a runaway decode can be killed at ``--timeout``:

* GIF: 7000² canvas, 500 one-pixel frames (11.5 KB) — ``probe``
* APNG: 7000² RGBA default image plus 499 one-pixel frames blended over it (223 KB) — ``probe``
* TIFF: 500 pages of 7000² grey sharing one set of Deflate strips (129 KB) — ``probe``
* H.264: 8192², 1,500 frames in one GOP (249 KB) — ``probe`` (validation decodes the last GOP)
* PNG 13000² with a forged provenance record — ``catalog.provenance.verify`` in a fresh studio
* JPEG, 633 bytes, whose header says 7000² — ``probe``

    .venv/bin/python benchmarks/bench_media_bombs.py [--timeout 240] [--json out.json] [--write]

A subprocess's baseline (Python + PyAV + Pillow imported, nothing decoded) is measured the same way
and reported, so the peak figures can be read as "baseline + what the file cost".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, sys, time
from pathlib import Path
import av, PIL.Image  # the baseline imports, so every case pays them equally
from reelforge.errors import ReelforgeError
case, path = sys.argv[1], Path(sys.argv[2])
t = time.monotonic()
try:
    if case == "baseline":
        result = "ok"
    elif case == "verify":
        from reelforge.catalog.provenance import verify
        from reelforge.studio import Studio
        studio = Studio.init(path.parent / "studio", exist_ok=True)
        v = verify(studio, path)
        result = "verified" if v.verified else "problems: " + "; ".join(v.problems)[:120]
    else:
        from reelforge.media import probe
        info = probe(path)
        result = f"accepted as {info.kind}/{info.format} {info.width}x{info.height} frames={info.frames}"
except ReelforgeError as exc:
    result = f"{type(exc).__name__}: {exc}"[:160]
print(json.dumps({"seconds": time.monotonic() - t, "result": result}))
"""


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def provenance_png(path: Path, side: int = 13000) -> Path:
    """A valid RGB PNG of ``side``² black pixels carrying a forged reelforge provenance record."""
    record = {"schema": "reelforge.provenance/1", "asset_id": "ast_forged", "job_id": "job_forged",
              "pixel_sha256": "0" * 64}
    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * side)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    text = b"reelforge:provenance\x00" + json.dumps(record).encode()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
        + _png_chunk(b"tEXt", text)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return path


def short_jpeg(path: Path, side: int = 7000, keep: int = 633) -> Path:
    """A real ``side``² JPEG cut to ``keep`` bytes inside its scan, with an end-of-image marker appended."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (side, side), 90).save(buf, format="JPEG", quality=50)
    path.write_bytes(buf.getvalue()[: keep - 2] + b"\xff\xd9")
    return path


def build(directory: Path) -> list[tuple[str, str, Path]]:
    from tests.media.bombs import apng_bomb, gif_bomb, h264_bomb, tiff_bomb

    return [
        ("baseline (imports only)", "baseline", directory / "none"),
        ("GIF 7000² x 500 frames", "probe", gif_bomb(directory / "bomb.gif")),
        ("APNG 7000² x 500 frames", "probe", apng_bomb(directory / "bomb.png")),
        ("TIFF 7000² x 500 pages", "probe", tiff_bomb(directory / "bomb.tif")),
        ("H.264 8192² x 1500 frames, one GOP", "probe", h264_bomb(directory / "bomb.mp4")),
        ("PNG 13000² + forged provenance", "verify", provenance_png(directory / "forged.png")),
        ("JPEG 633 B claiming 7000²", "probe", short_jpeg(directory / "short.jpg")),
    ]


def run_case(case: str, path: Path, timeout: float) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, case, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    start = time.monotonic()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - start > timeout:
            proc.send_signal(signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    wall = time.monotonic() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    row: dict[str, object] = {"wall_s": round(wall, 2), "peak_mb": round(usage.ru_maxrss / 1024, 1)}
    if proc.returncode == -signal.SIGKILL and wall > timeout:
        row["result"] = f"killed at the {timeout:.0f} s timeout"
        row["seconds"] = None
    elif out.strip():
        row.update(json.loads(out.strip().splitlines()[-1]))
    else:
        row["result"] = f"crashed (exit {proc.returncode}): {err.strip().splitlines()[-1:] or ''}"
        row["seconds"] = None
    return row


def table(rows: dict[str, dict[str, object]], before: dict[str, dict[str, object]] | None) -> str:
    head = "| file | seconds | peak RSS MB | outcome |"
    if before:
        head = "| file | seconds before → after | peak RSS MB before → after | outcome after |"
    lines = [head, "|---|---|---|---|"]

    def secs(row: dict[str, object]) -> str:
        return f"{row['seconds']:.2f}" if row.get("seconds") is not None else f">{row['wall_s']}"

    for name, row in rows.items():
        took, peak = secs(row), f"{row['peak_mb']:.0f}"
        if before and name in before:
            took, peak = f"{secs(before[name])} → {took}", f"{before[name]['peak_mb']:.0f} → {peak}"
        lines.append(f"| {name} | {took} | {peak} | {row['result']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timeout", type=float, default=240.0, help="kill a case after this many seconds")
    ap.add_argument("--json", type=Path, help="also save the figures here")
    ap.add_argument("--before", type=Path, help="figures (from --json) of an earlier run to compare with")
    ap.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    ap.add_argument("--only", help="run only the cases whose name contains this text")
    ap.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        print(json.dumps([[name, case, str(path)] for name, case, path in build(args.build)]))
        return
    rows: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="bombs-") as tmp:
        # Built in another process: a child's peak RSS includes its parent's size at fork time.
        made = subprocess.run([sys.executable, __file__, "--build", tmp], check=True, capture_output=True)
        for name, case, path in json.loads(made.stdout):
            if args.only and args.only not in name and case != "baseline":
                continue
            rows[name] = run_case(case, Path(path), args.timeout)
            print(f"{name}: {rows[name]}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    before = json.loads(args.before.read_text()) if args.before else None
    text = table(rows, before)
    print(text)
    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _report import machine_description, write_section

        cmd = "python benchmarks/bench_media_bombs.py" + (" --before FILE" if before else "")
        write_section("media-bombs", f"## Decode bombs\n\nCommand: `{cmd}` (seconds: inside the "
                      f"subprocess; peak: its max RSS). {machine_description()}\n\n{text}\n")


if __name__ == "__main__":
    main()
