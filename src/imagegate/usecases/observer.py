"""What the use cases count for ``/metrics``: one observer per process, told as things happen.

Renders, uploads and disk reads report from worker threads and delivery from the event loop,
so every count is taken under a lock (uncontended, it costs well under a microsecond). The
web layer's metrics endpoint is the only reader, through :meth:`Observer.snapshot`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Rendered-variant lookups: found in this process's memory, on its disk, in the shared tier
#: of the object store (rendered by any node), or rendered.
LOOKUPS = ("memory_hit", "disk_hit", "shared_hit", "render")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The counts at one moment (copies: the observer goes on counting)."""

    verifications: dict[tuple[str, str], int] = field(default_factory=dict)
    lookups: dict[str, int] = field(default_factory=dict)
    uploads: int = 0
    upload_bytes: int = 0
    memory_cache_bytes: int = 0
    copies_pending: int = 0

    def as_counts(self) -> dict[str, Any]:
        """The snapshot as JSON-able values (to pool with the node's other workers)."""
        return {
            "verifications": [[o, k, n] for (o, k), n in sorted(self.verifications.items())],
            "lookups": dict(self.lookups),
            "uploads": self.uploads,
            "upload_bytes": self.upload_bytes,
            "memory_cache_bytes": self.memory_cache_bytes,
            "copies_pending": self.copies_pending,
        }

    @classmethod
    def summed(cls, parts: list[tuple[dict[str, Any], bool]]) -> Snapshot:
        """The node's counts from its workers' :meth:`as_counts` and whether each still
        runs: counters summed over all of them, the gauges over the live ones."""
        verifications: Counter[tuple[str, str]] = Counter()
        lookups: Counter[str] = Counter()
        uploads = upload_bytes = memory = pending = 0
        for counts, alive in parts:
            for outcome, key, n in counts.get("verifications", []):
                verifications[(str(outcome), str(key))] += int(n)
            for name, n in counts.get("lookups", {}).items():
                lookups[str(name)] += int(n)
            uploads += int(counts.get("uploads", 0))
            upload_bytes += int(counts.get("upload_bytes", 0))
            if alive:
                memory += int(counts.get("memory_cache_bytes", 0))
                pending += int(counts.get("copies_pending", 0))
        return cls(
            verifications=dict(verifications),
            lookups={name: lookups.get(name, 0) for name in LOOKUPS},
            uploads=uploads,
            upload_bytes=upload_bytes,
            memory_cache_bytes=memory,
            copies_pending=pending,
        )


class Observer:
    """``memory_size`` reads how many bytes the memory cache holds, and ``copies_pending``
    how many originals wait for their reduced copies, when asked."""

    def __init__(
        self,
        memory_size: Callable[[], int] = lambda: 0,
        copies_pending: Callable[[], int] = lambda: 0,
    ) -> None:
        self._memory_size = memory_size
        self._copies_pending = copies_pending
        self._lock = threading.Lock()
        self._verifications: Counter[tuple[str, str]] = Counter()
        self._lookups: Counter[str] = Counter()
        self._uploads = 0
        self._upload_bytes = 0

    def verified(self, outcome: str, key_name: str | None) -> None:
        """A signature was checked: its outcome, and the key that matched (if any)."""
        with self._lock:
            self._verifications[(outcome, key_name or "")] += 1

    def looked_up(self, result: str) -> None:
        """A rendered variant was asked for: one of :data:`LOOKUPS`."""
        with self._lock:
            self._lookups[result] += 1

    def uploaded(self, size: int) -> None:
        """An original of ``size`` bytes was stored."""
        with self._lock:
            self._uploads += 1
            self._upload_bytes += size

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                verifications=dict(self._verifications),
                lookups={name: self._lookups.get(name, 0) for name in LOOKUPS},
                uploads=self._uploads,
                upload_bytes=self._upload_bytes,
                memory_cache_bytes=self._memory_size(),
                copies_pending=self._copies_pending(),
            )
