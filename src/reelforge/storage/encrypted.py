"""Encryption at rest around any blob store: ``EncryptedBlobStore(inner, key)``.

- Every blob gets a random 256-bit data key; its bytes are AES-256-GCM encrypted in segments
  (1 MiB by default), each with its own random nonce and its index and "last" flag in the
  associated data, so reads stream and a flipped, dropped, reordered or appended byte fails
  authentication (``CorruptBlob``), never decrypts to something else.
- Data keys are wrapped by the studio's ``KeyWrapper`` (``StudioKey``: AES-256-GCM under a key
  derived from the studio key; a KMS client can implement the same two calls) and kept in a small
  sidecar per blob in the inner store's metadata objects (``MetaStore``). ``rotate`` re-wraps the
  sidecars: no blob's ciphertext is rewritten.
- Lookup is keyed per studio: a blob's sidecar is named HMAC-SHA256(address key, plaintext
  sha256), so the plaintext hashes (which would tell another party "you hold this exact file")
  never appear in the store. The ciphertext itself is stored content-addressed by its own hash,
  so the inner store's atomic commit, dedup, verify and repair still hold for it. The address key
  is random, created with the store's keyring and kept wrapped by the studio key (a key derived
  from the studio key would change every name on rotation).
- Callers still see plaintext sha256 everywhere (the catalog keeps them): the wrapper maps.

The plaintext exists on disk only in staging (callers probe ``StagedBlob.path`` before commit)
and in the materialised cache, as with any store.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import json
import os
import secrets
import stat
import struct
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from reelforge.errors import InvalidInput, NotFound
from reelforge.storage.base import (
    CHUNK,
    SHA_RE,
    BlobInfo,
    BlobStore,
    CorruptBlob,
    MetaStore,
    StorageError,
    stage_from_file,
    stream_to_staging,
)

MAGIC = b"RFE1"
SEGMENT = 1024 * 1024
NONCE = 12
TAG = 16
KEY_ENV = "REELFORGE_STUDIO_KEY"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _hkdf(key: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def _aesgcm(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


@runtime_checkable
class KeyWrapper(Protocol):
    """Wraps data keys: the studio key here, or a KMS (``wrap`` → Encrypt, ``unwrap`` → Decrypt,
    ``context`` as its encryption context). ``key_id`` names the wrapping key (not secret)."""

    key_id: str

    def wrap(self, key: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...


class StudioKey:
    """A 32-byte studio key held in memory: wraps with AES-256-GCM under a derived key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise InvalidInput(f"a studio key is 32 bytes, got {len(key)}")
        self._kek = _aesgcm(_hkdf(key, b"reelforge key-wrapping key v1"))
        self.key_id = hmac.new(key, b"reelforge key id v1", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"StudioKey(id={self.key_id})"  # never the key

    def wrap(self, key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + bytes(self._kek.encrypt(nonce, key, context))

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            return bytes(self._kek.decrypt(wrapped[:NONCE], wrapped[NONCE:], context))
        except InvalidTag:
            raise StorageError(f"a data key does not unwrap with studio key {self.key_id} "
                               "(another key wrapped it, or its sidecar was altered)") from None

    @classmethod
    def from_text(cls, text: str, source: str) -> StudioKey:
        try:
            raw = _unb64(text.strip())
        except ValueError:
            raise InvalidInput(f"{source}: a studio key is 32 bytes in base64") from None
        if len(raw) != 32:
            raise InvalidInput(f"{source}: a studio key is 32 bytes in base64, got {len(raw)} bytes")
        return cls(raw)

    @classmethod
    def from_file(cls, path: Path) -> StudioKey:
        """Read a key file, refusing one that others than its owner may read."""
        try:
            st = path.stat()
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise NotFound(f"studio key file {path} does not exist (set {KEY_ENV} or create it: "
                           "reelforge init makes one for an encrypted studio)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"studio key file {path}: cannot read it ({exc})") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InvalidInput(f"studio key file {path} is readable by others (mode {oct(st.st_mode & 0o777)}); "
                               f"chmod 600 {path}")
        return cls.from_text(text, str(path))


def create_key_file(path: Path) -> StudioKey:
    """A new random studio key, written 0600 (never over an existing file)."""
    raw = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(f"studio key file {path} already exists") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(_b64(raw) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return StudioKey(raw)


def load_studio_key(key_file: Path | None, *, create: bool = False) -> StudioKey:
    """The studio key: ``REELFORGE_STUDIO_KEY`` (base64) first, else ``key_file`` (0600); with
    ``create``, a missing key file is made (a new studio)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return StudioKey.from_text(env, KEY_ENV)
    if key_file is None:
        raise InvalidInput(f"encryption is on but there is no studio key: set {KEY_ENV} or key_file")
    if create and not key_file.exists():
        return create_key_file(key_file)
    return StudioKey.from_file(key_file)


# -- segment format --------------------------------------------------------------------------------

def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if last else 0)


def _segments(size: int, segment: int) -> int:
    return max(1, -(-size // segment))


def ciphertext_size(size: int, segment: int = SEGMENT) -> int:
    return len(MAGIC) + 4 + size + _segments(size, segment) * (NONCE + TAG)


def _encrypt_stream(src: BinaryIO, size: int, sha256: str, dek: bytes, segment: int) -> Iterator[bytes]:
    """Header, then each segment as nonce + ciphertext + tag. The plaintext is re-hashed as it is
    encrypted: what gets sealed is exactly what the name says (reads then trust the tags)."""
    aead = _aesgcm(dek)
    digest = hashlib.sha256()
    header = MAGIC + struct.pack(">I", segment)
    yield header
    count = _segments(size, segment)
    for index in range(count):
        chunk = src.read(segment)
        last = index == count - 1
        if len(chunk) != (size - index * segment if last else segment):
            raise CorruptBlob("a staged file changed while it was being encrypted; nothing was stored")
        digest.update(chunk)
        nonce = os.urandom(NONCE)
        yield nonce + bytes(aead.encrypt(nonce, chunk, _aad(header, index, last)))
    if src.read(1) or digest.hexdigest() != sha256:
        raise CorruptBlob("a staged file changed while it was being encrypted; nothing was stored")


class _IterReader(io.RawIOBase):
    """A read-only stream over an iterator of byte strings (feeds ``inner.stage_stream``)."""

    def __init__(self, parts: Iterable[bytes]) -> None:
        self._parts = iter(parts)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._buf:
            nxt = next(self._parts, None)
            if nxt is None:
                return 0
            self._buf = nxt
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class _DecryptingReader(io.RawIOBase):
    """Plaintext of one blob, decrypted segment by segment and checked against its sha256."""

    def __init__(self, src: BinaryIO, dek: bytes, sha256: str, size: int, check_hash: bool) -> None:
        self._src, self._aead, self._sha, self._size = src, _aesgcm(dek), sha256, size
        # The tags already prove every segment, its place and the end; re-hashing the plaintext
        # (the cost of a read, 3x the decryption) is for verify/fsck.
        self._digest = hashlib.sha256() if check_hash else None
        self._buf = b""
        self._index = 0
        self._header: bytes | None = None
        self._segment = SEGMENT
        self._count = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _fail(self, why: str) -> CorruptBlob:
        return CorruptBlob(f"encrypted blob {self._sha} is corrupt or was tampered with ({why}); refused")

    def _read_exact(self, n: int) -> bytes:
        first = self._src.read(n)
        if len(first) == n or not first:
            return first
        out = bytearray(first)
        while len(out) < n:
            got = self._src.read(n - len(out))
            if not got:
                break
            out += got
        return bytes(out)

    def _next_segment(self) -> bytes | None:
        from cryptography.exceptions import InvalidTag

        if self._header is None:
            header = self._read_exact(len(MAGIC) + 4)
            if len(header) != len(MAGIC) + 4 or not header.startswith(MAGIC):
                raise self._fail("not an encrypted blob header")
            self._header = header
            self._segment = struct.unpack(">I", header[len(MAGIC):])[0]
            if not 1 <= self._segment <= 64 * SEGMENT:
                raise self._fail("bad segment size")
            self._count = _segments(self._size, self._segment)
        if self._index >= self._count:
            if self._src.read(1):
                raise self._fail("bytes after the last segment")
            if self._digest is not None and self._digest.hexdigest() != self._sha:
                raise self._fail("the plaintext does not hash to its name")
            return None
        last = self._index == self._count - 1
        plain_len = self._size - self._index * self._segment if last else self._segment
        raw = self._read_exact(NONCE + plain_len + TAG)
        if len(raw) != NONCE + plain_len + TAG:
            raise self._fail(f"segment {self._index} is truncated")
        try:
            plain = bytes(self._aead.decrypt(raw[:NONCE], raw[NONCE:], _aad(self._header, self._index, last)))
        except InvalidTag:
            raise self._fail(f"segment {self._index} fails authentication") from None
        self._index += 1
        if self._digest is not None:
            self._digest.update(plain)
        return plain

    def readinto(self, buffer: Any) -> int:
        while not self._buf:
            if self._done:
                return 0
            got = self._next_segment()
            if got is None:
                self._done = True
                return 0
            self._buf = got
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._src.close()
        super().close()


# -- the store -------------------------------------------------------------------------------------

class EncryptedStaged:
    """Plaintext staged locally (for probing); encrypted into the inner store on ``commit``."""

    def __init__(self, store: EncryptedBlobStore, path: Path, sha256: str, size: int) -> None:
        self.store, self.path, self.sha256, self.size = store, path, sha256, size
        self._done = False

    def commit(self) -> BlobInfo:
        if self._done:
            raise RuntimeError("staged blob already committed or discarded")
        info = self.store._commit(self.path, self.sha256, self.size)
        self._done = True
        self.path.unlink(missing_ok=True)
        return info

    def discard(self) -> None:
        if not self._done:
            self._done = True
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> EncryptedStaged:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


class EncryptedBlobStore:
    """See the module docstring. ``inner`` must also keep small named objects (``MetaStore``:
    the local and S3 stores do). No ``commit_many``: ingest then stages in this process, so
    plaintext never goes to worker processes that would open the inner store unwrapped."""

    def __init__(self, inner: BlobStore, key: KeyWrapper, *, namespace: str = "enc",
                 segment_size: int = SEGMENT, staging_dir: Path | None = None) -> None:
        if not isinstance(inner, MetaStore):
            raise InvalidInput(f"blob store {inner.url} cannot hold encryption metadata")
        self.inner, self.key, self.ns, self.segment = inner, key, namespace, segment_size
        self.meta: MetaStore = inner
        self.url = inner.url  # the same bytes place; what it holds is ciphertext
        if staging_dir is None:
            base = getattr(inner, "tmp", None)
            # Beside the inner store's staging, not in it: that folder's entries are its own.
            staging_dir = Path(f"{base}-plain") if base else Path(tempfile.gettempdir()) / "reelforge-enc"
        self.tmp = Path(staging_dir)
        self.tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._address_key: bytes | None = None
        self._index: Any = None

    def __repr__(self) -> str:
        return f"EncryptedBlobStore({self.inner!r}, key={self.key.key_id})"

    # -- keyring and names ---------------------------------------------------------------------
    @property
    def _keyring_name(self) -> str:
        return f"{self.ns}/keyring.json"

    def _keys(self) -> bytes:
        """The address key, from the store's keyring (made on first use)."""
        if self._address_key is not None:
            return self._address_key
        context = b"reelforge address key v1|" + self.ns.encode()
        try:
            ring = json.loads(self.meta.get_meta(self._keyring_name))
        except NotFound:
            address = secrets.token_bytes(32)
            ring = {"v": 1, "kid": self.key.key_id, "address_key": _b64(self.key.wrap(address, context))}
            self.meta.put_meta(self._keyring_name, json.dumps(ring, sort_keys=True).encode())
            self._address_key = address
            return address
        except ValueError:
            raise CorruptBlob(f"the encryption keyring of {self.url} is not valid JSON") from None
        if ring.get("kid") != self.key.key_id:
            raise StorageError(f"blob store {self.url} is encrypted with studio key {ring.get('kid')}, "
                               f"not with this studio's key {self.key.key_id} (check {KEY_ENV} or the key file)")
        address_key = self.key.unwrap(_unb64(ring["address_key"]), context)
        self._address_key = address_key
        return address_key

    def address(self, sha256: str) -> str:
        """The per-studio name of a plaintext hash (HMAC-SHA256 under the address key)."""
        if not SHA_RE.match(sha256):
            raise InvalidInput(f"not a sha256 digest: {sha256!r}")
        return hmac.new(self._keys(), bytes.fromhex(sha256), hashlib.sha256).hexdigest()

    def _sidecar_name(self, address: str) -> str:
        return f"{self.ns}/keys/{address[:2]}/{address}.json"

    def _index_aead(self) -> Any:
        """Seals each sidecar's plaintext hash and size (under the address key: rotation keeps it)."""
        if self._index is None:
            self._index = _aesgcm(_hkdf(self._keys(), b"reelforge index v1"))
        return self._index

    def _write_sidecar(self, address: str, ct: str, dek: bytes, sha256: str, size: int) -> None:
        nonce = os.urandom(NONCE)
        sealed = nonce + bytes(self._index_aead().encrypt(
            nonce, bytes.fromhex(sha256) + struct.pack(">Q", size), address.encode()))
        body = {"v": 1, "ct": ct, "kid": self.key.key_id, "seg": self.segment, "t": time.time(),
                "wk": _b64(self.key.wrap(dek, b"reelforge data key v1|" + address.encode())),
                "sealed": _b64(sealed)}
        self.meta.put_meta(self._sidecar_name(address), json.dumps(body, sort_keys=True).encode())

    def _sidecar(self, sha256: str) -> tuple[str, dict[str, Any]]:
        address = self.address(sha256)
        try:
            raw = self.meta.get_meta(self._sidecar_name(address))
        except NotFound:
            raise NotFound(f"blob {sha256} is missing from {self.url}") from None
        try:
            return address, dict(json.loads(raw))
        except ValueError:
            raise CorruptBlob(f"the key sidecar of blob {sha256} is not valid JSON") from None

    def _unseal(self, address: str, side: dict[str, Any]) -> tuple[str, int]:
        from cryptography.exceptions import InvalidTag

        sealed = _unb64(side["sealed"])
        try:
            plain = bytes(self._index_aead().decrypt(sealed[:NONCE], sealed[NONCE:], address.encode()))
        except InvalidTag:
            raise CorruptBlob(f"the key sidecar {address} was altered") from None
        return plain[:32].hex(), struct.unpack(">Q", plain[32:])[0]

    def _dek(self, address: str, side: dict[str, Any]) -> bytes:
        if side.get("kid") != self.key.key_id:
            raise StorageError(f"a data key of {self.url} is wrapped by studio key {side.get('kid')}, "
                               f"not {self.key.key_id} (an interrupted rotation? run rotate again)")
        return self.key.unwrap(_unb64(side["wk"]), b"reelforge data key v1|" + address.encode())

    # -- writes --------------------------------------------------------------------------------
    def stage_stream(
        self, src: BinaryIO, suffix: str = "", max_bytes: int | None = None, *, sync: bool = True
    ) -> EncryptedStaged:
        path, sha, size = stream_to_staging(src, self.tmp, suffix, max_bytes)
        return EncryptedStaged(self, path, sha, size)

    def stage_file(self, path: Path, max_bytes: int | None = None) -> EncryptedStaged:
        return stage_from_file(path, max_bytes, lambda src, suffix, limit: self.stage_stream(src, suffix, limit))

    def put_bytes(self, data: bytes) -> BlobInfo:
        return self.stage_stream(io.BytesIO(data)).commit()

    def put_file(self, path: Path) -> BlobInfo:
        return self.stage_file(path).commit()

    def _inner_intact(self, ct: str, size: int) -> bool:
        check = getattr(self.inner, "intact", None)
        if check is not None:
            return bool(check(ct, size))
        return self.inner.exists(ct) and self.inner.verify(ct)

    def _commit(self, path: Path, sha256: str, size: int) -> BlobInfo:
        address = self.address(sha256)
        old: str | None = None
        try:
            _, side = self._sidecar(sha256)
            old = str(side["ct"])
            if side.get("kid") == self.key.key_id and self._inner_intact(old, ciphertext_size(size, int(side["seg"]))):
                return BlobInfo(sha256, size, float(side.get("t", 0.0)))  # dedup
        except (NotFound, KeyError, ValueError, CorruptBlob):
            pass
        # New (or damaged) content: a fresh data key, ciphertext first, then the sidecar naming it,
        # so a sidecar never points at nothing (a crash between leaves an orphan gc removes).
        dek = secrets.token_bytes(32)
        with open(path, "rb") as src:
            staged = self.inner.stage_stream(_IterReader(_encrypt_stream(src, size, sha256, dek, self.segment)))
        try:
            ct = staged.commit().sha256
        finally:
            staged.discard()
        self._write_sidecar(address, ct, dek, sha256, size)
        if old is not None and old != ct:
            with contextlib.suppress(NotFound):
                self.inner.delete(old)
        return BlobInfo(sha256, size, time.time())

    # -- reads ---------------------------------------------------------------------------------
    def locate(self, sha256: str) -> str:
        """The inner store's name (ciphertext sha256) of a blob: for tests and repairs."""
        return str(self._sidecar(sha256)[1]["ct"])

    def exists(self, sha256: str) -> bool:
        try:
            _, side = self._sidecar(sha256)
        except NotFound:
            return False
        return self.inner.exists(str(side["ct"]))

    def stat(self, sha256: str) -> BlobInfo:
        address, side = self._sidecar(sha256)
        _, size = self._unseal(address, side)
        return BlobInfo(sha256, size, float(side.get("t", 0.0)))

    def open(self, sha256: str, *, check_hash: bool = False) -> BinaryIO:
        """The plaintext, decrypted as read; tampering raises ``CorruptBlob`` at the segment."""
        address, side = self._sidecar(sha256)
        plain_sha, size = self._unseal(address, side)
        if plain_sha != sha256:
            raise CorruptBlob(f"the key sidecar of blob {sha256} belongs to another blob")
        dek = self._dek(address, side)
        return io.BufferedReader(_DecryptingReader(self.inner.open(str(side["ct"])), dek, sha256, size, check_hash),
                                 buffer_size=CHUNK)

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def materialize(self, sha256: str, dest: Path) -> Path:
        dest = Path(dest)
        if dest.exists():
            return dest
        reader = self.open(sha256)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name[:40]}.", suffix=".part")
        tmp = Path(name)
        try:
            with reader, os.fdopen(fd, "wb") as out:
                while chunk := reader.read(CHUNK):
                    out.write(chunk)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return dest

    def verify(self, sha256: str) -> bool:
        try:
            with self.open(sha256, check_hash=True) as fh:
                while fh.read(CHUNK):
                    pass
        except CorruptBlob:
            return False
        return True

    def delete(self, sha256: str) -> None:
        try:
            address, side = self._sidecar(sha256)
        except NotFound:
            # Not ours by that name: an orphaned ciphertext (see iter_blobs) goes by its own hash.
            with contextlib.suppress(NotFound):
                if self.inner.exists(sha256):
                    self.inner.delete(sha256)
            return
        with contextlib.suppress(NotFound):
            self.inner.delete(str(side["ct"]))
        self.meta.delete_meta(self._sidecar_name(address))

    def _sidecars(self) -> Iterator[tuple[str, dict[str, Any], float]]:
        names = [(n, t) for n, t in self.meta.iter_meta(f"{self.ns}/keys/") if n.endswith(".json")]

        def load(item: tuple[str, float]) -> tuple[str, dict[str, Any], float] | None:
            try:
                return item[0], dict(json.loads(self.meta.get_meta(item[0]))), item[1]
            except (NotFound, ValueError):
                return None  # deleted meanwhile, or unreadable (verify reports the blob)

        with ThreadPoolExecutor(max_workers=8) as pool:  # small GETs: latency-bound on S3
            for got in pool.map(load, names):
                if got is not None:
                    yield got

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Every blob by plaintext hash; plus ciphertexts no sidecar names (a crash between the
        two writes of a commit) under their own hash, so fsck reports and gc removes them."""
        named: set[str] = set()
        for name, side, mtime in self._sidecars():
            address = name.rsplit("/", 1)[-1][: -len(".json")]
            try:
                sha, size = self._unseal(address, side)
            except (CorruptBlob, KeyError, ValueError):
                continue
            named.add(str(side.get("ct")))
            yield BlobInfo(sha, size, float(side.get("t", mtime)))
        for info in self.inner.iter_blobs():
            if info.sha256 not in named:
                yield info

    def rotate(self, new_key: KeyWrapper) -> int:
        """Re-wrap every data key (and the address key) with ``new_key``; no blob is rewritten.
        Returns how many sidecars were re-wrapped. Interrupted, it can simply be run again."""
        address_key = self._keys()
        count = 0
        for name, side, _ in self._sidecars():
            if side.get("kid") == new_key.key_id:
                continue  # done by an earlier, interrupted run
            address = name.rsplit("/", 1)[-1][: -len(".json")]
            context = b"reelforge data key v1|" + address.encode()
            dek = self._dek(address, side)
            side.update(kid=new_key.key_id, wk=_b64(new_key.wrap(dek, context)))
            self.meta.put_meta(name, json.dumps(side, sort_keys=True).encode())
            count += 1
        context = b"reelforge address key v1|" + self.ns.encode()
        ring = {"v": 1, "kid": new_key.key_id, "address_key": _b64(new_key.wrap(address_key, context))}
        self.meta.put_meta(self._keyring_name, json.dumps(ring, sort_keys=True).encode())
        self.key = new_key
        return count

    # -- pass-through --------------------------------------------------------------------------
    def register_catalog(self, key: str, info: dict[str, str]) -> None:
        self.inner.register_catalog(key, info)

    def catalogs(self) -> dict[str, dict[str, str]]:
        return self.inner.catalogs()

    def unregister_catalog(self, key: str) -> None:
        self.inner.unregister_catalog(key)

    def stale_staging(self, older_than: float) -> list[Path]:
        cutoff = time.time() - older_than
        out = []
        for p in sorted(self.tmp.iterdir()):
            with contextlib.suppress(FileNotFoundError):
                if p.stat().st_mtime < cutoff:
                    out.append(p)
        return out + self.inner.stale_staging(older_than)



def studio_key_path(home: Path, key_file: str) -> Path:
    """Where a studio's key file is: ``key_file`` (relative to the home), else ``home/studio.key``."""
    path = Path(key_file).expanduser() if key_file else Path("studio.key")
    return path if path.is_absolute() else home / path


def encrypt_store(inner: BlobStore, home: Path, key_file: str = "", *, create: bool = False) -> EncryptedBlobStore:
    """The studio's store wrapped for encryption at rest (what ``Studio`` opens when
    ``encryption`` is on); ``create``: a new studio makes its key file."""
    return EncryptedBlobStore(inner, load_studio_key(studio_key_path(home, key_file), create=create))
