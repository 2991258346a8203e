"""The rest of the API over real HTTP and the official SDK: v2 listing, stats and quota,
direct creator uploads, batch tokens, and token scopes."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cloudflare import Cloudflare
from cloudflare.types.images import V2ListResponse
from cloudflare.types.images.v1 import Stat
from cloudflare.types.images.v2 import DirectUploadCreateResponse

from harness import Clock, Server, dimensions, jpeg, serve_account, store_of
from imagegate.core import ids
from imagegate.core.models import Image, Scope
from imagegate.settings import Settings
from imagegate.usecases.records import AccountChanges


@pytest.fixture
def timed(settings: Settings) -> Iterator[tuple[Server, Clock]]:
    """A server whose clock the test moves."""
    clock = Clock(time.time())
    with serve_account(settings, clock=clock, name="t") as srv:
        yield srv, clock


def wire(raw: object) -> str:
    """The ``result`` of a raw SDK response, as the JSON text the server sent."""
    return json.dumps(raw.http_response.json()["result"])  # type: ignore[attr-defined]


def sdk(srv: Server, token: str | None = None) -> Cloudflare:
    return Cloudflare(api_token=token or srv.api_token, base_url=srv.base_url, max_retries=0)


def test_direct_creator_upload_v2_end_to_end(timed: tuple[Server, Clock]) -> None:
    srv, _ = timed
    cf = sdk(srv)
    raw = cf.images.v2.direct_uploads.with_raw_response.create(
        account_id=srv.account_id,
        id="users/42/avatar.jpg",
        creator="u42",
        metadata={"from": "browser"},
        require_signed_urls=True,
    )
    DirectUploadCreateResponse.model_validate_json(wire(raw), strict=True)
    created = raw.parse()
    assert created.id == "users/42/avatar.jpg"
    assert created.upload_url and created.upload_url.startswith(f"{srv.base_url}/upload/")
    assert "avatar" not in created.upload_url  # the URL carries a secret, not the id

    with srv.client() as c:
        draft = c.get(f"{srv.images_url}/users%2F42%2Favatar.jpg").json()["result"]
        assert draft["draft"] is True and draft["requireSignedURLs"] is True
        assert c.get(srv.images_url).json()["result"]["images"] == []
        stats = c.get(f"{srv.images_url}/stats").json()["result"]
        assert stats["count"]["current"] == 1  # a draft counts against the quota

    # The end user's browser: one unauthenticated multipart POST.
    r = httpx.post(created.upload_url, files={"file": ("me.jpg", jpeg(300, 300))})
    assert r.status_code == 200, r.text
    done = r.json()["result"]
    assert done["id"] == "users/42/avatar.jpg" and "draft" not in done
    assert done["meta"] == {"from": "browser"} and done["creator"] == "u42"

    again = httpx.post(created.upload_url, files={"file": ("me.jpg", jpeg(10, 10))})
    assert again.status_code == 410 and again.json()["errors"][0]["code"] == 5410
    with srv.client() as c:
        blob = c.get(f"{srv.images_url}/users%2F42%2Favatar.jpg/blob").content
        assert dimensions(blob) == (300, 300)
        listed = c.get(srv.images_url).json()["result"]["images"]
        assert [i["id"] for i in listed] == ["users/42/avatar.jpg"]


def test_direct_upload_url_expires(timed: tuple[Server, Clock]) -> None:
    srv, clock = timed
    expiry = datetime.fromtimestamp(clock.now, UTC) + timedelta(minutes=3)
    created = sdk(srv).images.v2.direct_uploads.create(account_id=srv.account_id, expiry=expiry)
    clock.now += 181
    r = httpx.post(created.upload_url, files={"file": ("x.jpg", jpeg(20, 20))})  # type: ignore[arg-type]
    assert r.status_code == 410


@pytest.mark.parametrize("minutes", [1, 60 * 6 + 1])
def test_direct_upload_expiry_bounds(timed: tuple[Server, Clock], minutes: int) -> None:
    srv, clock = timed
    expiry = datetime.fromtimestamp(clock.now, UTC) + timedelta(minutes=minutes)
    with srv.client() as c:
        r = c.post(
            f"{srv.images_url.removesuffix('/v1')}/v2/direct_upload",
            data={"expiry": expiry.isoformat()},
        )
    assert r.status_code == 400


def test_direct_upload_v1_legacy_json(timed: tuple[Server, Clock]) -> None:
    srv, _ = timed
    with srv.client() as c:
        r = c.post(f"{srv.images_url}/direct_upload", json={"requireSignedURLs": True})
        assert r.status_code == 200, r.text
        result = r.json()["result"]
    up = httpx.post(result["uploadURL"], files={"file": ("x.png", jpeg(40, 30))})
    assert up.status_code == 200 and up.json()["result"]["requireSignedURLs"] is True


def test_bad_file_to_upload_url_keeps_the_draft_usable(timed: tuple[Server, Clock]) -> None:
    srv, _ = timed
    created = sdk(srv).images.v2.direct_uploads.create(account_id=srv.account_id)
    url = created.upload_url
    assert httpx.post(url, files={"file": ("x", b"not an image")}).status_code == 415  # type: ignore[arg-type]
    assert httpx.post(url, files={"file": ("x.jpg", jpeg(20, 20))}).status_code == 200  # type: ignore[arg-type]


def test_batch_token_works_then_expires(timed: tuple[Server, Clock]) -> None:
    srv, clock = timed
    with srv.client() as c:
        r = c.get(f"{srv.images_url}/batch_token")
        assert r.status_code == 200, r.text
        token = r.json()["result"]["token"]
        assert r.json()["result"]["expiresAt"].endswith("Z")
    with srv.client(token=token) as c:
        up = c.post(srv.images_url, files={"file": ("a.jpg", jpeg(20, 20))})
        assert up.status_code == 200
    clock.now += 16 * 60
    with srv.client(token=token) as c:
        assert c.get(srv.images_url).status_code == 401


def test_stats_and_quota(timed: tuple[Server, Clock]) -> None:
    srv, _ = timed
    gate = srv.gate
    assert gate is not None
    store_of(gate).accounts.update(srv.account_id, AccountChanges(image_quota=2))
    cf = sdk(srv)
    cf.images.v1.create(account_id=srv.account_id, file=jpeg(20, 20))
    cf.images.v2.direct_uploads.create(account_id=srv.account_id)  # drafts count
    raw = cf.images.v1.stats.with_raw_response.get(account_id=srv.account_id)
    Stat.model_validate_json(wire(raw), strict=True)
    stat = raw.parse()
    assert (stat.count.current, stat.count.allowed) == (2, 2)  # type: ignore[union-attr]
    with srv.client() as c:
        full = c.post(srv.images_url, files={"file": ("a.jpg", jpeg(20, 20))})
    assert full.status_code == 403 and full.json()["errors"][0]["code"] == 5453


def test_v2_paging_2500_images_each_once_in_order(server: Server) -> None:
    gate = server.gate
    assert gate is not None
    account = gate.accounts.get(server.account_id)
    assert account is not None
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(2500):
        store_of(gate).images.insert(
            Image(
                account.id,
                f"p{n:04d}",
                "f",
                base + timedelta(milliseconds=n // 2),
                False,
                blob_key="originals/none",
                sha256="0" * 64,
            )
        )
    cf = sdk(server)
    for order, per_page in (("desc", 1000), ("asc", 333)):
        seen: list[str] = []
        token = None
        while True:
            raw = cf.images.v2.with_raw_response.list(
                account_id=server.account_id,
                per_page=per_page,
                sort_order=order,  # type: ignore[arg-type]
                continuation_token=token,  # type: ignore[arg-type]
            )
            V2ListResponse.model_validate_json(wire(raw), strict=True)
            page = raw.parse()
            seen += [i.id for i in page.images or []]  # type: ignore[misc]
            token = page.continuation_token
            if not token:
                break
            assert len(token) <= 32
        assert len(seen) == len(set(seen)) == 2500
        keys = [(n // 2, hashlib.sha256(f"p{n:04d}".encode()).hexdigest()) for n in range(2500)]
        by_order = sorted(range(2500), key=lambda n: keys[n], reverse=order == "desc")
        assert seen == [f"p{n:04d}" for n in by_order]


def test_v2_filters_through_the_sdk(server: Server) -> None:
    cf = sdk(server)
    cf.images.v1.create(
        account_id=server.account_id,
        file=jpeg(20, 20),
        creator="ana",
        metadata={"kind": "photo", "rank": 3},
    )
    cf.images.v1.create(
        account_id=server.account_id, file=jpeg(20, 20), metadata={"kind": "logo", "rank": 9}
    )
    with server.client() as c:
        v2 = f"{server.images_url.removesuffix('/v1')}/v2"
        by_meta = c.get(v2, params={"meta.kind[eq]": "photo"}).json()["result"]["images"]
        assert [i["creator"] for i in by_meta] == ["ana"]
        no_creator = c.get(v2, params={"creator": ""}).json()["result"]["images"]
        assert [i["meta"]["kind"] for i in no_creator] == ["logo"]
        ranked = c.get(v2, params={"meta.rank[gt]": "5"}).json()["result"]["images"]
        assert ranked == []  # SDK-flattened metadata arrives as strings, so rank is "9"
        strings = c.get(v2, params={"meta.rank[eq]": "9"}).json()["result"]["images"]
        assert len(strings) == 1
        for bad in (
            {"meta.kind[like]": "x"},
            {"meta.a.b.c.d.e.f[eq]": "x"},
            {"meta.k[in]": "|".join("x" * 11)},
            {"continuation_token": "!!"},
            {f"meta.k{n}[eq]": "x" for n in range(6)},
            {"per_page": "5000"},
        ):
            r = c.get(v2, params=bad)
            assert r.status_code == 400, bad


def test_typed_filters_through_the_sdk(server: Server) -> None:
    """The typed forms the SDK's documentation lists for ``images.v2.list``, sent by the SDK
    itself (its ``meta`` mapping becomes ``meta.<field>[<operator>]`` query parameters)."""
    cf = sdk(server)
    for n, meta in enumerate(
        [
            {"status": "active", "priority": 1, "ratings": 4, "enabled": True},
            {"status": "active", "priority": 5, "ratings": 5, "enabled": False},
            {"status": "deleted", "priority": 9, "ratings": "5", "region": {"name": "eu-west"}},
        ]
    ):
        cf.images.v1.create(
            account_id=server.account_id, file=jpeg(20, 20), id=f"t{n}", metadata=json.dumps(meta)
        )

    def listed(**meta: str) -> set[str]:
        page = cf.images.v2.list(account_id=server.account_id, meta=meta)  # type: ignore[arg-type]
        return {image.id for image in page.images or []}

    assert listed(**{"status[eq:string]": "active"}) == {"t0", "t1"}
    assert listed(**{"priority[gte:number]": "1", "priority[lte:number]": "5"}) == {"t0", "t1"}
    assert listed(**{"priority[gt:number]": "1"}) == {"t1", "t2"}
    assert listed(**{"priority[lt:number]": "5"}) == {"t0"}
    assert listed(**{"ratings[in:number]": "4|5"}) == {"t0", "t1"}
    assert listed(**{"ratings[in:string]": "4|5"}) == {"t2"}
    assert listed(**{"ratings[in]": "4|5"}) == {"t0", "t1", "t2"}
    assert listed(**{"status[in]": "pending|deleted|flagged"}) == {"t2"}
    assert listed(**{"enabled[eq:boolean]": "true"}) == {"t0"}
    assert listed(**{"region.name[eq]": "eu-west"}) == {"t2"}
    assert listed(**{"status[eq]": "active", "priority[eq:number]": "5"}) == {"t1"}
    assert listed(**{"priority[eq:number]": "5", "priority[lte:number]": "3"}) == set()


def test_read_only_tokens_cannot_edit(server: Server) -> None:
    gate = server.gate
    assert gate is not None
    value, _ = gate.tokens.create(server.account_id, "ro", frozenset({Scope.READ}))
    with server.client(token=value) as c:
        assert c.get(server.images_url).status_code == 200
        assert c.get(f"{server.images_url}/keys").status_code == 200
        for method, path in [
            ("POST", ""),
            ("PUT", "/keys/x"),
            ("POST", "/variants"),
            ("PATCH", "/config"),
            ("GET", "/batch_token"),
        ]:
            r = c.request(method, server.images_url + path, json={})
            assert r.status_code == 403, (method, path)
            assert r.json()["errors"][0]["code"] == 5403
    assert ids.new_api_token() != value


def test_direct_upload_with_no_body_takes_the_defaults(server: Server) -> None:
    with server.client() as c:
        r = c.post(f"{server.images_url.removesuffix('/v1')}/v2/direct_upload")
        assert r.status_code == 200, r.text
        image_id = r.json()["result"]["id"]
        assert len(image_id) == 36  # a generated UUID
        assert c.get(f"{server.images_url}/{image_id}").json()["result"]["draft"] is True
