"""Rendered variants in the object store, shared by every node on one bucket (the shared tier
behind each node's own caches: :mod:`imagegate.usecases.shared_tier`).

Entries live at ``<prefix>/variants/<account>/<image digest>/<variant>--<key digest>.<ext>``,
the same names as the local variant cache (:mod:`.variant_cache`): an image's entries share
a prefix (purged when the image goes), a variant's share a name start (purged when it
changes). The key digest covers everything that shapes the bytes, the original's hash, its
blob key and its access included (``usecases/planning.py``), so a changed image or variant
is a new name: a purge that did not happen costs space, never a stale or unauthorised answer.
The blob store never lists or serves this subtree (:data:`.s3.VARIANTS`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from imagegate.adapters.storage.s3 import VARIANTS, S3Location
from imagegate.core.errors import StorageError
from imagegate.usecases.records import CacheKey

log = logging.getLogger("imagegate.storage")
_NAME = re.compile(r"[a-z0-9_-]+")
_FAILURES = (BaseError, OSError, TimeoutError)


class S3VariantCache:
    """A :class:`~imagegate.usecases.ports.VariantCache` in a bucket, unbounded (the
    bucket's lifecycle rules and ``imagegate gc`` keep it in check)."""

    def __init__(self, store: S3Store, location: S3Location) -> None:
        self.store = store
        self.root = location.path(VARIANTS)

    def _path(self, key: CacheKey) -> str:
        return (
            f"{self.root}/{key.account_id}/{key.image_digest}/"
            f"{key.variant}--{key.digest}.{key.format.value}"
        )

    def get(self, key: CacheKey) -> bytes | None:
        try:
            return bytes(obstore.get(self.store, self._path(key)).bytes())
        except FileNotFoundError:
            return None
        except _FAILURES as exc:
            raise _failure("get", exc) from None

    def put(self, key: CacheKey, data: bytes) -> None:
        try:
            obstore.put(self.store, self._path(key), data, use_multipart=False)
        except _FAILURES as exc:
            raise _failure("put", exc) from None

    def purge_image(self, account_id: str, image_digest: str) -> None:
        self._delete(self._list(f"{self.root}/{account_id}/{image_digest}"))

    def purge_variant(self, account_id: str, variant: str) -> None:
        start = f"{variant}--"
        paths = self._list(f"{self.root}/{account_id}")
        self._delete(p for p in paths if p.rsplit("/", 1)[-1].startswith(start))

    def images(self) -> Iterator[tuple[str, str]]:
        """Every (account id, image digest) that has entries, for ``imagegate gc``. Read from
        the entries themselves: some stores (SeaweedFS) keep an emptied "directory" listed."""
        seen: set[tuple[str, str]] = set()
        for path in self._list(self.root):
            parts = path[len(self.root) + 1 :].split("/")
            if len(parts) == 3 and _NAME.fullmatch(parts[0]) and _NAME.fullmatch(parts[1]):
                seen.add((parts[0], parts[1]))
        return iter(sorted(seen))

    def _list(self, prefix: str) -> list[str]:
        try:
            return [m["path"] for chunk in obstore.list(self.store, prefix) for m in chunk]
        except _FAILURES as exc:
            raise _failure("list", exc) from None

    def _delete(self, paths: Iterator[str] | list[str]) -> None:
        batch = list(paths)
        for start in range(0, len(batch), 1000):
            try:
                obstore.delete(self.store, batch[start : start + 1000])
            except FileNotFoundError:
                continue
            except _FAILURES as exc:
                raise _failure("delete", exc) from None


def _failure(operation: str, exc: BaseException) -> StorageError:
    log.warning("shared variant %s failed: %s", operation, " ".join(str(exc).split())[:300])
    return StorageError()


__all__ = ["S3VariantCache"]
