"""Blocking work off the event loop, bounded.

Database and disk calls share one thread limiter; URL fetches, which may take seconds,
have their own; renders have their own too, sized to the CPUs, with a bounded number of
waiters. Past that bound a render is refused with ``Overloaded`` (503 + Retry-After) rather
than queued without limit.

Renders come in two lanes, so that one client asking for large, blurred, high-``dpr``
outputs cannot hold every slot while a small cold render waits. A render the plan
estimates as heavy (:func:`imagegate.core.render_plan.render_cost`) first takes one of
``heavy_slots`` (half the slots, at least one) and then a render slot: heavy renders never
hold more than half the slots, and the rest stay for light ones, which take any free slot.
Each lane has its own bound on waiters, so a burst of heavy requests is refused (503) long
before it could crowd light ones out of the queue. With a single render slot the lanes
share it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

from anyio import CapacityLimiter, to_thread

from imagegate.core.errors import Overloaded

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
        self.heavy_slots = max(1, render_slots // 2)
        self._heavy = CapacityLimiter(self.heavy_slots)
        self._heavy_bound = self.heavy_slots + max(1, render_queue // 4)
        self._heavy_pending = 0

    async def io(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        return await to_thread.run_sync(fn, *args, limiter=self._io)

    async def fetch(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """Network fetches (uploads by URL) wait on their own slots, never on disk's."""
        return await to_thread.run_sync(fn, *args, limiter=self._fetch)

    async def render(self, fn: Callable[[*Ts], T], *args: *Ts, heavy: bool = False) -> T:
        """Run a render in a thread behind a render slot (and a heavy-lane slot first, if
        ``heavy``); refuse with ``Overloaded`` past the waiters' bound of its lane."""
        if self._render_pending >= self._render_bound:
            raise Overloaded()
        if not heavy:
            return await self._in_slot(fn, *args)
        if self._heavy_pending >= self._heavy_bound:
            raise Overloaded()
        self._heavy_pending += 1
        try:
            async with self._heavy:
                return await self._in_slot(fn, *args)
        finally:
            self._heavy_pending -= 1

    async def _in_slot(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        self._render_pending += 1
        try:
            return await to_thread.run_sync(fn, *args, limiter=self._render)
        finally:
            self._render_pending -= 1

    def renders_waiting(self) -> bool:
        """Whether a render is waiting for a slot (all slots are taken and more want one)."""
        return self._render_pending > self._render.total_tokens

    @property
    def render_pending(self) -> int:
        return self._render_pending

    @property
    def heavy_pending(self) -> int:
        return self._heavy_pending
