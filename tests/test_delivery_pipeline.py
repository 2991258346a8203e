"""What delivery serves: formats by Accept, flexible variants, the variant cache, HTTP
caching. Over real HTTP, with real images; outputs are probed, never compared as bytes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from harness import Server, dimensions, image_format, jpeg, png
from imagegate.core.signing import sign_url

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def upload(srv: Server, data: bytes, image_id: str, private: bool = False) -> str:
    with srv.client() as c:
        r = c.post(
            srv.images_url,
            files={"file": ("f", data)},
            data={"id": image_id, "requireSignedURLs": str(private).lower()},
        )
        assert r.status_code == 200, r.text
    return f"{srv.base_url}/{srv.account_hash}/{image_id}"


def variant(srv: Server, name: str, **options: object) -> None:
    body = {"id": name, "options": {"fit": "scale-down", "width": 200, "height": 200, **options}}
    with srv.client() as c:
        assert c.post(f"{srv.images_url}/variants", json=body).status_code == 200


def flexible(srv: Server, on: bool = True) -> None:
    with srv.client() as c:
        assert c.patch(f"{srv.images_url}/config", json={"flexible_variants": on}).is_success


def events(srv: Server) -> dict[str, int]:
    return {k: v for k, v in srv.gate.observer.snapshot().lookups.items() if v}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [(CHROME, "heif"), ("image/webp,*/*", "webp"), ("*/*", "jpeg"), ("", "jpeg")],
)
def test_format_follows_accept_with_vary(server: Server, accept: str, fmt: str) -> None:
    base = upload(server, jpeg(600, 400), "photo")
    variant(server, "small")
    r = httpx.get(f"{base}/small", headers={"Accept": accept})
    if fmt == "heif":  # the first view got the stand-in while the AVIF is encoded
        assert image_format(r.content) == "webp"
        assert server.gate is not None and server.gate.delivery.avif_later.drain(30)
        r = httpx.get(f"{base}/small", headers={"Accept": accept})
    assert r.status_code == 200
    assert image_format(r.content) == fmt
    assert r.headers["vary"] == "Accept"
    expected = {"heif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg"}[fmt]
    assert r.headers["content-type"] == expected
    assert dimensions(r.content) == (200, 133)


def test_png_source_stays_png_without_webp(server: Server) -> None:
    base = upload(server, png(300, 300), "pic")
    r = httpx.get(f"{base}/public", headers={"Accept": "image/png,*/*;q=0.5"})
    assert image_format(r.content) == "png"


def test_flexible_variants_are_off_until_enabled(server: Server) -> None:
    base = upload(server, jpeg(800, 600), "flex")
    r = httpx.get(f"{base}/w=100")
    assert (r.status_code, r.text) == (
        403,
        "ERROR 9429: Flexible variants are not enabled for the account",
    )
    flexible(server)
    r = httpx.get(f"{base}/w=100,h=100,fit=cover,f=png")
    assert r.status_code == 200 and image_format(r.content) == "png"
    assert dimensions(r.content) == (100, 100)
    assert "vary" not in r.headers  # the format was named, not negotiated
    bad = httpx.get(f"{base}/w=100,zoom=3")
    assert bad.status_code == 403 and bad.text.startswith("ERROR 9426:")


def test_flexible_variants_on_private_images_are_covered_by_the_signature(server: Server) -> None:
    base = upload(server, jpeg(800, 600), "secret", private=True)
    flexible(server)
    url = f"{base}/w=300,dpr=2,q=60"
    assert httpx.get(url).status_code == 403
    signed = sign_url(url, server.signing_key, 300)
    r = httpx.get(signed, headers={"Accept": "image/jpeg"})
    assert r.status_code == 200 and dimensions(r.content) == (600, 450)
    # The options are part of the signed path: changing any one is refused.
    assert httpx.get(signed.replace("w=300", "w=301")).status_code == 403
    assert httpx.get(signed.replace("q=60", "q=61")).status_code == 403


def test_etag_and_conditional_get(server: Server) -> None:
    base = upload(server, jpeg(400, 300), "etag", private=True)
    signed = sign_url(f"{base}/public", server.signing_key, 300)
    first = httpx.get(signed, headers={"Accept": "image/webp"})
    etag = first.headers["etag"]
    assert etag.startswith('"') and len(etag) == 34
    again = httpx.get(signed, headers={"Accept": "image/webp", "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"].startswith("private")
    # A validator is no way around the signature.
    unsigned = httpx.get(f"{base}/public", headers={"If-None-Match": etag})
    assert unsigned.status_code == 403
    other = httpx.get(signed, headers={"Accept": "image/jpeg", "If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_rendered_once_then_served_from_cache(server: Server) -> None:
    base = upload(server, jpeg(800, 600), "cached")
    variant(server, "thumb")
    before = events(server).get("render", 0)
    for _ in range(5):
        assert httpx.get(f"{base}/thumb").status_code == 200
    counts = events(server)
    assert counts["render"] - before == 1
    assert counts["memory_hit"] >= 4


def test_concurrent_requests_for_a_cold_variant_render_once(server: Server) -> None:
    base = upload(server, jpeg(3000, 2000), "cold")
    variant(server, "big", width=1500, height=1500)
    before = events(server).get("render", 0)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=60) as client:
            replies = await asyncio.gather(*(client.get(f"{base}/big") for _ in range(12)))
        return [r.status_code for r in replies]

    assert asyncio.run(burst()) == [200] * 12
    assert events(server)["render"] - before == 1


def _entries(srv: Server) -> list[Path]:
    return [p for p in (srv.data_dir / "variants").rglob("*") if p.is_file()]


def test_variant_change_purges_and_rerenders(server: Server) -> None:
    base = upload(server, jpeg(800, 600), "inv")
    variant(server, "card")
    assert dimensions(httpx.get(f"{base}/card").content) == (200, 150)
    assert any("card--" in p.name for p in _entries(server))
    with server.client() as c:
        c.patch(
            f"{server.images_url}/variants/card",
            json={"options": {"fit": "scale-down", "width": 100, "height": 100}},
        )
    assert not any("card--" in p.name for p in _entries(server))
    assert dimensions(httpx.get(f"{base}/card").content) == (100, 75)


def test_image_delete_purges_its_variants(server: Server) -> None:
    base = upload(server, jpeg(400, 300), "gone")
    assert httpx.get(f"{base}/public").status_code == 200
    assert _entries(server)
    with server.client() as c:
        c.delete(f"{server.images_url}/gone")
    assert not _entries(server)
    assert httpx.get(f"{base}/public").status_code == 404


def test_access_change_purges_cached_copies(server: Server) -> None:
    base = upload(server, jpeg(400, 300), "acc")
    assert httpx.get(f"{base}/public").status_code == 200
    cached = _entries(server)
    assert cached
    with server.client() as c:
        c.patch(f"{server.images_url}/acc", json={"requireSignedURLs": True})
    assert not any(p.exists() for p in cached)
    assert httpx.get(f"{base}/public").status_code == 403


def test_same_id_reuploaded_is_never_served_stale(server: Server) -> None:
    base = upload(server, jpeg(400, 300), "again")
    assert dimensions(httpx.get(f"{base}/public").content) == (400, 300)
    with server.client() as c:
        c.delete(f"{server.images_url}/again")
    upload(server, jpeg(200, 100), "again")
    assert dimensions(httpx.get(f"{base}/public").content) == (200, 100)


def test_errors_are_never_cacheable(server: Server) -> None:
    base = upload(server, jpeg(100, 100), "err", private=True)
    for url in (
        f"{base}/public",
        f"{base}/nosuch",
        f"{server.base_url}/{server.account_hash}/x/public",
    ):
        r = httpx.get(url)
        assert r.status_code >= 400 and r.headers["cache-control"] == "no-store"
        assert "etag" not in r.headers


HOSTILE_SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     width="120" height="80" onload="alert(1)">
  <script>alert(document.cookie)</script>
  <circle cx="40" cy="40" r="30" fill="red"/>
  <image xlink:href="http://169.254.169.254/latest" width="10" height="10"/>
  <a href="javascript:alert(2)"><text x="5" y="75">hi</text></a>
</svg>"""


def test_svg_is_served_sanitised_at_its_own_size_and_never_transformed(server: Server) -> None:
    base = upload(server, HOSTILE_SVG, "drawing.svg")
    variant(server, "tiny", width=10, height=10)
    r = httpx.get(f"{base}/public", headers={"Accept": CHROME})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/svg+xml"
    body = r.content
    for hostile in (b"<script", b"onload", b"javascript:", b"169.254.169.254"):
        assert hostile not in body
    assert b"<circle" in body and b'width="120"' in body
    tiny = httpx.get(f"{base}/tiny", headers={"Accept": CHROME})
    assert tiny.status_code == 415 and tiny.text.startswith("ERROR 9412: An SVG is served")
