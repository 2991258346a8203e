"""Delivery over real HTTP: who gets a private image, and what everyone else gets."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from harness import Server, dimensions, jpeg, raw_request
from imagegate.core.signing import sign_url

DENIED = "ERROR 9425: Image access denied"


def setup_private(srv: Server, image_id: str = "secret/photo.jpg") -> str:
    with srv.client() as c:
        r = c.post(
            srv.images_url,
            files={"file": ("p.jpg", jpeg(800, 600))},
            data={"id": image_id, "requireSignedURLs": "true"},
        )
        assert r.status_code == 200, r.text
        for name, fit, public in (("thumb", "cover", False), ("blurred", "scale-down", True)):
            v = c.post(
                f"{srv.images_url}/variants",
                json={
                    "id": name,
                    "options": {"fit": fit, "width": 100, "height": 100},
                    "neverRequireSignedURLs": public,
                },
            )
            assert v.status_code == 200, v.text
    return f"{srv.base_url}/{srv.account_hash}/{image_id}"


def assert_denied(r: httpx.Response, body: bool = True) -> None:
    assert r.status_code == 403
    assert r.headers["cf-resized"] == "err=9425"
    assert r.headers["cache-control"] == "no-store"
    if body:
        assert r.text == DENIED
        assert r.headers["content-type"].startswith("text/plain")


def test_signed_url_serves_and_unsigned_is_denied(server: Server) -> None:
    base = setup_private(server)
    assert_denied(httpx.get(f"{base}/thumb"))
    r = httpx.get(sign_url(f"{base}/thumb", server.signing_key, 3600))
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert dimensions(r.content) == (100, 100)


def test_private_cache_lifetime_never_outlives_exp(server: Server) -> None:
    base = setup_private(server)
    r = httpx.get(sign_url(f"{base}/thumb", server.signing_key, 120))
    assert r.status_code == 200
    control = r.headers["cache-control"]
    assert control.startswith("private")
    assert 0 <= int(re.search(r"max-age=(\d+)", control).group(1)) <= 120  # type: ignore[union-attr]


def test_never_require_variant_is_the_only_unsigned_way_in(server: Server) -> None:
    base = setup_private(server)
    r = httpx.get(f"{base}/blurred")
    assert r.status_code == 200 and dimensions(r.content) == (100, 75)
    assert r.headers["cache-control"].startswith("public")
    for variant in ("thumb", "public"):
        assert_denied(httpx.get(f"{base}/{variant}"))
        assert_denied(httpx.head(f"{base}/{variant}"), body=False)
        assert_denied(httpx.get(f"{base}/{variant}", headers={"Range": "bytes=0-10"}))
    assert httpx.get(f"{server.images_url}/secret%2Fphoto.jpg/blob").status_code == 401


def test_both_path_forms_each_signed_over_their_own_path(server: Server) -> None:
    setup_private(server)
    plain = f"{server.base_url}/{server.account_hash}/secret/photo.jpg/thumb"
    cdn = f"{server.base_url}/cdn-cgi/imagedelivery/{server.account_hash}/secret/photo.jpg/thumb"
    signed_plain = sign_url(plain, server.signing_key, 600)
    signed_cdn = sign_url(cdn, server.signing_key, 600)
    assert httpx.get(signed_plain).status_code == 200
    assert httpx.get(signed_cdn).status_code == 200
    assert_denied(httpx.get(cdn + "?" + signed_plain.split("?", 1)[1]))
    assert_denied(httpx.get(plain + "?" + signed_cdn.split("?", 1)[1]))


def test_head_with_signature_has_headers_and_no_body(server: Server) -> None:
    base = setup_private(server)
    r = httpx.head(sign_url(f"{base}/thumb", server.signing_key, 600))
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) > 0


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda u: u.split("?")[0], "no query"),
        (lambda u: re.sub(r"&sig=[0-9a-f]+", "", u), "no sig"),
        (lambda u: re.sub(r"exp=\d+&", "", u), "no exp"),
        (lambda u: re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 1}", u), "exp moved"),
        (lambda u: u.replace("&sig=", "&sig=0"), "sig too long"),
        (lambda u: re.sub(r"sig=([0-9a-f]+)", lambda m: "sig=" + m.group(1).upper(), u), "upper"),
        (lambda u: u + "&sig=" + "0" * 64, "repeated sig"),
        (lambda u: u.replace("?", "?exp=99999999999&", 1), "repeated exp"),
        (lambda u: u + "&w=9000", "param after sig"),
        (lambda u: u.replace("/thumb?", "/public?"), "other variant"),
        (lambda u: u.replace("exp=", "exp[]="), "array exp"),
        (lambda u: u.replace("&sig=", ";sig="), "semicolon"),
    ],
)
def test_every_tampered_url_gets_the_same_answer(server: Server, mutate, why: str) -> None:
    base = setup_private(server)
    url = sign_url(f"{base}/thumb", server.signing_key, 600)
    assert httpx.get(url).status_code == 200
    assert_denied(httpx.get(mutate(url)))


def test_expired_url_is_denied_like_any_other(server: Server) -> None:
    base = setup_private(server)
    now = int(time.time())
    assert_denied(httpx.get(sign_url(f"{base}/thumb", server.signing_key, exp=now - 1)))
    fresh = sign_url(f"{base}/thumb", server.signing_key, exp=now + 2)
    assert httpx.get(fresh).status_code == 200
    time.sleep(3.1)
    assert_denied(httpx.get(fresh))


def test_keys_rotate_and_a_deleted_key_stops_verifying(server: Server) -> None:
    base = setup_private(server)
    with server.client() as c:
        keys = c.put(f"{server.images_url}/keys/next").json()["result"]["keys"]
        new_key = {k["name"]: k["value"] for k in keys}["next"]
        old_url = sign_url(f"{base}/thumb", server.signing_key, 600)
        new_url = sign_url(f"{base}/thumb", new_key, 600)
        assert httpx.get(old_url).status_code == 200
        assert httpx.get(new_url).status_code == 200
        c.delete(f"{server.images_url}/keys/default")
        assert_denied(httpx.get(old_url))
        assert httpx.get(new_url).status_code == 200
        c.put(f"{server.images_url}/keys/next")  # regenerate: the old value stops working
        assert_denied(httpx.get(new_url))


def test_public_image_ignores_signature_parameters(server: Server) -> None:
    with server.client() as c:
        c.post(server.images_url, files={"file": ("p.jpg", jpeg(200, 100))}, data={"id": "pub"})
    url = f"{server.base_url}/{server.account_hash}/pub/public"
    r = httpx.get(url)
    assert r.status_code == 200 and dimensions(r.content) == (200, 100)
    assert r.headers["cache-control"] == "public, max-age=172800, stale-while-revalidate=7200"
    assert httpx.get(url + "?exp=1&sig=zz").status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/{hash}/nope/public", 404, 9431),
        ("/AAAAAAAAAAAAAAAAAAAAAA/secret/photo.jpg/public", 403, 9427),
        ("/{hash}/secret/photo.jpg/nosuchvariant", 403, 9425),
        ("/{hash}/secret/./photo.jpg/thumb", 403, 9426),
        ("/{hash}/secret/../secret/photo.jpg/thumb", 403, 9426),
        ("/{hash}//secret/photo.jpg/thumb", 403, 9426),
        ("/{hash}/secret%2F..%2Fx/thumb", 403, 9426),
        ("/{hash}/%ff%fe/thumb", 403, 9426),
        ("/{hash}/secret/photo.jpg/THUMB", 403, 9425),
        ("/{hash}/secret/photo.jpg/thumb;x=1", 403, 9426),
    ],
)
def test_paths_that_name_nothing(server: Server, path: str, status: int, code: int) -> None:
    setup_private(server)
    r = raw_request(server.base_url, path.format(hash=server.account_hash))
    assert r.status == status
    assert r.text.startswith(f"ERROR {code}:")
    assert r.headers["cf-resized"] == f"err={code}"
    assert r.headers["cache-control"] == "no-store"


def test_other_methods_are_refused_on_delivery_paths(server: Server) -> None:
    base = setup_private(server)
    url = sign_url(f"{base}/thumb", server.signing_key, 600)
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        assert httpx.request(method, url).status_code in (403, 405)


def test_making_an_image_private_takes_effect_at_once(server: Server) -> None:
    with server.client() as c:
        c.post(server.images_url, files={"file": ("p.jpg", jpeg(64, 64))}, data={"id": "flip"})
        url = f"{server.base_url}/{server.account_hash}/flip/public"
        assert httpx.get(url).status_code == 200
        c.patch(f"{server.images_url}/flip", json={"requireSignedURLs": True})
        assert_denied(httpx.get(url))
        assert httpx.get(sign_url(url, server.signing_key, 60)).status_code == 200
        c.patch(f"{server.images_url}/flip", json={"requireSignedURLs": False})
        assert httpx.get(url).status_code == 200


def test_key_verification_counts_are_recorded(server: Server) -> None:
    base = setup_private(server)
    url = sign_url(f"{base}/thumb", server.signing_key, 600)
    for _ in range(3):
        assert httpx.get(url).status_code == 200
    server.gate.delivery.flush_key_usage()  # type: ignore[union-attr]
    with server.client() as c:
        keys = c.get(f"{server.images_url}/keys").json()["result"]["keys"]
    assert {k["name"]: k["verifications"] for k in keys} == {"default": 3}
