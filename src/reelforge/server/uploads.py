"""Streamed multipart uploads: the file part goes to a temporary file as it arrives, counted
against a byte limit, never held in memory; a body over the limit, malformed, or cut off before its
final boundary is refused and its bytes removed by the caller (who owns the temporary folder).

Starlette's own form parsing spools every part first and knows no byte limit, so the parsing is done
here with python-multipart's streaming parser.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidInput, LimitExceeded
from reelforge.server.errors import UnsupportedMediaType

if TYPE_CHECKING:
    from fastapi import Request

MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 32
_OVERHEAD = 64 * 1024 + MAX_FIELDS * MAX_FIELD_BYTES  # headers and small fields besides the file
_SUFFIX_RE = re.compile(r"^\.[A-Za-z0-9]{1,10}$")


@dataclass
class Upload:
    path: Path | None = None  # the file part's bytes on disk
    filename: str | None = None  # as the client named it
    content_type: str | None = None  # as the client declared it
    size: int = 0
    fields: dict[str, list[str]] = field(default_factory=dict)

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    is_file: bool = False
    buf: bytearray = field(default_factory=bytearray)


def _disposition(value: str) -> tuple[str, dict[str, str]]:
    from python_multipart.multipart import parse_options_header

    kind, params = parse_options_header(value)
    return kind.decode("latin-1").lower(), {k.decode("latin-1").lower(): v.decode("utf-8", "replace")
                                            for k, v in params.items()}


async def receive(request: Request, folder: Path, max_bytes: int, *, file_field: str = "file") -> Upload:
    """Read a ``multipart/form-data`` body: one file part named ``file_field`` into ``folder``,
    small text fields into ``Upload.fields``."""
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header
    from starlette.requests import ClientDisconnect

    ctype, params = parse_options_header(request.headers.get("content-type"))
    if ctype != b"multipart/form-data":
        raise UnsupportedMediaType("send the file as multipart/form-data (a part named 'file')")
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidInput("multipart body without a boundary")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + _OVERHEAD:
        raise LimitExceeded(f"upload of {declared} bytes is over the limit of {max_bytes}")

    up = Upload()
    state: dict[str, Any] = {"part": None, "hname": bytearray(), "hvalue": bytearray(), "out": None, "ended": False}

    def on_part_begin() -> None:
        state["part"] = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hvalue"] += data[start:end]

    def on_header_end() -> None:
        part: _Part = state["part"]
        part.headers[state["hname"].decode("latin-1").lower()] = state["hvalue"].decode("latin-1")
        state["hname"], state["hvalue"] = bytearray(), bytearray()

    def on_headers_finished() -> None:
        part: _Part = state["part"]
        kind, disp = _disposition(part.headers.get("content-disposition", ""))
        if kind != "form-data" or "name" not in disp:
            raise InvalidInput("a multipart part without Content-Disposition: form-data; name=...")
        part.name, part.filename = disp["name"], disp.get("filename")
        if part.name == file_field:
            if up.path is not None:
                raise InvalidInput(f"one file per upload (more than one part named {file_field!r})")
            part.is_file = True
            suffix = Path(part.filename or "").suffix
            # The temporary name is ours; only a plain extension survives (decoders look at it).
            up.path = folder / ("upload" + (suffix.lower() if _SUFFIX_RE.match(suffix) else ""))
            up.filename = part.filename
            up.content_type = part.headers.get("content-type")
            state["out"] = open(up.path, "xb")  # closed in on_part_end, or below when cut off
        elif sum(len(v) for v in up.fields.values()) >= MAX_FIELDS:
            raise InvalidInput(f"more than {MAX_FIELDS} form fields")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part: _Part = state["part"]
        if part.is_file:
            up.size += end - start
            if up.size > max_bytes:
                raise LimitExceeded(f"upload is over the limit of {max_bytes} bytes")
            state["out"].write(data[start:end])
        else:
            part.buf += data[start:end]
            if len(part.buf) > MAX_FIELD_BYTES:
                raise LimitExceeded(f"form field {part.name[:60]!r} is over {MAX_FIELD_BYTES} bytes")

    def on_part_end() -> None:
        part: _Part = state["part"]
        if part.is_file:
            out = state["out"]
            out.flush()
            os.fsync(out.fileno())
            out.close()
            state["out"] = None
        else:
            up.fields.setdefault(part.name, []).append(part.buf.decode("utf-8", "replace"))
        state["part"] = None

    def on_end() -> None:
        state["ended"] = True

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end, "on_end": on_end,
    })
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except ClientDisconnect:
        raise InvalidInput("the upload was cut off (the client went away)") from None
    except MultipartParseError as exc:
        raise InvalidInput(f"malformed multipart body: {exc}") from None
    finally:
        if state["out"] is not None:
            state["out"].close()
    if not state["ended"]:
        raise InvalidInput("the upload was cut off: the body ended before its final multipart boundary")
    return up
