"""Blob store by URL scheme (``file://…`` by default); later stores register their scheme here."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlparse

from reelforge.errors import InvalidInput
from reelforge.storage.base import BlobStore

_SCHEMES: dict[str, Callable[[str], BlobStore]] = {}


def register_scheme(scheme: str, factory: Callable[[str], BlobStore]) -> None:
    _SCHEMES[scheme] = factory


def _local(url: str) -> BlobStore:
    from reelforge.storage.local import LocalBlobStore

    parsed = urlparse(url)
    path = parsed.path if parsed.scheme == "file" else url
    if not path:
        raise InvalidInput(f"blob store URL {url!r} has no path")
    return LocalBlobStore(path)


def _s3(url: str) -> BlobStore:
    from reelforge.storage.s3 import S3BlobStore

    return S3BlobStore(url)


register_scheme("file", _local)
register_scheme("s3", _s3)
register_scheme("", _local)


def open_blob_store(url: str) -> BlobStore:
    scheme = urlparse(url).scheme
    factory = _SCHEMES.get(scheme)
    if factory is None:
        raise InvalidInput(f"no blob store for URL scheme {scheme!r} (known: {', '.join(sorted(s for s in _SCHEMES if s))})")
    return factory(url)
