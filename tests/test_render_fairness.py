"""One client must not hold every render slot, and no render runs without end.

Over real HTTP with flexible variants on: a burst of heavy renders (large output, ``dpr=2``,
the widest blur, each with a fresh ``q`` so none is cached) is in flight while an unrelated
small cold render arrives; it is served before the heavy ones, and memory stays bounded. A
render past ``IMAGEGATE_RENDER_TIMEOUT`` is stopped inside libvips, answers 503 and frees its
slot. Times are compared with each other and with a baseline measured in the same test,
never with absolute figures.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import Server, dimensions, jpeg, serve_account
from imagegate.settings import Settings

FRESH = count(1)  # a new quality for every request: nothing is served from a cache


@pytest.fixture(scope="module")
def big() -> bytes:
    return jpeg(4000, 3000)


def serve(tmp_path: Path, **settings: Any) -> Iterator[Server]:
    with serve_account(Settings(data_dir=tmp_path / "data", **settings)) as srv:
        with srv.client() as c:
            assert c.patch(f"{srv.images_url}/config", json={"flexible_variants": True})
        yield srv


def upload(srv: Server, data: bytes, image_id: str) -> str:
    with srv.client() as c:
        r = c.post(srv.images_url, files={"file": ("f.jpg", data)}, data={"id": image_id})
    assert r.status_code == 200, r.text
    return f"{srv.base_url}/{srv.account_hash}/{image_id}"


def heavy_url(base: str, extra: str = "") -> str:
    return f"{base}/w=3000,h=3000,fit=pad,dpr=2,blur=250,q={next(FRESH) % 100 + 1}{extra}"


def small_url(base: str) -> str:
    return f"{base}/w=200,q={next(FRESH) % 100 + 1}"


def timed_get(url: str) -> tuple[httpx.Response, float, float]:
    """The answer, how long it took, and when (monotonic) it was complete."""
    started = time.monotonic()
    r = httpx.get(url, timeout=180)
    done = time.monotonic()
    return r, done - started, done


def renders_started(srv: Server) -> int:
    return srv.gate.observer.snapshot().lookups["render"]  # type: ignore[union-attr]


def resident_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(field)


@pytest.fixture
def fair(tmp_path: Path) -> Iterator[Server]:
    yield from serve(tmp_path, render_concurrency=2, variant_cache_bytes=0, memory_cache_bytes=0)


def test_a_small_cold_render_is_served_while_heavy_ones_run(fair: Server, big: bytes) -> None:
    heavy_base = upload(fair, big, "big")
    small_base = upload(fair, jpeg(800, 600), "small")
    baseline = statistics.median(timed_get(small_url(small_base))[1] for _ in range(3))

    Path("/proc/self/clear_refs").write_text("5")  # peak resident size starts again from here
    before_mb = resident_mb("VmRSS")
    heavy: list[tuple[httpx.Response, float, float]] = []
    started = renders_started(fair)
    threads = [
        threading.Thread(target=lambda: heavy.append(timed_get(heavy_url(heavy_base))))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while renders_started(fair) == started:  # a heavy render holds a slot
        assert time.monotonic() < deadline, "no heavy render started"
        time.sleep(0.01)
    small, small_took, small_done = timed_get(small_url(small_base))
    for thread in threads:
        thread.join(timeout=300)
    peak_mb = resident_mb("VmHWM")

    assert small.status_code == 200 and dimensions(small.content) == (200, 150)
    assert [r.status_code for r, *_ in heavy] == [200] * 4
    assert dimensions(heavy[0][0].content) == (5000, 5000)  # 6000² asked, shrunk to 25 MP
    finished = sorted(done for *_, done in heavy)
    # Served before the heavy renders queued ahead of it, not behind them...
    assert small_done < finished[1], (small_took, [round(t - small_done, 2) for t in finished])
    # ...and in a time of the order of its own cost, not of theirs.
    assert small_took < min(took for _, took, _ in heavy), (small_took, baseline)
    assert peak_mb - before_mb < 700, f"resident memory grew by {peak_mb - before_mb:.0f} MB"


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[Server]:
    yield from serve(
        tmp_path,
        render_concurrency=1,
        render_timeout=0.5,
        variant_cache_bytes=0,
        memory_cache_bytes=0,
    )


def test_a_render_over_its_budget_is_stopped_and_its_slot_freed(strict: Server, big: bytes) -> None:
    heavy_base = upload(strict, big, "big")
    small_base = upload(strict, jpeg(800, 600), "small")
    assert timed_get(small_url(small_base))[0].status_code == 200
    for _ in range(2):  # and again: a cancelled render is not remembered
        r, took, _ = timed_get(heavy_url(heavy_base, ",f=webp"))
        assert r.status_code == 503, r.text
        assert r.text == "ERROR 9422: The image took too long to render; retry shortly"
        assert r.headers["retry-after"] == "1" and r.headers["cache-control"] == "no-store"
        assert r.headers["cf-resized"] == "err=9422"
        assert took < 0.5 + 5, took  # stopped near its deadline, not run to the end
        # The one render slot is free again: a small render goes through at once.
        small, _, _ = timed_get(small_url(small_base))
        assert small.status_code == 200 and dimensions(small.content) == (200, 150)
    processor = strict.gate.delivery.processor  # type: ignore[union-attr]
    assert processor.watchdog.watching == 0  # type: ignore[attr-defined]
