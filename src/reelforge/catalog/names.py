"""Catalog names: what a name may be, and ``NAME@N`` references. Free of the database layer, so
doors that hold no catalog (the remote SDK) check and use names by the same rules."""

from __future__ import annotations

import posixpath

from reelforge.errors import InvalidInput


def safe_name(name: str) -> str:
    """A catalog name is a relative POSIX path that can never escape an export folder."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("empty name")
    if "\x00" in name or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"name {name!r} contains control characters")
    if len(name) > 1024:
        raise InvalidInput("name is longer than 1024 characters")
    candidate = name.replace("\\", "/")
    if candidate.startswith("/") or (len(candidate) > 1 and candidate[1] == ":"):
        raise InvalidInput(f"name {name!r} must be relative")
    parts = candidate.split("/")
    if any(p in ("..",) for p in parts):
        raise InvalidInput(f"name {name!r} must not contain '..'")
    norm = posixpath.normpath(candidate)
    if norm in (".", "") or norm.startswith("../"):
        raise InvalidInput(f"invalid name {name!r}")
    return norm


def check_label(name: str, what: str = "name") -> str:
    """Names of projects, datasets and models: short, printable, no '@' (it separates versions)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"empty {what}")
    name = name.strip()
    if len(name) > 200 or "@" in name or "/" in name or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"invalid {what} {name!r}: at most 200 printable characters, no '@' or '/'")
    return name


def split_version(ref: str, what: str) -> tuple[str, int | None]:
    """``NAME@N`` → (NAME, N); ``NAME`` → (NAME, None) for the latest version."""
    if "@" not in ref:
        return ref, None
    name, _, v = ref.rpartition("@")
    try:
        return name, int(v)
    except ValueError:
        raise InvalidInput(f"invalid {what} version in {ref!r}") from None
