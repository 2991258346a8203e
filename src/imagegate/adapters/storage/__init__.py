"""Where blobs live: a local directory (the embedded default) or an S3-compatible bucket,
chosen by one URL (``IMAGEGATE_BLOB_URL``)."""

from __future__ import annotations

from pathlib import Path

from imagegate.core.errors import StorageError
from imagegate.usecases.ports import BlobStore
from imagegate.usecases.shared_tier import SharedVariants


def open_blob_store(url: str) -> BlobStore:
    """The blob store at ``url``: ``s3://bucket[/prefix]`` or a local directory path."""
    if url.startswith("s3://"):
        from imagegate.adapters.storage.s3 import S3BlobStore, S3Location

        return S3BlobStore(S3Location.parse(url))
    if "://" in url:
        raise StorageError(f"blob URL {url!r}: expected s3://bucket[/prefix] or a directory path")
    from imagegate.adapters.storage.local import LocalBlobStore

    return LocalBlobStore(Path(url))


def open_shared_variants(blobs: BlobStore) -> SharedVariants | None:
    """The shared tier of rendered variants beside ``blobs``, if they are in an object store
    (``<prefix>/variants/``); None for a local directory, whose nodes share no store."""
    from imagegate.adapters.storage.s3 import S3BlobStore

    if not isinstance(blobs, S3BlobStore):
        return None
    from imagegate.adapters.storage.s3_variants import S3VariantCache

    return S3VariantCache(blobs.store, blobs.location)


__all__ = ["open_blob_store", "open_shared_variants"]
