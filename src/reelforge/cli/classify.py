"""``reelforge classify``: classification and tagging: train, evaluate, propose tags, find similar assets."""

from __future__ import annotations

import typer

classify_app = typer.Typer(help="Classification and tagging: train, evaluate, propose tags, find similar assets.", no_args_is_help=True)
