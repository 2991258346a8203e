"""Reduced copies of originals ("levels"): derived in the background, read by renders.

Which levels an original has and which one a render reads is pure
(:mod:`imagegate.core.levels`); this object stores and finds them, and derives them off the
request path:

- An upload is acknowledged as before; its levels are queued for :class:`Levels`' one
  background thread, which runs at the lowest CPU priority and waits while renders are
  queued, so it never takes a render's place. The queue is bounded: past
  ``queue_size`` a new job is dropped (shed first), and the image renders from its
  original until a render finds its level missing and queues it again.
- That a level exists is the blob's presence, nothing else: every node sees the same blob
  store, so no record, migration or change need be announced, and a level lost or damaged
  is found by the render that reads it, which then renders from the original and queues a
  rebuild.
- Deleting an image deletes its levels; ``imagegate gc`` counts a level as referenced when
  its original is, and removes the levels of originals gone; ``imagegate levels build``
  derives the levels of images stored before (or lost).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from imagegate.core import levels as plan
from imagegate.core.errors import BlobMissing, ImagegateError
from imagegate.core.models import Format, Image
from imagegate.usecases.ports import BlobStore, ImageProcessor

log = logging.getLogger("imagegate.levels")

#: How long the worker waits at most for the renders queued to drain before deriving anyway
#: (a machine under constant load still gets its levels made, slowly).
MAX_YIELD_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class LevelJob:
    """What deriving an original's levels needs."""

    blob_key: str
    format: Format
    width: int
    height: int

    @classmethod
    def of(cls, image: Image) -> LevelJob | None:
        if image.format is None or not image.blob_key or image.draft:
            return None
        if not plan.divisors(image.format, image.width, image.height):
            return None
        return cls(image.blob_key, image.format, image.width, image.height)


class Levels:
    def __init__(
        self,
        blobs: BlobStore,
        processor: ImageProcessor,
        *,
        queue_size: int,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.blobs = blobs
        self.processor = processor
        self.queue_size = queue_size
        self.busy = busy  # renders are waiting: derivation yields
        self._queue: deque[LevelJob] = deque()
        self._queued: set[str] = set()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._current: str | None = None  # the original whose copies are being derived
        self.built = 0  # originals whose levels this process derived
        self.used = 0  # renders made from a level
        self.shed = 0
        self.failed = 0

    # --- for renders ---------------------------------------------------------------------------

    def read(self, blob_key: str, divisor: int) -> bytes | None:
        """A level's bytes, or None when it is not there (never made, lost, or being made)."""
        try:
            return self.blobs.get(plan.level_key(blob_key, divisor))
        except BlobMissing:
            return None

    # --- the background queue ------------------------------------------------------------------

    def queue(self, image: Image) -> bool:
        """Queue the derivation of ``image``'s levels; False when it has none, is queued
        already, or the queue is full (shed: a later render queues it again)."""
        job = LevelJob.of(image)
        if job is None or self.queue_size <= 0:
            return False
        with self._cond:
            if self._closed or job.blob_key in self._queued:
                return False
            if len(self._queue) >= self.queue_size:
                self.shed += 1
                return False
            self._queue.append(job)
            self._queued.add(job.blob_key)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="imagegate-levels", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return True

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queued)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued job is done (tests, a server shutting down)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queued:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Drop what waits and let the derivation in progress finish (up to ``timeout``), so
        that a server stopping gracefully leaves no half-written copy behind."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
            while self._current is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)

    def _work(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: nice is per thread
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    self._queued.clear()
                    self._cond.notify_all()
                    return
                job = self._queue.popleft()
                self._current = job.blob_key
            try:
                self._yield_to_renders()
                if not self._closed:  # a stop while yielding: leave it to a later start
                    self.build(job)
            except Exception:  # a bad original, a store down: logged, never fatal
                log.warning("levels of %s not built", job.blob_key, exc_info=True)
            finally:
                with self._cond:
                    self._queued.discard(job.blob_key)
                    self._current = None
                    self._cond.notify_all()

    def _yield_to_renders(self) -> None:
        deadline = time.monotonic() + MAX_YIELD_SECONDS
        while self.busy() and not self._closed and time.monotonic() < deadline:
            time.sleep(0.02)

    # --- building and removing -------------------------------------------------------------------

    def build(self, job: LevelJob) -> int:
        """Derive and store the levels of one original; the number stored. Raises
        ``CorruptImage`` for an original that cannot be decoded, ``StorageError``."""
        try:
            data = self.blobs.get(job.blob_key)
        except BlobMissing:  # deleted meanwhile
            return 0
        made = self.processor.levels(data, job.format, job.width, job.height)
        for divisor, encoded in made:
            self.blobs.put(plan.level_key(job.blob_key, divisor), encoded)
        try:  # deleted while being derived: take the levels away again
            self.blobs.get(job.blob_key)
        except BlobMissing:
            self.delete(job.blob_key, job.format, job.width, job.height)
            return 0
        self.built += 1
        return len(made)

    def build_missing(self, images: Iterable[Image], *, rebuild: bool = False) -> tuple[int, int]:
        """Derive the levels of ``images`` that lack any (every one with ``rebuild``):
        (images built, images whose build failed). One listing of the blob store tells
        which levels exist."""
        present = {key for key, _ in self.blobs.iter_keys()} if not rebuild else set()
        built = failed = 0
        for image in images:
            job = LevelJob.of(image)
            if job is None:
                continue
            keys = [
                plan.level_key(job.blob_key, d)
                for d in plan.divisors(job.format, job.width, job.height)
            ]
            if not rebuild and all(key in present for key in keys):
                continue
            try:
                self.build(job)
                built += 1
            except ImagegateError as exc:
                log.warning("levels of %s not built: %s", job.blob_key, type(exc).__name__)
                failed += 1
        return built, failed

    def delete(self, blob_key: str, source: Format | None, width: int, height: int) -> None:
        """Delete an original's levels (those gone already are no error). Raises
        ``StorageError``; what is left is removed by ``imagegate gc``."""
        for divisor in plan.divisors(source, width, height):
            self.blobs.delete(plan.level_key(blob_key, divisor))
