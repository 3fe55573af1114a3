"""Format sniffing and a single entry point that reads any supported screenplay file."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import PurePath

from reelforge.errors import LimitExceeded, NotFound, ScriptParseError

from .chinese import _match_heading, parse_chinese
from .fdx import parse_fdx
from .fountain import parse_fountain
from .model import Screenplay

__all__ = ["decode_text", "detect_format", "load_sample", "parse_any", "sample_path"]

MAX_SCRIPT_BYTES = 50_000_000
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SAMPLES = ("the_last_reel.fountain", "chinese_sample.txt")


def decode_text(data: bytes) -> str:
    """Decode screenplay bytes: BOM-marked UTF-8/16, then UTF-8, then GB18030 (common for Chinese)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ScriptParseError(
            f"cannot decode screenplay text (not UTF-8, GB18030 or CP1252): {exc}"
        ) from exc


def detect_format(text: str | bytes, filename: str | None = None) -> str:
    """Return ``"fountain"``, ``"fdx"`` or ``"chinese"`` from the file name, then the content."""
    suffix = PurePath(filename).suffix.lower() if filename else ""
    if suffix == ".fdx":
        return "fdx"
    head = text[:4096]
    if isinstance(head, bytes):
        head_s = head.decode("utf-8", errors="ignore")
    else:
        head_s = head
    if head_s.lstrip("\ufeff \t\r\n").startswith("<?xml") or "<FinalDraft" in head_s:
        return "fdx"
    if suffix in (".fountain", ".spmd"):
        return "fountain"
    sample = text[:20000]
    sample_s = sample.decode("utf-8", errors="ignore") if isinstance(sample, bytes) else sample
    letters = sum(1 for c in sample_s if c.isalpha())
    cjk = len(_CJK.findall(sample_s))
    if letters and cjk / letters > 0.3:
        return "chinese"
    if cjk and any(_match_heading(line) for line in sample_s.splitlines()[:400]):
        return "chinese"
    return "fountain"


def parse_any(
    data: bytes | str,
    filename: str | None = None,
    *,
    strip_emphasis: bool = False,
    max_bytes: int = MAX_SCRIPT_BYTES,
) -> Screenplay:
    """Sniff the format and parse. Bytes are decoded (FDX bytes go straight to the XML parser)."""
    if not isinstance(data, (bytes, bytearray, str)):
        raise ScriptParseError(f"screenplay input must be bytes or str, got {type(data).__name__}")
    size = len(data) if isinstance(data, (bytes, bytearray)) else len(data.encode("utf-8"))
    if size > max_bytes:
        raise LimitExceeded(f"screenplay is {size} bytes, over the {max_bytes} byte limit")
    if isinstance(data, bytearray):
        data = bytes(data)
    if isinstance(data, bytes):
        if detect_format(data[:4096], filename) == "fdx":
            return parse_fdx(data, strip_emphasis=strip_emphasis)  # expat honours the XML encoding
        text = decode_text(data)
    else:
        text = data
    fmt = detect_format(text, filename)
    if fmt == "fdx":
        return parse_fdx(data, strip_emphasis=strip_emphasis)
    if fmt == "chinese":
        return parse_chinese(text)
    return parse_fountain(text, strip_emphasis=strip_emphasis)


def sample_path(name: str = "the_last_reel.fountain") -> str:
    """Filesystem path of a bundled sample screenplay."""
    if name not in _SAMPLES:
        raise NotFound(f"no bundled sample screenplay named {name!r} (have: {', '.join(_SAMPLES)})")
    ref = resources.files("reelforge") / "samples" / name
    with resources.as_file(ref) as path:
        return str(path)


def load_sample(name: str = "the_last_reel.fountain") -> Screenplay:
    """Parse a bundled sample (the English Fountain one by default)."""
    path = sample_path(name)
    with open(path, "rb") as fh:
        return parse_any(fh.read(), filename=name)
