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


def test_a_new_store_keeps_blobs_one_folder_deep_and_says_so(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    info = store.put_bytes(b"one level")
    sha = info.sha256
    assert (tmp_path / "blobs" / "LAYOUT").read_text() == "ab/<sha256>\n"
    assert store.local_path(sha) == tmp_path / "blobs" / sha[:2] / sha
    assert [b.sha256 for b in store.iter_blobs()] == [sha]
    # Opened again (another process, a worker): the same layout, the same blob.
    assert LocalBlobStore(tmp_path / "blobs").read_bytes(sha) == b"one level"


def test_a_store_made_with_two_folder_levels_keeps_them(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    old = b"written by an earlier version"
    sha = hashlib.sha256(old).hexdigest()
    (root / sha[:2] / sha[2:4]).mkdir(parents=True)
    (root / sha[:2] / sha[2:4] / sha).write_bytes(old)
    store = LocalBlobStore(root)
    assert store.levels == 2 and (root / "LAYOUT").read_text() == "ab/cd/<sha256>\n"
    assert store.read_bytes(sha) == old and store.put_bytes(old).sha256 == sha  # found: deduplicated
    new = store.put_bytes(b"written now")
    assert store.local_path(new.sha256) == root / new.sha256[:2] / new.sha256[2:4] / new.sha256
    assert sorted(b.sha256 for b in store.iter_blobs()) == sorted([sha, new.sha256])
    # The record decides from now on, even once the store is emptied.
    store.delete(sha)
    store.delete(new.sha256)
    assert LocalBlobStore(root).levels == 2


def test_an_unknown_layout_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.mkdir()
    (root / "LAYOUT").write_text("a/b/c/d\n")
    with pytest.raises(InvalidInput, match="unknown blob layout"):
        LocalBlobStore(root)


def test_a_deduplicated_commit_syncs_the_copy_it_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another writer's batch may have renamed that copy without syncing it yet: a row about to
    # point at it needs it durable, so the commit that finds it syncs it too.
    import reelforge.storage.local as local

    store = LocalBlobStore(tmp_path / "blobs")
    sha = store.put_bytes(b"shared bytes").sha256
    synced: list[Path] = []
    monkeypatch.setattr(local, "_fsync_file", lambda p: synced.append(Path(p)))
    store.put_bytes(b"shared bytes")
    assert synced == [store.local_path(sha)]
    synced.clear()
    store.commit_many([store.stage_bytes(b"shared bytes", sync=False)])
    assert store.local_path(sha) in synced


def test_an_empty_layout_file_is_read_as_none_and_replaced(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.mkdir()
    (root / "LAYOUT").write_text("")  # as a crash of a writer that did not sync could leave it
    assert LocalBlobStore(root).levels == 1 and (root / "LAYOUT").read_text() == "ab/<sha256>\n"
    assert not [p for p in root.iterdir() if p.name.startswith(".layout-")]
