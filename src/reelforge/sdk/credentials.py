"""Stored server credentials: ``~/.config/reelforge/credentials.toml`` (``$XDG_CONFIG_HOME`` when
set), one table per server URL, written by ``reelforge login`` and removed by ``reelforge logout``.

The file holds bearer tokens, so it is the user's alone: the folder is created 0700, the file is
written 0600 through a temporary file and a rename (never half-written, never briefly readable by
others), and a file that other users can read is refused rather than used.

Which token a connection uses: the one given, else ``REELFORGE_TOKEN``, else the stored one for
that URL.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
import tomllib
from pathlib import Path
from typing import Any

from reelforge.errors import InvalidInput, PermissionDenied
from reelforge.sdk.http import normalise_url

TOKEN_ENV = "REELFORGE_TOKEN"
FILE_NAME = "credentials.toml"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "reelforge"


def credentials_path() -> Path:
    return config_dir() / FILE_NAME


def load_all(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every stored server: ``{url: {"token", "username", "token_id", "saved_at"}}``."""
    path = path or credentials_path()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionDenied(f"{path} can be read by other users; it holds tokens (chmod 600 {path})")
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{path} is not valid TOML: {exc}") from None
    servers = data.get("servers", {})
    return {str(k): dict(v) for k, v in servers.items() if isinstance(v, dict)}


def _write_all(servers: dict[str, dict[str, Any]], path: Path) -> None:
    import tomli_w

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # whatever the umask said
            fh.write(b"# reelforge login: tokens of the servers this account signed in to (keep private)\n")
            fh.write(tomli_w.dumps({"servers": servers}).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def lookup(url: str, path: Path | None = None) -> dict[str, Any] | None:
    key = normalise_url(url)  # a bad URL is the caller's error, whatever the file holds
    return load_all(path).get(key)


def save(url: str, token: str, *, username: str = "", token_id: str = "", path: Path | None = None) -> Path:
    key, path = normalise_url(url), path or credentials_path()
    servers = load_all(path)
    servers[key] = {"token": token, "username": username, "token_id": token_id,
                                   "saved_at": round(time.time(), 3)}
    _write_all(servers, path)
    return path


def forget(url: str, path: Path | None = None) -> dict[str, Any] | None:
    """Remove a server's stored token; returns what was stored (None when nothing was)."""
    key, path = normalise_url(url), path or credentials_path()
    servers = load_all(path)
    entry = servers.pop(key, None)
    if entry is not None:
        _write_all(servers, path)
    return entry


def resolve_token(url: str, token: str | None = None) -> str | None:
    """The token to use for ``url``: given, else ``REELFORGE_TOKEN``, else stored by ``login``."""
    if token:
        return token
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        return env
    entry = lookup(url)
    return str(entry["token"]) if entry and entry.get("token") else None
