"""Security cases B.24-B.29 of spec/security-cases.md: signing keys, against a running server.

Each test works in an account of its own on the module's server, since keys are per account.
"""

from __future__ import annotations

import time

import httpx
import pytest
from sec_common import (
    METRICS_AUTH,
    add_variant,
    assert_api_error,
    assert_denied,
    check,
    raw,
    upload,
)

from harness import Server, add_account, jpeg, raw_request
from imagegate.core.signing import sign_url


def private_image(srv: Server, image_id: str = "k/photo.jpg") -> str:
    upload(srv, jpeg(120, 90), id=image_id, requireSignedURLs="true")
    return f"{srv.base_url}/{srv.account_hash}/{image_id}/public"


def put_key(srv: Server, name: str) -> str:
    with srv.client() as c:
        r = c.put(f"{srv.images_url}/keys/{name}")
    assert r.status_code == 200, r.text
    return str({k["name"]: k["value"] for k in r.json()["result"]["keys"]}[name])


def key_names(srv: Server) -> list[str]:
    with srv.client() as c:
        return [k["name"] for k in c.get(f"{srv.images_url}/keys").json()["result"]["keys"]]


def test_b24_every_active_key_verifies(shared: Server) -> None:
    """B.24: with several keys, a URL signed by any of them is served; deleting one refuses
    its URLs at once in the process that deleted it, while the others keep working."""
    srv = add_account(shared, "b24")
    url = private_image(srv)
    keys = {name: put_key(srv, name) for name in ("a", "b", "c")}
    signed = {name: sign_url(url, value, 600) for name, value in keys.items()}
    signed["default"] = sign_url(url, srv.signing_key, 600)
    for link in signed.values():
        assert httpx.get(link).status_code == 200
    with srv.client() as c:
        assert c.delete(f"{srv.images_url}/keys/c").status_code == 200
    assert_denied(httpx.get(signed["c"]), srv)
    for name in ("a", "b", "default"):
        assert httpx.get(signed[name]).status_code == 200


def test_b24_a_deleted_key_is_refused_by_every_worker(cluster: Server) -> None:
    """B.24 across processes: two workers verified a key's URLs; once it is deleted, both
    refuse them (within IMAGEGATE_METADATA_CACHE_TTL, here 1 s)."""
    url = private_image(cluster, "b24/photo.jpg")
    doomed = put_key(cluster, "doomed")
    kept = put_key(cluster, "kept")
    link, other = sign_url(url, doomed, 600), sign_url(url, kept, 600)
    for _ in range(12):
        assert httpx.get(link).status_code == 200
    with cluster.client() as c:
        assert c.delete(f"{cluster.images_url}/keys/doomed").status_code == 200
    time.sleep(1.3)
    for _ in range(16):
        assert_denied(httpx.get(link), cluster)
    assert httpx.get(other).status_code == 200


def test_b25_deleting_the_last_key_generates_a_new_one(shared: Server) -> None:
    """B.25, pinned as Cloudflare's API documents it: deleting the last key generates a new
    ``default``, so an account never has zero keys and private images never open up."""
    srv = add_account(shared, "b25")
    url = private_image(srv)
    old = sign_url(url, srv.signing_key, 600)
    assert httpx.get(old).status_code == 200
    with srv.client() as c:
        r = c.delete(f"{srv.images_url}/keys/default")
    check(r, srv, secrets=False)
    keys = r.json()["result"]["keys"]
    assert [k["name"] for k in keys] == ["default"]
    assert keys[0]["value"] != srv.signing_key
    assert_denied(httpx.get(old), srv)
    assert_denied(httpx.get(url), srv)
    assert httpx.get(sign_url(url, keys[0]["value"], 600)).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 21,
        "a" * 129,
        "..%2Fx",
        "../x",
        "a%2Fb",
        "a/b",
        "a,b",
        "a%20b",
        "a%09b",
        "a%00",
        "%00",
        "caf%C3%A9",
        "%EF%BC%A1",  # fullwidth A
        "a-b",
        "a.b",
        "a%0D%0AX-Injected:%201",
    ],
)
def test_b27_key_names_are_validated(shared: Server, name: str) -> None:
    """B.27: key names are 1-20 ASCII letters and digits; anything else is refused (400, or
    404/405 where the name does not even make a route; an empty name is redirected to the
    key list, where PUT is a 405) and no key appears."""
    srv = add_account(shared, f"b27{len(name)}")
    api = f"/accounts/{srv.account_id}/images/v1/keys"
    auth = {"Authorization": f"Bearer {srv.api_token}"}
    r = raw(srv.base_url, f"{api}/{name}", method="PUT", headers=auth)
    check(r, srv)
    if r.status == 307:  # "/keys/": the framework points at "/keys", where PUT is a 405
        assert name == "" and r.headers["location"] == f"{srv.base_url}{api}"
    else:
        assert r.status in (400, 404, 405), (name, r.status, r.text)
    assert "x-injected" not in r.headers
    assert key_names(srv) == ["default"]


def test_b28_a_revoked_key_stays_revoked_whatever_its_exp(shared: Server) -> None:
    """B.28: a URL signed by a deleted key is refused, whether its exp is still ahead,
    already past, or dated before the deletion; only the server's clock and keys count."""
    srv = add_account(shared, "b28")
    url = private_image(srv)
    value = put_key(srv, "old")
    now = int(time.time())
    links = [sign_url(url, value, exp=now + 600), sign_url(url, value, exp=now + 30)]
    assert all(httpx.get(link).status_code == 200 for link in links)
    with srv.client() as c:
        assert c.delete(f"{srv.images_url}/keys/old").status_code == 200
    for link in [*links, sign_url(url, value, exp=now - 5), sign_url(url, value, exp=10**11)]:
        assert_denied(httpx.get(link), srv)


def test_b29_key_material_never_leaks(shared: Server) -> None:
    """B.29: key values and tokens are in no error body, no health, readiness, metrics or
    OpenAPI output; the key list needs a token of the account (it shows values, as
    Cloudflare's does); another account's token is refused."""
    srv = add_account(shared, "b29")
    other = add_account(shared, "b29other")
    url = private_image(srv)
    second = put_key(srv, "second")
    secrets = [srv.signing_key, second, srv.api_token, other.api_token, other.signing_key]
    good = sign_url(url, second, 60)
    keys = f"{srv.images_url}/keys"

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    answers: list[httpx.Response] = [
        httpx.get(url),
        httpx.get(good.replace("exp=", "exp=1")),
        httpx.get(sign_url(url, second[:-2], 60)),
        httpx.get(sign_url(url, second, exp=1)),
        httpx.get(keys),
        httpx.get(keys, headers=bearer("nope")),
        httpx.get(keys, headers=bearer(second)),
        httpx.get(keys, headers=bearer(other.api_token)),
        httpx.put(f"{keys}/x!", headers=bearer(srv.api_token)),
        httpx.get(f"{srv.base_url}/healthz"),
        httpx.get(f"{srv.base_url}/readyz"),
        httpx.get(f"{srv.base_url}/metrics", headers=METRICS_AUTH),
        httpx.get(f"{srv.base_url}/openapi.json"),
    ]
    statuses = [r.status_code for r in answers]
    assert statuses[:4] == [403] * 4
    assert statuses[4:7] == [401] * 3 and statuses[7] == 403
    for r in answers:
        check(r, srv)
        for secret in secrets:
            assert secret not in r.text, r.request.url
    assert_api_error(answers[4], 401, 10000)
    with srv.client() as c:
        listed = c.get(f"{srv.images_url}/keys")
    assert {k["value"] for k in listed.json()["result"]["keys"]} == {srv.signing_key, second}
    assert listed.headers["cache-control"] == "no-store"
    r = raw_request(srv.base_url, f"/accounts/{srv.account_id}/images/v1/keys")
    assert r.status == 401 and second not in r.text


def test_b29_keys_of_one_account_open_nothing_in_another(shared: Server) -> None:
    """B.29 / section 1: a key or a token of one account reaches nothing of another."""
    srv = add_account(shared, "b29a")
    other = add_account(shared, "b29b")
    add_variant(srv, "thumb")
    url = private_image(srv)
    assert_denied(httpx.get(sign_url(url, other.signing_key, 60)), srv)
    with other.client() as c:
        assert_api_error(c.get(f"{srv.images_url}/keys"), 403, 5403)
        assert_api_error(c.put(f"{srv.images_url}/keys/mine"), 403, 5403)
        assert_api_error(c.delete(f"{srv.images_url}/keys/default"), 403, 5403)
    assert key_names(srv) == ["default"]
