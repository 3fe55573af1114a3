"""Checkpoint (de)serialisation without pickle.

A state is a nested structure of dicts/lists/tuples with str or int keys, numbers, strings, bools,
None, numpy arrays and torch tensors. Arrays go into a safetensors file; the structure goes into its
metadata as JSON with placeholders. torch is imported only when the state holds torch tensors.
"""

from __future__ import annotations

import json
from typing import Any

from reelforge.errors import InvalidInput

_TAG = "__rf__"


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _flatten(obj: Any, path: str, arrays: dict[str, Any], kinds: dict[str, str]) -> Any:
    import numpy as np

    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise InvalidInput(f"checkpoint key {k!r} at {path or '/'} must be str or int")
            items.append([k, _flatten(v, f"{path}/{k}", arrays, kinds)])
        return {_TAG: "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        return {_TAG: "tuple" if isinstance(obj, tuple) else "list",
                "items": [_flatten(v, f"{path}/{i}", arrays, kinds) for i, v in enumerate(obj)]}
    if _is_torch(obj):
        key = f"a{len(arrays)}"
        arrays[key] = obj.detach().cpu().clone().contiguous()  # clone: tied weights share storage
        kinds[key] = "torch"
        return {_TAG: "array", "key": key}
    if isinstance(obj, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = np.ascontiguousarray(obj)
        kinds[key] = "numpy"
        return {_TAG: "array", "key": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise InvalidInput(f"checkpoint value at {path or '/'} has unsupported type {type(obj).__name__}")


def dumps(state: dict[str, Any]) -> bytes:
    arrays: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    skeleton = _flatten(state, "", arrays, kinds)
    meta = {"skeleton": json.dumps(skeleton), "kinds": json.dumps(kinds), "format": "reelforge.checkpoint/1"}
    if any(k == "torch" for k in kinds.values()):
        import torch
        from safetensors.torch import save

        tensors = {k: (v if isinstance(v, torch.Tensor) else torch.from_numpy(v)) for k, v in arrays.items()}
        return save(tensors, metadata=meta)
    from safetensors.numpy import save as np_save

    return np_save(arrays, metadata=meta)


def loads(data: bytes) -> dict[str, Any]:
    from safetensors.numpy import load as np_load

    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    meta = header.get("__metadata__", {})
    if meta.get("format") != "reelforge.checkpoint/1":
        raise InvalidInput("not a reelforge checkpoint")
    kinds: dict[str, str] = json.loads(meta["kinds"])
    arrays: dict[str, Any]
    if any(k == "torch" for k in kinds.values()):
        from safetensors.torch import load

        tensors = load(data)
        arrays = {k: (tensors[k] if kinds[k] == "torch" else tensors[k].numpy()) for k in kinds}
    else:
        arrays = np_load(data) if kinds else {}

    def build(node: Any) -> Any:
        if isinstance(node, dict) and _TAG in node:
            tag = node[_TAG]
            if tag == "dict":
                return {k: build(v) for k, v in node["items"]}
            if tag == "list":
                return [build(v) for v in node["items"]]
            if tag == "tuple":
                return tuple(build(v) for v in node["items"])
            if tag == "array":
                return arrays[node["key"]]
        return node

    return build(json.loads(meta["skeleton"]))
