"""Backups of a real studio and restores into fresh ones (SQLite and PostgreSQL, local and S3 blobs).

The source studio holds real images (skimage), an H.264 video, a labelled dataset, a classifier
trained by a real ``classify.train`` job (a model with safetensors weights and lineage), a contact
sheet made by a job, and a queued job. A restore must give a studio whose fsck is clean, whose
assets export byte-identical, and whose lineage and datasets are the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from reelforge.catalog.backup import backup, iter_snapshot_blobs, list_snapshots, restore
from reelforge.errors import Conflict, InvalidInput, NotFound
from reelforge.storage.base import CorruptBlob
from reelforge.storage.local import LocalBlobStore
from reelforge.studio import Studio

TABLES = ("projects", "assets", "asset_tags", "datasets", "dataset_versions", "dataset_items", "models",
          "model_files", "jobs", "job_inputs", "job_logs", "job_metrics", "job_checkpoints", "audit_events")


def _write_media(folder: Path) -> dict[str, Path]:
    from reelforge.media import write_video

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in ("astronaut", "coffee", "chelsea"):
        path = folder / f"{name}.png"
        Image.fromarray(getattr(data, name)()[::4, ::4]).save(path)
        out[name] = path
    still = data.astronaut()[::8, ::8]
    clip = folder / "pan.mp4"
    write_video(iter([np.roll(still, 3 * i, axis=1) for i in range(12)]), clip, fps=12)
    out["pan"] = clip
    return out


def _write_faces(folder: Path) -> list[tuple[Path, str]]:
    from skimage.data import lfw_subset

    folder.mkdir(parents=True, exist_ok=True)
    x = (lfw_subset() * 255).round().astype(np.uint8)
    picks = [*range(0, 12), *range(100, 112)]  # 12 faces, 12 non-faces
    out = []
    for i in picks:
        path = folder / f"{i:03d}.png"
        Image.fromarray(x[i]).save(path)
        out.append((path, "face" if i < 100 else "non-face"))
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("backup-src")
    s = Studio.init(root / "studio", worker_concurrency=1)
    media = _write_media(root / "media")
    report = s.ingest(list(media.values()))  # the video queues a media.proxies job: left queued
    assert len(report.added) == 4 and report.jobs
    faces = [s.assets.add([path], tags=[f"class:{label}"]).added[0].id for path, label in _write_faces(root / "faces")]
    s.datasets.create("faces", assets=faces, label_from="tag:class:", splits="0.5,0.25,0.25", seed=0)
    stills = [a.id for a in report.added if a.kind == "image"]
    s.datasets.create("stills", assets=stills)
    sheet = s.jobs.submit("media.contact_sheet", {"dataset": "stills", "cell": 64}, seed=7).run()
    assert sheet.status == "succeeded", sheet.error
    train = s.jobs.submit("classify.train", {"dataset": "faces", "epochs": 2, "width": 4, "depth": 2,
                                             "resolution": 16, "threads": 1, "checkpoint_every": 1}, seed=0).run()
    assert train.status == "succeeded", train.error
    yield s
    s.close()


def _rows(studio: Studio) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the catalog tables that matter, sorted: two catalogs compare equal by this."""
    from sqlalchemy import select

    from reelforge.db.models import Base

    out = {}
    with studio.engine.connect() as conn:
        for t in TABLES:  # through the schema's types, so both backends read the same values
            rows = conn.execute(select(Base.metadata.tables[t])).all()
            out[t] = sorted((tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v for v in r)
                             for r in rows), key=repr)
    return out


def _exports(studio: Studio, dest: Path) -> dict[str, str]:
    """sha256 of every asset's exported bytes, by asset id."""
    assets = studio.assets.list()
    out = {}
    for a in assets:
        (path,) = studio.assets.export([a.id], dest / a.id)
        out[a.id] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _same_studio(a: Studio, b: Studio, tmp: Path) -> None:
    assert _rows(a) == _rows(b)
    report = b.fsck()
    assert report.clean and not report.unreferenced and report.checked == len(a.referenced_blobs()), report.to_dict()
    assert _exports(a, tmp / "a") == _exports(b, tmp / "b")
    # lineage: the trained model back to its dataset and raw faces, the contact sheet back to its stills
    model = a.models.get("classifier")
    ga, gb = a.lineage.graph(model.id), b.lineage.graph(model.id)
    assert ga.to_dict() == gb.to_dict() and gb.raw_assets() and set(gb.raw_assets()) <= {a.id for a in b.assets.list()}
    assert [i.asset_id for i in b.datasets.get("faces").items] == [i.asset_id for i in a.datasets.get("faces").items]
    # the model's weights read back identical through the restored store
    for f in a.models.get(model.id).files:
        assert b.blobs.read_bytes(f.sha256) == a.blobs.read_bytes(f.sha256)


def test_incremental_backups_and_restore_into_sqlite(source: Studio, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    first = backup(source, dest)
    refs1 = source.referenced_blobs()
    assert first.blobs.blobs == len(refs1) and first.blobs.copied == len(refs1) and first.blobs.skipped == 0
    assert {sha for sha, _ in iter_snapshot_blobs(dest)} == refs1
    m = first.manifest
    assert m["schema_revision"] and m["code_version"] and m["catalog"]["file"] == "catalog.sqlite"
    assert m["catalog"]["sha256"] == hashlib.sha256((first.dest / "catalog.sqlite").read_bytes()).hexdigest()
    first_counts = _rows(source)

    # More work after the first backup: new images and a job output.
    more = tmp_path / "more"
    more.mkdir()
    for name in ("camera", "rocket"):
        Image.fromarray(getattr(data, name)()[::4, ::4]).save(more / f"{name}.png")
    added = source.assets.add(sorted(more.iterdir())).added
    proxy = source.jobs.submit("media.proxy", {"asset": added[0].id, "max_side": 64}).run()
    assert proxy.status == "succeeded", proxy.error
    refs2 = source.referenced_blobs()
    second = backup(source, dest)
    new = refs2 - refs1
    assert len(new) >= 3  # two images (+ thumbnails) and the proxy
    assert second.blobs.copied == len(new) and second.blobs.skipped == len(refs1)
    assert second.blobs.copied_bytes == sum(source.blobs.stat(s).size for s in new)
    assert [s["id"] for s in list_snapshots(dest)] == [first.snapshot, second.snapshot]

    # The newest by default: the studio as it is now.
    restored = restore(dest, tmp_path / "restored")
    assert restored.snapshot == second.snapshot and restored.blobs.copied == len(refs2)
    with Studio.open(tmp_path / "restored") as s:
        _same_studio(source, s, tmp_path / "cmp")
    # An older snapshot on request: the studio as it was then.
    older = restore(dest, tmp_path / "older", snapshot=first.snapshot[:18])
    assert older.snapshot == first.snapshot
    with Studio.open(tmp_path / "older") as s:
        assert _rows(s) == first_counts and s.fsck().clean
        assert s.referenced_blobs() == refs1


def test_restore_into_postgresql_and_back_up_from_it(source: Studio, tmp_path: Path, pg_url: str) -> None:
    dest = tmp_path / "backup"
    backup(source, dest)
    report = restore(dest, tmp_path / "pg-studio", database_url=pg_url)
    assert report.database_url.startswith("postgresql") and report.rows["assets"] == len(source.assets.list())
    with Studio.open(tmp_path / "pg-studio") as pg:
        assert pg.engine.dialect.name == "postgresql"
        _same_studio(source, pg, tmp_path / "cmp")
        # The restored queue works: a job runs and logs (job_logs ids continue past the restored ones).
        job = pg.jobs.submit("system.ping", {"steps": 3}).run()
        assert job.status == "succeeded" and len(pg.jobs.logs(job.id)) >= 3
        # The other direction: a PostgreSQL studio's backup (a logical export in one snapshot)
        # restored onto SQLite.
        back = backup(pg, tmp_path / "backup-of-pg")
        assert back.manifest["source"]["backend"] == "postgresql" and back.blobs.copied == len(pg.referenced_blobs())
        assert "postgres@" in back.manifest["source"]["database_url"] or "***" in back.manifest["source"]["database_url"]
        restore(tmp_path / "backup-of-pg", tmp_path / "sqlite-again")
        with Studio.open(tmp_path / "sqlite-again") as s:
            assert s.engine.dialect.name == "sqlite"
            assert _rows(s) == _rows(pg) and s.fsck().clean
    # A database that is not empty is refused before anything is written.
    with pytest.raises(Conflict, match="not empty"):
        restore(dest, tmp_path / "again", database_url=pg_url)
    assert not (tmp_path / "again").exists()


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Studio]:
    s = Studio.init(tmp_path / "small")
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("astronaut", "coffee"):
        Image.fromarray(getattr(data, name)()[::8, ::8]).save(folder / f"{name}.png")
    s.assets.add(sorted(folder.iterdir()))
    yield s
    s.close()


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".restore-" in p.name]


def test_a_corrupted_backup_blob_is_refused_and_nothing_is_restored(small: Studio, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    backup(small, dest)
    asset = small.assets.list()[0]
    victim = LocalBlobStore(dest / "blobs").local_path(asset.sha256)
    os.chmod(victim, stat.S_IWUSR | stat.S_IRUSR)
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit
    victim.write_bytes(bytes(raw))
    with pytest.raises(CorruptBlob, match=f"backup blob {asset.sha256} is corrupt"):
        restore(dest, tmp_path / "restored")
    assert not (tmp_path / "restored").exists() and not _leftovers(tmp_path)
    # A missing blob: named too.
    victim.unlink()
    with pytest.raises(NotFound, match=f"backup blob {asset.sha256} is missing"):
        restore(dest, tmp_path / "restored")
    assert not (tmp_path / "restored").exists() and not _leftovers(tmp_path)
    # The next backup repairs the backup store (the blob is copied again), and then it restores.
    again = backup(small, dest)
    assert again.blobs.copied == 1
    restore(dest, tmp_path / "restored")
    with Studio.open(tmp_path / "restored") as s:
        assert s.fsck().clean


def test_a_corrupted_catalog_snapshot_is_refused(small: Studio, tmp_path: Path) -> None:
    report = backup(small, tmp_path / "backup")
    catalog = report.dest / "catalog.sqlite"
    db = sqlite3.connect(catalog)
    db.execute("DELETE FROM assets")
    db.commit()
    db.close()
    with pytest.raises(CorruptBlob, match=r"catalog .* is corrupt"):
        restore(tmp_path / "backup", tmp_path / "restored")
    assert not (tmp_path / "restored").exists() and not _leftovers(tmp_path)


def test_refusals_are_one_line_and_touch_nothing(small: Studio, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        restore(tmp_path / "nowhere", tmp_path / "restored")
    dest = tmp_path / "backup"
    backup(small, dest)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(Conflict, match="not empty"):
        restore(dest, busy)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    with pytest.raises(NotFound, match="no snapshot 'nope'"):
        restore(dest, tmp_path / "restored", snapshot="nope")
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "x").write_text("x")
    with pytest.raises(Conflict, match="not a reelforge backup"):
        backup(small, stranger)
    # An empty folder is a fine target for both.
    (tmp_path / "empty").mkdir()
    restore(dest, tmp_path / "empty")
    with Studio.open(tmp_path / "empty") as s:
        assert len(s.assets.list()) == 2


def test_snapshot_first_then_blobs_ignores_later_writes(small: Studio, tmp_path: Path) -> None:
    """An ingest that lands while blobs are being copied is not in the snapshot and not needed."""
    late = tmp_path / "late.png"
    Image.fromarray(data.camera()[::8, ::8]).save(late)
    fired: list[str] = []

    def progress(done: int, total: int, message: str) -> None:
        if total and not fired:  # the catalog is snapshotted; blobs are being copied
            fired.extend(a.sha256 for a in small.assets.add([late]).added)

    report = backup(small, tmp_path / "backup", progress=progress)
    assert fired and fired[0] not in {sha for sha, _ in iter_snapshot_blobs(tmp_path / "backup")}
    assert report.blobs.blobs == len(small.referenced_blobs()) - 2  # the late image and its thumbnail
    restore(tmp_path / "backup", tmp_path / "restored")
    with Studio.open(tmp_path / "restored") as s:
        assert len(s.assets.list()) == 2 and s.fsck().clean


def test_a_corrupt_studio_blob_fails_the_backup_without_a_snapshot(small: Studio, tmp_path: Path) -> None:
    asset = small.assets.list()[0]
    path = small.blobs.local_path(asset.sha256)  # type: ignore[attr-defined]
    os.chmod(path, 0o644)
    path.write_bytes(b"rot")
    with pytest.raises(CorruptBlob, match=f"studio blob {asset.sha256} is corrupt"):
        backup(small, tmp_path / "backup")
    assert list_snapshots(tmp_path / "backup") == []
    assert not [p for p in (tmp_path / "backup" / "snapshots").iterdir()]


def test_encrypted_studio_backup_holds_ciphertext_and_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REELFORGE_STUDIO_KEY", raising=False)
    s = Studio.init(tmp_path / "enc", encryption=True)
    img = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()[::4, ::4]).save(img)
    plain = img.read_bytes()
    (asset,) = s.assets.add([img]).added
    report = backup(s, tmp_path / "backup")
    s.close()
    assert report.manifest["encryption"]["key_id"]
    key_text = (tmp_path / "enc" / "studio.key").read_text().strip()
    for path in (tmp_path / "backup").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert key_text.encode() not in content  # the key is never in a backup
            assert plain[:4096] not in content  # no plaintext of the image
            assert asset.sha256.encode() not in content or path.name in ("catalog.sqlite", "blobs.tsv")
    assert not any(p.name == asset.sha256 for p in (tmp_path / "backup" / "blobs").rglob("*"))

    with pytest.raises(InvalidInput, match="backups never contain it"):
        restore(tmp_path / "backup", tmp_path / "r0")
    from reelforge.storage.encrypted import create_key_file

    create_key_file(tmp_path / "other.key")
    with pytest.raises(InvalidInput, match="not with the key given"):
        restore(tmp_path / "backup", tmp_path / "r0", key_file=tmp_path / "other.key")
    assert not (tmp_path / "r0").exists()
    restore(tmp_path / "backup", tmp_path / "r1", key_file=tmp_path / "enc" / "studio.key")
    with Studio.open(tmp_path / "r1") as r:
        assert r.settings.encryption and r.fsck().clean
        (out,) = r.assets.export([asset.id], tmp_path / "out")
        assert out.read_bytes() == plain


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.storage.s3_server import S3Server

    server = S3Server(tmp_path_factory.mktemp("seaweedfs"))
    try:
        server.start()
    except FileNotFoundError as exc:
        if os.environ.get("REELFORGE_REQUIRE_S3") == "1":
            pytest.fail(f"{exc} (REELFORGE_REQUIRE_S3=1)")
        pytest.skip(str(exc))
    yield server
    server.stop()


def test_backup_blobs_in_s3_and_restore_onto_an_s3_studio(small: Studio, tmp_path: Path, s3: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REELFORGE_S3_STAGING_DIR", str(tmp_path / "s3-staging"))
    bucket = s3.new_bucket()
    first = backup(small, tmp_path / "backup", blob_url=f"s3://{bucket}/backup")
    assert first.blobs.copied == len(small.referenced_blobs()) and not (tmp_path / "backup" / "blobs").exists()
    assert backup(small, tmp_path / "backup", blob_url=f"s3://{bucket}/backup").blobs.copied == 0
    listed = s3.client().list_objects_v2(Bucket=bucket, Prefix="backup/blobs/")["KeyCount"]
    assert listed == len(small.referenced_blobs())
    restore(tmp_path / "backup", tmp_path / "restored", blob_url=f"s3://{bucket}/studio")
    with Studio.open(tmp_path / "restored") as s:
        assert s.blobs.url.startswith("s3://") and s.fsck().clean
        for a in small.assets.list():
            (out,) = s.assets.export([a.id], tmp_path / "out" / a.id)
            assert out.read_bytes() == small.blobs.read_bytes(a.sha256)
    # A corrupt object in the backup bucket: refused by name, and the blobs this restore had put
    # into the new studio's bucket are taken out again.
    victim = max(small.referenced_blobs())  # the last copied: the others were in the new bucket by then
    key = next(o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket, Prefix="backup/blobs/")["Contents"]
               if o["Key"].endswith(victim))
    s3.client().put_object(Bucket=bucket, Key=key, Body=b"rot")
    with pytest.raises(CorruptBlob, match=victim):
        restore(tmp_path / "backup", tmp_path / "restored2", blob_url=f"s3://{bucket}/other")
    assert not (tmp_path / "restored2").exists()
    assert s3.client().list_objects_v2(Bucket=bucket, Prefix="other/blobs/")["KeyCount"] == 0


def test_signing_keys_travel_only_when_asked(small: Studio, tmp_path: Path) -> None:
    keys = small.home / "keys"
    files = {p.name: p.read_bytes() for p in keys.iterdir() if p.is_file()}
    assert files
    plain = backup(small, tmp_path / "b1")
    assert not plain.manifest["keys"] and not (plain.dest / "keys").exists()
    restore(tmp_path / "b1", tmp_path / "r1")
    assert {p.name: p.read_bytes() for p in (tmp_path / "r1" / "keys").iterdir() if p.is_file()} != files
    withkeys = backup(small, tmp_path / "b2", include_keys=True)
    assert withkeys.manifest["keys"]
    restore(tmp_path / "b2", tmp_path / "r2")
    assert {p.name: p.read_bytes() for p in (tmp_path / "r2" / "keys").iterdir() if p.is_file()} == files


def test_a_format_1_backup_with_blobs_two_folders_deep_still_serves(small: Studio, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    backup(small, dest)
    # As an earlier version wrote it: format 1, blobs two folders deep, no LAYOUT file.
    for path in [dest / "reelforge-backup.json", *dest.glob("snapshots/*/manifest.json")]:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["format"] = 1
        path.write_text(json.dumps(doc), encoding="utf-8")
    blobs = dest / "blobs"
    (blobs / "LAYOUT").unlink()
    for f in [f for f in blobs.glob("??/*") if f.is_file() and len(f.name) == 64]:
        (blobs / f.name[:2] / f.name[2:4]).mkdir(exist_ok=True)
        os.rename(f, blobs / f.name[:2] / f.name[2:4] / f.name)
    assert LocalBlobStore(blobs).levels == 2
    again = backup(small, dest)  # an incremental backup into it finds every blob where it was
    assert again.blobs.copied == 0 and again.blobs.skipped == again.blobs.blobs > 0
    restore(dest, tmp_path / "restored")
    with Studio.open(tmp_path / "restored") as restored:
        assert sorted(a.sha256 for a in restored.assets.list()) == sorted(a.sha256 for a in small.assets.list())
        assert restored.fsck().clean
