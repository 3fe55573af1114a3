"""Downloads of stored blobs: streamed from the blob store, with a strong ``ETag`` (the content's
sha256), conditional requests (``If-None-Match``) and single byte ranges (``Range``/``If-Range``),
so a video player can seek and a client can resume.

User files are served as attachments, typed conservatively, with ``nosniff`` and a sandboxing
Content-Security-Policy: an HTML or SVG "asset" is never run as a page of the API's origin.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from fastapi import Request, Response

    from reelforge.storage.base import BlobStore

CHUNK = 256 * 1024
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_INLINE_SAFE = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/bmp", "text/plain")


def safe_media_type(mime: str) -> str:
    """The type a user file is served with: its own when it cannot run script, else octet-stream."""
    mime = (mime or "").split(";")[0].strip().lower()
    if mime in _INLINE_SAFE or mime.startswith(("video/", "audio/")):
        return mime
    return "application/octet-stream"


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the real one (RFC 6266 / 5987)."""
    base = name.rsplit("/", 1)[-1] or "download"
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'[^A-Za-z0-9._ -]', "_", ascii_name).strip() or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(base, safe='')}"


def parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """(first, last) byte of a single satisfiable range; None to ignore the header (malformed or
    several ranges: the whole body is answered, as RFC 9110 allows); False when unsatisfiable."""
    m = _RANGE_RE.match(header)
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        n = int(last)
        if n == 0:
            return False
        return (max(0, size - n), size - 1) if size else False
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return False
    return start, min(end, size - 1)


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def _stream(src: Any, start: int, length: int) -> Iterator[bytes]:
    try:
        try:
            src.seek(start)
        except (AttributeError, OSError, io.UnsupportedOperation):
            skip = start  # a store without seek: read up to the start
            while skip:
                got = src.read(min(CHUNK, skip))
                if not got:
                    return
                skip -= len(got)
        left = length
        while left > 0:
            chunk = src.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
    finally:
        src.close()


def blob_response(request: Request, blobs: BlobStore, sha256: str, size: int, *, media_type: str,
                  filename: str | None, cache: str = "private, no-cache") -> Response:
    from fastapi import Response
    from fastapi.responses import StreamingResponse

    etag = f'"{sha256}"'
    headers = {
        "ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": cache, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if filename is not None:
        headers["Content-Disposition"] = content_disposition(filename)
    inm = request.headers.get("if-none-match")
    if inm is not None and _etag_matches(inm, etag):
        return Response(status_code=304, headers=headers)
    start, end, status = 0, size - 1, 200
    rng = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if rng is not None and (if_range is None or if_range.strip() == etag):
        got = parse_range(rng, size)
        if got is False:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(status_code=416, headers=headers)
        if isinstance(got, tuple):
            start, end, status = got[0], got[1], 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    length = max(0, end - start + 1)
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    src = blobs.open(sha256)  # opened now: a missing blob is an error before the first byte is sent
    return StreamingResponse(_stream(src, start, length), status_code=status, headers=headers, media_type=media_type)


def counts_as_download(request: Request, status: int) -> bool:
    """Whether this answer is one download for the audit log: the whole file, or a range from its
    first byte (a player's later seeks into the same file are not more downloads)."""
    if request.method != "GET" or status not in (200, 206):
        return False
    if status == 200:
        return True
    m = _RANGE_RE.match(request.headers.get("range") or "")
    return m is not None and m.group(1) == "0"
