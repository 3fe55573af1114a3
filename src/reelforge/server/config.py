"""Server settings: the ``[server]`` table of ``reelforge.toml``, then ``REELFORGE_SERVER_<NAME>``
environment variables, then explicit values (``reelforge serve`` flags).

Secure by default: it binds 127.0.0.1, trusts no proxy's forwarded headers, and its session cookie
is ``Secure`` (browsers treat http://localhost as secure; ``cookie_secure = false`` only for plain
HTTP on another host, which also sends passwords in clear).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    from reelforge.config import Settings

ENV_PREFIX = "REELFORGE_SERVER_"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8750
    workers: int = 0  # embedded job workers (0: run `reelforge worker` separately)
    worker_mode: str = "process"  # process | thread
    # Addresses or networks of reverse proxies whose X-Forwarded-For / -Proto are believed.
    trusted_proxies: tuple[str, ...] = ()
    cookie_secure: bool = True
    session_hours: float = 12.0
    login_window_seconds: float = 900.0
    login_per_account: int = 5
    login_per_address: int = 20
    # Largest upload in bytes (0: the studio's media limit max_bytes).
    max_upload_bytes: int = 0
    access_log: bool = True
    web_ui: bool = True  # the browser UI (reelforge.web) beside the API

    def __post_init__(self) -> None:
        if isinstance(self.trusted_proxies, str):
            self.trusted_proxies = tuple(p.strip() for p in self.trusted_proxies.split(",") if p.strip())
        self.trusted_proxies = tuple(str(p) for p in self.trusted_proxies)
        self.networks()  # fail at start-up, not at the first request
        if self.worker_mode not in ("process", "thread"):
            raise InvalidInput("server worker_mode is process or thread")
        if not 0 <= self.port <= 65535 or self.workers < 0 or self.session_hours <= 0:
            raise InvalidInput("server port, workers or session_hours out of range")

    def networks(self) -> list[Network]:
        try:
            return [ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies]
        except ValueError as exc:
            raise InvalidInput(f"server trusted_proxies: {exc}") from None

    @classmethod
    def load(cls, settings: Settings | None = None, **explicit: Any) -> ServerConfig:
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        table = settings.server if settings is not None else {}
        if not isinstance(table, dict):
            raise InvalidInput("the server setting must be a [server] table")
        values.update(table)
        for name in known:
            env = os.environ.get(ENV_PREFIX + name.upper())
            if env:
                values[name] = env
        values.update({k: v for k, v in explicit.items() if v is not None})
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InvalidInput(f"unknown server setting(s): {', '.join(unknown)}")
        return cls(**{k: _coerce(k, type(getattr(cls(), k)), v) for k, v in values.items()})


_BOOLS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _coerce(name: str, kind: type, value: Any) -> Any:
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            flag = _BOOLS.get(str(value).strip().lower())
            if flag is None:
                raise ValueError(value)
            return flag
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
        if kind is tuple:
            return tuple(value) if isinstance(value, (list, tuple)) else str(value)
        return str(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"server setting {name}: invalid value {value!r}") from None
