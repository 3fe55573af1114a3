"""Blob stores: one ``BlobStore`` protocol, implementations picked by URL scheme."""

from reelforge.storage.base import BlobInfo, BlobStore, StagedBlob
from reelforge.storage.registry import open_blob_store, register_scheme

__all__ = ["BlobInfo", "BlobStore", "StagedBlob", "open_blob_store", "register_scheme"]
