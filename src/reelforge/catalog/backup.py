"""Backups of a whole studio, and restoring one into a fresh studio home.

A backup folder holds any number of snapshots and one content-addressed blob store they share::

    DEST/reelforge-backup.json        marks the folder (format version)
    DEST/blobs/ab/<sha256>            the blobs (a LocalBlobStore; or any store: ``blob_url``)
    DEST/snapshots/<ID>/manifest.json what, when, which code and schema; the catalog's sha256
    DEST/snapshots/<ID>/catalog.sqlite the catalog: a SQLite file whatever the studio's backend
    DEST/snapshots/<ID>/blobs.tsv     every blob the catalog references: sha256, size(, ciphertext)
    DEST/snapshots/<ID>/meta/...      encrypted studios: the keyring and wrapped data keys (no key)
    DEST/snapshots/<ID>/keys/...      only with ``include_keys``: the studio's signing identity

Consistency: the catalog is snapshotted first (SQLite: the online backup API, one read transaction;
PostgreSQL: every table read in one REPEATABLE READ, READ ONLY transaction and written into a fresh
SQLite file at the same schema revision), then exactly the blobs that snapshot references are copied,
re-hashed on the way in. Blobs added later are not needed; a referenced blob that is missing or
corrupt fails the backup, which then leaves no snapshot (only blobs, which the next backup reuses).
Being SQLite, the catalog restores onto either backend: copied as the file (then migrated) for
SQLite, loaded table by table in one transaction for PostgreSQL. ``pg_dump`` would not restore
into SQLite, so it is not used.

Incremental: a blob already in the backup store is not copied again (content addressing).

Encrypted studios: the backup holds ciphertext exactly as stored, plus the keyring and the wrapped
per-blob data keys; the studio key is never in a backup. Restoring needs that key
(``REELFORGE_STUDIO_KEY`` or a key file), and the restored studio is encrypted with it.

A restore builds the new home in a temporary folder beside it and renames it into place only when
every blob has been copied and verified, so a refused restore leaves no studio behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine, make_url

from reelforge.config import CONFIG_NAME, Settings
from reelforge.db.engine import current_revision, make_engine, table_names, upgrade
from reelforge.db.models import Base
from reelforge.errors import Conflict, InvalidInput, NotFound
from reelforge.storage import BlobStore, open_blob_store
from reelforge.storage.base import CHUNK, SHA_RE, CorruptBlob, MetaStore

if TYPE_CHECKING:
    from reelforge.studio import Studio

# 2: a new backup's own blob store keeps blobs one folder deep (its LAYOUT file says so); code that
# reads only 1 refuses it instead of finding no blobs. Format 1 backups (two levels) still read.
FORMAT = 2
READS = (1, 2)
MARKER = "reelforge-backup.json"
CATALOG_FILE = "catalog.sqlite"
BLOBS_FILE = "blobs.tsv"
MANIFEST = "manifest.json"
# Settings that say where this studio lives: a restore sets its own, never the source's.
_LOCATION_SETTINGS = {"database_url", "blob_url", "cache_dir", "key_file", "signing_cert", "signing_key",
                      "signing_trust", "encryption"}
# Every column that names a blob (Studio.referenced_blobs reads the same ones from the live catalog).
_REFS_SQL = """
SELECT sha256 FROM assets
UNION SELECT thumb_sha256 FROM assets WHERE thumb_sha256 IS NOT NULL
UNION SELECT sha256 FROM model_files
UNION SELECT sha256 FROM job_checkpoints
"""
_BATCH = 2000

Progress = Callable[[int, int, str], None]


def _noop(done: int, total: int, message: str) -> None:
    return None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_url(url: str) -> str:
    """A database URL without its password (manifests and reports are read by people)."""
    with contextlib.suppress(Exception):
        return make_url(url).render_as_string(hide_password=True)
    return url.split("@")[-1]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class BlobCopy:
    """Counts of one backup's or restore's blob pass."""

    blobs: int = 0  # referenced by the snapshot
    bytes: int = 0
    copied: int = 0
    copied_bytes: int = 0
    skipped: int = 0  # already there (an earlier backup, or the target store)
    skipped_bytes: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass
class BackupReport:
    snapshot: str
    dest: Path
    manifest: dict[str, Any]
    blobs: BlobCopy

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot, "dest": str(self.dest), "blobs": self.blobs.to_dict(),
                "manifest": self.manifest}


@dataclass
class RestoreReport:
    snapshot: str
    home: Path
    database_url: str  # without its password
    blob_url: str
    blobs: BlobCopy
    rows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot, "home": str(self.home), "database_url": self.database_url,
                "blob_url": self.blob_url, "blobs": self.blobs.to_dict(), "rows": self.rows}


# -- the backup folder -----------------------------------------------------------------------------

def _open_dest(dest: Path, *, create: bool) -> Path:
    """The backup folder: an existing backup, or (``create``) a new or empty folder."""
    dest = Path(dest).expanduser().resolve()
    marker = dest / MARKER
    if marker.is_file():
        try:
            fmt = json.loads(marker.read_text(encoding="utf-8")).get("format")
        except (OSError, ValueError):
            raise InvalidInput(f"{marker} is not a reelforge backup marker") from None
        if fmt not in READS:
            raise InvalidInput(f"{dest} is a backup of format {fmt}; this code reads formats 1 and 2")
        return dest
    if not create:
        if not dest.exists():
            raise NotFound(f"no backup at {dest}: the folder does not exist")
        raise NotFound(f"{dest} is not a reelforge backup (no {MARKER})")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Conflict(f"{dest} is not empty and not a reelforge backup; choose an empty or new folder")
    if not dest.parent.is_dir():
        raise NotFound(f"cannot create the backup folder {dest}: {dest.parent} does not exist")
    dest.mkdir(exist_ok=True)
    (dest / "snapshots").mkdir(exist_ok=True)
    _write_json(marker, {"format": FORMAT, "created_at": time.time()})
    return dest


def _backup_store(dest: Path, blob_url: str | None) -> BlobStore:
    return open_blob_store(blob_url or f"file://{dest / 'blobs'}")


def list_snapshots(src: str | Path) -> list[dict[str, Any]]:
    """Every complete snapshot's manifest in a backup folder, oldest first."""
    dest = _open_dest(Path(src), create=False)
    out = []
    folder = dest / "snapshots"
    for d in sorted(folder.iterdir()) if folder.is_dir() else []:
        if d.name.startswith(".") or not (d / MANIFEST).is_file():
            continue  # a backup in progress, or one that failed
        with contextlib.suppress(OSError, ValueError):
            out.append(json.loads((d / MANIFEST).read_text(encoding="utf-8")))
    return sorted(out, key=lambda m: (float(m.get("created_ts") or 0), str(m.get("id"))))


def _new_id() -> str:
    # Sortable by time to the microsecond (newest = the largest); the suffix keeps two backups
    # started at the same instant (on two machines) apart.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(2)


# -- catalog snapshots -----------------------------------------------------------------------------

def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise InvalidInput("an in-memory catalog cannot be backed up")
    return Path(database)


def _snapshot_sqlite(engine: Engine, out: Path) -> None:
    """The online backup API in one step: one read transaction, so one consistent state, while
    writers carry on (WAL). The copy is switched to a rollback journal: one self-contained file."""
    src = sqlite3.connect(_sqlite_path(engine), timeout=30)
    try:
        dst = sqlite3.connect(out)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _copy_tables(read: Any, write: Any) -> dict[str, int]:
    """Every table of the schema, parents before children, from one connection into another."""
    counts: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        n = 0
        result = read.execution_options(yield_per=_BATCH).execute(select(table))
        for part in result.partitions():
            rows = [dict(r._mapping) for r in part]
            write.execute(table.insert(), rows)
            n += len(rows)
        counts[table.name] = n
    return counts


def _snapshot_postgres(engine: Engine, out: Path) -> dict[str, int]:
    """Every table read in one REPEATABLE READ, READ ONLY transaction (one snapshot of the
    whole database), written into a new SQLite catalog migrated to the same revision."""
    sink = make_engine(f"sqlite:///{out}")
    try:
        upgrade(sink)
        want = current_revision(sink)
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                have = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if have != want:
                    raise InvalidInput(f"the catalog is at schema revision {have}, this code writes {want}: "
                                       "open the studio once with this version (it migrates), then back up")
                with sink.begin() as w:
                    counts = _copy_tables(conn, w)
    finally:
        sink.dispose()
    db = sqlite3.connect(out)
    try:
        db.execute("PRAGMA journal_mode=DELETE")
    finally:
        db.close()
    return counts


def _snapshot_refs(catalog: Path) -> list[str]:
    db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
    try:
        refs = sorted({r[0] for r in db.execute(_REFS_SQL) if r[0]})
    finally:
        db.close()
    bad = [r for r in refs if not SHA_RE.match(r)]
    if bad:
        raise InvalidInput(f"the catalog names a blob by an invalid hash: {bad[0]!r}")
    return refs


# -- backup ----------------------------------------------------------------------------------------

def _copy_blob(src: BlobStore, sha: str, dest: BlobStore, *, where: str) -> int:
    """Copy one blob by name, re-hashed as it is written: bytes that do not hash to the name are
    refused (``where`` says whose blob it was). Returns its size."""
    try:
        with src.open(sha) as fh:
            staged = dest.stage_stream(fh)
    except CorruptBlob:
        raise CorruptBlob(f"{where} blob {sha} is corrupt (its bytes do not match its hash); refused") from None
    except NotFound:
        raise NotFound(f"{where} blob {sha} is missing") from None
    try:
        if staged.sha256 != sha:
            raise CorruptBlob(f"{where} blob {sha} is corrupt (its bytes hash to {staged.sha256}); refused")
        staged.commit()
        return int(staged.size)
    finally:
        staged.discard()


def _encryption(blobs: BlobStore) -> Any:
    """The studio's ``EncryptedBlobStore`` when its blobs are encrypted at rest, else None."""
    from reelforge.storage.encrypted import EncryptedBlobStore

    return blobs if isinstance(blobs, EncryptedBlobStore) else None


def backup(studio: Studio, dest: str | Path, *, blob_url: str | None = None, include_keys: bool = False,
           progress: Progress | None = None) -> BackupReport:
    """Snapshot the catalog, then copy the blobs that snapshot references into ``dest`` (only the
    ones not already there). ``blob_url`` keeps the backup's blobs in another store (s3://...)."""
    from reelforge.version import code_version

    progress = progress or _noop
    dest = _open_dest(Path(dest), create=True)
    store = _backup_store(dest, blob_url)
    engine = studio.engine
    snap_id = _new_id()
    work = dest / "snapshots" / f".partial-{snap_id}"
    work.mkdir(parents=True)
    try:
        # 1. the catalog, first: the blobs it references exist now and stay (gc honours a grace period)
        progress(0, 0, "catalog snapshot")
        catalog = work / CATALOG_FILE
        backend = engine.dialect.name
        if backend == "sqlite":
            _snapshot_sqlite(engine, catalog)
        elif backend == "postgresql":
            _snapshot_postgres(engine, catalog)
        else:  # pragma: no cover - make_engine accepts only these two
            raise InvalidInput(f"cannot back up a {backend} catalog")
        revision = _revision_of(catalog)
        refs = _snapshot_refs(catalog)
        # 2. the blobs it references (ciphertext and key sidecars when encrypted at rest)
        enc = _encryption(studio.blobs)
        counts = BlobCopy(blobs=len(refs))
        lines = []
        for i, sha in enumerate(refs):
            progress(i, len(refs), sha[:12])
            if enc is None:
                name, src, extra = sha, studio.blobs, ""
            else:
                side_name = enc._sidecar_name(enc.address(sha))
                try:
                    side_raw = enc.meta.get_meta(side_name)
                except NotFound:
                    raise NotFound(f"studio blob {sha} is missing (no key sidecar)") from None
                name = str(json.loads(side_raw)["ct"])
                src, extra = enc.inner, f"\t{name}\t{side_name}"
                target = work / "meta" / side_name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(side_raw)
            if store.exists(name):
                size = store.stat(name).size
                counts.skipped += 1
                counts.skipped_bytes += size
            else:
                size = _copy_blob(src, name, store, where="studio")
                counts.copied += 1
                counts.copied_bytes += size
            counts.bytes += size
            lines.append(f"{sha}\t{size}{extra}\n")
        progress(len(refs), len(refs), "blobs copied")
        (work / BLOBS_FILE).write_text("".join(lines), encoding="utf-8")
        encryption = None
        if enc is not None:
            ring = work / "meta" / enc._keyring_name
            ring.parent.mkdir(parents=True, exist_ok=True)
            ring.write_bytes(enc.meta.get_meta(enc._keyring_name))
            encryption = {"key_id": enc.key.key_id, "namespace": enc.ns,
                          "note": "blobs are ciphertext; the studio key is not in this backup"}
        if include_keys and (studio.home / "keys").is_dir():
            shutil.copytree(studio.home / "keys", work / "keys")
        # 3. the manifest, then the snapshot appears under its name in one rename
        settings = {k: v for k, v in studio.settings.to_toml().items() if k not in _LOCATION_SETTINGS}
        manifest = {
            "format": FORMAT,
            "id": snap_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "created_ts": time.time(),
            "code_version": code_version(),
            "schema_revision": revision,
            "source": {"home": str(studio.home), "backend": backend,
                       "database_url": _safe_url(studio.settings.database_url), "blob_url": studio.blobs.url},
            "catalog": {"file": CATALOG_FILE, "sha256": _sha256_file(catalog), "size": catalog.stat().st_size,
                        "format": "sqlite"},
            "blobs": {"file": BLOBS_FILE, "sha256": _sha256_file(work / BLOBS_FILE), "count": counts.blobs,
                      "bytes": counts.bytes, "store": blob_url or "blobs"},
            "copied": {"count": counts.copied, "bytes": counts.copied_bytes},
            "skipped": {"count": counts.skipped, "bytes": counts.skipped_bytes},
            "encryption": encryption,
            "keys": include_keys and (work / "keys").is_dir(),
            "settings": settings,
        }
        _write_json(work / MANIFEST, manifest)
        final = dest / "snapshots" / snap_id
        os.rename(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupReport(snap_id, final, manifest, counts)


def _revision_of(catalog: Path) -> str | None:
    db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
    try:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    except sqlite3.Error:
        raise InvalidInput(f"{catalog} is not a reelforge catalog (no schema revision)") from None
    finally:
        db.close()


# -- restore ---------------------------------------------------------------------------------------

def _pick(dest: Path, snapshot: str | None) -> tuple[Path, dict[str, Any]]:
    snaps = list_snapshots(dest)
    if not snaps:
        raise NotFound(f"the backup at {dest} has no complete snapshot")
    if snapshot is None:
        manifest = snaps[-1]
    else:
        found = [m for m in snaps if m.get("id") == snapshot or str(m.get("id", "")).startswith(snapshot)]
        if len(found) != 1:
            known = ", ".join(str(m.get("id")) for m in snaps[-5:])
            raise NotFound(f"no snapshot {snapshot!r} in {dest}" + (" (ambiguous)" if found else "")
                           + f"; newest: {known}")
        manifest = found[0]
    if manifest.get("format") not in READS:
        raise InvalidInput(f"snapshot {manifest.get('id')} has format {manifest.get('format')}; "
                           "this code reads formats 1 and 2")
    return dest / "snapshots" / str(manifest["id"]), manifest


def _check_file(folder: Path, entry: dict[str, Any], what: str) -> Path:
    path = folder / str(entry["file"])
    if not path.is_file():
        raise CorruptBlob(f"the backup's {what} {path} is missing; nothing was restored")
    if _sha256_file(path) != entry["sha256"]:
        raise CorruptBlob(f"the backup's {what} {path} is corrupt (its sha256 is not the manifest's); "
                          "nothing was restored")
    return path


def _fresh_home(home: Path) -> Path:
    home = Path(home).expanduser().resolve()
    if home.exists():
        if not home.is_dir():
            raise Conflict(f"{home} exists and is not a folder; restore needs a new or empty folder")
        if any(home.iterdir()):
            raise Conflict(f"{home} is not empty; restore needs a new or empty folder")
    elif not home.parent.is_dir():
        raise NotFound(f"cannot create {home}: {home.parent} does not exist")
    return home


def _studio_key(manifest: dict[str, Any], key_file: Path | None) -> Any:
    """The studio key an encrypted backup needs (checked against the key id it recorded)."""
    from reelforge.storage.encrypted import KEY_ENV, StudioKey

    want = manifest["encryption"]["key_id"]
    if key_file is not None:
        key = StudioKey.from_file(Path(key_file).expanduser())
    elif os.environ.get(KEY_ENV):
        key = StudioKey.from_text(os.environ[KEY_ENV], KEY_ENV)
    else:
        raise InvalidInput(f"this backup is encrypted with studio key {want}; give that key (--key-file or "
                           f"{KEY_ENV}): backups never contain it")
    if key.key_id != want:
        raise InvalidInput(f"this backup is encrypted with studio key {want}, not with the key given "
                           f"({key.key_id}); nothing was restored")
    return key


def _read_blob_list(path: Path) -> list[list[str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not SHA_RE.match(parts[0]):
            raise CorruptBlob(f"the backup's blob list {path} has a bad line; nothing was restored")
        rows.append(parts)
    return rows


def _load_postgres(engine: Engine, catalog: Path) -> dict[str, int]:
    """Load the (migrated) SQLite catalog into an empty PostgreSQL database: the schema by the
    migrations, then every row in one transaction; then the serial counters past the rows."""
    upgrade(engine)
    source = make_engine(f"sqlite:///{catalog}")
    try:
        with source.connect() as r, engine.begin() as w:
            counts = _copy_tables(r, w)
            for table in Base.metadata.sorted_tables:
                col = table.autoincrement_column
                if col is None:
                    continue
                w.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{col.name}'), "
                    f"COALESCE((SELECT MAX({col.name}) FROM {table.name}), 0) + 1, false)"))
    finally:
        source.dispose()
    return counts


def _drop_all(engine: Engine) -> None:
    """Undo a failed load into PostgreSQL: the database is left empty, as it was found."""
    with contextlib.suppress(Exception), engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def _count_rows(catalog: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
    try:
        return {t.name: db.execute(f'SELECT COUNT(*) FROM "{t.name}"').fetchone()[0]
                for t in Base.metadata.sorted_tables}
    finally:
        db.close()


def restore(src: str | Path, home: str | Path, *, snapshot: str | None = None, database_url: str | None = None,
            blob_url: str | None = None, key_file: str | Path | None = None,
            progress: Progress | None = None) -> RestoreReport:
    """Restore a snapshot (the newest by default) into a new studio at ``home`` (a new or empty
    folder), on SQLite in ``home`` or on ``database_url`` (an empty PostgreSQL database), with its
    blobs in ``home/blobs`` or ``blob_url``. Nothing appears at ``home`` unless it all succeeded."""
    progress = progress or _noop
    dest = _open_dest(Path(src), create=False)
    folder, manifest = _pick(dest, snapshot)
    home = _fresh_home(Path(home))
    catalog_src = _check_file(folder, manifest["catalog"], "catalog")
    blob_list = _read_blob_list(_check_file(folder, manifest["blobs"], "blob list"))
    encrypted = manifest.get("encryption") is not None
    key = _studio_key(manifest, Path(key_file) if key_file else None) if encrypted else None
    postgres = bool(database_url) and not str(database_url).startswith("sqlite")
    target_engine = make_engine(str(database_url)) if postgres else None
    if target_engine is not None:
        try:
            tables = table_names(target_engine)
        except Exception as exc:
            target_engine.dispose()
            raise InvalidInput(f"cannot open the database {_safe_url(str(database_url))}: "
                               f"{str(exc).splitlines()[0]}") from None
        if tables:
            target_engine.dispose()
            raise Conflict(f"the database {_safe_url(str(database_url))} is not empty ({len(tables)} tables); "
                           "restore needs an empty one")
    backup_store = open_blob_store(manifest["blobs"]["store"] if manifest["blobs"]["store"] != "blobs"
                                   else f"file://{dest / 'blobs'}")
    work = home.parent / f".{home.name}.restore-{secrets.token_hex(4)}"
    work.mkdir(mode=0o700)
    target: BlobStore | None = None
    added: list[str] = []  # blobs this restore put into a store outside ``work`` (undone on failure)
    loaded = False
    try:
        # 1. the catalog: the snapshot file, migrated to this code's schema
        progress(0, 0, "catalog")
        catalog = work / ("catalog.db" if not postgres else ".restore-catalog.sqlite")
        shutil.copyfile(catalog_src, catalog)
        engine = make_engine(f"sqlite:///{catalog}")
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        rows = _count_rows(catalog)
        # 2. the blobs, each re-hashed as it lands in the new studio's store
        (work / "blobs").mkdir()
        (work / "cache").mkdir()
        target = open_blob_store(blob_url) if blob_url else open_blob_store(f"file://{work / 'blobs'}")
        outside = bool(blob_url)
        counts = BlobCopy(blobs=len(blob_list))
        if encrypted and not isinstance(target, MetaStore):
            raise InvalidInput(f"blob store {target.url} cannot hold encryption metadata")
        for i, parts in enumerate(blob_list):
            progress(i, len(blob_list), parts[0][:12])
            name = parts[2] if encrypted else parts[0]
            if target.exists(name):
                size = target.stat(name).size
                counts.skipped += 1
                counts.skipped_bytes += size
            else:
                size = _copy_blob(backup_store, name, target, where="backup")
                if outside:
                    added.append(name)
                counts.copied += 1
                counts.copied_bytes += size
            counts.bytes += size
        if encrypted:
            assert isinstance(target, MetaStore)
            meta = folder / "meta"
            for path in sorted(p for p in meta.rglob("*") if p.is_file()):
                target.put_meta(path.relative_to(meta).as_posix(), path.read_bytes())
        progress(len(blob_list), len(blob_list), "blobs restored")
        # 3. the catalog into PostgreSQL, in one transaction
        if target_engine is not None:
            progress(0, 0, "loading PostgreSQL")
            loaded = True
            rows = _load_postgres(target_engine, catalog)
            catalog.unlink()
        # 4. settings, keys, then the home appears in one rename
        kept = {k: v for k, v in (manifest.get("settings") or {}).items() if k not in _LOCATION_SETTINGS}
        overrides: dict[str, Any] = dict(kept)
        if postgres:
            overrides["database_url"] = str(database_url)
        if blob_url:
            overrides["blob_url"] = blob_url
        if encrypted:
            overrides["encryption"] = True
        settings = _settings_for(home, overrides)
        _write_settings(work, settings)
        if key is not None and key_file is not None:
            fd = os.open(work / "studio.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Path(key_file).expanduser().read_bytes())
        if (folder / "keys").is_dir():
            shutil.copytree(folder / "keys", work / "keys")
        else:
            from reelforge.catalog.signing import create_identity

            create_identity(work)  # a new signing identity: the old one was not in the backup
        if home.exists():
            home.rmdir()  # empty (checked above): the rename needs the name free
        os.rename(work, home)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        if target is not None:
            for name in added:
                with contextlib.suppress(Exception):
                    target.delete(name)
        if target_engine is not None and loaded:
            _drop_all(target_engine)
        raise
    finally:
        if target_engine is not None:
            target_engine.dispose()
    _register(home)
    url = settings.database_url
    return RestoreReport(str(manifest["id"]), home, _safe_url(url), settings.blob_url, counts, rows)


def _settings_for(home: Path, overrides: dict[str, Any]) -> Settings:
    """The new studio's settings: the backed-up ones (their types as written) plus its own places."""
    from reelforge.media.limits import MediaLimits

    values = dict(overrides)
    limits = values.pop("limits", None) or {}
    try:
        return Settings(home=home, limits=MediaLimits(**limits), **values)
    except TypeError as exc:  # a setting this code does not know (a backup from a newer version)
        raise InvalidInput(f"the backup's settings do not fit this version: {exc}") from None


def _write_settings(folder: Path, settings: Settings) -> None:
    import tomli_w

    body = "# reelforge studio settings; REELFORGE_* environment variables override these.\n"
    body += "# restored from a backup (reelforge restore-backup)\n"
    body += tomli_w.dumps(settings.to_toml())
    (folder / CONFIG_NAME).write_text(body, encoding="utf-8")


def _register(home: Path) -> None:
    """Open the restored studio once: it registers with its blob store (gc sees its references)."""
    from reelforge.studio import Studio

    Studio.open(home).close()


def iter_snapshot_blobs(src: str | Path, snapshot: str | None = None) -> Iterable[tuple[str, int]]:
    """(sha256, size) of every blob a snapshot references (for checks and tests)."""
    folder, manifest = _pick(_open_dest(Path(src), create=False), snapshot)
    for parts in _read_blob_list(folder / manifest["blobs"]["file"]):
        yield parts[0], int(parts[1])
