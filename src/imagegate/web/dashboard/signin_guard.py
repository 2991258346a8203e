"""What stands between a flood of sign-in attempts and everyone else.

Budgets: every attempt spends one unit of its client address's budget and one of its
target's (the admin password; or the token tried), before any work is done; an attempt that
succeeds gets its units back, so only failures add up. A budget refills at a steady rate;
an empty one answers ``429`` with ``Retry-After`` (the seconds until a unit is back), and
does no work at all. So an address can fail ``ADDRESS.burst`` times at once and then once per
``ADDRESS.every`` seconds, and the admin password, tried from any number of addresses, can
fail ``ADMIN.burst`` times and then once per ``ADMIN.every`` seconds.

Hashing: checking a password costs tens of milliseconds of CPU (scrypt). It runs in a pool
of its own, ``HASH_SLOTS`` at a time with at most ``HASH_WAITING`` waiting; past that the
attempt is refused at once. Database work and renders never wait behind password hashing,
and the event loop keeps a core.

State is per process, held in memory: with several workers each keeps its own budgets (the
bounds multiply by the worker count), and a restart forgets them. Behind a reverse proxy the
client address comes from ``X-Forwarded-For`` only if the proxy is listed in
``IMAGEGATE_TRUSTED_PROXIES`` (see :mod:`imagegate.web.clients`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, TypeVarTuple

from anyio import CapacityLimiter, to_thread

from imagegate.core.errors import SignInBusy, SignInThrottled

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True, slots=True)
class Budget:
    """``burst`` attempts at once, then one more every ``every`` seconds."""

    burst: int
    every: float


ADDRESS = Budget(burst=10, every=30.0)  # one client address, whatever it tries
ADMIN = Budget(burst=10, every=6.0)  # the admin password, from every address together
TOKEN = Budget(burst=10, every=30.0)  # one token value, from every address together
MAX_TRACKED = 10_000  # budgets remembered per kind; the fullest are forgotten first
HASH_SLOTS = 1
HASH_WAITING = 8


class Budgets:
    """Token buckets by key, on a monotonic clock; bounded in how many keys they remember."""

    def __init__(self, budget: Budget, clock: Callable[[], float]) -> None:
        self.budget = budget
        self.clock = clock
        self._level: dict[str, tuple[float, float]] = {}  # key -> (units spent, at)

    def spent(self, key: str) -> float:
        """Units spent now (0 is a full budget)."""
        found = self._level.get(key)
        if found is None:
            return 0.0
        used, at = found
        return max(0.0, used - (self.clock() - at) / self.budget.every)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may spend a unit (0 if it may now)."""
        over = self.spent(key) + 1 - self.budget.burst
        return max(0.0, over * self.budget.every)

    def spend(self, key: str, units: float = 1.0) -> None:
        used = max(0.0, self.spent(key) + units)
        if used == 0.0:
            self._level.pop(key, None)
            return
        self._level[key] = (used, self.clock())
        if len(self._level) > MAX_TRACKED:
            self._forget()

    def _forget(self) -> None:
        """Drop the budgets nearest to full (the least to lose), half of them."""
        ranked = sorted(self._level, key=self.spent)
        for key in ranked[: len(ranked) // 2]:
            del self._level[key]


class SignInGuard:
    """Budgets per address and per target, and the pool password hashing runs in."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.addresses = Budgets(ADDRESS, clock)
        self.targets = {"admin": Budgets(ADMIN, clock), "token": Budgets(TOKEN, clock)}
        self._hashing = CapacityLimiter(HASH_SLOTS)
        self._hash_pending = 0

    def admit(self, address: str, kind: str, target: str) -> None:
        """Spend a unit of both budgets, or raise ``SignInThrottled`` and spend neither."""
        targets = self.targets[kind]
        wait = max(self.addresses.wait(address), targets.wait(target))
        if wait > 0:
            raise SignInThrottled(max(1, math.ceil(wait)))
        self.addresses.spend(address)
        targets.spend(target)

    def refund(self, address: str, kind: str, target: str) -> None:
        """A success: the attempt's units come back."""
        self.addresses.spend(address, -1.0)
        self.targets[kind].spend(target, -1.0)

    async def hash(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """Run password hashing in its own bounded pool; ``SignInBusy`` past its queue."""
        if self._hash_pending >= HASH_SLOTS + HASH_WAITING:
            raise SignInBusy()
        self._hash_pending += 1
        try:
            return await to_thread.run_sync(fn, *args, limiter=self._hashing)
        finally:
            self._hash_pending -= 1
