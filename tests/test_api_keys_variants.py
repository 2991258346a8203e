"""Signing keys, variants, config and the signed-URL endpoint over real HTTP."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from harness import Server, dimensions, jpeg


def test_keys_list_shows_name_value_created_and_count(server: Server) -> None:
    with server.client() as c:
        keys = c.get(f"{server.images_url}/keys").json()["result"]["keys"]
    assert [k["name"] for k in keys] == ["default"]
    assert keys[0]["value"] == server.signing_key
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", keys[0]["value"])
    assert keys[0]["created"].endswith("Z") and keys[0]["verifications"] == 0


@pytest.mark.parametrize("name", ["a" * 21, "has-dash", "sp ace", "ünï", "%41"])
def test_bad_key_names_are_refused(server: Server, name: str) -> None:
    with server.client() as c:
        r = c.put(f"{server.images_url}/keys/{name}")
    assert r.status_code in (400, 404)
    assert r.json()["success"] is False


def test_key_values_are_unique_and_random(server: Server) -> None:
    with server.client() as c:
        values = set()
        for _ in range(5):
            keys = c.put(f"{server.images_url}/keys/k2").json()["result"]["keys"]
            values.add({k["name"]: k["value"] for k in keys}["k2"])
    assert len(values) == 5 and server.signing_key not in values


def test_deleting_a_missing_key_is_404(server: Server) -> None:
    with server.client() as c:
        r = c.delete(f"{server.images_url}/keys/nosuch")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == 5404


VARIANT = {"id": "card", "options": {"fit": "contain", "width": 300, "height": 200}}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({**VARIANT, "id": "bad-name"}, 400),
        ({**VARIANT, "id": "x" * 100}, 400),
        ({**VARIANT, "options": {"fit": "stretch", "width": 1, "height": 1}}, 400),
        ({**VARIANT, "options": {"fit": "cover", "width": 10.5, "height": 1}}, 400),
        ({**VARIANT, "options": {"fit": "cover", "width": 0, "height": 1}}, 400),
        ({**VARIANT, "options": {"fit": "cover", "width": 10}}, 400),
        ({**VARIANT, "options": {**VARIANT["options"], "metadata": "most"}}, 400),
        ({**VARIANT, "options": {**VARIANT["options"], "background": "red"}}, 400),
        ({"options": VARIANT["options"]}, 400),
        ({**VARIANT, "extra": 1}, 400),
    ],
)
def test_bad_variants_are_refused(server: Server, body: dict, status: int) -> None:
    with server.client() as c:
        r = c.post(f"{server.images_url}/variants", json=body)
    assert r.status_code == status, r.text
    assert r.json()["errors"][0]["code"] == 5400


def test_variant_lifecycle_and_its_effect_on_delivery(server: Server) -> None:
    with server.client() as c:
        c.post(server.images_url, files={"file": ("a.jpg", jpeg(600, 600))}, data={"id": "sq"})
        assert c.post(f"{server.images_url}/variants", json=VARIANT).status_code == 200
        assert c.post(f"{server.images_url}/variants", json=VARIANT).status_code == 409
        url = f"{server.base_url}/{server.account_hash}/sq/card"
        assert dimensions(httpx.get(url).content) == (200, 200)
        c.patch(
            f"{server.images_url}/variants/card",
            json={"options": {"fit": "pad", "width": 300, "height": 200, "background": "#000000"}},
        )
        assert dimensions(httpx.get(url).content) == (300, 200)
        variants = c.get(f"{server.images_url}/variants").json()["result"]["variants"]
        assert set(variants) == {"public", "card"}
        assert variants["card"]["options"]["background"] == "#000000"
        image = c.get(f"{server.images_url}/sq").json()["result"]
        assert sorted(image["variants"]) == sorted(
            f"{server.base_url}/{server.account_hash}/sq/{v}" for v in ("public", "card")
        )
        assert c.delete(f"{server.images_url}/variants/card").json()["result"] == {}
        assert httpx.get(url).status_code == 403
        r = c.delete(f"{server.images_url}/variants/public")
        assert r.status_code == 400 and "public" in r.json()["errors"][0]["message"]


def test_config_round_trip(server: Server) -> None:
    with server.client() as c:
        r = c.patch(f"{server.images_url}/config", json={"browser_ttl": 3600})
        assert r.json()["result"] == {
            "flexible_variants": False,
            "browser_ttl": 3600,
            "keep_gps": False,
        }
        assert c.patch(f"{server.images_url}/config", json={"browser_ttl": 5}).status_code == 400
        c.post(server.images_url, files={"file": ("a.jpg", jpeg(60, 60))}, data={"id": "ttl"})
    r = httpx.get(f"{server.base_url}/{server.account_hash}/ttl/public")
    assert "max-age=3600" in r.headers["cache-control"]


def test_signed_url_endpoint(server: Server) -> None:
    with server.client() as c:
        c.post(
            server.images_url,
            files={"file": ("a.jpg", jpeg(60, 60))},
            data={"id": "dir/ü.jpg", "requireSignedURLs": "true"},
        )
        r = c.get(
            f"{server.images_url}/dir%2F%C3%BC.jpg/signed_url",
            params={"variant": "public", "expires_in": 120},
        )
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        assert result["key"] == "default"
        assert 118 <= result["exp"] - int(time.time()) <= 120
        assert result["url"].startswith(f"{server.base_url}/{server.account_hash}/dir/%C3%BC.jpg/")
        assert httpx.get(result["url"]).status_code == 200
        missing = c.get(f"{server.images_url}/nope/signed_url")
        assert missing.status_code == 404
        no_variant = c.get(f"{server.images_url}/dir%2F%C3%BC.jpg/signed_url?variant=zzz")
        assert no_variant.status_code == 404 and no_variant.json()["errors"][0]["code"] == 5401


def test_health_and_readiness(server: Server) -> None:
    assert httpx.get(f"{server.base_url}/healthz").text == "ok"
    ready = httpx.get(f"{server.base_url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"metadata": "ok", "blobs": "ok"}}


def test_named_variants_take_the_flexible_options_too(server: Server) -> None:
    body = {
        "id": "fancy",
        "options": {
            "fit": "cover",
            "width": 120,
            "height": 80,
            "quality": 40,
            "blur": 5,
            "gravity": "0.50x1",
            "format": "webp",
            "sharpen": 1,
            "dpr": 1.5,
        },
    }
    with server.client() as c:
        r = c.post(f"{server.images_url}/variants", json=body)
        assert r.status_code == 200, r.text
        options = r.json()["result"]["variant"]["options"]
        assert options["gravity"] == "0.5x1" and options["format"] == "webp"
        c.post(server.images_url, files={"file": ("a.jpg", jpeg(600, 400))}, data={"id": "f"})
        bad = c.post(
            f"{server.images_url}/variants",
            json={**body, "id": "bad", "options": {**body["options"], "gravity": "up"}},
        )
        assert bad.status_code == 400
    out = httpx.get(f"{server.base_url}/{server.account_hash}/f/fancy")
    assert out.headers["content-type"] == "image/webp"
    assert dimensions(out.content) == (180, 120)
