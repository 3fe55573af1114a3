"""reelforge: a self-hosted AI production platform for film and digital-art studios.

The SDK entry points are :func:`open` (a studio folder here) and :func:`connect` (a studio server);
both give an object of the same shape::

    import reelforge
    studio = reelforge.open("my-studio")          # or reelforge.connect("http://host:8750", token=...)
    studio.assets.add(["plates/"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pathlib import Path

    from reelforge.sdk.remote import RemoteStudio
    from reelforge.studio import Studio

__all__ = ["__version__", "connect", "init", "open"]


def open(path: str | Path | None = None) -> Studio:
    """Open an existing studio (upgrading its catalog schema if it is older)."""
    from reelforge.studio import Studio

    return Studio.open(path)


def init(path: str | Path, **settings: object) -> Studio:
    """Create a new studio at ``path`` and open it."""
    from reelforge.studio import Studio

    return Studio.init(path, **settings)


def connect(url: str, token: str | None = None, **kw: Any) -> RemoteStudio:
    """A studio server (``reelforge serve``) through its API, with the same services as
    :func:`open`'s studio. See :func:`reelforge.sdk.connect`."""
    from reelforge.sdk import connect as _connect

    return _connect(url, token, **kw)
