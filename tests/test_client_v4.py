"""The API under Cloudflare's base path, ``/client/v4``: the official SDK configured as its
documentation shows (``base_url`` ending in ``/client/v4``, only the host changed), and raw
HTTP for what lives there and what does not."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from cloudflare import Cloudflare

from harness import Server, dimensions, jpeg

BASE = "/client/v4"


@pytest.fixture
def cf(server: Server) -> Iterator[Cloudflare]:
    client = Cloudflare(
        api_token=server.api_token, base_url=f"{server.base_url}{BASE}", max_retries=0
    )
    yield client
    client.close()


def test_the_sdk_works_with_cloudflares_base_path(cf: Cloudflare, server: Server) -> None:
    acct = server.account_id
    created = cf.images.v1.create(
        account_id=acct,
        file=("shoe.jpg", jpeg(120, 90), "image/jpeg"),
        id="dir/shoe.jpg",
        metadata=json.dumps({"n": 3}),
        require_signed_urls=True,
    )
    assert created.id == "dir/shoe.jpg" and created.require_signed_urls is True
    got = cf.images.v1.get("dir/shoe.jpg", account_id=acct)  # sent as dir%2Fshoe.jpg
    assert got.meta == {"n": 3}
    edited = cf.images.v1.edit("dir/shoe.jpg", account_id=acct, metadata={"n": 4})
    assert edited.meta == {"n": 4}
    listed = cf.images.v2.list(account_id=acct, meta={"n[gte:number]": "4"})  # type: ignore[arg-type]
    assert [i.id for i in listed.images or []] == ["dir/shoe.jpg"]
    raw = cf.images.v1.with_raw_response.list(account_id=acct, per_page=10)
    assert [i["id"] for i in raw.http_response.json()["result"]["images"]] == ["dir/shoe.jpg"]
    assert dimensions(cf.images.v1.blobs.get("dir/shoe.jpg", account_id=acct).read()) == (120, 90)
    assert cf.images.v1.stats.get(account_id=acct).count.current == 1  # type: ignore[union-attr]

    keys = cf.images.v1.keys.update("second", account_id=acct)
    assert {k.name for k in keys.keys or []} == {"default", "second"}
    assert {k.name for k in cf.images.v1.keys.list(account_id=acct).keys or []} == {
        "default",
        "second",
    }
    cf.images.v1.keys.delete("second", account_id=acct)

    variant = cf.images.v1.variants.create(
        account_id=acct,
        id="thumb",
        options={"fit": "cover", "metadata": "none", "width": 64, "height": 64},
    )
    assert variant.variant is not None and variant.variant.id == "thumb"
    assert cf.images.v1.variants.get("thumb", account_id=acct).variant.id == "thumb"  # type: ignore[union-attr]
    cf.images.v1.variants.edit(
        "thumb",
        account_id=acct,
        options={"fit": "contain", "metadata": "none", "width": 32, "height": 32},
    )
    assert "thumb" in json.dumps(cf.images.v1.variants.list(account_id=acct).to_dict())
    cf.images.v1.variants.delete("thumb", account_id=acct)

    draft = cf.images.v2.direct_uploads.create(account_id=acct, id="from-browser")
    assert draft.upload_url is not None and draft.upload_url.startswith(server.base_url)
    done = httpx.post(draft.upload_url, files={"file": ("b.jpg", jpeg(30, 20))})
    assert done.status_code == 200 and done.json()["result"]["id"] == "from-browser"

    cf.images.v1.delete("dir/shoe.jpg", account_id=acct)
    with pytest.raises(Exception) as info:
        cf.images.v1.get("dir/shoe.jpg", account_id=acct)
    assert getattr(info.value, "status_code", None) == 404


def test_unknown_routes_under_the_base_path_answer_7003(server: Server) -> None:
    """Nothing but the API lives under the base: every other path there, including one that
    looks like a delivery URL, the dashboard and the operational endpoints, is Cloudflare's
    JSON 7003, never a delivery error or a page."""
    with httpx.Client(base_url=server.base_url) as c:
        served = c.post(
            f"/accounts/{server.account_id}/images/v1",
            files={"file": ("a.jpg", jpeg(20, 20))},
            data={"id": "open"},
            headers={"Authorization": f"Bearer {server.api_token}"},
        )
        assert served.status_code == 200
        delivery = f"/{server.account_hash}/open/public"
        assert c.get(delivery).status_code == 200  # delivery itself is unchanged
        for path in [
            BASE,
            f"{BASE}/",
            f"{BASE}/zones",
            f"{BASE}/user/tokens/verify",
            f"{BASE}{delivery}",
            f"{BASE}/dashboard",
            f"{BASE}/healthz",
            f"{BASE}/docs",
            f"{BASE}/accounts",
            f"{BASE}/accounts/{server.account_id}/images/v9/none",
            f"{BASE}/client/v4/accounts/{server.account_id}/images/v1",
        ]:
            for method in ("GET", "POST"):
                r = c.request(method, path)
                assert r.status_code == 404, (method, path, r.text)
                assert r.headers["content-type"] == "application/json", (method, path)
                assert r.json() == {
                    "result": None,
                    "success": False,
                    "errors": [{"code": 7003, "message": "No route for the URI"}],
                    "messages": [],
                }


def test_raw_http_under_the_base_path(server: Server) -> None:
    """The same routes, rules and answers as without the base: ids with ``%2F`` are one
    segment, no token is 401, a wrong method 405, a body over the cap 413."""
    api = f"{server.base_url}{BASE}/accounts/{server.account_id}/images/v1"
    with server.client() as c:
        up = c.post(api, files={"file": ("a.jpg", jpeg(20, 20))}, data={"id": "a/b"})
        assert up.status_code == 200, up.text
        assert c.get(f"{api}/a%2Fb").json()["result"]["id"] == "a/b"
        assert c.patch(f"{api}/a%2Fb", json={"creator": "x"}).json()["result"]["creator"] == "x"
        assert c.put(f"{api}/config", json={}).json()["errors"][0]["code"] == 7000
        oversized = c.patch(f"{api}/config", content=b" " * (64 * 1024 + 1))
        assert oversized.status_code == 413 and oversized.json()["errors"][0]["code"] == 5413
        trailing = c.get(f"{api}/keys/", follow_redirects=False)
        assert trailing.headers["location"] == f"{api}/keys"
    anonymous = httpx.get(f"{api}/a%2Fb")
    assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["code"] == 10000
