"""The shared tier: rendered variants every node on one object store can read, behind each
node's own bounded caches. Delivery reads memory, then the local disk, then this tier, and
renders only when all three miss (still one render per variant per process: single-flight
in :mod:`.delivery`). So a variant rendered on one node is not rendered again on another.

Nothing here may slow an answer or fail it:

* A read that fails (the store is down, slow past its bounded retries) is a miss: the
  request goes on to render, and fails there only if the original cannot be read either.
* Writes and purges go to one background thread through a bounded queue (in entries and in
  bytes). When it is full, a write is dropped (the next node to miss renders again) and so
  is a purge: entries are named by a digest of everything that shapes their bytes, the
  original and its access included, so an entry a purge missed is never served for a
  changed image or variant; it only takes space until ``imagegate gc`` removes the
  entries of images that are gone (:meth:`SharedTier.collect`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from imagegate.core.errors import ImagegateError
from imagegate.usecases.ports import VariantCache
from imagegate.usecases.records import CacheKey

log = logging.getLogger("imagegate.shared_tier")

#: Pending writes a node keeps at most, and their bytes: past either, writes are dropped.
MAX_PENDING = 256
MAX_PENDING_BYTES = 64 * 1024**2


class SharedVariants(VariantCache, Protocol):
    """A variant cache every node reaches, which can say whose entries it holds."""

    def images(self) -> Iterator[tuple[str, str]]:
        """Every (account id, image digest) with entries. Raises ``StorageError``."""


@dataclass(frozen=True, slots=True)
class _Job:
    run: Callable[[], None]
    size: int
    what: str


class SharedTier:
    def __init__(
        self,
        store: SharedVariants,
        *,
        max_pending: int = MAX_PENDING,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self.store = store
        self.max_pending_bytes = max_pending_bytes
        self._queue: queue.Queue[_Job] = queue.Queue(max_pending)
        self._pending_bytes = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped = 0  # writes and purges left undone because the queue was full
        self.failed = 0  # writes and purges the store refused

    def get(self, key: CacheKey) -> bytes | None:
        """The bytes, or None on a miss or when the store does not answer (blocking)."""
        try:
            return self.store.get(key)
        except ImagegateError as exc:
            log.warning("shared tier read failed: %s", type(exc).__name__)
            return None

    def offer(self, key: CacheKey, data: bytes) -> None:
        """Write in the background, or drop when the queue is full. Never blocks."""
        self._submit(_Job(lambda: self.store.put(key, data), len(data), "write"))

    def purge_image(self, account_id: str, image_digest: str) -> None:
        self._submit(_Job(lambda: self.store.purge_image(account_id, image_digest), 0, "purge"))

    def purge_variant(self, account_id: str, variant: str) -> None:
        self._submit(_Job(lambda: self.store.purge_variant(account_id, variant), 0, "purge"))

    def collect(self, live: set[tuple[str, str]], *, dry_run: bool = False) -> int:
        """Remove the entries of every image not in ``live`` (account id, image digest);
        how many images' entries went (or would go). Raises ``StorageError``."""
        gone = [found for found in self.store.images() if found not in live]
        if not dry_run:
            for account_id, digest in gone:
                self.store.purge_image(account_id, digest)
        return len(gone)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued job ran (tests, shutdown); False on timeout."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def _submit(self, job: _Job) -> None:
        with self._lock:
            if self._pending_bytes + job.size > self.max_pending_bytes:
                self.dropped += 1
                return
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self.dropped += 1
                return
            self._pending_bytes += job.size
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="imagegate-shared-tier", daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                job.run()
            except ImagegateError as exc:
                self.failed += 1
                log.warning("shared tier %s failed: %s", job.what, type(exc).__name__)
            except Exception:  # a bug must not stop the writer for the process's life
                self.failed += 1
                log.exception("shared tier %s failed", job.what)
            finally:
                with self._lock:
                    self._pending_bytes -= job.size
                self._queue.task_done()


__all__ = ["MAX_PENDING", "MAX_PENDING_BYTES", "SharedTier", "SharedVariants"]
