"""Where a photo was taken leaves imagegate only when its account opted in (``keep_gps``).

``metadata=keep`` keeps the camera, the copyright and the XMP, but the EXIF GPS block and
XMP naming GPS only for an account whose ``/config`` says ``keep_gps: true``; flipping the
setting takes effect at once, never serving a copy cached under the other one. Over real
HTTP: named variants, flexible variants, the dashboard's preview and settings page, with
JPEG, PNG, WebP, AVIF and HEIC originals; outputs are probed, never compared as bytes.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dashboard.helpers import Browserish, csrf_of, dashboard_server
from harness import Server, image_format
from render_samples import XMP_PLAIN, fields, gradient, has_gps, located, save, sources_with_gps

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
#: Accept headers that bring each output format: the original's own, WebP, AVIF.
ACCEPTS = {"own": "", "webp": "image/webp,*/*", "avif": CHROME}


@pytest.fixture(scope="module")
def sources() -> dict[str, bytes]:
    return sources_with_gps()


@pytest.fixture
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with dashboard_server(tmp_path_factory.mktemp("gps") / "data") as server:
        with server.client() as c:
            r = c.patch(f"{server.images_url}/config", json={"flexible_variants": True})
            assert r.status_code == 200, r.text
            body = {"id": "full", "options": {"fit": "scale-down", "width": 200, "height": 200}}
            body["options"]["metadata"] = "keep"  # type: ignore[index]
            assert c.post(f"{server.images_url}/variants", json=body).status_code == 200
        yield server


def upload(srv: Server, data: bytes, image_id: str) -> str:
    with srv.client() as c:
        r = c.post(srv.images_url, files={"file": ("f", data)}, data={"id": image_id})
    assert r.status_code == 200, r.text
    return f"{srv.base_url}/{srv.account_hash}/{image_id}"


def set_keep_gps(srv: Server, on: bool) -> None:
    with srv.client() as c:
        r = c.patch(f"{srv.images_url}/config", json={"keep_gps": on})
        assert r.status_code == 200, r.text
        assert r.json()["result"]["keep_gps"] is on
        assert c.get(f"{srv.images_url}/config").json()["result"]["keep_gps"] is on


def kept_but_placeless(data: bytes) -> None:
    """``keep`` kept the camera and the copyright, and gave out no place."""
    assert not has_gps(data)
    assert b"Canon" in data and b"Jane Doe" in data


def test_keep_gives_out_gps_only_after_the_account_opts_in(
    srv: Server, sources: dict[str, bytes]
) -> None:
    urls = []
    for fmt, data in sources.items():
        base = upload(srv, data, f"photo-{fmt}")
        urls += [f"{base}/full", f"{base}/w=120,metadata=keep"]
    with httpx.Client() as http:

        def every_answer() -> Iterator[bytes]:
            for url in urls:
                for accept in ACCEPTS.values():
                    r = http.get(url, headers={"Accept": accept})
                    assert r.status_code == 200, (url, r.text)
                    yield r.content
                    if r.headers["content-type"] != "image/avif" and "avif" in accept:
                        # that was the stand-in served while the AVIF is encoded: now the AVIF
                        assert srv.gate is not None and srv.gate.delivery.avif_later.drain(30)
                        r = http.get(url, headers={"Accept": accept})
                        yield r.content

        formats = set()
        for data in every_answer():  # off by default
            kept_but_placeless(data)
            formats.add(image_format(data))
        assert formats >= {"jpeg", "png", "webp", "heif"}
        set_keep_gps(srv, True)
        for data in every_answer():  # the same URLs: no copy cached without GPS is served
            assert has_gps(data) and b"Canon" in data
        set_keep_gps(srv, False)
        for data in every_answer():  # and back: none cached with GPS is served either
            kept_but_placeless(data)


def test_other_metadata_modes_never_give_out_gps(srv: Server, sources: dict[str, bytes]) -> None:
    set_keep_gps(srv, True)
    base = upload(srv, sources["jpeg"], "strict")
    for options in ("w=120", "w=120,metadata=copyright", "w=120,metadata=none", "public"):
        r = httpx.get(f"{base}/{options}")
        assert r.status_code == 200 and not has_gps(r.content)
        assert b"Canon" not in r.content


def test_xmp_without_a_place_is_kept(srv: Server) -> None:
    image = located(gradient(300, 200), xmp=XMP_PLAIN)
    base = upload(srv, save(image, "jpeg"), "plain-xmp")
    r = httpx.get(f"{base}/full")
    found = fields(r.content)
    assert b"Jane Doe" in bytes(found["xmp-data"])
    assert not has_gps(r.content)


def test_the_dashboard_preview_follows_the_setting_made_on_the_settings_page(
    srv: Server, sources: dict[str, bytes]
) -> None:
    upload(srv, sources["webp"], "dash-photo")
    page = Browserish(srv)
    try:
        assert page.sign_in().status_code == 303

        def preview() -> bytes:
            params = {"id": "dash-photo", "variant": "full", "metadata": "keep"}
            r = page.http.get("/dashboard/preview", params=params)
            assert r.status_code == 200, r.text
            return r.content

        def save_settings(**extra: str) -> None:
            settings = page.http.get("/dashboard/settings")
            assert 'name="keep_gps"' in settings.text
            form = {"csrf_token": csrf_of(settings.text), "browser_ttl": "172800", **extra}
            assert page.post("/dashboard/settings", form).status_code == 303

        kept_but_placeless(preview())
        save_settings(keep_gps="on")
        assert "checked" in page.http.get("/dashboard/settings").text.split('name="keep_gps"')[1]
        assert has_gps(preview())
        save_settings()
        kept_but_placeless(preview())
    finally:
        page.close()
