"""What a variant serves is what its options made, never the original passed through.

A private image behind an always-public variant (``neverRequireSignedURLs``: a small blurred
preview with no metadata) must give out only that preview, whatever the original is: an
animation too large to transform whole, an SVG, a format the options do not keep. Over real
HTTP, on the delivery path and the dashboard's own renders; every answer is probed (type,
size, frames, metadata), never compared as bytes.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dashboard.helpers import Browserish, dashboard_server
from harness import Server, dimensions, image_format
from imagegate.core.signing import sign_url
from render_samples import animation, fields, frames_of, has_gps, located, save

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
ACCEPTS = ["", "image/webp,*/*", CHROME, "image/gif"]
MEDIA = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
MEDIA |= {"heif": "image/avif", "svg": "image/svg+xml"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with dashboard_server(tmp_path_factory.mktemp("integrity") / "data") as server:
        with server.client() as c:
            assert c.patch(f"{server.images_url}/config", json={"flexible_variants": True})
            preview = {
                "id": "blurry",
                "options": {"fit": "cover", "width": 16, "height": 16, "metadata": "none"},
                "neverRequireSignedURLs": True,
            }
            preview["options"]["blur"] = 20  # type: ignore[index]
            assert c.post(f"{server.images_url}/variants", json=preview).status_code == 200
        yield server


@pytest.fixture(scope="module")
def big_animations() -> dict[str, bytes]:
    """2000x2000 x 13 frames: 52 MP of animation, over the 50 MP that can be transformed
    whole; the WebP also says where it was made (EXIF GPS and XMP)."""
    strip = animation(2000, 2000, 13)
    return {
        "gif": save(strip, "gif"),
        "webp": save(located(strip), "webp", lossless=True, effort=0),
    }


def upload_private(srv: Server, data: bytes, image_id: str) -> str:
    with srv.client() as c:
        r = c.post(
            srv.images_url,
            files={"file": ("f", data)},
            data={"id": image_id, "requireSignedURLs": "true"},
        )
    assert r.status_code == 200, r.text
    return f"/{srv.account_hash}/{image_id}"


def assert_made_by_the_options(
    r: httpx.Response, size: tuple[int, int], *, bare: bool = True
) -> None:
    """Rendered, as the options asked: the size, one frame, the type it says, no place and
    no camera (and no metadata at all if ``bare``)."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MEDIA[image_format(r.content)]
    assert dimensions(r.content) == size
    assert frames_of(r.content) == 1
    assert not has_gps(r.content) and b"Canon" not in r.content
    found = fields(r.content)
    assert "xmp-data" not in found
    assert not bare or not any(name.startswith("exif-") for name in found)


@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_a_big_private_animation_never_leaks_through_a_public_preview(
    srv: Server, big_animations: dict[str, bytes], fmt: str
) -> None:
    path = upload_private(srv, big_animations[fmt], f"big-{fmt}")
    assert httpx.get(srv.url(f"{path}/public")).status_code == 403  # private indeed
    for accept in ACCEPTS:
        r = httpx.get(srv.url(f"{path}/blurry"), headers={"Accept": accept})
        assert_made_by_the_options(r, (16, 16))
        assert r.headers["cache-control"].startswith("public")


@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_a_big_animation_is_transformed_on_every_path(
    srv: Server, big_animations: dict[str, bytes], fmt: str
) -> None:
    """Signed flexible variants, a format forced in the options, the dashboard's grid and its
    variant preview: each gives what it asked for, from the first frame."""
    path = upload_private(srv, big_animations[fmt], f"every-{fmt}")
    for options, size in [
        ("w=40,h=30,fit=cover,metadata=none", (40, 30)),
        ("w=50,anim=true,f=webp", (50, 50)),
        ("w=50,anim=true,f=gif,metadata=copyright", (50, 50)),
        ("w=64,blur=5,metadata=none", (64, 64)),
    ]:
        r = httpx.get(sign_url(srv.url(f"{path}/{options}"), srv.signing_key, 60))
        assert_made_by_the_options(r, size, bare="metadata=none" in options)
    dash = Browserish(srv)
    try:
        assert dash.sign_in().status_code == 303
        image_id = f"every-{fmt}"
        assert_made_by_the_options(dash.http.get(f"/dashboard/thumb?id={image_id}"), (240, 240))
        preview = dash.http.get(
            "/dashboard/preview",
            params={"id": image_id, "variant": "blurry", "width": "20", "height": "20"},
        )
        assert_made_by_the_options(preview, (20, 20))
    finally:
        dash.close()


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200">'
    b"<metadata>Jane Doe, 51.5074N 0.1278W</metadata><title>Map</title>"
    b'<rect width="300" height="200" fill="#2060c0"/></svg>'
)


def test_an_svg_never_leaves_through_a_variant_that_transforms_it(srv: Server) -> None:
    """An SVG cannot be made small or blurred without drawing it, which imagegate does not do
    (librsvg can be neither stopped nor bounded): such variants answer 415, public image
    or private, and no byte of the drawing."""
    private = upload_private(srv, SVG, "drawing")
    with srv.client() as c:
        r = c.post(srv.images_url, files={"file": ("f.svg", SVG)}, data={"id": "open-drawing"})
    assert r.status_code == 200
    public = f"/{srv.account_hash}/open-drawing"
    for url in [
        *(srv.url(f"{path}/blurry") for path in (private, public)),
        sign_url(srv.url(f"{private}/w=100,h=100,fit=pad"), srv.signing_key, 60),
        sign_url(srv.url(f"{private}/f=png"), srv.signing_key, 60),
        srv.url(f"{public}/w=20"),
    ]:
        for accept in ACCEPTS:
            r = httpx.get(url, headers={"Accept": accept})
            assert r.status_code == 415, (url, r.text)
            assert r.text.startswith("ERROR 9412: An SVG is served only at its own size")
            assert b"Jane Doe" not in r.content and b"<rect" not in r.content
    dash = Browserish(srv)
    try:
        assert dash.sign_in().status_code == 303
        thumb = dash.http.get("/dashboard/thumb?id=drawing")  # the owner's grid: the drawing
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/svg+xml"
        assert b"<rect" in thumb.content and b"Jane Doe" not in thumb.content
        preview = dash.http.get("/dashboard/preview", params={"id": "drawing", "width": "20"})
        assert preview.status_code == 415
    finally:
        dash.close()


@pytest.mark.parametrize(
    ("options", "kept"), [("metadata=keep", True), ("metadata=none", False), ("public", False)]
)
def test_an_svg_at_its_own_size_stays_svg_without_its_metadata(
    srv: Server, options: str, kept: bool
) -> None:
    path = upload_private(srv, SVG, f"vector-{options}")
    r = httpx.get(sign_url(srv.url(f"{path}/{options}"), srv.signing_key, 60))
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    assert b"<rect" in r.content and b"<title>Map</title>" in r.content
    assert (b"Jane Doe" in r.content) is kept
