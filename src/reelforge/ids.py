"""Prefixed, time-sortable identifiers (``prj_…``, ``ast_…``, ``job_…``).

ULID-like: 48 bits of milliseconds then 80 random bits, Crockford base32, so ids sort by creation
time in SQL and in listings without an extra column.
"""

from __future__ import annotations

import os
import re
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
PREFIXES = {"prj", "ast", "dst", "dsv", "mdl", "job", "usr", "tok", "evt", "brd", "exh"}
_ID_RE = re.compile(r"^(prj|ast|dst|dsv|mdl|job|usr|tok|evt|brd|exh)_[0-9a-hjkmnp-tv-z]{26}$")


# Two characters per 10 bits: half the steps per id (ingest makes thousands at once).
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length // 2):
        out.append(_PAIRS[value & 1023])
        value >>= 10
    if length % 2:
        out.append(_ALPHABET[value & 31])
    return "".join(reversed(out))


_last: list[int] = [0, 0]  # ms, random part of the previous id in this process
_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """Ids made in the same millisecond by one process stay in creation order (monotonic)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    ms = int(time.time() * 1000) & ((1 << 48) - 1)
    with _lock:
        if ms <= _last[0]:
            ms, rand = _last[0], (_last[1] + 1) & ((1 << 80) - 1)
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for increments
        _last[0], _last[1] = ms, rand
    return f"{prefix}_{_encode(ms, 10)}{_encode(rand, 16)}"


def id_kind(value: str) -> str | None:
    """The prefix of a well-formed id, else None."""
    m = _ID_RE.match(value)
    return m.group(1) if m else None
