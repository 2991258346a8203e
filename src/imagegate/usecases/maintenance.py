"""Garbage collection: what crashes and abandoned uploads leave behind, found and removed.

Four kinds of leftovers. None is ever served, but each holds disk space or quota:

* **Orphan blobs**: bytes no image record references (a reduced copy of an original,
  ``<key>.levels/<divisor>``, counts as referenced while its original is). An upload writes
  its bytes before its record, and a delete removes its record before its bytes, so a crash
  between the two steps leaves bytes behind, never a record without its bytes.
* **Temporary files** of writes that were interrupted (the blob store's :meth:`sweep`).
* **Expired drafts**: direct-creator-upload drafts whose upload window closed unused; they
  count against the account's quota and hold their custom id.
* **Renders of deleted images in the shared tier** (blobs in an object store): a purge that
  was dropped or failed leaves them; they are never served (their names cover the original),
  but take space. Losing one that is still live costs a render, nothing more.

Races with a live server are settled by the order of the reads and by a grace period:

* The blobs are listed *before* the records are read, so a blob whose record commits in
  between is seen as referenced.
* An upload whose record is still to come has a young blob (its bytes were written moments
  ago); only blobs untouched for ``grace`` seconds are candidates. The same grace protects a
  draft whose upload may still be completing, and temporary files of writes in flight.
* A delete that races gc removes a blob gc removes too; deleting a missing blob is no error.

A store whose records are gone (a wrong ``IMAGEGATE_DATABASE_URL``, an empty database) would
make every blob look orphaned: :meth:`GarbageCollector.collect` refuses when the database
holds no account, or when more than half of a sizeable store would go, unless forced.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from imagegate.core.errors import StorageError
from imagegate.core.levels import original_key
from imagegate.usecases.clock import Clock
from imagegate.usecases.ports import AccountStore, BlobStore, ImageStore
from imagegate.usecases.shared_tier import SharedTier

log = logging.getLogger("imagegate.gc")

#: Leftovers younger than this are left alone: an upload may be between its two steps.
DEFAULT_GRACE = 3600.0
#: Temporary files are written in one go; one untouched this long belongs to no live write.
TEMP_GRACE = 60.0
#: Refuse (unless forced) when more than this share of the blobs would go ...
SUSPICIOUS_SHARE = 0.5
#: ... and they are more than this many: a small store after a crash may legitimately hit it.
SUSPICIOUS_COUNT = 20


class CollectionRefused(Exception):
    """gc found something that looks like a misconfiguration and removed nothing."""


@dataclass(frozen=True, slots=True)
class GcReport:
    """What one run found; with ``dry_run`` nothing was removed, and the counts are what
    would have been."""

    dry_run: bool
    blobs: int  # blobs in the store when listed
    referenced: int  # blob keys the records reference
    orphans_removed: int  # unreferenced blobs older than the grace period
    orphans_young: int  # unreferenced blobs within the grace period: kept
    orphans_failed: int  # could not be removed (see the log); left for the next run
    temp_files: int
    expired_drafts: int
    shared_images: int = 0  # images gone whose renders the shared tier still held

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class GarbageCollector:
    def __init__(
        self,
        images: ImageStore,
        accounts: AccountStore,
        blobs: BlobStore,
        clock: Clock,
        *,
        shared: SharedTier | None = None,
    ) -> None:
        self.images = images
        self.accounts = accounts
        self.blobs = blobs
        self.clock = clock
        self.shared = shared

    def collect(
        self, *, grace: float = DEFAULT_GRACE, dry_run: bool = False, force: bool = False
    ) -> GcReport:
        """Find leftovers older than ``grace`` seconds and remove them (unless ``dry_run``).
        Raises :class:`CollectionRefused` before removing anything if the store looks
        misconfigured and ``force`` is not set; ``StorageError`` if a store is unreachable."""
        if grace < 0:
            raise ValueError("grace must not be negative")
        now = self.clock()
        listed = list(self.blobs.iter_keys())  # first the blobs, then the records: see above
        referenced = self.images.referenced_blob_keys()
        unreferenced = [(key, mtime) for key, mtime in listed if _owner(key) not in referenced]
        old = [key for key, mtime in unreferenced if mtime <= now - grace]
        if not force:
            self._check_sane(len(listed), len(old))
        failed = 0
        if not dry_run:
            for key in old:
                try:
                    self.blobs.delete(key)
                except StorageError:
                    log.warning("could not remove orphan blob %s", key)
                    failed += 1
        temp_files = self.blobs.sweep(min(grace, TEMP_GRACE), dry_run=dry_run)
        before_ms = int((now - grace) * 1000)
        if dry_run:
            drafts = self.images.count_expired_drafts(before_ms)
        else:
            drafts = self.images.delete_expired_drafts(before_ms)
        shared_images = 0
        if self.shared is not None:  # after the drafts: an expired draft's renders go too
            shared_images = self.shared.collect(self.images.image_digests(), dry_run=dry_run)
        report = GcReport(
            dry_run=dry_run,
            blobs=len(listed),
            referenced=len(referenced),
            orphans_removed=len(old) - failed,
            orphans_young=len(unreferenced) - len(old),
            orphans_failed=failed,
            temp_files=temp_files,
            expired_drafts=drafts,
            shared_images=shared_images,
        )
        log.info("gc: %s", report)
        return report

    def sweep_at_start(self) -> int:
        """The cheap part, for server start: temporary files of writes a crash interrupted.

        Only files untouched for :data:`TEMP_GRACE` go, so a worker starting beside others
        that already serve (several workers, several nodes on one store) never cuts a live
        write."""
        removed = self.blobs.sweep(TEMP_GRACE)
        if removed:
            log.info("removed %d temporary files left by interrupted writes", removed)
        return removed

    def _check_sane(self, blobs: int, orphans: int) -> None:
        if orphans and not self.accounts.all():
            raise CollectionRefused(
                f"the database holds no account, yet the blob store holds {blobs} blobs: "
                "is IMAGEGATE_DATABASE_URL the store's database? (--force to go ahead)"
            )
        if orphans > SUSPICIOUS_COUNT and orphans > blobs * SUSPICIOUS_SHARE:
            raise CollectionRefused(
                f"{orphans} of {blobs} blobs have no record: is IMAGEGATE_DATABASE_URL the "
                "store's database? (--force to go ahead)"
            )


def _owner(key: str) -> str:
    """The original a blob belongs to: itself, or for a reduced copy its original (a copy
    lives exactly as long as its original)."""
    return original_key(key) or key


__all__ = [
    "DEFAULT_GRACE",
    "TEMP_GRACE",
    "CollectionRefused",
    "GarbageCollector",
    "GcReport",
]
