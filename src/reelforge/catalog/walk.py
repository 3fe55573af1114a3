"""Which files an ingest reads: the walk over the paths a user gave, never leaving them.

Kept apart from ``assets.py`` (and free of the database layer) because the remote SDK walks a
user's folders by the very same rules before it uploads them (``reelforge.sdk``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.catalog.staging import display_name
from reelforge.errors import InvalidInput, NotFound

__all__ = ["Collected", "collect", "collect_files"]


@dataclass
class Collected:
    files: list[tuple[Path, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    # The files listed that are symlinks, which staging may follow; a file that is a symlink when
    # it is opened but was not listed as one (swapped in since) is refused.
    symlinks: set[Path] = field(default_factory=set)


def collect_files(
    paths: Sequence[str | Path], recursive: bool = True, *, follow_symlinks: bool = False
) -> list[tuple[Path, str]]:
    """(file, catalog name) pairs (see ``collect``); raises if any symlink was refused."""
    got = collect(paths, recursive, follow_symlinks=follow_symlinks)
    if got.refused:
        path, why = got.refused[0]
        raise InvalidInput(f"{display_name(path)}: {why}")
    return got.files


def collect(paths: Sequence[str | Path], recursive: bool = True, *, follow_symlinks: bool = False) -> Collected:
    """Files under the given paths, named by their path inside the folder given.

    Nothing outside the given paths is read: a symlink inside a folder that points out of it (or
    at something that is not a regular file) is refused and listed, unless ``follow_symlinks``.
    Symlinks that stay inside the folder are taken by their own name. Folders are walked without
    following symlinked folders (no loops), hidden entries are skipped."""
    out = Collected()
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise NotFound(f"{display_name(str(raw))}: no such file or directory")
        if p.is_dir():
            _walk(p, p, p.resolve(), recursive, follow_symlinks, out, set(), "")
        elif p.is_file():
            out.files.append((p, p.name))
            if p.is_symlink():  # named by the user: followed
                out.symlinks.add(p)
        else:
            raise InvalidInput(f"{display_name(str(raw))}: not a regular file")
    return out


def _walk(
    top: Path, folder: Path, root_real: Path, recursive: bool, follow: bool, out: Collected, seen: set[Path],
    prefix: str,
) -> None:
    """``prefix``: the folder's path inside ``top`` with a trailing slash ("" for ``top``), so an
    entry's catalog name is a concatenation (folders of thousands of files)."""
    real_folder = folder.resolve()
    if real_folder in seen:  # a symlinked folder loop (only reachable with follow_symlinks)
        return
    seen.add(real_folder)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        out.refused.append((str(folder), f"cannot read folder: {exc.strerror}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue  # hidden files and folders (.DS_Store, .git) are never media
        path = Path(entry.path)
        rel = prefix + entry.name
        if entry.is_symlink():
            try:
                target = path.resolve(strict=True)
            except (OSError, RuntimeError):
                out.refused.append((str(path), "broken or looping symlink"))
                continue
            inside = target == root_real or root_real in target.parents
            if not inside and not follow:
                out.refused.append((str(path), f"symlink to {target}, outside the folder given "
                                                "(use --follow-symlinks to read it)"))
                continue
            if target.is_dir():
                if recursive and follow:
                    _walk(top, path, root_real, recursive, follow, out, seen, rel + "/")
                elif recursive:
                    out.refused.append((str(path), "symlinked folder (use --follow-symlinks to read it)"))
                continue
            if target.is_file():
                out.files.append((path, rel))
                out.symlinks.add(path)
            else:
                out.refused.append((str(path), "symlink to something that is not a regular file"))
            continue
        if entry.is_dir(follow_symlinks=False):
            if recursive:
                _walk(top, path, root_real, recursive, follow, out, seen, rel + "/")
        elif entry.is_file(follow_symlinks=False):
            out.files.append((path, rel))
