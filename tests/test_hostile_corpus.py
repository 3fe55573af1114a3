"""The hostile-input corpus: files a hostile but realistic user would hand reelforge.

Every case is built here, run through the real CLI in its own process (so peak memory is that
process's own), and must either succeed correctly or be refused with exactly one line on stderr
and its proper exit code (never 70, "internal error"). Afterwards the catalog, the blob store and
its staging folder are unchanged (for refusals), and a file outside the paths given is never
stored or overwritten. Time and peak memory of each run are measured and written to a report
(``hostile-report.txt`` in the test's tmp) — memory is checked against a stated ceiling, time is
only reported (the decode-time cap itself is enforced by ``max_decode_seconds``).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.studio import Studio
from tests.conftest import make_image
from tests.media import bombs

REPO = Path(__file__).resolve().parents[1]
# The ceiling every single CLI run must stay under (RSS, the whole process: Python, numpy, PyAV).
MAX_RSS_MB = 1200
# Limits for this corpus: the bombs are built small enough to make quickly, the limits scaled down
# with them so the same code paths refuse them as refuse the full-size ones.
LIMITS = {
    "REELFORGE_LIMIT_MAX_TOTAL_PIXELS": str(400_000_000),
    "REELFORGE_LIMIT_MAX_DECODE_SECONDS": "20",
}


@dataclass
class Case:
    name: str
    build: Callable[[Path], list[str]]  # makes the input under tmp; returns CLI args after --studio
    expect: str  # "ok" | "refused" | "partial" (--skip-invalid: valid files in, the rest listed, exit 2)
    codes: tuple[int, ...] = (2,)  # exit codes accepted for a refusal
    kind: str | None = None  # for "ok" add cases: the kind the asset must have


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def add(path: Path, *extra: str) -> list[str]:
    return ["add", str(path), *extra]


# -- builders ------------------------------------------------------------------------------------
def png_ok(d: Path) -> list[str]:
    return add(make_image(d / "ok.png", seed=1))


def empty_png(d: Path) -> list[str]:
    return add(_write(d / "empty.png", b""))


def truncated_png(d: Path) -> list[str]:
    data = (make_image(d / "full.png", (200, 200), seed=2)).read_bytes()
    (d / "full.png").unlink()
    return add(_write(d / "cut.png", data[: len(data) // 2]))


def png_bad_crc(d: Path) -> list[str]:
    data = bytearray(make_image(d / "x.png", (64, 64), seed=3).read_bytes())
    (d / "x.png").unlink()
    data[40] ^= 0xFF  # inside IDAT
    return add(_write(d / "crc.png", bytes(data)))


def png_header_bomb(d: Path) -> list[str]:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    return add(_write(d / "bomb.png", data))


def png_text_bomb(d: Path) -> list[str]:
    img = d / "t.png"
    make_image(img, (16, 16), seed=4)
    raw = img.read_bytes()
    img.unlink()
    bomb = _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * 200_000_000, 9))
    return add(_write(d / "ztxt.png", raw[:33] + bomb + raw[33:]))


def jpeg_lying_header(d: Path) -> list[str]:
    # A real JPEG header saying 7000x7000 followed by almost nothing: must not pass as a grey image.
    buf = d / "big.jpg"
    Image.new("RGB", (7000, 7000), (90, 90, 90)).save(buf, quality=5)
    data = buf.read_bytes()
    buf.unlink()
    return add(_write(d / "short.jpg", data[:633]))


def jpeg_ok(d: Path) -> list[str]:
    return add(make_image(d / "ok.jpg", (120, 90), seed=5))


def gif_bomb(d: Path) -> list[str]:
    return add(bombs.gif_bomb(d / "bomb.gif", side=4000, frames=200))


def apng_bomb(d: Path) -> list[str]:
    return add(bombs.apng_bomb(d / "bomb.png", side=4000, frames=200))


def tiff_bomb(d: Path) -> list[str]:
    return add(bombs.tiff_bomb(d / "bomb.tif", side=4000, pages=200))


def h264_bomb(d: Path) -> list[str]:
    return add(bombs.h264_bomb(d / "bomb.mp4", side=2048, frames=300))


def text_named_png(d: Path) -> list[str]:
    return add(_write(d / "notes.png", "INT. HOUSE - DAY\n\nThis is text, not a picture.\n"))


def text_named_mp4(d: Path) -> list[str]:
    return add(_write(d / "clip.mp4", "just some words\nand more words\n"))


def random_mp4(d: Path) -> list[str]:
    return add(_write(d / "noise.mp4", np.random.default_rng(6).bytes(50_000)))


def mp4_truncated(d: Path) -> list[str]:
    from reelforge.media import write_video

    path = d / "clip.mp4"
    write_video(iter([np.full((64, 96, 3), i * 9, np.uint8) for i in range(24)]), path, fps=12)
    data = path.read_bytes()
    path.unlink()
    return add(_write(d / "cut.mp4", data[: len(data) // 3]))


def wav_lying_header(d: Path) -> list[str]:
    header = b"RIFF" + struct.pack("<I", 0x7FFFFFF0) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, 48000, 192000, 4, 16)
    data = header + b"data" + struct.pack("<I", 0x7FFFFF00) + b"\x00" * 400
    return add(_write(d / "liar.wav", data))


def wav_ok(d: Path) -> list[str]:
    import wave

    path = d / "tone.wav"
    pcm = (np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440) * 9000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm.tobytes())
    return add(path)


def fountain_ok(d: Path) -> list[str]:
    return add(_write(d / "scene.fountain", "Title: T\n\nINT. HOUSE - DAY\n\nAnna waits.\n\nANNA\nHello?\n"))


def fountain_emphasis_line(d: Path) -> list[str]:
    line = "*_**_*" * 17_000  # ~100 KB of emphasis markers on one action line
    return add(_write(d / "marks.fountain", f"INT. ROOM - DAY\n\n{line}\n"))


def screenplay_too_big(d: Path) -> list[str]:
    scene = "INT. ROOM {n} - DAY\n\nA beat.\n\n"
    return add(_write(d / "huge.fountain", "".join(scene.format(n=i) for i in range(200_000))))


def fountain_nul(d: Path) -> list[str]:
    return add(_write(d / "nul.fountain", b"INT. ROOM - DAY\n\nA\x00B\n"))


def fountain_utf16(d: Path) -> list[str]:
    return add(_write(d / "u16.fountain", "INT. ROOM - DAY\n\nAnna waits.\n".encode("utf-16")))


def chinese_gb18030(d: Path) -> list[str]:
    text = "第一场 日 内 客厅\n\n李明坐在沙发上。\n\n李明\n你好。\n"
    return add(_write(d / "cn.txt", text.encode("gb18030")))


def fdx_billion_laughs(d: Path) -> list[str]:
    ents = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    xml = f'<?xml version="1.0"?><!DOCTYPE FinalDraft [{ents}]><FinalDraft><Content><Paragraph Type="Action"><Text>&a9;</Text></Paragraph></Content></FinalDraft>'
    return add(_write(d / "laughs.fdx", xml))


def fdx_external_entity(d: Path) -> list[str]:
    secret = _write(d.parent / "secret" / "passwd", "root:x:0:0\n")
    xml = (f'<?xml version="1.0"?><!DOCTYPE FinalDraft [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<FinalDraft><Content><Paragraph Type="Action"><Text>&x;</Text></Paragraph></Content></FinalDraft>')
    return add(_write(d / "xxe.fdx", xml))


def json_deep(d: Path) -> list[str]:
    return add(_write(d / "deep.json", "[" * 100_000 + "]" * 100_000))


def json_latin1(d: Path) -> list[str]:
    return add(_write(d / "latin.json", '{"name": "caf\xe9"}'.encode("latin-1")))


def html_nul(d: Path) -> list[str]:
    return add(_write(d / "page.html", b"<html>\x00</html>"))


def unknown_binary(d: Path) -> list[str]:
    return add(_write(d / "blob.bin", np.random.default_rng(7).bytes(4096)))


def folder_with_fifo(d: Path) -> list[str]:
    folder = d / "plates"
    make_image(folder / "a.png", seed=8)
    os.mkfifo(folder / "pipe.png")
    return add(folder)


def symlink_out(d: Path) -> list[str]:
    secret = _write(d.parent / "secret" / "passwd", "root:x:0:0:root:/root:/bin/bash\n")
    folder = d / "plates"
    make_image(folder / "a.png", seed=9)
    (folder / "script.fountain").symlink_to(secret)
    return add(folder)


def symlink_loop(d: Path) -> list[str]:
    folder = d / "plates"
    make_image(folder / "a.png", seed=10)
    (folder / "again").symlink_to(folder)
    return add(folder, "--skip-invalid")


def symlink_dangling(d: Path) -> list[str]:
    folder = d / "plates"
    make_image(folder / "a.png", seed=11)
    (folder / "gone.png").symlink_to(d / "nowhere.png")
    return add(folder)


def non_utf8_name(d: Path) -> list[str]:
    folder = d / "plates"
    make_image(folder / "a.png", seed=12)
    make_image(Path(os.fsdecode(os.fsencode(str(folder)) + b"/caf\xe9.png")), seed=13)
    return add(folder, "--skip-invalid")


def bidi_name(d: Path) -> list[str]:
    return add(make_image(d / "evil\u202egnp.exe.png", seed=14))


def control_char_name(d: Path) -> list[str]:
    return add(make_image(d / "bell\x07.png", seed=15))


def name_dotdot(d: Path) -> list[str]:
    return add(make_image(d / "a.png", seed=16), "--name", "../../escape.png")


def name_absolute(d: Path) -> list[str]:
    return add(make_image(d / "a.png", seed=17), "--name", "/etc/cron.d/x.png")


def name_too_long(d: Path) -> list[str]:
    return add(make_image(d / "a.png", seed=18), "--name", "n" * 2000 + ".png")


def meta_deep_json(d: Path) -> list[str]:
    return add(make_image(d / "a.png", seed=19), "--meta", "k=" + "[" * 50_000 + "]" * 50_000)


def polyglot_png_zip(d: Path) -> list[str]:
    data = make_image(d / "p.png", seed=20).read_bytes()
    (d / "p.png").unlink()
    return add(_write(d / "poly.png", data + b"PK\x03\x04" + b"\x00" * 100))


def missing_path(d: Path) -> list[str]:
    return add(d / "does-not-exist.png")


def a_folder_named_png(d: Path) -> list[str]:
    (d / "dir.png").mkdir()
    return add(d / "dir.png")


def export_to_a_file(d: Path) -> list[str]:
    target = _write(d / "afile", "keep")
    return ["export", "@first", str(target)]


def export_through_symlink(d: Path) -> list[str]:
    secret = _write(d.parent / "secret" / "target.txt", "do not overwrite\n")
    out = d / "out"
    out.mkdir()
    (out / "seed.png").symlink_to(secret)
    return ["export", "@first", str(out), "--overwrite"]


def provenance_huge_png(d: Path) -> list[str]:
    record = json.dumps({"schema": "reelforge.provenance/1", "job_id": "job_forged", "pixel_sha256": "0" * 64})
    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"tEXt", b"reelforge:provenance\x00" + record.encode())
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 100_000)) + _png_chunk(b"IEND", b""))
    return ["provenance", str(_write(d / "forged.png", data))]


def provenance_on_text(d: Path) -> list[str]:
    return ["provenance", str(_write(d / "words.png", "not an image"))]


def limit_not_a_number(d: Path) -> list[str]:
    return ["ls", "--limit", "abc"]


def unknown_command(d: Path) -> list[str]:
    return ["frobnicate"]


def priority_out_of_range(d: Path) -> list[str]:
    return ["run", "media.contact_sheet", "--priority", "99999999999999999999", "--assets", "x"]


def breakdown_emphasis(d: Path) -> list[str]:
    line = "**_*" * 25_000
    path = _write(d / "marks.fountain", f"INT. ROOM - DAY\n\n{line}\n\nANNA\nHi.\n")
    return ["script", "breakdown", str(path)]


CASES = [
    Case("png ok", png_ok, "ok", kind="image"),
    Case("jpeg ok", jpeg_ok, "ok", kind="image"),
    Case("wav ok", wav_ok, "ok", kind="audio"),
    Case("fountain ok", fountain_ok, "ok", kind="screenplay"),
    Case("fountain utf-16", fountain_utf16, "ok", kind="screenplay"),
    Case("chinese gb18030", chinese_gb18030, "ok", kind="screenplay"),
    Case("png + zip polyglot", polyglot_png_zip, "ok", kind="image"),
    Case("bidi override in name", bidi_name, "ok", kind="image"),
    Case("control char in name", control_char_name, "refused"),
    Case("non-UTF-8 name", non_utf8_name, "ok", kind="image"),
    Case("symlink loop", symlink_loop, "partial", kind="image"),
    Case("empty png", empty_png, "refused"),
    Case("truncated png", truncated_png, "refused"),
    Case("png bad crc", png_bad_crc, "refused"),
    Case("png 100000² header", png_header_bomb, "refused"),
    Case("png zTXt bomb", png_text_bomb, "refused"),
    Case("jpeg lying 7000² header", jpeg_lying_header, "refused"),
    Case("gif frame bomb", gif_bomb, "refused"),
    Case("apng frame bomb", apng_bomb, "refused"),
    Case("tiff page bomb", tiff_bomb, "refused"),
    Case("h264 frame bomb", h264_bomb, "refused"),
    Case("text named .png", text_named_png, "refused"),
    Case("text named .mp4", text_named_mp4, "refused"),
    Case("random bytes .mp4", random_mp4, "refused"),
    Case("truncated mp4", mp4_truncated, "refused"),
    Case("wav lying header", wav_lying_header, "refused"),
    Case("100 KB emphasis line", fountain_emphasis_line, "ok", kind="screenplay"),
    Case("200,000-scene screenplay", screenplay_too_big, "refused"),
    Case("fountain with NUL", fountain_nul, "refused"),
    Case("fdx billion laughs", fdx_billion_laughs, "refused"),
    Case("fdx external entity", fdx_external_entity, "refused"),
    Case("json nested 100,000 deep", json_deep, "refused"),
    Case("json in latin-1", json_latin1, "refused"),
    Case("html with NUL", html_nul, "refused"),
    Case("unknown binary", unknown_binary, "refused"),
    Case("fifo in folder", folder_with_fifo, "ok", kind="image"),
    Case("symlink out of folder", symlink_out, "refused"),
    Case("dangling symlink", symlink_dangling, "refused"),
    Case("--name ../..", name_dotdot, "refused"),
    Case("--name absolute", name_absolute, "refused"),
    Case("--name 2000 chars", name_too_long, "refused"),
    Case("--meta nested 50,000 deep", meta_deep_json, "refused"),
    Case("missing path", missing_path, "refused", codes=(3,)),
    Case("folder named .png", a_folder_named_png, "refused"),
    Case("export to a file", export_to_a_file, "refused"),
    Case("export through planted symlink", export_through_symlink, "ok"),
    Case("provenance 20000² png", provenance_huge_png, "refused"),
    Case("provenance on text", provenance_on_text, "refused", codes=(2, 1)),
    Case("--limit abc", limit_not_a_number, "refused"),
    Case("unknown command", unknown_command, "refused"),
    Case("--priority out of range", priority_out_of_range, "refused"),
    Case("breakdown of 100 KB emphasis", breakdown_emphasis, "ok"),
]


def _state(s: Studio) -> tuple[list[str], list[str], list[str]]:
    assets = sorted(a.id for a in s.assets.list())
    blobs = sorted(b.sha256 for b in s.blobs.iter_blobs())
    staging = sorted(p.name for p in s.blobs.tmp.iterdir())  # type: ignore[attr-defined]
    return assets, blobs, staging


# Runs the CLI and, at exit, writes that process's own peak RSS (KiB) where RF_RSS says. VmHWM, not
# getrusage: ru_maxrss survives fork+exec and would report pytest's own size.
_WRAPPER = (
    "import atexit, os, sys\n"
    "def _hwm():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            open(os.environ['RF_RSS'], 'w').write(line.split()[1])\n"
    "atexit.register(_hwm)\n"
    "sys.argv[0] = 'reelforge'\n"
    "from reelforge.cli.main import entry\n"
    "entry()\n"
)


def _run(args: list[str], home: Path, rss_file: Path) -> tuple[int, str, str, float, float]:
    env = {**os.environ, **LIMITS, "PYTHONPATH": str(REPO / "src"), "RF_RSS": str(rss_file)}
    env.pop("REELFORGE_DEBUG", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, "--studio", str(home), *args], capture_output=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=300, check=False)
    seconds = time.monotonic() - t0
    rss_mb = int(rss_file.read_text()) / 1024 if rss_file.exists() else 0.0
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"), seconds, rss_mb


@pytest.fixture(scope="module")
def report_lines() -> list[str]:
    lines: list[str] = []
    yield lines
    path = Path(os.environ.get("REELFORGE_HOSTILE_REPORT", "/tmp/reelforge-hostile-report.txt"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(case: Case, tmp_path: Path, report_lines: list[str]) -> None:
    home = tmp_path / "studio"
    s = Studio.init(home)
    seed = s.assets.add([make_image(tmp_path / "seed" / "seed.png", seed=99)]).added[0]
    s.close()
    inputs = tmp_path / "in"
    inputs.mkdir()
    args = [a.replace("@first", seed.id) for a in case.build(inputs)]
    outside = {p: p.read_bytes() for p in (tmp_path / "secret").rglob("*") if p.is_file()} \
        if (tmp_path / "secret").exists() else {}
    s = Studio.open(home)
    before = _state(s)
    s.close()

    code, _out, err, seconds, rss = _run(args, home, tmp_path / "rss")
    report_lines.append(f"{case.name:34s} exit {code:3d}  {seconds:6.2f} s  peak RSS {rss:6.0f} MiB")

    assert code != 70 and "Traceback" not in err, f"{case.name}: internal error: {err}"
    for p, data in outside.items():
        assert p.read_bytes() == data, f"{case.name}: {p} outside the paths given was changed"
    s = Studio.open(home)
    after = _state(s)
    try:
        if case.expect == "refused":
            assert code in case.codes, f"{case.name}: exit {code}, stderr {err!r}"
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert len(lines) == 1, f"{case.name}: stderr should be one line: {err!r}"
            assert after == before, f"{case.name}: a refusal changed the catalog, blobs or staging"
        else:
            assert code == (2 if case.expect == "partial" else 0), f"{case.name}: exit {code}, stderr {err!r}"
            assert after[2] == before[2], f"{case.name}: staging not clean"
            if case.kind:
                added = [a for a in s.assets.list() if a.id not in before[0]]
                assert added and all(a.kind == case.kind for a in added), f"{case.name}: {added}"
                for a in added:  # whatever went in is stored intact and shown escaped
                    assert s.blobs.verify(a.sha256)
        # Nothing outside the given paths was stored: no asset holds a secret's bytes.
        secrets = {p.read_bytes() for p in outside}
        assert not any(s.blobs.read_bytes(a.sha256) in secrets for a in s.assets.list())
        assert s.fsck(verify=False).clean
    finally:
        s.close()
    assert rss < MAX_RSS_MB, f"{case.name}: peak RSS {rss:.0f} MiB over {MAX_RSS_MB}"


def test_corpus_has_at_least_forty_kinds() -> None:
    assert len({c.name for c in CASES}) >= 40
