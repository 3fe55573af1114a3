"""Documents: reports and interchange files (JSON, HTML, CSV, subtitles, EDL, OTIO, XML) as UTF-8 text.

Tasks write them and users may add them. They are chosen by name (the content of a CSV or an EDL has
no magic bytes) unless the content is a Final Draft screenplay, which stays a screenplay whatever its
suffix; they are validated as text (and JSON/OTIO as JSON) within ``max_text_bytes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelforge.errors import LimitExceeded, MediaError
from reelforge.media.limits import MediaLimits
from reelforge.media.sniff import HEAD_BYTES, check_file, is_fdx, text_problem

DOCUMENT_TYPES = {
    ".json": "application/json",
    ".html": "text/html",
    ".csv": "text/csv",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
    ".edl": "text/plain",
    ".otio": "application/json",
    ".md": "text/markdown",
    ".fcpxml": "application/xml",
    ".xml": "application/xml",
}


@dataclass
class DocumentInfo:
    format: str
    mime: str
    size_bytes: int
    line_count: int
    kind: str = "document"

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def is_fdx_file(path: Path) -> bool:
    """True if the file at ``path`` is Final Draft XML (``sniff.is_fdx`` on its head)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as err:
        raise MediaError(f"{path.name}: cannot read file ({err.strerror or err})") from None
    return is_fdx(head)


def is_document(path: Path, name: str | None = None) -> bool:
    """True if ``name`` (default: the path's name) has a document suffix and the content is not FDX."""
    suffix = Path(name or path.name).suffix.lower()
    return suffix in DOCUMENT_TYPES and not is_fdx_file(path)


def probe_document(path: Path | str, name: str | None = None, limits: MediaLimits = MediaLimits()) -> DocumentInfo:
    """Validate a document: size within ``max_text_bytes``, strict UTF-8 text, JSON that parses.

    ``name`` gives the suffix (the catalog probes a staged copy); messages name ``path`` like every
    media reader. Raises MediaError or LimitExceeded.
    """
    path = Path(path)
    suffix = Path(name or path.name).suffix.lower()
    label = path.name
    if suffix not in DOCUMENT_TYPES:
        raise MediaError(f"{label}: not a document type ({', '.join(sorted(DOCUMENT_TYPES))})")
    size = check_file(path, limits)
    if size > limits.max_text_bytes:
        raise LimitExceeded(f"{label}: document is {size} bytes, over the limit of {limits.max_text_bytes}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MediaError(f"{label}: cannot read file ({err.strerror or err})") from None
    problem = text_problem(data, complete=True)
    if problem is not None:
        raise MediaError(f"{label} {problem}")
    text = data.decode("utf-8-sig")
    if suffix in (".json", ".otio"):
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise MediaError(f"{label}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        except RecursionError:
            raise MediaError(f"{label}: JSON nested too deeply") from None
    return DocumentInfo(suffix[1:], DOCUMENT_TYPES[suffix], size, text.count("\n") + 1)
