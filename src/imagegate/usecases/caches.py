"""What a process remembers between requests, and how writes make it forget.

Two in-process caches, bounded and thread-safe (each worker process has its own): rendered
bytes by cache key (:class:`MemoryLRU`), and what the delivery path read about an image, for a
short time (:class:`TtlCache`). :class:`Caches` holds them with the rendered-variant cache
behind them (and, when blobs are in an object store, the shared tier behind that:
:mod:`.shared_tier`), and is what every write that changes what is served tells to forget.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from imagegate.core.ids import image_digest
from imagegate.usecases.ports import VariantCache
from imagegate.usecases.records import CacheKey
from imagegate.usecases.shared_tier import SharedTier

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

    def put(self, key: K, value: V) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._items[key] = (self.clock() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class Caches:
    """The memory and rendered-variant caches, and the delivery contexts, of one process."""

    def __init__(
        self,
        variants: VariantCache,
        memory_bytes: int,
        context_ttl: float,
        shared: SharedTier | None = None,
    ) -> None:
        self.variants = variants
        self.shared = shared
        self.memory: MemoryLRU[CacheKey] = MemoryLRU(memory_bytes)
        #: (account hash, image id, variant name) -> the delivery use case's ``Resolved``
        self.contexts: TtlCache[tuple[str, str, str | None], Any] = TtlCache(context_ttl)

    def forget_metadata(self) -> None:
        """An account, key, token or image record changed: read it again next time."""
        self.contexts.clear()

    def purge_image(self, account_id: str, image_id: str) -> None:
        """An image changed or went: drop what was read about it and every render of it."""
        digest = image_digest(image_id)
        self.contexts.clear()
        self.memory.discard(lambda k: k.account_id == account_id and k.image_digest == digest)
        self.variants.purge_image(account_id, digest)
        if self.shared is not None:
            self.shared.purge_image(account_id, digest)

    def purge_variant(self, account_id: str, variant: str) -> None:
        """A named variant changed or went: drop every render made for it."""
        self.contexts.clear()
        self.memory.discard(lambda k: k.account_id == account_id and k.variant == variant)
        self.variants.purge_variant(account_id, variant)
        if self.shared is not None:
            self.shared.purge_variant(account_id, variant)
