"""The dashboard's pages over HTTP: what they show, what they change, and errors in words."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest

from dashboard.helpers import Browserish, csrf_of, dashboard_server
from harness import Server, dimensions, jpeg, png
from imagegate.core.models import Account


def _account(server: Server) -> Account:
    account = server.gate.accounts.get(server.account_id)  # type: ignore[union-attr]
    assert account is not None
    return account


def _upload(client: Browserish, name: str, data: bytes, **fields: str) -> httpx.Response:
    return client.http.post(
        "/dashboard/images/upload",
        files={"file": (name, data)},
        data=fields,
        headers={**client.origin, "X-CSRF-Token": client.csrf(), "Accept": "application/json"},
    )


def _text(page: httpx.Response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.text))


def test_upload_by_script_and_by_plain_form(client: Browserish) -> None:
    by_script = _upload(client, "a.jpg", jpeg(300, 200), private="true", creator="ann")
    assert by_script.status_code == 200
    assert by_script.json() | {"id": ""} == {
        "ok": True,
        "id": "",
        "filename": "a.jpg",
        "private": True,
    }
    token = client.csrf()
    by_form = client.http.post(
        "/dashboard/images/upload",
        files={"file": ("b.png", png(64, 48))},
        data={"csrf_token": token},
        headers=client.origin,
    )
    assert by_form.status_code == 303
    assert by_form.headers["location"] == "/dashboard/images?done=uploaded"
    grid = client.http.get("/dashboard/images")
    assert grid.text.count('class="tile"') == 2
    assert "The image was uploaded." in client.http.get(by_form.headers["location"]).text


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("notes.txt", b"just text", 415, "Unsupported image format"),
        ("empty.jpg", b"", 400, "empty"),
        ("huge.jpg", b"\xff\xd8" + b"0" * (1024 * 1024 + 10), 413, "Maximum image size"),
    ],
)
def test_refused_uploads_say_why(
    tmp_path: Path, name: str, data: bytes, status: int, words: str
) -> None:
    with dashboard_server(tmp_path / "d", max_upload_bytes=1024 * 1024) as srv:
        c = Browserish(srv)
        c.sign_in()
        refused = _upload(c, name, data)
        assert refused.status_code == status
        assert refused.json()["ok"] is False and words in refused.json()["error"]
        c.close()


def test_private_images_are_shown_without_handing_out_the_key(
    dash: Server, client: Browserish
) -> None:
    image_id = _upload(client, "p.jpg", jpeg(640, 480), private="true").json()["id"]
    grid = client.http.get("/dashboard/images")
    thumb = client.http.get(f"/dashboard/thumb?id={image_id}")
    assert thumb.status_code == 200 and thumb.headers["cache-control"].startswith("private")
    assert dimensions(thumb.content) == (240, 240)
    assert httpx.get(dash.url(f"/dashboard/thumb?id={image_id}")).status_code == 401

    detail = client.http.get("/dashboard/image", params={"id": image_id})
    for page in (grid, detail):
        assert dash.signing_key not in page.text
    # Every variant URL listed is signed on the server, and works.
    listed = [html.unescape(u) for u in re.findall(r'class="mono" value="([^"]+)"', detail.text)]
    assert listed and all("sig=" in u for u in listed)
    for url in listed:
        assert httpx.get(url).status_code == 200
    unsigned = dash.url(f"/{dash.account_hash}/{image_id}/public")
    assert httpx.get(unsigned).status_code == 403


def test_the_generator_signs_for_the_chosen_variant_lifetime_and_key(
    dash: Server, client: Browserish
) -> None:
    gate = dash.gate  # type: ignore[union-attr]
    image_id = _upload(client, "p.jpg", jpeg(640, 480), private="true").json()["id"]
    gate.keys.put(_account(dash), "second")
    page = client.http.get(
        "/dashboard/image",
        params={
            "id": image_id,
            "generate": "1",
            "variant": "public",
            "lifetime": "custom",
            "amount": "90",
            "unit": "minutes",
            "key": "second",
        },
    )
    assert page.status_code == 200
    url = html.unescape(re.search(r'id="signed-url" class="mono" value="([^"]+)"', page.text)[1])
    exp = int(re.search(r"exp=(\d+)", url)[1])
    assert abs(exp - (gate.clock() + 5400)) <= 2
    assert httpx.get(url).status_code == 200
    gate.keys.delete(_account(dash), "second")
    assert httpx.get(url).status_code == 403  # signed with the key that went


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"lifetime": "custom", "amount": "", "unit": "hours"}, "whole number"),
        ({"lifetime": "custom", "amount": "5", "unit": "years"}, "minutes, hours or days"),
        ({"lifetime": "custom", "amount": "9999", "unit": "days"}, "at most 10 years"),
        ({"lifetime": "60"}, "Choose a lifetime"),
        ({"variant": "nope"}, "one of the account's variants"),
        ({"key": "nope"}, "one of the account's signing keys"),
    ],
)
def test_the_generator_explains_what_is_wrong(
    shared_client: Browserish, params: dict[str, str], words: str
) -> None:
    client = shared_client
    image_id = _upload(client, "p.jpg", jpeg(64, 64), private="true").json()["id"]
    query = {"id": image_id, "generate": "1", "variant": "public", "lifetime": "3600"}
    page = client.http.get("/dashboard/image", params={**query, **params})
    assert page.status_code == 400
    assert words in _text(page)
    assert 'id="signed-url"' not in page.text


def test_the_generator_respects_the_servers_maximum_lifetime(tmp_path: Path) -> None:
    with dashboard_server(tmp_path / "d", max_url_lifetime=7200) as srv:
        c = Browserish(srv)
        c.sign_in()
        image_id = _upload(c, "p.jpg", jpeg(64, 64), private="true").json()["id"]
        page = c.http.get(
            "/dashboard/image",
            params={"id": image_id, "generate": "1", "variant": "public", "lifetime": "86400"},
        )
        assert page.status_code == 400 and "longer than 2 hours" in _text(page)
        c.close()


def test_filters_by_creator_and_metadata(client: Browserish) -> None:
    _upload(client, "a.jpg", jpeg(32, 32), creator="ann", metadata='{"album": "sea"}')
    _upload(client, "b.jpg", jpeg(32, 32), creator="bob", metadata='{"album": "hills"}')
    _upload(client, "c.jpg", jpeg(32, 32), creator="ann", metadata='{"album": "hills"}')

    def shown(**query: str) -> set[str]:
        page = client.http.get("/dashboard/images", params=query)
        assert page.status_code == 200, page.text
        return set(re.findall(r'alt="([^"]+)"', page.text))

    assert shown() == {"a.jpg", "b.jpg", "c.jpg"}
    assert shown(creator="ann") == {"a.jpg", "c.jpg"}
    assert shown(meta_key="album", meta_value="hills") == {"b.jpg", "c.jpg"}
    assert shown(creator="ann", meta_key="album", meta_value="hills") == {"c.jpg"}
    none = client.http.get("/dashboard/images", params={"creator": "zed"})
    assert "No images match these filters" in none.text
    bad = client.http.get("/dashboard/images", params={"meta_key": "a b", "meta_value": "x"})
    assert bad.status_code == 400 and "Metadata filter" in _text(bad)


def test_the_grid_pages(dash: Server, client: Browserish) -> None:
    gate = dash.gate  # type: ignore[union-attr]
    account = _account(dash)
    tiny = png(8, 8)
    for n in range(30):
        gate.images.upload(account, tiny, filename=f"{n:02}.png")
    first = client.http.get("/dashboard/images")
    assert first.text.count('class="tile"') == 24
    after = re.search(r'href="/dashboard/images\?after=([^&"]+)', first.text)
    assert after
    second = client.http.get(f"/dashboard/images?after={after[1]}")
    assert second.text.count('class="tile"') == 6
    assert "First page" in second.text and "Next page" not in second.text
    names = set(re.findall(r'alt="([^"]+)"', first.text + second.text))
    assert names == {f"{n:02}.png" for n in range(30)}


def test_toggle_access_and_delete_with_confirmation(dash: Server, client: Browserish) -> None:
    image_id = _upload(client, "t.jpg", jpeg(64, 64)).json()["id"]
    url = dash.url(f"/{dash.account_hash}/{image_id}/public")
    assert httpx.get(url).status_code == 200
    token = client.csrf()
    made = client.post(
        "/dashboard/image/access",
        {"csrf_token": token, "id": image_id, "private": "true", "back": "detail"},
    )
    assert made.status_code == 303 and "done=private" in made.headers["location"]
    assert httpx.get(url).status_code == 403

    confirm = client.http.get("/dashboard/image/delete", params={"id": image_id})
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    gone = client.post(
        "/dashboard/image/delete", {"csrf_token": csrf_of(confirm.text), "id": image_id}
    )
    assert gone.status_code == 303
    assert httpx.get(url).status_code == 404
    missing = client.http.get("/dashboard/image", params={"id": image_id})
    assert missing.status_code == 404 and "Image not found" in missing.text


def test_variants_are_validated_in_words_and_public_stays(client: Browserish) -> None:
    token = client.csrf("/dashboard/variants")
    base = {
        "csrf_token": token,
        "fit": "cover",
        "width": "100",
        "height": "100",
        "metadata": "none",
    }
    for fields, words in (
        ({"name": "bad name"}, "letters and digits"),
        ({"name": "ok", "width": "0"}, "width must be a whole number"),
        ({"name": "ok", "fit": "stretch"}, "Choose a fit"),
        ({"name": "public"}, "already exists"),
    ):
        refused = client.post("/dashboard/variants", {**base, **fields})
        assert refused.status_code in (400, 409), fields
        assert words in _text(refused), fields
        assert 'value="' + fields["name"] + '"' in refused.text  # the form keeps its input
    public = client.post("/dashboard/variant/delete", {"csrf_token": token, "name": "public"})
    assert public.status_code == 400 and "cannot be deleted" in public.text
    assert client.http.get("/dashboard/variant/delete?name=public").status_code == 400


def test_variant_previews_render_the_options(dash: Server, client: Browserish) -> None:
    image_id = _upload(client, "w.jpg", jpeg(1200, 800)).json()["id"]
    answer = client.http.get(
        "/dashboard/preview",
        params={"id": image_id, "fit": "pad", "width": "200", "height": "200"},
    )
    assert answer.status_code == 200 and dimensions(answer.content) == (200, 200)
    for bad in ({"width": "0"}, {"width": "abc"}, {"fit": "stretch"}, {"variant": "nope"}):
        refused = client.http.get("/dashboard/preview", params={"id": image_id, **bad})
        assert refused.status_code in (400, 404), bad


def test_keys_pages(dash: Server, client: Browserish) -> None:
    token = client.csrf("/dashboard/keys")
    assert client.post("/dashboard/keys", {"csrf_token": token, "name": "b2"}).status_code == 303
    again = client.post("/dashboard/keys", {"csrf_token": token, "name": "b2"})
    assert again.status_code == 409 and "regenerate it instead" in _text(again)
    bad = client.post("/dashboard/keys", {"csrf_token": token, "name": "no way"})
    assert bad.status_code == 400 and "letters and digits" in _text(bad)

    gate = dash.gate  # type: ignore[union-attr]
    old = gate.keys.value(_account(dash), "b2").value
    client.post("/dashboard/key/regenerate", {"csrf_token": token, "name": "b2"})
    assert gate.keys.value(_account(dash), "b2").value != old

    last = client.http.get("/dashboard/key/delete?name=default")
    assert "stop working" in last.text
    client.post("/dashboard/key/delete", {"csrf_token": token, "name": "default"})
    confirm = client.http.get("/dashboard/key/delete?name=b2")
    assert "It is the last key" in confirm.text


def test_settings_and_tokens(dash: Server, client: Browserish) -> None:
    token = client.csrf("/dashboard/settings")
    for ttl in ("5", "x", "99999999"):
        bad = client.post("/dashboard/settings", {"csrf_token": token, "browser_ttl": ttl})
        assert bad.status_code == 400 and "browser TTL" in _text(bad)
    saved = client.post(
        "/dashboard/settings",
        {"csrf_token": token, "browser_ttl": "3600", "flexible_variants": "on"},
    )
    assert saved.status_code == 303
    assert _account(dash).flexible_variants and _account(dash).browser_ttl == 3600

    created = client.post("/dashboard/tokens", {"csrf_token": token, "name": "deploy"})
    value = re.search(r'id="new-token" class="mono" value="([^"]+)"', created.text)[1]
    assert created.headers["cache-control"] == "no-store"
    assert value not in client.http.get("/dashboard/settings").text
    nameless = client.post("/dashboard/tokens", {"csrf_token": token, "name": ""})
    assert nameless.status_code == 400


def test_the_dashboard_is_not_part_of_the_api_document(dash: Server) -> None:
    spec = httpx.get(dash.url("/openapi.json")).json()
    assert not [p for p in spec["paths"] if p.startswith("/dashboard")]
    assert httpx.get(dash.url("/dashboard/nothing-here")).status_code == 404
