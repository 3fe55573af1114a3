"""S3BlobStore against a real S3 server (SeaweedFS): multipart uploads, the all-or-nothing upload
guarantee, presigned downloads, and one-line errors for bad URLs, endpoints and credentials."""

from __future__ import annotations

import hashlib
import io
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from reelforge.errors import InvalidInput, NotFound, Unavailable
from reelforge.storage import open_blob_store
from reelforge.storage.base import CorruptBlob, StorageError
from reelforge.storage.s3 import MiB, S3BlobStore
from tests.storage.s3_server import S3Server


def _pending_uploads(store: S3BlobStore) -> list[dict[str, object]]:
    return list(store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []))


@pytest.mark.parametrize("checksum", ["sha256", "md5"])
def test_multipart_upload_over_the_part_size(s3_url: str, tmp_path: Path, checksum: str) -> None:
    store = S3BlobStore(f"{s3_url}?checksum={checksum}", part_size=5 * MiB, concurrency=3)
    data = os.urandom(12 * MiB + 3)  # three parts, the last a short one
    info = store.put_bytes(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    head = store.client.head_object(Bucket=store.bucket, Key=store._key(info.sha256), ChecksumMode="ENABLED")
    if checksum == "sha256":
        assert head["ChecksumSHA256"].endswith("-3"), head  # the server checked three part checksums
    else:
        assert head["ETag"].endswith('-3"'), head
    assert head["Metadata"]["sha256"] == info.sha256
    assert not _pending_uploads(store)
    # Large reads take parallel ranges and still verify the whole.
    out = store.materialize(info.sha256, tmp_path / "big.bin")
    assert out.read_bytes() == data
    assert store.read_bytes(info.sha256) == data and store.verify(info.sha256)


def test_staged_bytes_changed_before_upload_never_appear(s3_url: str) -> None:
    """The guarantee: nothing is visible under a hash unless the bytes uploaded hash to it."""
    store = S3BlobStore(s3_url, part_size=5 * MiB)
    for size, error in ((11 * MiB, CorruptBlob), (1000, StorageError)):
        staged = store.stage_stream(io.BytesIO(os.urandom(size)))
        os.chmod(staged.path, 0o600)
        with open(staged.path, "r+b") as fh:  # a bit flips on the staging disk after hashing
            fh.seek(size // 2)
            byte = fh.read(1)
            fh.seek(size // 2)
            fh.write(bytes([byte[0] ^ 1]))
        with pytest.raises(error):
            staged.commit()
        assert not store.exists(staged.sha256)
        staged.discard()
    assert not _pending_uploads(store), "a refused multipart upload is aborted"


def test_dedup_does_not_upload_again(s3_url: str) -> None:
    store = S3BlobStore(s3_url)
    first = store.put_bytes(b"same bytes")
    calls: list[str] = []
    store.client.meta.events.register("before-call.s3.*", lambda model, **kw: calls.append(model.name))
    second = store.put_bytes(b"same bytes")
    assert second.sha256 == first.sha256
    assert calls == ["HeadObject"]


def test_presigned_url_downloads_the_bytes(s3_url: str) -> None:
    store = S3BlobStore(s3_url)
    data = os.urandom(300_000)
    info = store.put_bytes(data)
    url = store.presign(info.sha256, expires=60, filename="plate 01 — été.exr")
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == data
        disposition = resp.headers["Content-Disposition"]
    assert "attachment" in disposition and "filename*=UTF-8''plate%2001%20%E2%80%94%20%C3%A9t%C3%A9.exr" in disposition
    short = store.presign(info.sha256, expires=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(short, timeout=10)
    assert err.value.code == 403
    with pytest.raises(InvalidInput):
        store.presign(info.sha256, expires=30 * 24 * 3600)


def test_abort_stale_uploads(s3_url: str) -> None:
    store = S3BlobStore(s3_url)
    key = store._key("a" * 64)
    store.client.create_multipart_upload(Bucket=store.bucket, Key=key)  # a writer killed mid-upload
    assert store.abort_stale_uploads(older_than=3600) == 0
    assert store.abort_stale_uploads(older_than=-60) == 1
    assert not _pending_uploads(store)


@pytest.mark.parametrize("url, message", [
    ("s3://", "has no bucket"),
    ("s3:///prefix", "has no bucket"),
    ("s3://AB/x", "not a valid bucket name"),
    ("s3://key:secret@bucket/x", "credentials"),
    ("s3://bucket/x?aws_secret_access_key=s", "credentials do not go in the blob store URL"),
    ("s3://bucket/x?endpint=http://h", "unknown option 'endpint'"),
    ("s3://bucket/x?endpoint=ftp://h", "must be an http"),
    ("s3://bucket/a/../b", "invalid prefix"),
    ("s3://bucket/x?part_size=lots", "number of bytes"),
])
def test_bad_urls_are_refused_in_one_line(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        open_blob_store(url)
    assert "\n" not in str(err.value)


def test_unreachable_endpoint_wrong_credentials_and_missing_bucket(
    s3_env: S3Server, s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(Unavailable, match="cannot be reached"):
        open_blob_store(f"{s3_url}?endpoint=http://127.0.0.1:{port}").exists("0" * 64)
    monkeypatch.setenv("REELFORGE_S3_SECRET_ACCESS_KEY", "not-the-secret")
    bad = open_blob_store(s3_url)
    for op in (lambda: bad.exists("0" * 64), lambda: bad.put_bytes(b"x"), lambda: list(bad.iter_blobs())):
        with pytest.raises(StorageError, match="access denied") as err:
            op()
        assert "\n" not in str(err.value)
    monkeypatch.setenv("REELFORGE_S3_SECRET_ACCESS_KEY", s3_env.env()["REELFORGE_S3_SECRET_ACCESS_KEY"])
    with pytest.raises(NotFound, match="does not exist"):
        open_blob_store("s3://no-such-bucket-here/x").register_catalog("k", {"home": "/x"})


def test_cli_reports_s3_problems_in_one_line(
    s3_env: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from reelforge.cli.main import main

    capsys.readouterr()
    assert main(["init", str(tmp_path / "a"), "--blob-url", "s3://"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no bucket" in err and "Traceback" not in err
    monkeypatch.setenv("REELFORGE_S3_SECRET_ACCESS_KEY", "wrong")
    bucket = s3_env.new_bucket()
    assert main(["init", str(tmp_path / "b"), "--blob-url", f"s3://{bucket}/x"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "access denied" in err and "Traceback" not in err
