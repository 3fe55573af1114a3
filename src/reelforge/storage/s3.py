"""S3-compatible content-addressed blob store: ``s3://bucket/prefix`` (AWS, MinIO, SeaweedFS, Ceph...).

Layout under the prefix: ``blobs/<sha[:2]>/<sha256>`` (the blobs), ``catalogs/<key>.json`` (the
studios sharing the store, as in the local store), ``meta/<name>`` (small mutable objects: the
encryption wrapper's keyring and wrapped data keys).

Configuration comes from the URL's query and the environment, never from credentials in the URL
(URLs are printed and stored in ``reelforge.toml``)::

    s3://BUCKET/PREFIX?endpoint=http://127.0.0.1:8333&region=eu-west-1&staging=/fast/disk

    endpoint   S3 endpoint URL        else REELFORGE_S3_ENDPOINT_URL, else boto3's own
                                      (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS)
    region     signing region          else REELFORGE_S3_REGION, else boto3's (AWS_REGION...), else us-east-1
    addressing path | virtual | auto  default: path with a custom endpoint, auto on AWS
    staging    local staging folder    else REELFORGE_S3_STAGING_DIR, else <tmp>/reelforge-s3-<uid>/<url hash>
    checksum   sha256 | md5            integrity the server checks on upload (default sha256;
                                      md5 for servers without flexible checksums)
    part_size  multipart part bytes    else REELFORGE_S3_PART_SIZE, else 16 MiB (min 5 MiB on AWS)

Credentials: REELFORGE_S3_ACCESS_KEY_ID / REELFORGE_S3_SECRET_ACCESS_KEY (kept apart from other AWS
settings of the machine), else boto3's chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
AWS_SESSION_TOKEN, AWS_PROFILE, ~/.aws, instance roles).

The guarantee: nothing appears under a hash unless it is complete and verified. Bytes stage into a
local file while hashed (callers probe ``.path``); ``commit`` uploads straight to the final key,
either in one PUT carrying the SHA-256 the server checks against the bytes it received (the name
itself), or as a multipart upload whose parts each carry a checksum the server checks, read in
order while the whole file is re-hashed: when that hash is not the name, the upload is aborted
before it was ever visible. Reads re-hash: a corrupted object raises ``CorruptBlob``, never serves.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlparse

from reelforge.errors import InvalidInput, NotFound, ReelforgeError, Unavailable
from reelforge.storage.base import (
    CHUNK,
    SHA_RE,
    BlobInfo,
    CorruptBlob,
    StorageError,
    check_meta_name,
    stage_from_file,
    stream_to_staging,
)

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MiB
MAX_PARTS = 10_000  # the S3 limit on parts per upload
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_OPTIONS = {"endpoint", "region", "addressing", "staging", "checksum", "part_size"}
_SECRETS = {"access_key", "access_key_id", "aws_access_key_id", "secret", "secret_key",
            "secret_access_key", "aws_secret_access_key", "session_token", "token", "password"}
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
           "ExpiredToken", "AllAccessDisabled"}
T = TypeVar("T")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class S3Staged:
    """Bytes staged in a local file (``path``), uploaded on ``commit``."""

    def __init__(self, store: S3BlobStore, path: Path, sha256: str, size: int) -> None:
        self.store, self.path, self.sha256, self.size = store, path, sha256, size
        self.info: BlobInfo | None = None
        self._done = False

    def commit(self) -> BlobInfo:
        if self._done:
            raise RuntimeError("staged blob already committed or discarded")
        self.info = self.store._upload(self.path, self.sha256, self.size)
        self._done = True
        self.path.unlink(missing_ok=True)
        return self.info

    def discard(self) -> None:
        if not self._done:
            self._done = True
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> S3Staged:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


class _VerifyingReader(io.RawIOBase):
    """Streams an object's body, hashing as it goes; at the end, bytes that do not hash to the
    name raise ``CorruptBlob`` instead of a clean EOF (a caller that stops early reads unverified)."""

    def __init__(self, body: Any, sha256: str, size: int, store: S3BlobStore) -> None:
        self._body, self._sha, self._size, self._store = body, sha256, size, store
        self._where = store._where()
        self._digest = hashlib.sha256()
        self._seen = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._store._call(f"reading blob {self._sha}", lambda: self._body.read(len(buffer)))
        if data:
            buffer[: len(data)] = data
            self._digest.update(data)
            self._seen += len(data)
            return len(data)
        if not self._checked:
            self._checked = True
            if self._seen != self._size or self._digest.hexdigest() != self._sha:
                raise CorruptBlob(f"blob {self._sha} in {self._where} is corrupt: its bytes no longer match "
                                  f"their hash (refused; `reelforge fsck` lists such blobs)")
        return 0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        super().close()


class S3BlobStore:
    """See the module docstring. Safe to share between threads; picklable (its client is not:
    it is made again on first use), so ingest worker processes can stage into it."""

    def __init__(
        self, url: str, *, part_size: int | None = None, concurrency: int = 8, client: Any = None,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3":
            raise InvalidInput(f"not an s3:// URL: {url!r}")
        bucket = parsed.netloc
        if not bucket:
            raise InvalidInput(f"S3 blob store URL {url!r} has no bucket (expected s3://BUCKET/PREFIX)")
        if "@" in bucket or ":" in bucket:
            raise InvalidInput(f"S3 blob store URL {url!r}: credentials and ports do not go in the URL "
                               "(use the endpoint= option and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
        if not _BUCKET_RE.match(bucket):
            raise InvalidInput(f"S3 blob store URL {url!r}: {bucket!r} is not a valid bucket name")
        prefix = parsed.path.strip("/")
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise InvalidInput(f"S3 blob store URL {url!r}: invalid prefix {prefix!r}")
        options: dict[str, str] = {}
        for name, value in parse_qsl(parsed.query, keep_blank_values=True):
            if name.lower() in _SECRETS:
                raise InvalidInput("S3 credentials do not go in the blob store URL (it is shown and saved): "
                                   "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")
            if name not in _OPTIONS:
                raise InvalidInput(f"S3 blob store URL {url!r}: unknown option {name!r} "
                                   f"(known: {', '.join(sorted(_OPTIONS))})")
            options[name] = value
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        query = f"?{urlencode(sorted(options.items()))}" if options else ""
        self.url = f"s3://{bucket}/{prefix}{query}"
        self.endpoint = options.get("endpoint") or os.environ.get("REELFORGE_S3_ENDPOINT_URL") or None
        if self.endpoint and urlparse(self.endpoint).scheme not in ("http", "https"):
            raise InvalidInput(f"S3 endpoint {self.endpoint!r} must be an http:// or https:// URL")
        self.region = options.get("region") or os.environ.get("REELFORGE_S3_REGION") or None
        self.addressing = options.get("addressing") or ("path" if self.endpoint else "auto")
        if self.addressing not in ("path", "virtual", "auto"):
            raise InvalidInput(f"S3 option addressing must be path, virtual or auto, got {self.addressing!r}")
        self.checksum = options.get("checksum", "sha256").lower()
        if self.checksum not in ("sha256", "md5"):
            raise InvalidInput(f"S3 option checksum must be sha256 or md5, got {self.checksum!r}")
        raw_part = part_size if part_size is not None else options.get("part_size") or os.environ.get(
            "REELFORGE_S3_PART_SIZE") or DEFAULT_PART_SIZE
        try:
            self.part_size = int(raw_part)
        except ValueError:
            raise InvalidInput(f"S3 part size must be a number of bytes, got {raw_part!r}") from None
        if self.part_size < MiB:
            raise InvalidInput(f"S3 part size {self.part_size} is under 1 MiB")
        self.concurrency = max(1, concurrency)
        staging = options.get("staging") or os.environ.get("REELFORGE_S3_STAGING_DIR")
        if staging:
            self.tmp = Path(staging).expanduser().resolve()
        else:
            tag = hashlib.sha256(self.url.encode()).hexdigest()[:12]
            self.tmp = Path(tempfile.gettempdir()) / f"reelforge-s3-{os.getuid()}" / tag
        self.tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._client = client
        self._lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"S3BlobStore({self.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_client"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 S3 client, made on first use (importing boto3 costs a few hundred ms)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise InvalidInput("s3:// blob stores need boto3: pip install 'reelforge[s3]'") from None
        kwargs: dict[str, Any] = {}
        key_id = os.environ.get("REELFORGE_S3_ACCESS_KEY_ID")
        secret = os.environ.get("REELFORGE_S3_SECRET_ACCESS_KEY")
        if key_id and secret:
            kwargs.update(aws_access_key_id=key_id, aws_secret_access_key=secret)
        session = boto3.session.Session()
        region = self.region or session.region_name or "us-east-1"
        config = Config(
            signature_version="s3v4",  # presigned URLs too (v2 signatures break on response-* params)
            s3={"addressing_style": self.addressing},
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 4, "mode": "standard"},
            max_pool_connections=max(10, 2 * self.concurrency),
            # We send and check our own SHA-256 / MD5; botocore's default CRC32s would hash twice.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return session.client("s3", endpoint_url=self.endpoint, region_name=region, config=config, **kwargs)

    def _where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" + (f" at {self.endpoint}" if self.endpoint else "")

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one S3 call, turning botocore's exceptions into one-line reelforge errors."""
        try:
            return fn()
        except ReelforgeError:
            raise
        except Exception as exc:
            raise self._translate(what, exc) from None

    def _translate(self, what: str, exc: Exception) -> ReelforgeError:
        from botocore import exceptions as bx

        where = self._where()
        if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
            return StorageError(f"no S3 credentials for {where}: set AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")
        if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ConnectionClosedError
                      | bx.ReadTimeoutError):
            return Unavailable(f"S3 endpoint of {where} cannot be reached ({type(exc).__name__}); "
                               "check the endpoint option or REELFORGE_S3_ENDPOINT_URL")
        if isinstance(exc, bx.ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            message = str(err.get("Message", "")) or code
            if code == "NoSuchBucket":
                return NotFound(f"S3 bucket {self.bucket!r} does not exist ({where}); create it first")
            if code in _NOT_FOUND:
                return NotFound(f"{what}: not found in {where}")
            if code in _DENIED:
                return StorageError(f"S3 refused {what} in {where}: access denied ({code}); check the "
                                    "credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and the bucket policy")
            return StorageError(f"S3 {what} failed in {where}: {code}: {message}")
        if isinstance(exc, bx.BotoCoreError):
            return StorageError(f"S3 {what} failed in {where}: {exc}")
        if isinstance(exc, OSError):
            return StorageError(f"S3 {what} failed in {where}: {exc.strerror or exc}")
        raise exc

    def _key(self, sha256: str) -> str:
        if not SHA_RE.match(sha256):
            raise InvalidInput(f"not a sha256 digest: {sha256!r}")
        return f"{self.prefix}blobs/{sha256[:2]}/{sha256}"

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _NOT_FOUND:
                return None
            raise self._translate(f"looking up {key}", exc) from None
        except Exception as exc:
            raise self._translate(f"looking up {key}", exc) from None

    # -- writes --------------------------------------------------------------------------------
    def stage_stream(
        self, src: BinaryIO, suffix: str = "", max_bytes: int | None = None, *, sync: bool = True
    ) -> S3Staged:
        """Stream ``src`` into a local staging file while hashing it. ``sync`` is accepted for
        the local store's callers; the upload at commit is what makes the blob durable."""
        path, sha, size = stream_to_staging(src, self.tmp, suffix, max_bytes)
        return S3Staged(self, path, sha, size)

    def stage_file(self, path: Path, max_bytes: int | None = None) -> S3Staged:
        return stage_from_file(path, max_bytes, lambda src, suffix, limit: self.stage_stream(src, suffix, limit))

    def put_bytes(self, data: bytes) -> BlobInfo:
        return self.stage_stream(io.BytesIO(data)).commit()

    def put_file(self, path: Path) -> BlobInfo:
        return self.stage_file(path).commit()

    def commit_many(self, staged: Sequence[S3Staged]) -> list[BlobInfo]:
        """Upload a batch on a few threads (S3 latency, not bandwidth, bounds small files)."""
        todo = [s for s in staged if not s._done]
        if len(todo) > 1:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo))) as pool:
                list(pool.map(S3Staged.commit, todo))
        else:
            for s in todo:
                s.commit()
        return [s.info or self.stat(s.sha256) for s in staged]

    def intact(self, sha256: str, size: int) -> bool:
        """The stored object is what committing these bytes would write (one HEAD, no download:
        our uploads carry the hash in their metadata; anything else written there is repaired)."""
        return self._intact_head(self._head(self._key(sha256)), sha256, size)

    def _intact_head(self, head: dict[str, Any] | None, sha256: str, size: int) -> bool:
        """The stored object was written by us, for these bytes (anything else is repaired)."""
        if head is None or int(head.get("ContentLength", -1)) != size:
            return False
        return head.get("Metadata", {}).get("sha256") == sha256

    def _upload(self, path: Path, sha256: str, size: int) -> BlobInfo:
        key = self._key(sha256)
        head = self._head(key)
        if self._intact_head(head, sha256, size):
            assert head is not None
            return BlobInfo(sha256, size, head["LastModified"].timestamp())  # dedup
        extra = {"Metadata": {"sha256": sha256}, "ContentType": "application/octet-stream"}
        if size <= self.part_size:
            self._put_single(path, key, sha256, size, extra)
        else:
            self._put_multipart(path, key, sha256, size, extra)
        return BlobInfo(sha256, size, time.time())

    def _put_single(self, path: Path, key: str, sha256: str, size: int, extra: dict[str, Any]) -> None:
        if self.checksum == "sha256":
            check = {"ChecksumSHA256": _b64(bytes.fromhex(sha256))}  # the server checks the name itself
        else:
            md5 = hashlib.md5(usedforsecurity=False)
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    md5.update(chunk)
            check = {"ContentMD5": _b64(md5.digest())}
        with open(path, "rb") as fh:
            self._call(f"uploading blob {sha256}", lambda: self.client.put_object(
                Bucket=self.bucket, Key=key, Body=fh, ContentLength=size, **check, **extra))

    def _put_multipart(self, path: Path, key: str, sha256: str, size: int, extra: dict[str, Any]) -> None:
        part_size = max(self.part_size, -(-size // MAX_PARTS))
        algo = {"ChecksumAlgorithm": "SHA256"} if self.checksum == "sha256" else {}
        what = f"uploading blob {sha256}"
        upload_id = self._call(what, lambda: self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, **algo, **extra))["UploadId"]
        parts: dict[int, dict[str, Any]] = {}
        digests: list[bytes] = []
        whole = hashlib.sha256()

        def send(number: int, data: bytes, digest: bytes) -> None:
            check = {"ChecksumSHA256": _b64(digest)} if self.checksum == "sha256" else {"ContentMD5": _b64(digest)}
            got = self._call(what, lambda: self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data, **check))
            parts[number] = {"PartNumber": number, "ETag": got["ETag"], **(
                {"ChecksumSHA256": check["ChecksumSHA256"]} if self.checksum == "sha256" else {})}

        try:
            # Parts are read in order here (re-hashing the whole file as they go) and sent on a
            # few threads; at most ``concurrency`` parts are held in memory at once.
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool, open(path, "rb") as fh:
                inflight: set[Future[None]] = set()
                number = 0
                while data := fh.read(part_size):
                    number += 1
                    whole.update(data)
                    part_hash = hashlib.sha256(data) if self.checksum == "sha256" else hashlib.md5(
                        data, usedforsecurity=False)
                    digests.append(part_hash.digest())
                    if len(inflight) >= self.concurrency:
                        done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                        for f in done:
                            f.result()
                    inflight.add(pool.submit(send, number, data, digests[-1]))
                for f in inflight:
                    f.result()
            if whole.hexdigest() != sha256:
                raise CorruptBlob(f"staged file for blob {sha256} changed before upload; nothing was stored")
            done_resp = self._call(what, lambda: self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [parts[n] for n in sorted(parts)]}))
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        # Belt and braces: the object the server assembled is made of exactly the parts we hashed.
        combined = hashlib.sha256 if self.checksum == "sha256" else (lambda b: hashlib.md5(b, usedforsecurity=False))
        composite = combined(b"".join(digests)).digest()
        if self.checksum == "sha256":
            expect, got = f"{_b64(composite)}-{len(digests)}", done_resp.get("ChecksumSHA256")
        else:
            expect, got = f'"{composite.hex()}-{len(digests)}"', done_resp.get("ETag")
        if got is not None and got != expect:
            with contextlib.suppress(Exception):
                self.client.delete_object(Bucket=self.bucket, Key=key)
            raise CorruptBlob(f"S3 assembled blob {sha256} from other bytes than were sent ({got} != {expect}); "
                              "removed it")

    # -- reads ---------------------------------------------------------------------------------
    def exists(self, sha256: str) -> bool:
        return self._head(self._key(sha256)) is not None

    def stat(self, sha256: str) -> BlobInfo:
        head = self._head(self._key(sha256))
        if head is None:
            raise NotFound(f"blob {sha256} is missing from {self._where()}")
        return BlobInfo(sha256, int(head["ContentLength"]), head["LastModified"].timestamp())

    def _get(self, sha256: str, **kw: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            return dict(self.client.get_object(Bucket=self.bucket, Key=self._key(sha256), **kw))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _NOT_FOUND:
                raise NotFound(f"blob {sha256} is missing from {self._where()}") from None
            raise self._translate(f"reading blob {sha256}", exc) from None
        except Exception as exc:
            raise self._translate(f"reading blob {sha256}", exc) from None

    def open(self, sha256: str) -> BinaryIO:
        """A stream of the blob's bytes, verified as read: a corrupted object raises ``CorruptBlob``
        when its end is reached (before the reader could take a clean EOF for the whole)."""
        got = self._get(sha256)
        raw = _VerifyingReader(got["Body"], sha256, int(got["ContentLength"]), self)
        return io.BufferedReader(raw, buffer_size=CHUNK)

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return self._call(f"reading blob {sha256}", fh.read)

    def materialize(self, sha256: str, dest: Path) -> Path:
        """Download to ``dest`` (through a temporary name), verified before it appears there."""
        dest = Path(dest)
        if dest.exists():
            return dest
        size = self.stat(sha256).size
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name[:40]}.", suffix=".part")
        tmp = Path(name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                if size <= 2 * self.part_size:
                    body = self._get(sha256)["Body"]
                    try:
                        while chunk := self._call(f"reading blob {sha256}", lambda: body.read(CHUNK)):
                            digest.update(chunk)
                            out.write(chunk)
                    finally:
                        body.close()
                else:
                    self._ranged_download(sha256, size, out.fileno())
                    with open(tmp, "rb") as fh:
                        while chunk := fh.read(CHUNK):
                            digest.update(chunk)
            if tmp.stat().st_size != size or digest.hexdigest() != sha256:
                raise CorruptBlob(f"blob {sha256} in {self._where()} is corrupt: its bytes no longer match "
                                  "their hash (refused; `reelforge fsck` lists such blobs)")
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return dest

    def _ranged_download(self, sha256: str, size: int, fd: int) -> None:
        """Parallel ranged GETs written in place: one connection is slower than the network."""
        os.ftruncate(fd, size)

        def fetch(start: int) -> None:
            end = min(size, start + self.part_size) - 1
            body = self._get(sha256, Range=f"bytes={start}-{end}")["Body"]
            pos = start
            try:
                while chunk := self._call(f"reading blob {sha256}", lambda: body.read(CHUNK)):
                    if pos + len(chunk) > end + 1:
                        break
                    os.pwrite(fd, chunk, pos)
                    pos += len(chunk)
            finally:
                body.close()
            if pos != end + 1:
                raise CorruptBlob(f"blob {sha256} in {self._where()} changed size while being read")

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for f in [pool.submit(fetch, s) for s in range(0, size, self.part_size)]:
                f.result()

    def verify(self, sha256: str) -> bool:
        got = self._get(sha256)
        digest = hashlib.sha256()
        size = 0
        body = got["Body"]
        while chunk := self._call(f"reading blob {sha256}", lambda: body.read(CHUNK)):
            digest.update(chunk)
            size += len(chunk)
        return size == int(got["ContentLength"]) and digest.hexdigest() == sha256

    def delete(self, sha256: str) -> None:
        key = self._key(sha256)
        self._call(f"deleting blob {sha256}", lambda: self.client.delete_object(Bucket=self.bucket, Key=key))

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        it = iter(pages)
        while True:
            page = self._call(f"listing {prefix}", lambda: next(it, None))
            if page is None:
                return
            yield from page.get("Contents", [])

    def iter_blobs(self) -> Iterator[BlobInfo]:
        for obj in self._list(f"{self.prefix}blobs/"):
            sha = obj["Key"].rsplit("/", 1)[-1]
            if SHA_RE.match(sha) and obj["Key"] == self._key(sha):
                yield BlobInfo(sha, int(obj["Size"]), obj["LastModified"].timestamp())

    def presign(self, sha256: str, *, expires: int = 3600, filename: str | None = None,
                content_type: str | None = None) -> str:
        """A URL anyone holding it can GET the blob from for ``expires`` seconds (at most 7 days),
        offered for download as ``filename`` when given. The bytes are not re-verified on the way."""
        if not 1 <= int(expires) <= 7 * 24 * 3600:
            raise InvalidInput(f"presigned URLs expire within 1 s to 7 days, got {expires}")
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(sha256)}
        if filename:
            fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
            params["ResponseContentDisposition"] = (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}")
        if content_type:
            params["ResponseContentType"] = content_type
        return str(self._call("presigning", lambda: self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=int(expires))))

    # -- small named objects (MetaStore) and catalogs -----------------------------------------
    def put_meta(self, name: str, data: bytes) -> None:
        key = f"{self.prefix}meta/{check_meta_name(name)}"
        check = {"ChecksumSHA256": _b64(hashlib.sha256(data).digest())} if self.checksum == "sha256" else {
            "ContentMD5": _b64(hashlib.md5(data, usedforsecurity=False).digest())}
        self._call(f"writing {name}", lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **check))

    def get_meta(self, name: str) -> bytes:
        got = self._get_raw(f"{self.prefix}meta/{check_meta_name(name)}", f"reading {name}")
        if got is None:
            raise NotFound(f"{name} is missing from {self._where()}")
        return got

    def delete_meta(self, name: str) -> None:
        key = f"{self.prefix}meta/{check_meta_name(name)}"
        self._call(f"deleting {name}", lambda: self.client.delete_object(Bucket=self.bucket, Key=key))

    def iter_meta(self, prefix: str) -> Iterator[tuple[str, float]]:
        base = f"{self.prefix}meta/"
        for obj in self._list(base + prefix):
            yield obj["Key"][len(base):], obj["LastModified"].timestamp()

    def register_catalog(self, key: str, info: dict[str, str]) -> None:
        data = json.dumps(info, sort_keys=True).encode()
        name = f"{self.prefix}catalogs/{key}.json"
        if self._get_raw(name, "reading the catalog registry") == data:
            return
        self._call("registering this catalog", lambda: self.client.put_object(
            Bucket=self.bucket, Key=name, Body=data, ContentType="application/json"))

    def _get_raw(self, key: str, what: str) -> bytes | None:
        """A small object's bytes, None when there is none (a missing bucket is an error)."""
        from botocore.exceptions import ClientError

        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _NOT_FOUND:
                return None
            raise self._translate(what, exc) from None
        except Exception as exc:
            raise self._translate(what, exc) from None

    def catalogs(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        base = f"{self.prefix}catalogs/"
        for obj in self._list(base):
            name = obj["Key"][len(base):]
            if "/" in name or not name.endswith(".json"):
                continue
            raw = self._get_raw(obj["Key"], "reading the catalog registry")
            with contextlib.suppress(ValueError):
                if raw is not None:
                    out[name[:-5]] = json.loads(raw)
        return out

    def unregister_catalog(self, key: str) -> None:
        name = f"{self.prefix}catalogs/{key}.json"
        self._call("unregistering a catalog", lambda: self.client.delete_object(Bucket=self.bucket, Key=name))

    # -- leftovers -----------------------------------------------------------------------------
    def stale_staging(self, older_than: float) -> list[Path]:
        cutoff = time.time() - older_than
        out = []
        for p in sorted(self.tmp.iterdir()):
            try:
                if p.stat().st_mtime < cutoff:
                    out.append(p)
            except FileNotFoundError:
                continue
        return out

    def abort_stale_uploads(self, older_than: float) -> int:
        """Abort multipart uploads of killed writers (invisible, but they hold storage); a bucket
        lifecycle rule ``AbortIncompleteMultipartUpload`` does the same on the server side."""
        cutoff = time.time() - older_than
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}blobs/")
        stale = [u for page in self._call("listing uploads", lambda: list(pages))
                 for u in page.get("Uploads", []) if u["Initiated"].timestamp() < cutoff]
        for u in stale:
            self._call("aborting an upload", lambda u=u: self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=u["Key"], UploadId=u["UploadId"]))
        return len(stale)
