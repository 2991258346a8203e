"""Past its render capacity the server says 503 with Retry-After at once, instead of
queueing without bound, and goes on serving what is cached."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from harness import Server, jpeg, serve_account
from imagegate.settings import Settings


@pytest.fixture
def tight(settings: Settings) -> Iterator[Server]:
    settings = settings.model_copy(
        update={"render_concurrency": 1, "render_queue": 2, "variant_cache_bytes": 0}
    )
    with serve_account(settings, name="t", flexible=True) as srv:
        yield srv


def test_excess_renders_get_503_and_cached_ones_still_flow(tight: Server) -> None:
    with tight.client() as c:
        c.post(tight.images_url, files={"file": ("a.jpg", jpeg(3000, 2000))}, data={"id": "big"})
    base = f"{tight.base_url}/{tight.account_hash}/big"
    warm = httpx.get(f"{base}/w=64")
    assert warm.status_code == 200  # now in the memory cache

    async def burst() -> tuple[list[httpx.Response], list[int]]:
        async with httpx.AsyncClient(timeout=120) as client:
            cold = [client.get(f"{base}/w={1000 + n},q=80") for n in range(24)]
            renders = asyncio.gather(*cold)
            await asyncio.sleep(0.05)
            hot = [(await client.get(f"{base}/w=64")).status_code for _ in range(20)]
            return list(await renders), hot

    replies, hot = asyncio.run(burst())
    counts = Counter(r.status_code for r in replies)
    assert set(counts) <= {200, 503}
    assert counts[503] >= 1 and counts[200] >= 3, counts
    for r in replies:
        if r.status_code == 503:
            assert r.headers["retry-after"] == "1"
            assert r.text.startswith("ERROR 9503:")
            assert r.headers["cache-control"] == "no-store"
    assert hot == [200] * 20
