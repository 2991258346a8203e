"""What a process remembers between requests, and how writes make it forget.

Two in-process caches, bounded and thread-safe (each worker process has its own): rendered
bytes by cache key (:class:`MemoryLRU`), and what the delivery path read about an image, for a
short time (:class:`TtlCache`). :class:`Caches` holds them with the rendered-variant cache
behind them (and, when blobs are in an object store, the shared tier behind that:
:mod:`.shared_tier`), and is what every write that changes what is served goes through
(:meth:`Caches.changing`): the write's :class:`~imagegate.usecases.records.Change` is
announced on the change feed, so every other process forgets exactly what it concerns, and
applied here at once.

How long a delivery context may be reused depends on the feed: while changes from other
processes reach this one, ``metadata_cache_ttl_notified``; otherwise (SQLite, or the feed's
connection lost) ``metadata_cache_ttl``, after forgetting everything read so far.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from imagegate.core.ids import image_digest
from imagegate.usecases.ports import ChangeFeed, VariantCache
from imagegate.usecases.records import CacheKey, Change
from imagegate.usecases.shared_tier import SharedTier

log = logging.getLogger("imagegate.caches")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class MemoryLRU(Generic[K]):
    """Bytes by key, least recently used first out, bounded by total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[K, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: bytes) -> None:
        if len(value) > self.max_bytes // 4:
            return  # one huge entry would flush everything else
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)

    def discard(self, matches: Callable[[K], bool]) -> None:
        with self._lock:
            for key in [k for k in self._items if matches(k)]:
                self._size -= len(self._items.pop(key))

    @property
    def size(self) -> int:
        return self._size


class TtlCache(Generic[K, V]):
    """Values that may be reused for ``ttl`` seconds, then must be read again."""

    def __init__(
        self, ttl: float, max_items: int = 10000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self.clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        #: Moves on every forgetting: a value read before it moved may be stale.
        self.generation = 0

    def get(self, key: K) -> V | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[0] < self.clock():
                del self._items[key]
                return None
            return found[1]

    def put(self, key: K, value: V, read_at: int | None = None) -> None:
        """Keep ``value``; with ``read_at`` (the :attr:`generation` seen before it was read),
        only if nothing was forgotten since, which would make it possibly stale."""
        if self.ttl <= 0:
            return
        with self._lock:
            if read_at is not None and read_at != self.generation:
                return
            self._items[key] = (self.clock() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._items.clear()

    def discard(self, matches: Callable[[K, V], bool]) -> None:
        """Forget every entry whose key and value ``matches``."""
        with self._lock:
            self.generation += 1
            for key in [k for k, (_, v) in self._items.items() if matches(k, v)]:
                del self._items[key]


#: (account hash, image id, variant name or None for options in the URL)
ContextKey = tuple[str, str, str | None]


class Caches:
    """The memory and rendered-variant caches, and the delivery contexts, of one process,
    and the change feed that keeps them true."""

    def __init__(
        self,
        variants: VariantCache,
        memory_bytes: int,
        context_ttl: float,
        *,
        feed: ChangeFeed,
        notified_ttl: float | None = None,
        shared: SharedTier | None = None,
    ) -> None:
        self.variants = variants
        self.shared = shared
        self.memory: MemoryLRU[CacheKey] = MemoryLRU(memory_bytes)
        #: The delivery use case's ``Resolved`` values: each says its ``account_id``.
        self.contexts: TtlCache[ContextKey, Any] = TtlCache(context_ttl)
        self.feed = feed
        self.fallback_ttl = context_ttl
        self.notified_ttl = max(context_ttl, notified_ttl or 0.0)
        self.changes_received = 0

    # --- writes -------------------------------------------------------------------------------

    @contextmanager
    def changing(self, change: Change) -> Iterator[None]:
        """Wrap the one store write that makes ``change``: announced with it to every other
        process, and applied here once it is committed."""
        with self.feed.announcing(change):
            yield
        self.apply(change)

    def apply(self, change: Change, *, shared: bool = True) -> None:
        """Forget exactly what ``change`` makes stale: delivery contexts, and renders when
        it says so: this node's memory and disk, and the shared tier unless ``shared`` is
        false (a change heard from another process, whose writer purged it already)."""
        account, subject = change.account_id, change.subject
        if change.kind == "image":
            self.contexts.discard(lambda k, v: k[1] == subject and v.account_id == account)
            if change.renders:
                self.purge_image(account, subject, shared=shared)
        elif change.kind == "variant":
            self.contexts.discard(lambda k, v: k[2] == subject and v.account_id == account)
            self.purge_variant(account, subject, shared=shared)
        else:
            self.contexts.discard(lambda _k, v: v.account_id == account)

    # --- the feed -----------------------------------------------------------------------------

    def listen(self) -> None:
        """Follow the changes other processes make (idempotent)."""
        self.feed.listen(self._received, self._reached)

    def _received(self, change: Change) -> None:
        self.changes_received += 1
        try:
            self.apply(change, shared=False)
        except Exception:  # a disk that refuses a purge must not stop the feed
            log.exception("could not apply a change fully; forgetting every context")
            self.contexts.clear()

    def _reached(self, reached: bool) -> None:
        if reached:  # listening now: anything read before may have missed a change
            self.contexts.clear()
            self.contexts.ttl = self.notified_ttl
        else:  # shorten first, so nothing read from now on outlives the fallback TTL
            self.contexts.ttl = self.fallback_ttl
            self.contexts.clear()

    # --- this process only --------------------------------------------------------------------

    def forget_metadata(self) -> None:
        """Something read about an image proved stale: read everything again next time."""
        self.contexts.clear()

    def purge_image(self, account_id: str, image_id: str, *, shared: bool = True) -> None:
        """Drop every render of an image held by this node, and, with ``shared``, in the
        shared tier."""
        digest = image_digest(image_id)
        self.memory.discard(lambda k: k.account_id == account_id and k.image_digest == digest)
        self.variants.purge_image(account_id, digest)
        if shared and self.shared is not None:
            self.shared.purge_image(account_id, digest)

    def purge_variant(self, account_id: str, variant: str, *, shared: bool = True) -> None:
        """Drop every render made for a named variant held by this node, and, with
        ``shared``, in the shared tier."""
        self.memory.discard(lambda k: k.account_id == account_id and k.variant == variant)
        self.variants.purge_variant(account_id, variant)
        if shared and self.shared is not None:
            self.shared.purge_variant(account_id, variant)
