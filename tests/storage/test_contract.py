"""The ``BlobStore`` contract, run on every store: local, S3 (a real SeaweedFS), and the encryption
wrapper over each. A store-specific ``corrupt`` hook damages a stored blob the way that store can
be damaged (a flipped byte on disk, an object overwritten by another S3 client, a flipped byte of
ciphertext) to show that damage is detected."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reelforge.errors import InvalidInput, LimitExceeded, NotFound
from reelforge.storage import BlobStore, open_blob_store
from reelforge.storage.base import CorruptBlob
from reelforge.storage.local import LocalBlobStore

KINDS = ["local", "s3", "encrypted-local", "encrypted-s3"]


@dataclass
class StoreCase:
    kind: str
    store: BlobStore
    corrupt: Callable[[str], None]  # damage the stored blob with this (plaintext) sha256
    reopen: Callable[[], BlobStore]  # the same store, opened again (another process would)


def _local_corrupt(store: LocalBlobStore) -> Callable[[str], None]:
    def corrupt(sha: str) -> None:
        path = store.local_path(sha)
        os.chmod(path, 0o644)
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        path.write_bytes(bytes(raw))

    return corrupt


def _s3_corrupt(store: Any) -> Callable[[str], None]:
    def corrupt(sha: str) -> None:
        key = store._key(sha)
        raw = bytearray(store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read())
        raw[len(raw) // 2] ^= 0x01
        store.client.put_object(Bucket=store.bucket, Key=key, Body=bytes(raw))  # another client

    return corrupt


def _make(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreCase:
    if kind.endswith("s3"):
        url = request.getfixturevalue("s3_url")
    else:
        url = f"file://{tmp_path / 'blobs'}"
    inner = open_blob_store(url)
    corrupt = _local_corrupt(inner) if isinstance(inner, LocalBlobStore) else _s3_corrupt(inner)
    if not kind.startswith("encrypted"):
        return StoreCase(kind, inner, corrupt, lambda: open_blob_store(url))
    from reelforge.storage.encrypted import EncryptedBlobStore, StudioKey

    key = StudioKey(os.urandom(32))
    enc = EncryptedBlobStore(inner, key)

    def corrupt_ciphertext(sha: str) -> None:
        corrupt(enc.locate(sha))

    return StoreCase(kind, enc, corrupt_ciphertext, lambda: EncryptedBlobStore(open_blob_store(url), key))


@pytest.fixture(params=KINDS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreCase]:
    yield _make(str(request.param), tmp_path, request)


def _staging_files(store: BlobStore) -> list[Path]:
    return store.stale_staging(older_than=-60)  # everything there, however new


def test_put_is_content_addressed_deduplicated_and_listed(case: StoreCase) -> None:
    store = case.store
    data = os.urandom(3 * 1024 * 1024 + 17)  # spans several chunks
    a = store.put_bytes(data)
    b = store.put_bytes(data)
    small = store.put_bytes(b"tiny")
    assert a.sha256 == b.sha256 == hashlib.sha256(data).hexdigest() and a.size == len(data)
    assert sorted(x.sha256 for x in store.iter_blobs()) == sorted({a.sha256, small.sha256})
    assert {x.sha256: x.size for x in store.iter_blobs()}[a.sha256] == len(data)
    assert store.exists(a.sha256) and not store.exists("0" * 64)
    st = store.stat(a.sha256)
    assert (st.sha256, st.size) == (a.sha256, len(data)) and st.mtime > 0
    assert store.read_bytes(a.sha256) == data and store.read_bytes(small.sha256) == b"tiny"
    assert store.verify(a.sha256)
    assert not _staging_files(store), "staging must be empty after commits"
    # Another instance (another process) sees the same blobs.
    again = case.reopen()
    assert again.read_bytes(a.sha256) == data


def test_empty_blob(case: StoreCase) -> None:
    info = case.store.put_bytes(b"")
    assert info.sha256 == hashlib.sha256(b"").hexdigest()
    assert case.store.read_bytes(info.sha256) == b"" and case.store.verify(info.sha256)


def test_staged_blob_is_probeable_invisible_until_commit_and_discard_leaves_nothing(case: StoreCase) -> None:
    store = case.store
    staged = store.stage_stream(io.BytesIO(b"hello frame"), suffix=".txt")
    assert staged.path.read_bytes() == b"hello frame" and staged.path.suffix == ".txt"
    assert staged.sha256 == hashlib.sha256(b"hello frame").hexdigest() and staged.size == 11
    assert not store.exists(staged.sha256)
    staged.discard()
    assert not store.exists(staged.sha256) and not _staging_files(store)
    staged = store.stage_stream(io.BytesIO(b"kept"))
    info = staged.commit()
    assert store.exists(info.sha256) and not _staging_files(store)
    with pytest.raises(LimitExceeded):
        store.stage_stream(io.BytesIO(b"x" * 5000), max_bytes=1000)
    assert not _staging_files(store)


def test_stage_file_and_commit_many(case: StoreCase, tmp_path: Path) -> None:
    store = case.store
    files = []
    for i in range(5):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(os.urandom(1000 + i))
        files.append(p)
    staged = [store.stage_file(p) for p in files]
    commit_many = getattr(store, "commit_many", None)
    infos = commit_many(staged) if commit_many else [s.commit() for s in staged]
    assert [i.sha256 for i in infos] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    assert all(store.read_bytes(i.sha256) == p.read_bytes() for i, p in zip(infos, files, strict=True))
    with pytest.raises(NotFound):
        store.stage_file(tmp_path / "nope.bin")
    with pytest.raises(InvalidInput):
        store.stage_file(tmp_path)


def test_open_streams_and_materialize_writes_a_local_file(case: StoreCase, tmp_path: Path) -> None:
    store = case.store
    data = os.urandom(2 * 1024 * 1024 + 5)
    info = store.put_bytes(data)
    with store.open(info.sha256) as fh:
        got = b"".join(iter(lambda: fh.read(65536), b""))
    assert got == data
    out = store.materialize(info.sha256, tmp_path / "cache" / "x.bin")
    assert out.read_bytes() == data
    assert store.materialize(info.sha256, out) == out
    with pytest.raises(NotFound):
        store.open("0" * 64)
    with pytest.raises(NotFound):
        store.materialize("0" * 64, tmp_path / "cache" / "missing.bin")
    assert not (tmp_path / "cache" / "missing.bin").exists()
    with pytest.raises(InvalidInput):
        store.open("../../etc/passwd")


def test_delete(case: StoreCase) -> None:
    store = case.store
    info = store.put_bytes(b"to be collected")
    store.delete(info.sha256)
    assert not store.exists(info.sha256)
    assert info.sha256 not in {b.sha256 for b in store.iter_blobs()}
    with pytest.raises(NotFound):
        store.read_bytes(info.sha256)
    store.delete(info.sha256)  # deleting twice is fine (gc races)


def test_catalog_registry(case: StoreCase) -> None:
    store = case.store
    assert store.catalogs() == {}
    store.register_catalog("abc", {"home": "/studios/a"})
    store.register_catalog("abc", {"home": "/studios/a"})
    store.register_catalog("def", {"home": "/studios/b"})
    assert case.reopen().catalogs() == {"abc": {"home": "/studios/a"}, "def": {"home": "/studios/b"}}
    store.unregister_catalog("abc")
    assert list(store.catalogs()) == ["def"]


def test_corruption_is_detected_and_never_served(case: StoreCase, tmp_path: Path) -> None:
    store = case.store
    data = b"precious frame data " * 5000
    info = store.put_bytes(data)
    case.corrupt(info.sha256)
    assert not store.verify(info.sha256)
    if case.kind == "local":
        return  # the local store serves its files as they are; fsck (verify) is its check
    with pytest.raises(CorruptBlob, match="corrupt"):
        store.read_bytes(info.sha256)
    with pytest.raises(CorruptBlob):
        store.materialize(info.sha256, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists() and not list(tmp_path.glob(".out.bin*"))
    with pytest.raises(CorruptBlob), store.open(info.sha256) as fh:
        while fh.read(4096):
            pass
    # Committing the same content again repairs the stored copy.
    store.put_bytes(data)
    assert store.verify(info.sha256) and store.read_bytes(info.sha256) == data


def test_intact_blob_passes_the_checks_that_refuse_a_corrupt_one(case: StoreCase) -> None:
    """The other side of the corruption test: the same checks accept untouched bytes."""
    info = case.store.put_bytes(b"precious frame data " * 5000)
    assert case.store.verify(info.sha256)
    assert hashlib.sha256(case.store.read_bytes(info.sha256)).hexdigest() == info.sha256


def test_store_pickles_for_ingest_workers(case: StoreCase) -> None:
    if case.kind.startswith("encrypted"):
        pytest.skip("the encryption wrapper is not handed to worker processes (it has no commit_many)")
    store = pickle.loads(pickle.dumps(case.store))
    staged = store.stage_stream(io.BytesIO(b"from a worker"))
    back = pickle.loads(pickle.dumps(staged))
    info = back.commit()
    assert case.store.read_bytes(info.sha256) == b"from a worker"
