"""The on-disk variant cache: keys, purges, and the size bound."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from imagegate.adapters.storage.variant_cache import LocalVariantCache
from imagegate.core.models import Format
from imagegate.usecases.records import CacheKey


def key(n: int, image: str = "i" * 64, variant: str = "v", account: str = "a" * 32) -> CacheKey:
    return CacheKey(account, image, variant, f"{n:064x}", Format.WEBP)


def files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_put_get_miss(tmp_path: Path) -> None:
    cache = LocalVariantCache(tmp_path, max_bytes=10_000)
    assert cache.get(key(1)) is None
    cache.put(key(1), b"abc")
    assert cache.get(key(1)) == b"abc"
    assert not [p for p in files(tmp_path) if p.name.endswith(".tmp")]


def test_size_bound_evicts_least_recently_used(tmp_path: Path) -> None:
    cache = LocalVariantCache(tmp_path, max_bytes=1000)
    for n in range(5):
        cache.put(key(n), b"x" * 200)
        os.utime(cache._path(key(n)), (time.time() - 100 + n, time.time() - 100 + n))
    cache.get(key(0))  # a hit makes the oldest entry young
    cache.put(key(5), b"x" * 200)
    cache.put(key(6), b"x" * 200)
    total = sum(p.stat().st_size for p in files(tmp_path))
    assert total <= 1000
    assert cache.get(key(0)) is not None
    assert cache.get(key(1)) is None


def test_bound_survives_restart(tmp_path: Path) -> None:
    first = LocalVariantCache(tmp_path, max_bytes=1000)
    for n in range(4):
        first.put(key(n), b"x" * 200)
    second = LocalVariantCache(tmp_path, max_bytes=1000)
    assert second.size == 800
    second.put(key(9), b"x" * 250)
    assert sum(p.stat().st_size for p in files(tmp_path)) <= 1000


def test_purges(tmp_path: Path) -> None:
    cache = LocalVariantCache(tmp_path, max_bytes=10_000)
    cache.put(key(1, image="a" * 64, variant="thumb"), b"1")
    cache.put(key(2, image="a" * 64, variant="card"), b"2")
    cache.put(key(3, image="b" * 64, variant="thumb"), b"3")
    cache.purge_variant("a" * 32, "thumb")
    assert cache.get(key(1, image="a" * 64, variant="thumb")) is None
    assert cache.get(key(3, image="b" * 64, variant="thumb")) is None
    assert cache.get(key(2, image="a" * 64, variant="card")) == b"2"
    cache.purge_image("a" * 32, "a" * 64)
    assert cache.get(key(2, image="a" * 64, variant="card")) is None


@pytest.mark.parametrize("size", [0])
def test_zero_bound_turns_the_cache_off(tmp_path: Path, size: int) -> None:
    cache = LocalVariantCache(tmp_path, max_bytes=size)
    cache.put(key(1), b"abc")
    assert cache.get(key(1)) is None and not files(tmp_path)


def test_entries_over_a_quarter_of_the_bound_are_not_kept(tmp_path: Path) -> None:
    cache = LocalVariantCache(tmp_path, max_bytes=1000)
    cache.put(key(1), b"x" * 300)
    assert cache.get(key(1)) is None
