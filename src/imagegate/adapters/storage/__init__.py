"""Where blobs live: a local directory (the embedded default) or an S3-compatible bucket,
chosen by one URL (``IMAGEGATE_BLOB_URL``)."""

from __future__ import annotations

from pathlib import Path

from imagegate.core.errors import StorageError
from imagegate.usecases.ports import BlobStore


def open_blob_store(url: str) -> BlobStore:
    """The blob store at ``url``: ``s3://bucket[/prefix]`` or a local directory path."""
    if url.startswith("s3://"):
        from imagegate.adapters.storage.s3 import S3BlobStore, S3Location

        return S3BlobStore(S3Location.parse(url))
    if "://" in url:
        raise StorageError(f"blob URL {url!r}: expected s3://bucket[/prefix] or a directory path")
    from imagegate.adapters.storage.local import LocalBlobStore

    return LocalBlobStore(Path(url))


__all__ = ["open_blob_store"]
