"""Password hashing: argon2id (argon2-cffi, from the ``server`` extra), never plaintext.

argon2-cffi is imported on first use, so importing reelforge (or the CLI) does not load it.
"""

from __future__ import annotations

import functools
from typing import Any

from reelforge.errors import InvalidInput

MIN_PASSWORD = 8
# argon2 hashes whatever it is given; a megabyte "password" would only cost us time.
MAX_PASSWORD = 1024


@functools.cache
def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher, Type
    except ImportError:
        raise InvalidInput("accounts need argon2-cffi: pip install 'reelforge[server]'") from None
    # argon2-cffi's defaults follow RFC 9106's second recommended option (t=3, 64 MiB, p=4).
    return PasswordHasher(type=Type.ID)


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return str(_hasher().hash(check_password(password)))


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``. With no stored hash (unknown user, no password)
    a dummy hash is checked anyway, so the answer takes as long either way (no user enumeration)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        return False
    try:
        return bool(hasher.verify(stored or _dummy_hash(), password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return bool(_hasher().check_needs_rehash(stored))


@functools.cache
def _dummy_hash() -> str:
    import secrets

    return str(_hasher().hash(secrets.token_urlsafe(16)))
