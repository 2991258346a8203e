"""How big a stored blob is, without reading it, where the store can say: a stat on the
local disk, a HEAD request on S3-compatible storage. Moving a store uses it to skip the
blobs a target already holds; a store with no cheaper way is read (:func:`size_of`)."""

from __future__ import annotations

from collections.abc import Callable

import obstore
from obstore.exceptions import BaseError

from imagegate.adapters.storage.local import LocalBlobStore
from imagegate.adapters.storage.s3 import S3BlobStore
from imagegate.core.errors import BlobMissing, StorageError
from imagegate.usecases.ports import BlobStore


def size_of(blobs: BlobStore) -> Callable[[str], int | None]:
    """A function giving the size of a key in ``blobs`` in bytes, or None if it is absent."""
    if isinstance(blobs, LocalBlobStore):
        return blobs.size
    if isinstance(blobs, S3BlobStore):
        return _head(blobs)

    def by_reading(key: str) -> int | None:
        try:
            return len(blobs.get(key))
        except BlobMissing:
            return None

    return by_reading


def _head(blobs: S3BlobStore) -> Callable[[str], int | None]:
    def size(key: str) -> int | None:
        try:
            return int(obstore.head(blobs.store, blobs.location.path(key))["size"])
        except FileNotFoundError:
            return None
        except (BaseError, OSError, TimeoutError):
            raise StorageError() from None

    return size


__all__ = ["size_of"]
