"""Bundled sample screenplays, and the old names of the format registry's entry points.

Reading and writing screenplay files lives in :mod:`reelforge.script.formats`; ``parse_any``,
``detect_format``, ``decode_text`` and ``MAX_SCRIPT_BYTES`` are re-exported here for older imports.
"""

from __future__ import annotations

from importlib import resources

from reelforge.errors import NotFound

from .formats import MAX_SCRIPT_BYTES, decode_text, detect_format, parse_any
from .model import Screenplay

__all__ = ["MAX_SCRIPT_BYTES", "decode_text", "detect_format", "load_sample", "parse_any", "sample_path"]

_SAMPLES = ("the_last_reel.fountain", "chinese_sample.txt")


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
