"""Time, as the use cases read it: through a clock they are given (tests hand in their own)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: Seconds since the epoch, as ``time.time`` gives them.
Clock = Callable[[], float]


def utc(clock: Clock) -> datetime:
    """The clock's time as an aware UTC datetime."""
    return datetime.fromtimestamp(clock(), tz=UTC)


def now_ms(clock: Clock) -> int:
    """The clock's time in whole milliseconds since the epoch."""
    return int(clock() * 1000)
