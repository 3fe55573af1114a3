"""Encryption at rest: key rotation without rewriting ciphertext, per-studio names that do not leak
plaintext hashes, segmented streaming with tamper detection, key sources, and a whole encrypted
studio (on the local store and on S3)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reelforge.errors import InvalidInput, NotFound
from reelforge.storage import open_blob_store
from reelforge.storage.base import CorruptBlob, StorageError
from reelforge.storage.encrypted import (
    KEY_ENV,
    EncryptedBlobStore,
    KeyWrapper,
    StudioKey,
    ciphertext_size,
    create_key_file,
    load_studio_key,
)
from reelforge.storage.local import LocalBlobStore
from reelforge.studio import Studio


def _store(tmp_path: Path, key: StudioKey, **kw: Any) -> EncryptedBlobStore:
    return EncryptedBlobStore(LocalBlobStore(tmp_path / "blobs"), key, **kw)


def _all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class FakeKms:
    """A KMS stand-in behind the ``KeyWrapper`` protocol: the key never leaves 'the service'."""

    def __init__(self, name: str) -> None:
        self.key_id = f"kms:{name}"
        self._service = StudioKey(hashlib.sha256(name.encode()).digest())
        self.calls = 0

    def wrap(self, key: bytes, context: bytes) -> bytes:
        self.calls += 1
        return self._service.wrap(key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        self.calls += 1
        return self._service.unwrap(wrapped, context)


def test_rotation_rewraps_keys_without_rewriting_ciphertext(tmp_path: Path) -> None:
    old, new = StudioKey(os.urandom(32)), StudioKey(os.urandom(32))
    store = _store(tmp_path, old)
    blobs = {store.put_bytes(os.urandom(n)).sha256: n for n in (10, 70_000, 3 * 1024 * 1024)}
    inner = store.inner
    assert isinstance(inner, LocalBlobStore)
    before = {b.sha256: inner.read_bytes(b.sha256) for b in inner.iter_blobs()}
    assert len(before) == 3
    assert store.rotate(new) == 3
    after = {b.sha256: inner.read_bytes(b.sha256) for b in inner.iter_blobs()}
    assert after == before, "rotation must not touch a single ciphertext byte"
    reopened = _store(tmp_path, new)
    assert all(len(reopened.read_bytes(sha)) == n for sha, n in blobs.items())
    with pytest.raises(StorageError, match="encrypted with studio key"):
        _store(tmp_path, old).read_bytes(next(iter(blobs)))
    assert store.rotate(new) == 0  # already done: nothing to re-wrap
    # A KMS plugs in through the same protocol, and rotation moves the store onto it.
    kms = FakeKms("studio-a")
    assert isinstance(kms, KeyWrapper)
    assert reopened.rotate(kms) == 3
    assert all(len(_store(tmp_path, kms).read_bytes(sha)) == n for sha, n in blobs.items())
    assert kms.calls > 0


def test_names_and_bytes_do_not_leak_plaintext(tmp_path: Path) -> None:
    data = b"INT. HOUSE - NIGHT. A secret screenplay line. " * 2000
    sha = hashlib.sha256(data).hexdigest()
    a = EncryptedBlobStore(LocalBlobStore(tmp_path / "a"), StudioKey(os.urandom(32)))
    b = EncryptedBlobStore(LocalBlobStore(tmp_path / "b"), StudioKey(os.urandom(32)))
    assert a.put_bytes(data).sha256 == b.put_bytes(data).sha256 == sha  # callers see plaintext hashes
    for root in (tmp_path / "a", tmp_path / "b"):
        files = _all_files(root)
        assert files, "something was stored"
        for name, body in files.items():
            assert sha not in name and sha.encode() not in body and bytes.fromhex(sha) not in body
            assert b"secret screenplay" not in body
    assert a.address(sha) != b.address(sha), "names are keyed per studio"
    assert a.locate(sha) != b.locate(sha), "ciphertexts differ per studio"
    # The other side: the plaintext store does leak both (what the wrapper prevents).
    plain = LocalBlobStore(tmp_path / "plain")
    plain.put_bytes(data)
    assert any(sha in name for name in _all_files(tmp_path / "plain"))


def test_segments_stream_and_tampering_is_refused(tmp_path: Path) -> None:
    key = StudioKey(os.urandom(32))
    store = _store(tmp_path, key, segment_size=64 * 1024)
    data = os.urandom(1024 * 1024 + 123)  # 17 segments
    info = store.put_bytes(data)
    ct = store.locate(info.sha256)
    inner = store.inner
    assert isinstance(inner, LocalBlobStore)
    path = inner.local_path(ct)
    good = path.read_bytes()
    assert len(good) == ciphertext_size(len(data), 64 * 1024)
    with store.open(info.sha256) as fh:
        assert fh.read(1000) == data[:1000]  # the first segment decrypts on its own
    assert store.verify(info.sha256) and store.read_bytes(info.sha256) == data

    def damaged(raw: bytes) -> EncryptedBlobStore:
        os.chmod(path, 0o644)
        path.write_bytes(raw)
        return _store(tmp_path, key, segment_size=64 * 1024)

    seg = 12 + 64 * 1024 + 16
    flipped = bytearray(good)
    flipped[8 + 5 * seg + 100] ^= 0x01  # one bit in segment 5
    s = damaged(bytes(flipped))
    with s.open(info.sha256) as fh:
        assert fh.read(5 * 64 * 1024) == data[: 5 * 64 * 1024]  # what precedes it is intact
        with pytest.raises(CorruptBlob, match="segment 5 fails authentication"):
            fh.read()
    assert not s.verify(info.sha256)
    with pytest.raises(CorruptBlob):
        s.materialize(info.sha256, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    swapped = good[:8] + good[8 + seg : 8 + 2 * seg] + good[8 : 8 + seg] + good[8 + 2 * seg :]
    with pytest.raises(CorruptBlob, match="segment 0"):
        damaged(swapped).read_bytes(info.sha256)
    with pytest.raises(CorruptBlob, match="truncated"):
        damaged(good[:-seg // 2]).read_bytes(info.sha256)
    with pytest.raises(CorruptBlob, match="after the last segment"):
        damaged(good + b"extra").read_bytes(info.sha256)
    # The untouched ciphertext passes the very same checks.
    assert damaged(good).read_bytes(info.sha256) == data


def test_key_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    path = tmp_path / "studio.key"
    with pytest.raises(NotFound, match="does not exist"):
        load_studio_key(path)
    made = load_studio_key(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_studio_key(path).key_id == made.key_id
    with pytest.raises(InvalidInput, match="already exists"):
        create_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(InvalidInput, match="readable by others"):
        load_studio_key(path)
    raw = os.urandom(32)
    monkeypatch.setenv(KEY_ENV, base64.b64encode(raw).decode())
    assert load_studio_key(None).key_id == StudioKey(raw).key_id  # the environment wins
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        monkeypatch.setenv(KEY_ENV, bad)
        with pytest.raises(InvalidInput, match="32 bytes"):
            load_studio_key(None)
    shown = repr(StudioKey(raw))
    assert raw.hex() not in shown and base64.b64encode(raw).decode() not in shown


@pytest.mark.parametrize("where", ["local", "s3"])
def test_encrypted_studio_ingests_exports_and_fscks(
    where: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skimage import data

    monkeypatch.delenv(KEY_ENV, raising=False)
    overrides: dict[str, Any] = {"encryption": True}
    if where == "s3":
        overrides["blob_url"] = request.getfixturevalue("s3_url")
    src = tmp_path / "src"
    src.mkdir()
    files = []
    for name in ("astronaut", "camera"):
        Image.fromarray(getattr(data, name)()).save(src / f"{name}.png")
        files.append(src / f"{name}.png")
    home = tmp_path / "studio"
    studio = Studio.init(home, **overrides)
    try:
        assert isinstance(studio.blobs, EncryptedBlobStore)
        assert stat.S_IMODE((home / "studio.key").stat().st_mode) == 0o600
        added = studio.ingest(files).added
        studio.assets.export([a.id for a in added], tmp_path / "out")
        for f in files:
            assert (tmp_path / "out" / f.name).read_bytes() == f.read_bytes()
        assert studio.fsck().clean
        inner = studio.blobs.inner
        stored = [inner.read_bytes(b.sha256) for b in inner.iter_blobs()]
        assert stored and not any(b.startswith(b"\x89PNG") or b"JFIF" in b[:64] for b in stored)
        victim = added[0].sha256
        ct = studio.blobs.locate(victim)
        raw = bytearray(inner.read_bytes(ct))
        raw[len(raw) // 2] ^= 0x01
        if isinstance(inner, LocalBlobStore):
            os.chmod(inner.local_path(ct), 0o644)
            inner.local_path(ct).write_bytes(bytes(raw))
        else:
            inner.client.put_object(Bucket=inner.bucket, Key=inner._key(ct), Body=bytes(raw))  # type: ignore[attr-defined]
        assert studio.fsck().corrupt == [victim]
        with pytest.raises(CorruptBlob):
            studio.assets.export([added[0].id], tmp_path / "out2")
    finally:
        studio.close()
    # The same studio with another key is refused in one line, not read as garbage.
    monkeypatch.setenv(KEY_ENV, base64.b64encode(os.urandom(32)).decode())
    other = Studio.open(home)
    try:
        with pytest.raises(StorageError, match="encrypted with studio key"):
            other.blobs.read_bytes(added[1].sha256)
    finally:
        other.close()
    plain = np.asarray(Image.open(tmp_path / "out" / "camera.png"))
    assert plain.shape == data.camera().shape


def test_wrapper_needs_a_store_with_metadata(tmp_path: Path) -> None:
    class Bare:
        url = "bare://"

    with pytest.raises(InvalidInput, match="cannot hold encryption metadata"):
        EncryptedBlobStore(Bare(), StudioKey(os.urandom(32)))  # type: ignore[arg-type]
    assert open_blob_store(f"file://{tmp_path}/x") is not None


def test_staged_bytes_changed_before_encryption_are_not_stored(tmp_path: Path) -> None:
    store = _store(tmp_path, StudioKey(os.urandom(32)))
    staged = store.stage_stream(io.BytesIO(os.urandom(200_000)))
    os.chmod(staged.path, 0o600)
    with open(staged.path, "r+b") as fh:  # a bit flips on the staging disk after hashing
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 1]))
    with pytest.raises(CorruptBlob, match="nothing was stored"):
        staged.commit()
    staged.discard()
    assert not store.exists(staged.sha256) and not list(store.inner.iter_blobs())
    assert not store.stale_staging(older_than=-60)
