"""In-process caches and HTTP validators: pure parts, table-driven."""

from __future__ import annotations

import pytest

from imagegate.core.http_caching import cache_control, etag_for, etag_matches
from imagegate.usecases.caches import MemoryLRU, TtlCache


def test_lru_evicts_least_recently_used_first() -> None:
    lru: MemoryLRU[str] = MemoryLRU(max_bytes=40)
    lru.put("a", b"x" * 10)
    lru.put("b", b"x" * 10)
    lru.put("c", b"x" * 10)
    assert lru.get("a") is not None  # a is now the youngest
    lru.put("d", b"x" * 10)
    lru.put("e", b"x" * 10)
    assert lru.get("b") is None and lru.get("a") is not None
    assert lru.size <= 40


def test_lru_refuses_entries_over_a_quarter_of_its_bound() -> None:
    lru: MemoryLRU[str] = MemoryLRU(max_bytes=100)
    lru.put("big", b"x" * 26)
    assert lru.get("big") is None and lru.size == 0


def test_lru_discard_by_predicate() -> None:
    lru: MemoryLRU[tuple[str, int]] = MemoryLRU(max_bytes=1000)
    for n in range(5):
        lru.put(("a", n), b"x")
        lru.put(("b", n), b"y")
    lru.discard(lambda k: k[0] == "a")
    assert all(lru.get(("a", n)) is None for n in range(5))
    assert all(lru.get(("b", n)) == b"y" for n in range(5))
    assert lru.size == 5


def test_ttl_cache_expires_and_zero_ttl_disables() -> None:
    now = [0.0]
    cache: TtlCache[str, int] = TtlCache(ttl=1.0, clock=lambda: now[0])
    cache.put("k", 1)
    now[0] = 1.0
    assert cache.get("k") == 1
    now[0] = 1.01
    assert cache.get("k") is None
    off: TtlCache[str, int] = TtlCache(ttl=0)
    off.put("k", 1)
    assert off.get("k") is None


@pytest.mark.parametrize(
    ("private", "ttl", "exp", "now", "expected"),
    [
        (False, 172800, None, 0, "public, max-age=172800, stale-while-revalidate=7200"),
        (True, 172800, 1000, 400, "private, max-age=600"),
        (True, 60, 1000, 400, "private, max-age=60"),
        (True, 60, 1000, 1000, "private, max-age=0"),
        (True, 60, 1000, 1005, "private, max-age=0"),
        (True, 60, None, 0, "private, max-age=60"),
    ],
)
def test_cache_control(private: bool, ttl: int, exp: int | None, now: int, expected: str) -> None:
    assert cache_control(private=private, browser_ttl=ttl, exp=exp, now=now) == expected


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ("*", True),
        ('"abc"', False),
        (f"{etag_for('f' * 64)}", True),
        (f'"x", W/{etag_for("f" * 64)}', True),
        (f'"{"f" * 31}"', False),
    ],
)
def test_etag_matching(header: str | None, matches: bool) -> None:
    assert etag_matches(header, etag_for("f" * 64)) is matches
