"""Blocking work off the event loop, bounded.

Database and disk calls share one thread limiter; URL fetches, which may take seconds,
have their own; renders have their own too, sized to the CPUs,
with a bounded number of waiters. Past that bound a render is refused with ``Overloaded``
(503 + Retry-After) rather than queued without limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

from anyio import CapacityLimiter, to_thread

from imagegate.errors import Overloaded

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Offload:
    def __init__(
        self, *, io_threads: int, render_slots: int, render_queue: int, fetch_slots: int = 8
    ) -> None:
        self._io = CapacityLimiter(io_threads)
        self._fetch = CapacityLimiter(fetch_slots)
        self._render = CapacityLimiter(render_slots)
        self._render_bound = render_slots + render_queue
        self._render_pending = 0

    async def io(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        return await to_thread.run_sync(fn, *args, limiter=self._io)

    async def fetch(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """Network fetches (uploads by URL) wait on their own slots, never on disk's."""
        return await to_thread.run_sync(fn, *args, limiter=self._fetch)

    async def render(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        if self._render_pending >= self._render_bound:
            raise Overloaded()
        self._render_pending += 1
        try:
            return await to_thread.run_sync(fn, *args, limiter=self._render)
        finally:
            self._render_pending -= 1

    @property
    def render_pending(self) -> int:
        return self._render_pending
