"""reelforge: a self-hosted AI production platform for film and digital-art studios.

The SDK entry point is :func:`open`::

    import reelforge
    studio = reelforge.open("my-studio")
    studio.assets.add(["plates/"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pathlib import Path

    from reelforge.studio import Studio

__all__ = ["__version__", "init", "open"]


def open(path: str | Path | None = None) -> Studio:
    """Open an existing studio (upgrading its catalog schema if it is older)."""
    from reelforge.studio import Studio

    return Studio.open(path)


def init(path: str | Path, **settings: object) -> Studio:
    """Create a new studio at ``path`` and open it."""
    from reelforge.studio import Studio

    return Studio.init(path, **settings)
