"""Studio settings: ``reelforge.toml`` in the studio home, overridden by ``REELFORGE_*`` env vars."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from reelforge.errors import InvalidInput, NotFound
from reelforge.media.limits import MediaLimits

CONFIG_NAME = "reelforge.toml"
ENV_PREFIX = "REELFORGE_"


@dataclass
class Settings:
    home: Path
    database_url: str = ""
    blob_url: str = ""
    cache_dir: Path | None = None
    worker_concurrency: int = 2
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    max_attempts: int = 3
    retry_backoff_seconds: float = 2.0
    poll_seconds: float = 0.5  # how often an idle worker looks for work
    # The Ray cluster `reelforge worker --executor ray` joins ("": RAY_ADDRESS, else a local Ray).
    ray_address: str = ""
    default_project: str = "default"
    # Processes that check files in a big ingest (0: one per CPU; small ingests stay in-process).
    ingest_workers: int = 0
    # Queue a ``media.proxies`` job for the videos each ``reelforge add`` adds (it runs on a worker).
    ingest_video_proxies: bool = True
    # Big PNGs (over 4x the thumbnail's pixels) get their thumbnail from a ``media.thumbnails`` job
    # queued by each ``reelforge add``, not in the ingest path (their check does not decode them).
    ingest_defer_thumbnails: bool = True
    limits: MediaLimits = field(default_factory=MediaLimits)
    # The studio server's settings (a [server] table: host, port, trusted_proxies, ...; see server/config.py).
    server: dict[str, Any] = field(default_factory=dict)
    # Local diffusers pipeline folders `diffusion.generate` may use by name (a [diffusion_models] table:
    # name = "/path"; relative paths are from the studio home). Nothing is ever downloaded.
    diffusion_models: dict[str, str] = field(default_factory=dict)
    # Encrypt blobs at rest (storage/encrypted.py). The studio key: env REELFORGE_STUDIO_KEY (base64 of
    # 32 bytes; never a setting, so never written here), else key_file (default: studio.key in the
    # studio home, made by `init`, mode 0600).
    encryption: bool = False
    key_file: str = ""
    # A studio's own C2PA signing certificate instead of the one `init` makes in keys/ (see
    # catalog/signing.py): PEM chain (end-entity first), PEM private key, and optionally the PEM trust
    # anchors verification accepts (default: the chain's last certificate). Relative to the studio home.
    signing_cert: str = ""
    signing_key: str = ""
    signing_trust: str = ""

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'catalog.db'}"
        if not self.blob_url:
            self.blob_url = f"file://{self.home / 'blobs'}"
        self.cache_dir = Path(self.cache_dir).resolve() if self.cache_dir else self.home / "cache"

    # -- persistence -------------------------------------------------------------------------
    def to_toml(self) -> dict[str, Any]:
        """What goes into reelforge.toml: only values that differ from the derived defaults."""
        data: dict[str, Any] = {}
        default = Settings(home=self.home)
        for f in fields(self):
            if f.name in ("home", "limits"):
                continue
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                data[f.name] = str(value) if isinstance(value, Path) else value
        limits = {k: v for k, v in asdict(self.limits).items() if v != getattr(MediaLimits(), k)}
        if limits:
            data["limits"] = limits
        return data

    def write(self) -> Path:
        path = self.home / CONFIG_NAME
        body = "# reelforge studio settings; REELFORGE_* environment variables override these.\n"
        body += tomli_w.dumps(self.to_toml())
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, path)
        return path


_INT_FIELDS = {"worker_concurrency", "max_attempts", "ingest_workers"}
_FLOAT_FIELDS = {"lease_seconds", "heartbeat_seconds", "retry_backoff_seconds", "poll_seconds"}
_BOOL_FIELDS = {"ingest_video_proxies", "ingest_defer_thumbnails", "encryption"}
_NAME_PATH_FIELDS = {"diffusion_models"}
_BOOLS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _name_paths(name: str, value: Any) -> dict[str, str]:
    """A name → path table: a TOML table, or (from the environment) JSON or ``name=/path,name2=/path``."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                raise InvalidInput(f"setting {name} is not a JSON object: {value!r}") from None
        else:
            pairs = [part.partition("=") for part in text.split(",") if part.strip()]
            if any(not sep or not k.strip() or not v.strip() for k, sep, v in pairs):
                raise InvalidInput(f"setting {name} must be name=/path pairs separated by commas, got {value!r}")
            value = {k.strip(): v.strip() for k, _, v in pairs}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and k and v
                                              for k, v in value.items()):
        raise InvalidInput(f"setting {name} must map names to folder paths, got {value!r}")
    return dict(value)


def _coerce(name: str, value: Any) -> Any:
    if name in _NAME_PATH_FIELDS:
        return _name_paths(name, value)
    if name in _BOOL_FIELDS:
        if isinstance(value, bool):
            return value
        flag = _BOOLS.get(str(value).strip().lower())
        if flag is None:
            raise InvalidInput(f"setting {name} must be true or false, got {value!r}")
        return flag
    try:
        if name in _INT_FIELDS:
            number = int(value)
            if name == "ingest_workers" and number < 0:  # 0 is "one per CPU"
                raise InvalidInput(f"setting {name} must not be negative, got {value!r}")
            return number
        if name in _FLOAT_FIELDS:
            return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"setting {name} must be a number, got {value!r}") from None
    return value


def load_settings(home: str | Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Settings for the studio at ``home``: toml file, then env vars, then explicit overrides."""
    home = Path(home).resolve()
    values: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    cfg = home / CONFIG_NAME
    if cfg.exists():
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{cfg}: invalid TOML: {exc}") from None
        limits.update(data.pop("limits", {}) or {})
        values.update(data)
    known = {f.name for f in fields(Settings)} - {"home", "limits"}
    # The [server] table comes from reelforge.toml (and REELFORGE_SERVER_* in server/config.py) only:
    # REELFORGE_SERVER is the CLI's remote-server URL, not this table.
    for name in sorted(known - {"server"}):
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None and env != "":
            values[name] = env
    for f in fields(MediaLimits):
        env = os.environ.get(ENV_PREFIX + "LIMIT_" + f.name.upper())
        if env:
            limits[f.name] = env
    values.update(overrides or {})
    if "limits" in values:
        extra = values.pop("limits")
        limits.update(asdict(extra) if isinstance(extra, MediaLimits) else dict(extra))
    unknown = set(values) - known
    if unknown:
        raise InvalidInput(f"unknown setting(s): {', '.join(sorted(unknown))}")
    try:
        lim = MediaLimits(**{k: type(getattr(MediaLimits(), k))(v) for k, v in limits.items()})
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"invalid limits: {exc}") from None
    return Settings(home=home, limits=lim, **{k: _coerce(k, v) for k, v in values.items()})


def find_home(start: str | Path | None = None) -> Path:
    """The studio to use: an explicit path, ``REELFORGE_HOME``, or the nearest reelforge.toml upwards."""
    if start is not None:
        path = Path(start).resolve()
        if not (path / CONFIG_NAME).exists():
            raise NotFound(f"no studio at {path} (run: reelforge init {path})")
        return path
    env = os.environ.get("REELFORGE_HOME")
    if env:
        return find_home(env)
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_NAME).exists():
            return candidate
    raise NotFound("no studio here: run `reelforge init DIR`, pass --studio DIR or set REELFORGE_HOME")
