"""Accounts are separate: nothing of one is reachable with another's token or key."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness import Server, add_account, jpeg, serve_account
from imagegate.core.signing import sign_url
from imagegate.settings import Settings


@pytest.fixture
def two(settings: Settings) -> Iterator[tuple[Server, Server]]:
    """One server, seen as each of two accounts, ``a`` and ``b``."""
    with serve_account(settings, name="a") as a:
        yield a, add_account(a, "b")


def test_another_accounts_token_reaches_nothing(two: tuple[Server, Server]) -> None:
    a, b = two
    a_api = f"{a.base_url}/accounts/{a.account_id}/images/v1"
    as_a = {"Authorization": f"Bearer {a.api_token}"}
    as_b = {"Authorization": f"Bearer {b.api_token}"}
    r = httpx.post(
        a_api,
        headers=as_a,
        files={"file": ("x.jpg", jpeg(64, 64))},
        data={"id": "mine", "requireSignedURLs": "true"},
    )
    assert r.status_code == 200
    for method, path in [
        ("GET", ""),
        ("GET", "/mine"),
        ("GET", "/mine/blob"),
        ("PATCH", "/mine"),
        ("DELETE", "/mine"),
        ("GET", "/keys"),
        ("PUT", "/keys/evil"),
        ("DELETE", "/keys/default"),
        ("GET", "/variants"),
        ("GET", "/variants/public"),
        ("GET", "/mine/signed_url"),
        ("PATCH", "/config"),
    ]:
        kwargs = {"json": {}} if method == "PATCH" else {}
        denied = httpx.request(method, a_api + path, headers=as_b, **kwargs)
        assert denied.status_code == 403, (method, path, denied.text)
        assert denied.json()["errors"][0]["code"] == 5403
    assert httpx.get(f"{a_api}/mine", headers=as_a).status_code == 200


def test_another_accounts_key_or_hash_reaches_nothing(
    two: tuple[Server, Server],
) -> None:
    a, b = two
    a_api = f"{a.base_url}/accounts/{a.account_id}/images/v1"
    httpx.post(
        a_api,
        headers={"Authorization": f"Bearer {a.api_token}"},
        files={"file": ("x.jpg", jpeg(64, 64))},
        data={"id": "mine", "requireSignedURLs": "true"},
    )
    a_url = f"{a.base_url}/{a.account_hash}/mine/public"
    assert httpx.get(sign_url(a_url, a.signing_key, 60)).status_code == 200
    assert httpx.get(sign_url(a_url, b.signing_key, 60)).status_code == 403
    b_url = f"{b.base_url}/{b.account_hash}/mine/public"
    r = httpx.get(sign_url(b_url, b.signing_key, 60))
    assert (r.status_code, r.text) == (404, "ERROR 9431: Not found")
