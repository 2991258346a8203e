"""AVIF without the wait, over real HTTP: a negotiated AVIF that no cache holds is answered
at once with its stand-in (WebP, or JPEG for a client that takes no WebP) under a short
``max-age``, and encoded in the background; the next request gets the AVIF. The setting
off, private images, load, a changed variant and the shared tier of two nodes."""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness import Server, dimensions, image_format, in_process, jpeg, serve_account
from imagegate.core.models import Format
from imagegate.core.signing import sign_url
from imagegate.settings import Settings
from imagegate.usecases.avif_later import AvifLater
from imagegate.usecases.offload import Offload
from imagegate.usecases.records import CacheKey
from s3server import SeaweedFS

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
AVIF_OR_JPEG = "image/avif,image/jpeg"
TWO_DAYS = "public, max-age=172800, stale-while-revalidate=7200"


def upload(srv: Server, image_id: str, *, private: bool = False, side: int = 1600) -> str:
    with srv.client() as c:
        r = c.post(
            srv.images_url,
            files={"file": ("p.jpg", jpeg(side, side * 3 // 4))},
            data={"id": image_id, "requireSignedURLs": "true" if private else "false"},
        )
        assert r.status_code == 200, r.text
        made = c.post(
            f"{srv.images_url}/variants",
            json={"id": "card", "options": {"fit": "scale-down", "width": 400, "height": 400}},
        )
        assert made.status_code in (200, 409), made.text
    return f"/{srv.account_hash}/{image_id}/card"


def later(srv: Server) -> AvifLater:
    assert srv.gate is not None
    return srv.gate.delivery.avif_later


def settle(srv: Server) -> None:
    """The background encodes are done (and, with a shared tier, written to it)."""
    assert later(srv).drain(30)
    assert srv.gate is not None
    shared = srv.gate.delivery.caches.shared
    if shared is not None:
        assert shared.drain(10)


def max_age(r: httpx.Response) -> int:
    found = re.search(r"max-age=(\d+)", r.headers["cache-control"])
    assert found is not None
    return int(found.group(1))


def test_first_view_gets_webp_at_once_then_avif(server: Server) -> None:
    url = server.base_url + upload(server, "photo")
    first = httpx.get(url, headers={"Accept": CHROME})
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/webp"
    assert image_format(first.content) == "webp"
    assert dimensions(first.content) == (400, 300)
    assert first.headers["cache-control"] == "public, max-age=60"
    assert first.headers["vary"] == "Accept"
    assert later(server).offered == 1

    settle(server)
    assert later(server).done == 1
    second = httpx.get(url, headers={"Accept": CHROME})
    assert second.status_code == 200
    assert second.headers["content-type"] == "image/avif"
    assert image_format(second.content) == "heif"
    assert dimensions(second.content) == (400, 300)
    assert second.headers["cache-control"] == TWO_DAYS
    assert second.headers["vary"] == "Accept"
    assert second.headers["etag"] != first.headers["etag"]
    assert later(server).offered == 1  # nothing more to encode

    # Each validator revalidates what it names: the stand-in's (while the AVIF is made)
    # gets the AVIF now, the AVIF's gets a 304.
    stale = httpx.get(url, headers={"Accept": CHROME, "If-None-Match": first.headers["etag"]})
    assert stale.status_code == 200 and stale.headers["content-type"] == "image/avif"
    fresh = httpx.get(url, headers={"Accept": CHROME, "If-None-Match": second.headers["etag"]})
    assert fresh.status_code == 304 and fresh.headers["cache-control"] == TWO_DAYS


def test_concurrent_first_views_share_one_background_encode(server: Server) -> None:
    url = server.base_url + upload(server, "busy")

    async def views() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            return list(
                await asyncio.gather(
                    *(client.get(url, headers={"Accept": CHROME}) for _ in range(8))
                )
            )

    replies = asyncio.run(views())
    assert all(r.status_code == 200 for r in replies)
    settle(server)
    assert later(server).offered + later(server).shed >= 1
    assert later(server).done == 1  # one encode for the variant, whoever asked


def test_a_client_without_webp_gets_jpeg_meanwhile(server: Server) -> None:
    url = server.base_url + upload(server, "photo")
    first = httpx.get(url, headers={"Accept": AVIF_OR_JPEG})
    assert first.headers["content-type"] == "image/jpeg"
    assert image_format(first.content) == "jpeg"
    assert first.headers["cache-control"] == "public, max-age=60"
    assert first.headers["vary"] == "Accept"
    settle(server)
    second = httpx.get(url, headers={"Accept": AVIF_OR_JPEG})
    assert second.headers["content-type"] == "image/avif"
    assert second.headers["cache-control"] == TWO_DAYS


def test_a_format_in_the_options_is_waited_for(server: Server) -> None:
    gate, account = in_process(server)
    gate.accounts.configure(account, flexible_variants=True)
    upload(server, "photo")
    r = httpx.get(f"{server.base_url}/{server.account_hash}/photo/w=300,f=avif")
    assert r.headers["content-type"] == "image/avif"
    assert r.headers["cache-control"] == TWO_DAYS
    assert later(server).offered == 0


def test_the_setting_off_gives_avif_on_the_first_view(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", avif_fallback=False)
    with serve_account(settings) as srv:
        url = srv.base_url + upload(srv, "photo")
        first = httpx.get(url, headers={"Accept": CHROME})
        assert first.headers["content-type"] == "image/avif"
        assert first.headers["cache-control"] == TWO_DAYS
        assert first.headers["vary"] == "Accept"
        assert later(srv).offered == 0


def test_a_private_images_stand_in_stays_private(server: Server) -> None:
    path = upload(server, "secret", private=True)
    signed = server.base_url + sign_url(path, server.signing_key, 3600)
    first = httpx.get(signed, headers={"Accept": CHROME})
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/webp"
    assert first.headers["cache-control"] == "private, max-age=60"
    soon = server.base_url + sign_url(path, server.signing_key, 30)
    short = httpx.get(soon, headers={"Accept": CHROME})
    assert short.headers["cache-control"].startswith("private, max-age=")
    assert max_age(short) <= 30
    assert httpx.get(server.base_url + path, headers={"Accept": CHROME}).status_code == 403

    settle(server)
    avif = httpx.get(signed, headers={"Accept": CHROME})
    assert avif.headers["content-type"] == "image/avif"
    assert avif.headers["cache-control"].startswith("private, max-age=")
    assert 60 < max_age(avif) <= 3600
    assert httpx.get(server.base_url + path, headers={"Accept": CHROME}).status_code == 403


def test_a_changed_variant_never_serves_a_stale_avif(server: Server) -> None:
    url = server.base_url + upload(server, "photo")
    httpx.get(url, headers={"Accept": CHROME})
    settle(server)
    avif = httpx.get(url, headers={"Accept": CHROME})
    assert avif.headers["content-type"] == "image/avif"
    assert dimensions(avif.content) == (400, 300)

    with server.client() as c:
        changed = c.patch(
            f"{server.images_url}/variants/card",
            json={"options": {"fit": "scale-down", "width": 200, "height": 200}},
        )
        assert changed.status_code == 200, changed.text
    after = httpx.get(url, headers={"Accept": CHROME})
    assert after.headers["content-type"] == "image/webp"  # the new AVIF is not made yet
    assert dimensions(after.content) == (200, 150)
    settle(server)
    avif = httpx.get(url, headers={"Accept": CHROME})
    assert avif.headers["content-type"] == "image/avif"
    assert dimensions(avif.content) == (200, 150)


# --- load -------------------------------------------------------------------------------------


@pytest.fixture
def tight(settings: Settings) -> Iterator[Server]:
    settings = settings.model_copy(update={"render_concurrency": 1, "render_queue": 2})
    with serve_account(settings, name="t", flexible=True) as srv:
        yield srv


def test_under_load_background_encodes_are_shed(tight: Server) -> None:
    base = f"{tight.base_url}/{tight.account_hash}"
    with tight.client() as c:
        c.post(tight.images_url, files={"file": ("a.jpg", jpeg(3000, 2000))}, data={"id": "big"})
    small = [f"{base}/big/w={100 + n}" for n in range(6)]
    for url in small:  # their stand-ins are cached: only the AVIFs are not
        assert httpx.get(url, headers={"Accept": "image/webp"}).status_code == 200

    async def burst() -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with httpx.AsyncClient(timeout=120) as client:
            cold = [client.get(f"{base}/big/w={1000 + n},q=80") for n in range(24)]
            renders = asyncio.gather(*cold)
            await asyncio.sleep(0.05)
            views = [await client.get(url, headers={"Accept": CHROME}) for url in small]
            return list(await renders), views

    renders, views = asyncio.run(burst())
    assert any(r.status_code == 503 for r in renders)  # the render queue was full
    for view in views:  # the stand-ins, from the cache
        assert view.status_code == 200 and view.headers["content-type"] == "image/webp"
    shed = later(tight).shed
    assert shed >= 1
    settle(tight)
    assert later(tight).done + shed == len(small)  # each one encoded, or shed: none waits on
    assert later(tight).waiting == 0


def test_the_queue_is_bounded_and_encodes_never_take_a_render_slot() -> None:
    """The queue directly: at most ``max_pending`` wait; offers past it, or while a render
    waits for a slot, are dropped; and an encode running holds no render slot."""
    offload = Offload(io_threads=2, render_slots=1, render_queue=4)
    release, started = threading.Event(), threading.Event()
    encoded: list[CacheKey] = []

    def encode(plan: object) -> None:
        started.set()
        release.wait(10)
        encoded.append(plan.key)  # type: ignore[attr-defined]

    queue = AvifLater(encode, busy=offload.renders_waiting, max_pending=3)

    class P:  # only the key of a plan matters here
        def __init__(self, n: int) -> None:
            self.key = CacheKey("a", "i", f"v{n}", "d", Format.AVIF)

    assert queue.offer(P(0))  # type: ignore[arg-type]
    assert started.wait(10)  # running, and holding no render slot:

    async def foreground() -> str:
        return await offload.render(lambda: "rendered")

    assert asyncio.run(asyncio.wait_for(foreground(), 5)) == "rendered"

    async def while_renders_wait() -> bool:
        gate = threading.Event()
        holders = [
            asyncio.ensure_future(offload.render(gate.wait, 10)),
            asyncio.ensure_future(offload.render(gate.wait, 10)),
        ]
        await asyncio.sleep(0.1)
        assert offload.renders_waiting()
        refused = queue.offer(P(9))  # type: ignore[arg-type]
        gate.set()
        await asyncio.gather(*holders)
        return refused

    assert asyncio.run(while_renders_wait()) is False
    assert queue.shed == 1

    assert queue.offer(P(0))  # type: ignore[arg-type]  # already in: not twice
    assert [queue.offer(P(n)) for n in range(1, 6)] == [True, True, True, False, False]  # type: ignore[arg-type]
    assert queue.waiting == 3 and queue.shed == 3

    release.set()
    assert queue.drain(10)
    assert len(encoded) == 4 and queue.done == 4


# --- two nodes on one bucket ------------------------------------------------------------------


@pytest.fixture
def two_nodes(tmp_path: Path, s3: SeaweedFS, seaweed: SeaweedFS) -> Iterator[tuple[Server, Server]]:
    from harness import serve_in_thread

    seaweed.start()
    blob_url = f"s3://{seaweed.bucket('avif')}/node-{secrets.token_hex(4)}"
    settings_a = Settings(data_dir=tmp_path / "a", blob_url=blob_url, metadata_cache_ttl=0)
    with serve_account(settings_a) as a:
        settings_b = Settings(
            data_dir=tmp_path / "b",
            blob_url=blob_url,
            database_url=settings_a.resolved_database_url(),
            metadata_cache_ttl=0,
        )
        with serve_in_thread(settings_b) as b:
            yield a, b


def test_an_avif_encoded_on_one_node_is_served_by_another(
    two_nodes: tuple[Server, Server],
) -> None:
    a, b = two_nodes
    path = upload(a, "shared")
    assert (
        httpx.get(a.base_url + path, headers={"Accept": CHROME}).headers["content-type"]
        == "image/webp"
    )
    settle(a)
    on_b = httpx.get(b.base_url + path, headers={"Accept": CHROME})
    assert on_b.headers["content-type"] == "image/avif"  # from the shared tier
    assert on_b.headers["cache-control"] == TWO_DAYS
    assert later(b).offered == 0
    assert b.gate is not None and b.gate.observer.snapshot().lookups["shared_hit"] == 1
