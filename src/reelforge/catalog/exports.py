"""What an export writes, and where: assets under their names, a dataset as
``split/label/name`` files plus ``manifest.csv`` and ``dataset.json``, a model's files plus its card.

The layouts are written once, here, for every door: the local services copy blobs from the store,
the remote SDK streams downloads from a server, both through a ``Copy`` callable. Free of the
database layer. Every write goes through ``storage.export`` (never outside ``dest``, never through
a symlink planted there).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from reelforge.catalog.entities import Asset, DatasetVersion, Model
from reelforge.catalog.names import safe_name
from reelforge.errors import InvalidInput
from reelforge.storage.export import occupied, prepare_folder, write_bytes

# copy(sha256, dest, rel, overwrite) -> the path written; the bytes are the blob's with that hash.
Copy = Callable[[str, Path, str, bool], Path]

MODEL_CARD = "reelforge-model.json"


def export_assets(assets: Sequence[Asset], dest: str | Path, copy: Copy, *, overwrite: bool = False) -> list[Path]:
    """Assets under their catalog names; refuses to clobber files unless ``overwrite`` (checked for
    every asset before the first is written)."""
    names = [safe_name(a.name) for a in assets]
    dest = prepare_folder(dest).resolve()
    for a, name in zip(assets, names, strict=True):
        target = dest / name
        if dest not in target.parents:
            raise InvalidInput(f"asset name {a.name!r} escapes the export folder")
        if occupied(dest, name) and not overwrite:
            raise InvalidInput(f"{target} exists (use --overwrite)")
    return [copy(a.sha256, dest, name, overwrite) for a, name in zip(assets, names, strict=True)]


def export_dataset(dv: DatasetVersion, assets: Mapping[str, Asset], dest: str | Path, copy: Copy, *,
                   overwrite: bool = False) -> Path:
    """``dest/split/label/name`` files plus ``manifest.csv`` and ``dataset.json``. ``assets`` holds
    every item's asset by id."""
    dest = prepare_folder(dest)
    if any(dest.iterdir()) and not overwrite:
        raise InvalidInput(f"{dest} is not empty (use --overwrite)")
    rows = []
    used: set[str] = set()
    for it in dv.items:
        a = assets[it.asset_id]
        rel = Path(it.split) / (it.label or "_unlabelled") / Path(safe_name(a.name)).name
        if rel.as_posix() in used:
            rel = rel.with_name(f"{a.id}_{rel.name}")
        used.add(rel.as_posix())
        written = copy(a.sha256, dest, rel.as_posix(), True)
        rel = written.relative_to(dest)
        rows.append([rel.as_posix(), a.id, a.sha256, it.split, it.label or "", it.caption or ""])
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["path", "asset_id", "sha256", "split", "label", "caption"])
    w.writerows(rows)
    write_bytes(dest, "manifest.csv", buf.getvalue().encode("utf-8"), overwrite=True)
    meta = dv.to_dict()
    meta.pop("items")
    write_bytes(dest, "dataset.json", json.dumps(meta, indent=2).encode("utf-8"), overwrite=True)
    return dest


def export_model(model: Model, dest: str | Path, copy: Copy, *, overwrite: bool = False) -> Path:
    """The model's files and a model card (``reelforge-model.json``) in ``dest``."""
    dest = prepare_folder(dest)
    for f in model.files:
        if occupied(dest, f.name) and not overwrite:
            raise InvalidInput(f"{dest / f.name} exists (use --overwrite)")
    for f in model.files:
        copy(f.sha256, dest, f.name, overwrite)
    write_bytes(dest, MODEL_CARD, json.dumps(model.to_dict(), indent=2).encode("utf-8"), overwrite=True)
    return dest
