"""The official ``cloudflare`` SDK (5.9.0), pointed at a running imagegate, works unchanged,
and what it gets back validates strictly against the SDK's own types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cloudflare import Cloudflare
from cloudflare.types.images import Image
from cloudflare.types.images.v1 import (
    KeyDeleteResponse,
    KeyListResponse,
    KeyUpdateResponse,
    Variant,
    VariantCreateResponse,
    VariantEditResponse,
    VariantGetResponse,
)

from harness import Server, dimensions, jpeg
from imagegate.core.signing import sign_url


@pytest.fixture
def cf(server: Server) -> Iterator[Cloudflare]:
    client = Cloudflare(api_token=server.api_token, base_url=server.base_url, max_retries=0)
    yield client
    client.close()


def call(raw_method: Any, model: type, *args: Any, **kwargs: Any) -> Any:
    """Call an SDK method through its raw-response twin; validate the wire ``result``
    strictly against the SDK's model (the SDK itself only constructs, never validates),
    and return what the SDK parsed."""
    raw = raw_method(*args, **kwargs)
    result = raw.http_response.json()["result"]
    model.model_validate_json(json.dumps(result), strict=True)  # type: ignore[attr-defined]
    return raw.parse()


def test_images_v1_create_get_list_edit_delete(cf: Cloudflare, server: Server) -> None:
    acct = server.account_id
    created = call(
        cf.images.v1.with_raw_response.create,
        Image,
        account_id=acct,
        file=("shoe.jpg", jpeg(400, 300), "image/jpeg"),
        id="dir/sub/ü ñ.png",
        metadata={"owner": "ana", "nested": {"x": [1]}},
        require_signed_urls=True,
        creator="user-1",
    )
    assert isinstance(
        created,
        Image,
    )
    assert created.id == "dir/sub/ü ñ.png"
    assert created.require_signed_urls is True
    assert created.meta == {"owner": "ana", "nested": {"x": ["1"]}}
    assert created.creator == "user-1"
    assert created.filename == "shoe.jpg"
    assert created.variants and created.variants[0].startswith(server.base_url)

    plain = cf.images.v1.create(account_id=acct, file=jpeg(100, 80), metadata=json.dumps({"n": 1}))
    assert plain.meta == {"n": 1} and plain.require_signed_urls is False

    got = call(
        cf.images.v1.with_raw_response.get,
        Image,
        created.id,
        account_id=acct,
    )
    assert got.id == created.id and got.uploaded == created.uploaded

    raw = cf.images.v1.with_raw_response.list(account_id=acct, per_page=10)
    listed = [Image.model_validate(i) for i in raw.http_response.json()["result"]["images"]]
    assert {i.id for i in listed} == {created.id, plain.id}

    edited = call(
        cf.images.v1.with_raw_response.edit,
        Image,
        created.id,
        account_id=acct,
        require_signed_urls=False,
        metadata={"k": "v"},
        creator="u2",
    )
    assert (edited.require_signed_urls, edited.meta, edited.creator) == (False, {"k": "v"}, "u2")

    blob = cf.images.v1.blobs.get(created.id, account_id=acct)
    assert dimensions(blob.read()) == (400, 300)

    cf.images.v1.delete(created.id, account_id=acct)
    with pytest.raises(Exception) as info:
        cf.images.v1.get(created.id, account_id=acct)
    assert getattr(info.value, "status_code", None) == 404


def test_images_v1_list_by_creator(cf: Cloudflare, server: Server) -> None:
    """``creator`` filters the v1 list. (This SDK leaves an empty ``creator=""`` out of the
    query, so "images without a creator" is for tests/test_sdk_node.py to ask.)"""
    acct = server.account_id
    ana = cf.images.v1.create(account_id=acct, file=jpeg(40, 30), creator="ana")
    cf.images.v1.create(account_id=acct, file=jpeg(40, 30), creator="bo")
    cf.images.v1.create(account_id=acct, file=jpeg(40, 30))
    for creator, expected in (("ana", [ana.id]), ("nobody", [])):
        raw = cf.images.v1.with_raw_response.list(account_id=acct, creator=creator)
        listed = [Image.model_validate(i) for i in raw.http_response.json()["result"]["images"]]
        assert [i.id for i in listed] == expected, creator


def test_keys_list_update_delete(cf: Cloudflare, server: Server) -> None:
    acct = server.account_id
    listed = call(
        cf.images.v1.keys.with_raw_response.list,
        KeyListResponse,
        account_id=acct,
    )
    assert [k.name for k in listed.keys or []] == ["default"]
    assert listed.keys[0].value == server.signing_key  # type: ignore[index]

    updated = call(
        cf.images.v1.keys.with_raw_response.update,
        KeyUpdateResponse,
        "rotation2",
        account_id=acct,
    )
    values = {k.name: k.value for k in updated.keys or []}
    assert set(values) == {"default", "rotation2"}
    assert values["rotation2"] and len(values["rotation2"]) >= 44

    again = cf.images.v1.keys.update("rotation2", account_id=acct)
    assert {k.name: k.value for k in again.keys or []}["rotation2"] != values["rotation2"]

    deleted = call(
        cf.images.v1.keys.with_raw_response.delete,
        KeyDeleteResponse,
        "default",
        account_id=acct,
    )
    assert [k.name for k in deleted.keys or []] == ["rotation2"]
    last = cf.images.v1.keys.delete("rotation2", account_id=acct)
    regenerated = last.keys or []
    assert [k.name for k in regenerated] == ["default"]
    assert regenerated[0].value not in (server.signing_key, values["rotation2"])


def test_variants_create_list_get_edit_delete(cf: Cloudflare, server: Server) -> None:
    acct = server.account_id
    created = call(
        cf.images.v1.variants.with_raw_response.create,
        VariantCreateResponse,
        account_id=acct,
        id="hero",
        options={"fit": "cover", "width": 300.0, "height": 200, "metadata": "none"},
        never_require_signed_urls=True,
    )
    assert created.variant and created.variant.options.fit == "cover"
    assert created.variant.never_require_signed_urls is True

    listed = call(
        cf.images.v1.variants.with_raw_response.list,
        Variant,
        account_id=acct,
    )
    names = set((listed.variants.model_extra or {}) if listed.variants else {})
    raw = cf.images.v1.variants.with_raw_response.list(account_id=acct).http_response.json()
    assert set(raw["result"]["variants"]) == {"public", "hero"}
    assert names <= {"public", "hero"}

    got = call(
        cf.images.v1.variants.with_raw_response.get,
        VariantGetResponse,
        "hero",
        account_id=acct,
    )
    assert got.variant and got.variant.options.width == 300

    edited = call(
        cf.images.v1.variants.with_raw_response.edit,
        VariantEditResponse,
        "hero",
        account_id=acct,
        options={"fit": "pad", "width": 50, "height": 50, "metadata": "keep"},
        never_require_signed_urls=False,
    )
    assert edited.variant and edited.variant.options.fit == "pad"
    assert edited.variant.never_require_signed_urls is False

    cf.images.v1.variants.delete("hero", account_id=acct)
    with pytest.raises(Exception) as info:
        cf.images.v1.variants.get("hero", account_id=acct)
    assert getattr(info.value, "status_code", None) == 404
    with pytest.raises(Exception) as info:
        cf.images.v1.variants.delete("public", account_id=acct)
    assert getattr(info.value, "status_code", None) == 400


def test_sdk_uploaded_private_image_is_served_only_signed(cf: Cloudflare, server: Server) -> None:
    acct = server.account_id
    cf.images.v1.variants.create(
        account_id=acct,
        id="small",
        options={"fit": "scale-down", "width": 64, "height": 64, "metadata": "none"},
    )
    image = cf.images.v1.create(
        account_id=acct, file=jpeg(640, 480), id="private/one.jpg", require_signed_urls=True
    )
    url = f"{server.base_url}/{server.account_hash}/private/one.jpg/small"
    assert httpx.get(url).status_code == 403
    signed = httpx.get(sign_url(url, server.signing_key, 60))
    assert signed.status_code == 200 and dimensions(signed.content) == (64, 48)
    assert image.id == "private/one.jpg"
