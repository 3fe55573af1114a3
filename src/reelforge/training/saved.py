"""The saved-model folder every trainer writes: ``config.json`` + one or more ``.safetensors`` files.

``config.json``::

    {"format": "reelforge.gan", "format_version": 1,
     "config": {...},                      # what rebuilds the network
     "files": {"generator_ema": "generator_ema.safetensors", ...},
     "metadata": {...}}                    # free-form: step, history, vocabulary...

Loading checks the format name and version before touching a weight, reads only safetensors (a
pickle is refused without being unpickled) and names the problem in one line. Folders written before
this layout existed (``"format": "name/N"``, or a ``"version"`` key, extra top-level keys and no
``files``) are read too: their extra keys become ``metadata`` and their weights are the folder's
``*.safetensors`` files.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelforge.errors import InvalidInput, NotFound

__all__ = ["CONFIG_FILE", "ModelFolder", "load_model_folder", "save_model_folder"]

CONFIG_FILE = "config.json"
_RESERVED = ("format", "format_version", "config", "files", "metadata")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PICKLE_GLOBS = ("*.pt", "*.pth", "*.pkl", "*.pickle", "*.bin", "*.ckpt")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _check_format(fmt: Any, version: Any) -> None:
    if not isinstance(fmt, str) or not fmt or "/" in fmt:
        raise InvalidInput(f"model format must be a non-empty name without '/', got {fmt!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(f"model format_version must be a positive integer, got {version!r}")


def save_model_folder(
    directory: str | Path,
    config: Mapping[str, Any],
    state_dicts: Mapping[str, Any],
    *,
    format: str,
    format_version: int,
    metadata: Mapping[str, Any] | None = None,
    filenames: Mapping[str, str] | None = None,
) -> Path:
    """Write a model folder; returns its path.

    ``state_dicts`` maps a part name ("model", "generator_ema"...) to an ``nn.Module`` or a state
    dict; each becomes ``<name>.safetensors`` unless ``filenames`` says otherwise. ``config.json`` is
    written last and atomically, so a folder with a config.json is complete.
    """
    from reelforge.training.weights import write_safetensors

    _check_format(format, format_version)
    if not state_dicts:
        raise InvalidInput("a saved model needs at least one set of weights")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for name in state_dicts:
        fname = (filenames or {}).get(name, f"{name}.safetensors")
        if not _NAME_RE.match(name) or not _NAME_RE.match(fname) or not fname.endswith(".safetensors"):
            raise InvalidInput(f"bad weights name {name!r} -> {fname!r}: plain names, .safetensors files")
        files[name] = fname
    doc = {
        "format": format,
        "format_version": format_version,
        "config": dict(config),
        "files": files,
        "metadata": dict(metadata or {}),
    }
    try:
        text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default) + "\n"
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"model config/metadata cannot be saved as JSON: {exc}") from exc
    header = {"format": f"{format}/{format_version}"}  # one entry: several would be written in random order
    for name, fname in files.items():
        part = state_dicts[name]
        tensors = part.state_dict() if hasattr(part, "state_dict") else part
        write_safetensors(out / fname, tensors, metadata=header)
    tmp = out / (CONFIG_FILE + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out / CONFIG_FILE)
    return out


@dataclass(frozen=True)
class ModelFolder:
    """A checked model folder; weights are read on demand."""

    path: Path
    format: str
    format_version: int
    config: dict[str, Any]
    files: dict[str, str]
    metadata: dict[str, Any] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.files

    def file(self, name: str) -> Path:
        if name not in self.files:
            raise InvalidInput(f"{self.path} has no {name!r} weights (it has {sorted(self.files)})")
        return self.path / self.files[name]

    def weights(self, name: str, device: Any = "cpu") -> dict[str, Any]:
        """The tensors of one weights file, as a state dict."""
        from reelforge.training.weights import read_safetensors

        return read_safetensors(self.file(name), device=device)

    def load_into(self, name: str, module: Any, device: Any = None, strict: bool = True) -> Any:
        """Load ``name``'s weights into ``module`` (strictly), move it to ``device``; returns it."""
        from reelforge.training.weights import load_weights

        load_weights(module, self.weights(name), strict=strict, where=self.files[name])
        return module if device is None else module.to(device)


def _legacy_header(doc: dict[str, Any]) -> tuple[Any, Any]:
    """(name, version) of a config.json in this layout or an older one ("name/N", or "version")."""
    fmt, version = doc.get("format"), doc.get("format_version")
    if version is None:
        version = doc.get("version")
    if version is None and isinstance(fmt, str) and "/" in fmt:
        fmt, _, tail = fmt.rpartition("/")
        version = int(tail) if tail.isdigit() else tail
    return fmt, version


def load_model_folder(
    directory: str | Path,
    expected_format: str,
    versions: int | Collection[int] = 1,
    *,
    what: str = "model",
) -> ModelFolder:
    """Read and check a model folder's ``config.json``; weights stay on disk until asked for.

    No folder or no config.json: NotFound. Unreadable JSON, another format, a version this code does
    not read, a weights file that is missing, pickled or not safetensors: InvalidInput.
    """
    from reelforge.training.weights import check_safetensors_file

    root = Path(directory)
    cfg_path = root / CONFIG_FILE
    if not cfg_path.is_file():
        raise NotFound(f"{root} is not a saved {what} (no {CONFIG_FILE})")
    try:
        doc = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"{cfg_path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"{cfg_path}: not a reelforge model config (not a JSON object)")
    fmt, version = _legacy_header(doc)
    if fmt != expected_format:
        raise InvalidInput(f"{root} holds a {fmt!r} model, not a {what} ({expected_format!r})")
    wanted = {versions} if isinstance(versions, int) else set(versions)
    if version not in wanted:
        raise InvalidInput(
            f"{root}: {what} format version {version!r} is not supported "
            f"(this reelforge reads version {', '.join(str(v) for v in sorted(wanted))})"
        )
    config = doc.get("config") if doc.get("config") is not None else {}
    if not isinstance(config, dict):
        raise InvalidInput(f"{cfg_path}: 'config' must be a JSON object")
    metadata = doc.get("metadata") if doc.get("metadata") is not None else {}
    if not isinstance(metadata, dict):
        raise InvalidInput(f"{cfg_path}: 'metadata' must be a JSON object")
    if "format_version" not in doc:  # an older layout kept its extras at the top level
        metadata = {**{k: v for k, v in doc.items() if k not in (*_RESERVED, "version")}, **metadata}
    files = doc.get("files")
    if files is None:  # older layouts: every safetensors file in the folder, named by its stem
        files = {p.stem: p.name for p in sorted(root.glob("*.safetensors"))}
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise InvalidInput(f"{cfg_path}: 'files' must map names to file names")
    if not files:
        pickles = sorted(p.name for g in _PICKLE_GLOBS for p in root.glob(g))
        if pickles:
            raise InvalidInput(
                f"{root}: weights {pickles[:3]} are pickles; reelforge loads .safetensors only"
            )
        raise InvalidInput(f"{root}: no .safetensors weights in the {what} folder")
    for fname in files.values():
        if Path(fname).name != fname:
            raise InvalidInput(f"{cfg_path}: weights file {fname!r} must be a plain name inside the folder")
        check_safetensors_file(root / fname)
    return ModelFolder(root, fmt, int(version), config, dict(files), metadata)
