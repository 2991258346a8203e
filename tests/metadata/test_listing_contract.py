"""v2 listing in the store: cursor order, creator and metadata filters, on both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from imagegate.adapters.metadata import SqlMetadata
from imagegate.core import ids
from imagegate.core.listing import Cursor, MetaFilter, parse_filters
from imagegate.core.models import Account, Image, epoch_ms

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def acct(store: SqlMetadata) -> Account:
    account = Account(ids.new_account_id(), ids.new_account_hash(), "l", T0)
    store.accounts.create(account)
    return account


def image(account: Account, n: int, **kw: object) -> Image:
    base = Image(
        account_id=account.id,
        id=f"img{n:05d}",
        filename="f",
        uploaded=T0 + timedelta(seconds=n // 3),
        require_signed_urls=False,
        blob_key="originals/x",
        sha256="0" * 64,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def page_all(store: SqlMetadata, account: Account, descending: bool, size: int) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = store.images.by_cursor(
            account.id, after=after, limit=size, descending=descending, creator=None, filters=[]
        )
        seen += [i.id for i in page]
        if len(page) < size:
            return seen
        last = page[-1]
        after = Cursor(epoch_ms(last.uploaded), ids.image_digest(last.id)[:32])


@pytest.mark.parametrize("descending", [True, False])
def test_cursor_pages_return_each_image_once_in_order(
    store: SqlMetadata, acct: Account, descending: bool
) -> None:
    for n in range(95):  # three images per second: ties on uploaded are broken by digest
        store.images.insert(image(acct, n))
    store.images.insert(image(acct, 999, draft=True))
    seen = page_all(store, acct, descending, size=10)
    assert len(seen) == len(set(seen)) == 95
    expected = sorted(
        (image(acct, n) for n in range(95)),
        key=lambda i: (i.uploaded, ids.image_digest(i.id)),
        reverse=descending,
    )
    assert seen == [i.id for i in expected]


@pytest.mark.parametrize("listing", ["v2 page", "v1 offset"])
def test_creator_filter(store: SqlMetadata, acct: Account, listing: str) -> None:
    store.images.insert(image(acct, 1, creator="ana"))
    store.images.insert(image(acct, 2, creator=None))
    store.images.insert(image(acct, 3, creator=""))
    store.images.insert(image(acct, 4, creator="bob"))
    store.images.insert(image(acct, 5, creator="ana", draft=True))

    def ids_for(creator: str | None) -> set[str]:
        if listing == "v1 offset":
            return {i.id for i in store.images.by_offset(acct.id, 0, 10, creator=creator)}
        page = store.images.by_cursor(
            acct.id, after=None, limit=10, descending=True, creator=creator, filters=[]
        )
        return {i.id for i in page}

    assert ids_for("ana") == {"img00001"}
    assert ids_for("") == {"img00002", "img00003"}
    assert ids_for("nobody") == set()
    assert ids_for(None) == {"img00001", "img00002", "img00003", "img00004"}


METAS = {
    1: {"color": "red", "size": 10, "ok": True, "nested": {"deep": {"x": "a"}}, "r": 4},
    2: {"color": "blue", "size": 20.5, "ok": False, "nested": {"deep": {"x": "b"}}, "r": 5.0},
    3: {"color": "10", "size": "10", "ok": "true", "r": "4"},
    4: {"other": 1, "r": [4, 5]},
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("meta.color[eq]=red", {1}),
        ("meta.color[eq:string]=red", {1}),
        ("meta.size[eq]=10", {1, 3}),
        ("meta.size[eq:number]=10", {1}),
        ("meta.size[eq:string]=10", {3}),
        ("meta.ok[eq:boolean]=true", {1}),
        ("meta.ok[eq]=true", {1, 3}),
        ("meta.color[in]=red|blue", {1, 2}),
        ("meta.size[gt]=10", {2}),
        ("meta.size[gte]=10", {1, 2}),
        ("meta.size[lt]=20.5", {1}),
        ("meta.size[lte]=20.5", {1, 2}),
        ("meta.nested.deep.x[eq]=b", {2}),
        ("meta.missing[eq]=x", set()),
        ("meta.color[eq]=red&meta.size[gt]=5", {1}),
        ("meta.color[eq]=red&meta.size[gt]=50", set()),
        # The typed forms the SDK documents: ranges written with :number, and typed lists.
        ("meta.size[gt:number]=10", {2}),
        ("meta.size[gte:number]=10", {1, 2}),
        ("meta.size[lt:number]=20.5", {1}),
        ("meta.size[lte:number]=20.5", {1, 2}),
        ("meta.size[gte:number]=1e1&meta.size[lte:number]=20", {1}),
        ("meta.r[in:number]=4|5", {1, 2}),
        ("meta.r[in]=4|5", {1, 2, 3}),
        ("meta.r[in:string]=4|5", {3}),
        ("meta.size[in:number]=10", {1}),
        ("meta.size[in:string]=10|20.5", {3}),
        ("meta.color[in:string]=red|blue|10", {1, 2, 3}),
        ("meta.ok[in:string]=true", {3}),
        ("meta.r[in:number]=-1|0.5", set()),
        ("meta.nested.deep.x[in:string]=b|c", {2}),
    ],
)
def test_metadata_filters(
    store: SqlMetadata, acct: Account, query: str, expected: set[int]
) -> None:
    for n, meta in METAS.items():
        store.images.insert(image(acct, n, meta=meta))
    filters: list[MetaFilter] = parse_filters(
        [tuple(part.split("=", 1)) for part in query.split("&")]  # type: ignore[misc]
    )
    page = store.images.by_cursor(
        acct.id, after=None, limit=10, descending=True, creator=None, filters=filters
    )
    assert {int(i.id[3:]) for i in page} == expected
