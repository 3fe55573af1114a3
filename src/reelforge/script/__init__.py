"""Screenplay library: object model, Fountain/FDX/Chinese adapters, breakdown, analysis, reports.

Files are read and written through the format registry in ``reelforge.script.formats``; breakdown
and analysis check the size limits of ``reelforge.script.limits`` before they start.

Light imports only here; ``reelforge.script.breakdown``, ``.analysis`` and ``.report`` are imported
on first attribute access because they pull in networkx, scipy and the sentiment models. (The
``breakdown()`` function itself lives at ``reelforge.script.breakdown.breakdown``: the package
attribute ``breakdown`` is that submodule.)
"""

from __future__ import annotations

from typing import Any

from .chinese import parse_chinese
from .fdx import parse_fdx, write_fdx
from .formats import (
    ScreenplayFormat,
    convert_file,
    decode_text,
    detect_format,
    parse_any,
    read_bytes,
    read_file,
    register_format,
    write_file,
)
from .fountain import parse_fountain, write_fountain
from .io import load_sample, sample_path
from .limits import DEFAULT_LIMITS, ScriptLimits
from .model import (
    DialogueLine,
    Element,
    InlineNote,
    Scene,
    Screenplay,
    TitleField,
    emphasis_runs,
    strip_emphasis,
)

_LAZY = {
    "Breakdown": ("breakdown", "Breakdown"),
    "SceneBreakdown": ("breakdown", "SceneBreakdown"),
    "format_eighths": ("breakdown", "format_eighths"),
    "to_stripboard_csv": ("breakdown", "to_stripboard_csv"),
    "to_stripboard_html": ("breakdown", "to_stripboard_html"),
    "analyze": ("analysis", "analyze"),
    "Analysis": ("analysis", "Analysis"),
    "render_html_report": ("report", "render_html_report"),
}

__all__ = [
    "DEFAULT_LIMITS",
    "DialogueLine",
    "Element",
    "InlineNote",
    "Scene",
    "ScreenplayFormat",
    "Screenplay",
    "ScriptLimits",
    "TitleField",
    "convert_file",
    "decode_text",
    "detect_format",
    "emphasis_runs",
    "load_sample",
    "parse_any",
    "parse_chinese",
    "parse_fdx",
    "parse_fountain",
    "read_bytes",
    "read_file",
    "register_format",
    "sample_path",
    "strip_emphasis",
    "write_fdx",
    "write_file",
    "write_fountain",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
