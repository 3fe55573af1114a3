from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from reelforge.errors import InvalidInput, LimitExceeded, NotFound
from reelforge.storage import open_blob_store
from reelforge.storage.local import LocalBlobStore


def test_put_is_content_addressed_and_deduplicated(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = os.urandom(3 * 1024 * 1024 + 17)  # spans several chunks
    a = store.put_bytes(data)
    b = store.put_bytes(data)
    assert a.sha256 == b.sha256 == hashlib.sha256(data).hexdigest()
    assert a.size == len(data)
    assert [x.sha256 for x in store.iter_blobs()] == [a.sha256]
    assert store.read_bytes(a.sha256) == data
    assert store.verify(a.sha256)
    assert not list(store.tmp.iterdir()), "staging area must be empty after commits"


def test_staged_blob_is_invisible_until_commit_and_discard_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    staged = store.stage_stream(io.BytesIO(b"hello"), suffix=".txt")
    assert staged.path.read_bytes() == b"hello" and staged.path.suffix == ".txt"
    assert not store.exists(staged.sha256)
    staged.discard()
    assert not store.exists(staged.sha256)
    assert not list(store.tmp.iterdir())


def test_limit_stops_streaming_and_cleans_up(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(LimitExceeded):
        store.stage_stream(io.BytesIO(b"x" * 5000), max_bytes=1000)
    assert not list(store.tmp.iterdir())


def test_verify_detects_a_flipped_byte(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    info = store.put_bytes(b"some precious frame data" * 100)
    path = store.local_path(info.sha256)
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    raw[10] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert not store.verify(info.sha256)


def test_materialize_and_errors(tmp_path: Path) -> None:
    store = open_blob_store(f"file://{tmp_path / 'blobs'}")
    info = store.put_bytes(b"abc")
    out = store.materialize(info.sha256, tmp_path / "cache" / "x.bin")
    assert out.read_bytes() == b"abc"
    with pytest.raises(NotFound):
        store.open("0" * 64)
    with pytest.raises(InvalidInput):
        store.open("../../etc/passwd")
    with pytest.raises(InvalidInput):
        open_blob_store("gopher://nowhere")
