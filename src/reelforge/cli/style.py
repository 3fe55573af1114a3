"""``reelforge style``: style transfer for images and video, and per-style networks."""

from __future__ import annotations

import typer

style_app = typer.Typer(help="Style transfer for images and video, and per-style networks.", no_args_is_help=True)
