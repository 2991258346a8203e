"""Key values need the edit scope, and a token that does not expire: a key (and every URL
signed with it) outlives any token that reads it. Every path that reveals or uses key
material is checked, on the API and in the dashboard, against a running server."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import httpx
import pytest
from cloudflare import Cloudflare
from cloudflare.types.images.v1 import KeyListResponse

from dashboard.helpers import ADMIN_PASSWORD, Browserish, csrf_of, dashboard_server
from harness import Server, jpeg
from imagegate.core.models import Scope


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with an admin password and a private image; tests change no keys."""
    with dashboard_server(tmp_path_factory.mktemp("keys") / "data") as server:
        with server.client() as c:
            r = c.post(
                server.images_url,
                files={"file": ("p.jpg", jpeg(200, 150))},
                data={"id": "private.jpg", "requireSignedURLs": "true"},
            )
            assert r.status_code == 200, r.text
        yield server


def read_token(srv: Server) -> str:
    value, _ = srv.gate.tokens.create(srv.account_id, "viewer", frozenset({Scope.READ}))  # type: ignore[union-attr]
    return value


def batch_token(srv: Server) -> str:
    with srv.client() as c:
        token: str = c.get(f"{srv.images_url}/batch_token").json()["result"]["token"]
    return token


def no_key_material(srv: Server, text: str) -> None:
    assert srv.signing_key not in text
    assert '"value"' not in text and "sig=" not in text


# --- the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["read", "batch"])
def test_keys_are_listed_by_name_only_to_tokens_that_cannot_hold_them(
    srv: Server, who: str
) -> None:
    token = read_token(srv) if who == "read" else batch_token(srv)
    cf = Cloudflare(api_token=token, base_url=srv.base_url, max_retries=0)
    raw = cf.images.v1.keys.with_raw_response.list(account_id=srv.account_id)
    no_key_material(srv, raw.http_response.text)
    result = raw.http_response.json()["result"]
    KeyListResponse.model_validate_json(json.dumps(result), strict=True)
    assert [k.name for k in raw.parse().keys or []] == ["default"]
    assert set(result["keys"][0]) == {"name", "created", "verifications"}
    cf.close()


def test_an_edit_token_that_does_not_expire_sees_the_values(srv: Server) -> None:
    with srv.client() as c:
        keys = c.get(f"{srv.images_url}/keys").json()["result"]["keys"]
    assert [k["value"] for k in keys] == [srv.signing_key]


@pytest.mark.parametrize("who", ["read", "batch"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/private.jpg/signed_url"),
        ("GET", "/private.jpg/signed_url?variant=public&expires_in=60&key=default"),
        ("PUT", "/keys/default"),
        ("PUT", "/keys/another"),
        ("DELETE", "/keys/default"),
    ],
)
def test_using_or_changing_keys_needs_an_edit_token_that_does_not_expire(
    srv: Server, who: str, method: str, path: str
) -> None:
    token = read_token(srv) if who == "read" else batch_token(srv)
    with srv.client(token=token) as c:
        r = c.request(method, srv.images_url + path)
    assert r.status_code == 403, r.text
    assert r.json()["errors"][0]["code"] == 5403
    no_key_material(srv, r.text)
    with srv.client() as c:  # nothing changed
        keys = c.get(f"{srv.images_url}/keys").json()["result"]["keys"]
    assert [(k["name"], k["value"]) for k in keys] == [("default", srv.signing_key)]


def test_signed_url_still_works_for_an_edit_token(srv: Server) -> None:
    with srv.client() as c:
        r = c.get(f"{srv.images_url}/private.jpg/signed_url", params={"expires_in": 60})
    assert r.status_code == 200
    assert httpx.get(r.json()["result"]["url"]).status_code == 200


# --- the dashboard --------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["read", "batch"])
def limited(request: pytest.FixtureRequest, srv: Server) -> Iterator[Browserish]:
    """A session opened with a read-only token, or with a batch token (edit, but expiring)."""
    browser = Browserish(srv)
    token = read_token(srv) if request.param == "read" else batch_token(srv)
    assert browser.sign_in(token=token).status_code == 303
    yield browser
    browser.close()


def test_the_keys_page_shows_no_value_and_no_snippets(srv: Server, limited: Browserish) -> None:
    page = limited.http.get("/dashboard/keys")
    assert page.status_code == 200
    assert 'data-key="default"' in page.text  # names, dates and counts are shown
    assert "Key values are not shown in this session" in page.text
    no_key_material(srv, page.text)
    for hidden in ("IMAGEGATE_SIGNING_KEY", "how-to-sign", "Create the key", "/key/regenerate"):
        assert hidden not in page.text


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/dashboard/keys", {"name": "extra"}),
        ("/dashboard/key/regenerate", {"name": "default"}),
        ("/dashboard/key/delete", {"name": "default"}),
    ],
)
def test_key_changes_are_refused(
    srv: Server, limited: Browserish, path: str, fields: dict[str, str]
) -> None:
    token = csrf_of(limited.http.get("/dashboard/keys").text)
    refused = limited.post(path, {"csrf_token": token, **fields})
    assert refused.status_code == 403
    no_key_material(srv, refused.text)
    confirm = limited.http.get("/dashboard/key/delete?name=default")
    assert confirm.status_code == 403
    keys = srv.gate.keys.all(srv.gate.accounts.get(srv.account_id))  # type: ignore[union-attr,arg-type]
    assert [(k.name, k.value) for k in keys] == [("default", srv.signing_key)]


def test_a_private_image_page_signs_nothing(srv: Server, limited: Browserish) -> None:
    generate = {
        "id": "private.jpg",
        "generate": "1",
        "variant": "public",
        "lifetime": "604800",
        "key": "default",
    }
    for params in ({"id": "private.jpg"}, generate):
        page = limited.http.get("/dashboard/image", params=params)
        assert page.status_code == 200
        no_key_material(srv, page.text)
        assert 'id="generator"' not in page.text and 'id="signed-url"' not in page.text
    # The picture is still shown, through the session, not a signed URL.
    preview = re.search(r'<img src="([^"]+)"', page.text)
    assert preview is not None and preview[1].startswith("/dashboard/preview?")
    shown = limited.http.get(html.unescape(preview[1]))
    assert shown.status_code == 200 and shown.headers["content-type"].startswith("image/")
    assert httpx.get(srv.url(html.unescape(preview[1]))).status_code == 401


def test_an_admin_session_still_signs_and_sees_keys(srv: Server) -> None:
    admin = Browserish(srv)
    assert admin.sign_in(password=ADMIN_PASSWORD).status_code == 303
    assert srv.signing_key in admin.http.get("/dashboard/keys").text
    page = admin.http.get("/dashboard/image", params={"id": "private.jpg"})
    assert "sig=" in page.text and 'id="generator"' in page.text
    admin.close()
