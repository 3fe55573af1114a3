"""``reelforge restore``: film restoration: train a restorer on clean frames, apply it to damaged ones."""

from __future__ import annotations

import typer

restore_app = typer.Typer(help="Film restoration: train a restorer on clean frames, apply it to damaged ones.", no_args_is_help=True)
