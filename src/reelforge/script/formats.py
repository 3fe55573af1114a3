"""Screenplay file formats: one registry of adapters, chosen by file suffix and then by content.

Like OpenTimelineIO's adapters, a format is a small record (:class:`ScreenplayFormat`): a name, the
suffixes it owns, a reader, an optional writer and a content sniff. Reading picks the adapter

1. by a *certain* content sniff: a document whose XML root is ``<FinalDraft>`` is FDX whatever its
   name (ingest's ``reelforge.media.sniff.is_fdx`` decides, so ingest and reading agree);
2. by suffix: ``.fountain``/``.spmd`` Fountain, ``.fdx`` FDX, ``.json`` the model as JSON;
3. by content for anything else (``.txt``, no name): model JSON, Chinese plain text (mostly CJK,
   or CJK with a scene heading), otherwise Fountain.

Writing picks the writer by suffix (``.txt`` writes Fountain, which is plain text); an unknown suffix
is refused with the list of known ones. :func:`convert_file` reads, writes to a temporary file
created exclusively in the destination folder and renames it over the destination, so a symlink
planted at the destination or at a temporary name is never written through.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from reelforge.errors import (
    Conflict,
    InvalidInput,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    ScriptParseError,
)

from .chinese import _match_heading, parse_chinese
from .fdx import parse_fdx, write_fdx
from .fountain import parse_fountain, write_fountain
from .model import InlineNote, Screenplay, strip_emphasis, strip_emphasis_offsets

__all__ = [
    "FORMATS",
    "MAX_SCRIPT_BYTES",
    "ScreenplayFormat",
    "convert_file",
    "decode_text",
    "detect_format",
    "format_for_path",
    "get_format",
    "known_suffixes",
    "parse_any",
    "read_bytes",
    "read_file",
    "register_format",
    "render",
    "write_file",
]

MAX_SCRIPT_BYTES = 50_000_000
#: How much of the start of a document the sniffs look at.
SNIFF_BYTES = 4096
SNIFF_CHARS = 20_000

Reader = Callable[[bytes | str, bool], Screenplay]  # (data, strip_emphasis) -> Screenplay
Writer = Callable[[Screenplay], str]
Sniffer = Callable[[str], bool]  # the head of the decoded text -> is it this format?


@dataclass(frozen=True)
class ScreenplayFormat:
    """One screenplay format adapter."""

    name: str
    #: Suffixes (lower case, with the dot) that mean this format when reading and writing.
    suffixes: tuple[str, ...]
    read: Reader
    write: Writer | None = None
    sniff: Sniffer | None = None
    #: The sniff is conclusive and beats the file's suffix (FDX's root element).
    certain: bool = False
    #: ``read`` takes the raw bytes (FDX: the XML declaration names the encoding), not decoded text.
    binary: bool = False
    #: Extra suffixes this format writes but does not claim when reading (``.txt`` for Fountain).
    write_suffixes: tuple[str, ...] = ()
    description: str = ""


#: The registry. Sniffs run in this order; Fountain, the fallback, has none.
FORMATS: dict[str, ScreenplayFormat] = {}


def register_format(fmt: ScreenplayFormat, *, replace: bool = False) -> None:
    """Add a format; a name or suffix that is already taken is refused unless ``replace``."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", fmt.name):
        raise InvalidInput(f"bad screenplay format name {fmt.name!r}")
    for suffix in (*fmt.suffixes, *fmt.write_suffixes):
        if not re.fullmatch(r"\.[a-z0-9]+", suffix):
            raise InvalidInput(f"bad suffix {suffix!r} for screenplay format {fmt.name!r}")
    if not replace:
        if fmt.name in FORMATS:
            raise Conflict(f"screenplay format {fmt.name!r} is already registered")
        for other in FORMATS.values():
            taken = set(other.suffixes) & set(fmt.suffixes)
            taken |= set(other.suffixes + other.write_suffixes) & set(fmt.write_suffixes)
            if taken:
                raise Conflict(
                    f"suffix {sorted(taken)[0]} already belongs to screenplay format {other.name!r}"
                )
    FORMATS[fmt.name] = fmt


def get_format(name: str) -> ScreenplayFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInput(f"unknown screenplay format {name!r} (have: {', '.join(FORMATS)})") from None


def known_suffixes(*, writable: bool = False) -> list[str]:
    """Suffixes the registry reads (or, with ``writable``, writes), in registry order."""
    fmts = [f for f in FORMATS.values() if f.write is not None] if writable else list(FORMATS.values())
    out = [s for f in fmts for s in f.suffixes]
    if writable:
        out += [s for f in fmts for s in f.write_suffixes]
    return out


def _suffix(name: str | os.PathLike[str] | None) -> str:
    return PurePath(name).suffix.lower() if name else ""


def format_for_path(path: str | os.PathLike[str], *, writable: bool = False) -> ScreenplayFormat | None:
    """The format a file name's suffix names, or None (``.txt`` names none for reading)."""
    suffix = _suffix(path)
    if not suffix:
        return None
    for fmt in FORMATS.values():
        if suffix in fmt.suffixes or (writable and suffix in fmt.write_suffixes):
            if writable and fmt.write is None:
                continue
            return fmt
    return None


def _writer_for(path: Path) -> ScreenplayFormat:
    fmt = format_for_path(path, writable=True)
    if fmt is None:
        what = _suffix(path) or "no suffix"
        raise InvalidInput(
            f"{path.name}: cannot write a screenplay as {what}; use one of {', '.join(known_suffixes(writable=True))}"
        )
    return fmt


# ---------------------------------------------------------------------------------------------------
# Decoding and sniffing
# ---------------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """Decode screenplay bytes: BOM-marked UTF-8/16, then UTF-8, then GB18030 (common for Chinese)."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise ScriptParseError(f"screenplay marked UTF-8 is not valid UTF-8: {exc}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ScriptParseError(f"screenplay marked UTF-16 is not valid UTF-16: {exc}") from None
    for encoding in ("utf-8", "gb18030", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ScriptParseError("cannot decode screenplay text (not UTF-8, GB18030 or CP1252)")


def _head_text(data: bytes | str, size: int) -> str:
    head = data[:size]
    return head.decode("utf-8", errors="ignore") if isinstance(head, bytes) else head


def _sniff_fdx(head: str) -> bool:
    # Imported here: reelforge.media pulls in the image and video stacks, which reading a script
    # does not need. Only a short head is passed (the prologue regex is not linear in it).
    from reelforge.media.sniff import is_fdx

    return is_fdx(head[:SNIFF_BYTES].encode("utf-8")[:SNIFF_BYTES])


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _sniff_chinese(head: str) -> bool:
    sample = head[:SNIFF_CHARS]
    letters = sum(1 for c in sample if c.isalpha())
    cjk = len(_CJK.findall(sample))
    if letters and cjk / letters > 0.3:
        return True
    return bool(cjk) and any(_match_heading(line) for line in sample.splitlines()[:400])


def _sniff_json(head: str) -> bool:
    body = head.lstrip("\ufeff \t\r\n")
    return body.startswith("{") and ('"elements"' in body or '"title_page"' in body)


def _certain_format(head: str) -> ScreenplayFormat | None:
    for fmt in FORMATS.values():
        if fmt.certain and fmt.sniff is not None and fmt.sniff(head):
            return fmt
    return None


def _content_format(text: str) -> ScreenplayFormat:
    head = text[:SNIFF_CHARS]
    for fmt in FORMATS.values():
        if fmt.sniff is not None and fmt.sniff(head):
            return fmt
    return FORMATS["fountain"]


def _choose(data: bytes | str, filename: str | None) -> tuple[ScreenplayFormat, str | None]:
    """The format for ``data`` and, unless that format reads raw bytes, the decoded text."""
    fmt = _certain_format(_head_text(data, SNIFF_BYTES)) or format_for_path(filename or "")
    if fmt is not None and fmt.binary:
        return fmt, None
    text = decode_text(data) if isinstance(data, bytes) else data
    if fmt is None:
        fmt = _content_format(text)  # e.g. a UTF-16 FDX is only recognisable once decoded
    return fmt, None if fmt.binary else text


def detect_format(text: str | bytes, filename: str | None = None) -> str:
    """Name of the format :func:`read_bytes` would use for ``text`` named ``filename``."""
    try:
        return _choose(text, filename)[0].name
    except ScriptParseError:  # undecodable bytes: judge by what UTF-8 makes of the head
        return _choose(_head_text(text, SNIFF_CHARS), filename)[0].name


# ---------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------


def read_bytes(
    data: bytes | str,
    filename: str | None = None,
    *,
    strip_emphasis: bool = False,
    max_bytes: int = MAX_SCRIPT_BYTES,
) -> Screenplay:
    """Choose the format (certain sniff, then ``filename``'s suffix, then content) and parse."""
    if not isinstance(data, (bytes, bytearray, memoryview, str)):
        raise ScriptParseError(f"screenplay input must be bytes or str, got {type(data).__name__}")
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise LimitExceeded(f"screenplay is {size} bytes, over the {max_bytes} byte limit")
    fmt, text = _choose(data, filename)
    return fmt.read(data if text is None else text, strip_emphasis)


def parse_any(
    data: bytes | str,
    filename: str | None = None,
    *,
    strip_emphasis: bool = False,
    max_bytes: int = MAX_SCRIPT_BYTES,
) -> Screenplay:
    """Sniff the format and parse (the historical name of :func:`read_bytes`)."""
    return read_bytes(data, filename, strip_emphasis=strip_emphasis, max_bytes=max_bytes)


def read_file(
    path: str | os.PathLike[str],
    *,
    filename: str | None = None,
    strip_emphasis: bool = False,
    max_bytes: int = MAX_SCRIPT_BYTES,
) -> Screenplay:
    """Read a screenplay file; ``filename`` overrides the name used for the suffix (cached assets)."""
    path = Path(path)
    try:
        # Non-blocking, then fstat: a FIFO or device is refused instead of hanging the reader.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise InvalidInput(f"{path}: not a regular file")
            if st.st_size > max_bytes:
                raise LimitExceeded(
                    f"{path.name}: screenplay is {st.st_size} bytes, over the {max_bytes} byte limit"
                )
            data = fh.read(max_bytes + 1)  # the file may have grown since fstat
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except PermissionError:
        raise PermissionDenied(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: not a regular file") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror or exc})") from None
    return read_bytes(data, filename or path.name, strip_emphasis=strip_emphasis, max_bytes=max_bytes)


# ---------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------


def render(sp: Screenplay, format_name: str) -> str:
    """The screenplay as text in a named format."""
    if not isinstance(sp, Screenplay):
        raise InvalidInput(f"expected a Screenplay, got {type(sp).__name__}")
    fmt = get_format(format_name)
    if fmt.write is None:
        writable = ", ".join(f.name for f in FORMATS.values() if f.write is not None)
        raise InvalidInput(f"screenplay format {fmt.name!r} is read-only (can write: {writable})")
    return fmt.write(sp)


def _token() -> str:
    return secrets.token_hex(8)


_TEMP_ATTEMPTS = 16
_OPEN_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


def _atomic_write(dst: Path, data: bytes) -> None:
    """Write ``data`` to a new file beside ``dst`` and rename it over ``dst``.

    The temporary file is created with O_CREAT|O_EXCL|O_NOFOLLOW under a random name, so any
    existing entry at that name (a planted symlink included) makes the open fail instead of being
    followed; the rename then replaces ``dst`` itself, never what a symlink at ``dst`` points to.
    """
    parent = dst.parent
    if not parent.is_dir():
        raise NotFound(f"{parent}: no such folder")
    if dst.is_dir() and not dst.is_symlink():
        raise InvalidInput(f"{dst}: is a folder")
    fd = -1
    tmp = parent
    for _ in range(_TEMP_ATTEMPTS):
        tmp = parent / f".{dst.name[:180]}.{_token()}.part"
        try:
            fd = os.open(tmp, _OPEN_FLAGS, 0o666)
            break
        except FileExistsError:
            continue  # something already holds that name: never open through it
    if fd < 0:
        raise Conflict(f"cannot create a temporary file beside {dst}: every name tried already exists")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # only ever the file this call created
        raise
    with contextlib.suppress(OSError):  # make the rename durable where the platform allows it
        dir_fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_file(sp: Screenplay, path: str | os.PathLike[str]) -> Path:
    """Write ``sp`` in the format ``path``'s suffix names, atomically. Returns the path."""
    dst = Path(path)
    fmt = _writer_for(dst)
    try:
        data = render(sp, fmt.name).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"{dst.name}: the screenplay holds text that is not valid Unicode ({exc.reason})"
        ) from None
    try:
        _atomic_write(dst, data)
    except PermissionError:
        raise PermissionDenied(f"{dst}: permission denied") from None
    except OSError as exc:
        raise InvalidInput(f"cannot write {dst}: {exc.strerror or exc}") from None
    return dst


def convert_file(src: Path, dst: Path) -> Path:
    """Convert a screenplay file to the format ``dst``'s suffix names (checked before reading)."""
    src, dst = Path(src), Path(dst)
    _writer_for(dst)
    return write_file(read_file(src), dst)


# ---------------------------------------------------------------------------------------------------
# The built-in formats
# ---------------------------------------------------------------------------------------------------


def _text(data: bytes | str) -> str:
    return decode_text(data) if isinstance(data, bytes) else data


def _read_json(data: bytes | str, strip: bool) -> Screenplay:
    try:
        obj = json.loads(_text(data))
    except json.JSONDecodeError as exc:
        raise ScriptParseError(f"not a screenplay model JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise ScriptParseError("not a screenplay model JSON: nested too deeply") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("elements", []), list):
        raise ScriptParseError("not a screenplay model JSON: expected an object with an 'elements' list")
    try:
        sp = Screenplay.from_dict(obj)
    except InvalidInput as exc:
        raise ScriptParseError(f"not a screenplay model JSON: {exc}") from None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ScriptParseError(f"not a screenplay model JSON: bad {type(exc).__name__} {exc}") from None
    if strip:
        for el in sp.elements:
            el.text, offsets = strip_emphasis_offsets(el.text, [n.offset for n in el.notes])
            el.notes = [InlineNote(off, n.text) for off, n in zip(offsets, el.notes, strict=True)]
        for f in sp.title_page:
            f.value = strip_emphasis(f.value)
    return sp


def _write_json(sp: Screenplay) -> str:
    return json.dumps(sp.to_dict(), indent=2, ensure_ascii=False)


for _fmt in (
    ScreenplayFormat(
        "fountain",
        (".fountain", ".spmd"),
        lambda data, strip: parse_fountain(_text(data), strip_emphasis=strip),
        write_fountain,
        write_suffixes=(".txt",),
        description="Fountain plain-text markup (the fallback for unrecognised text)",
    ),
    ScreenplayFormat(
        "fdx",
        (".fdx",),
        lambda data, strip: parse_fdx(data, strip_emphasis=strip),
        write_fdx,
        sniff=_sniff_fdx,
        certain=True,
        binary=True,
        description="Final Draft XML",
    ),
    ScreenplayFormat(
        "json",
        (".json",),
        _read_json,
        _write_json,
        sniff=_sniff_json,
        description="the screenplay model as JSON (Screenplay.to_dict)",
    ),
    ScreenplayFormat(
        "chinese",
        (),
        lambda data, strip: parse_chinese(_text(data)),  # Chinese text carries no emphasis markup
        None,
        sniff=_sniff_chinese,
        description="Chinese plain-text screenplay layout (read only, recognised by content)",
    ),
):
    register_format(_fmt)
del _fmt
