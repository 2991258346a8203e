"""The MetadataStore contract, as the Protocol's docstrings state it, on every backend."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from imagegate.adapters.metadata import SqlMetadata
from imagegate.core.errors import Conflict
from imagegate.core.models import (
    Account,
    ApiToken,
    Fit,
    Format,
    Image,
    MetadataMode,
    Scope,
    SigningKey,
    Variant,
    VariantOptions,
)
from imagegate.usecases.records import AccountChanges, ImageChanges

T0 = datetime(2024, 5, 17, 12, 0, 0, 123000, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_account(tag: str, **changes: Any) -> Account:
    account = Account(id=f"acct{tag}", hash=f"hash{tag}", name=f"Account {tag}", created=T0)
    return replace(account, **changes)


def make_token(account_id: str, token_id: str, **changes: Any) -> ApiToken:
    token = ApiToken(token_id, account_id, f"token {token_id}", frozenset(Scope), T0)
    return replace(token, **changes)


def make_image(account_id: str, image_id: str, **changes: Any) -> Image:
    image = Image(
        account_id=account_id,
        id=image_id,
        filename="photo.jpg",
        uploaded=T0,
        require_signed_urls=False,
        meta={"camera": "x100"},
        creator="user-1",
        format=Format.JPEG,
        width=640,
        height=480,
        size=123_456,
        blob_key=f"originals/{account_id}/ab/abcdef",
        sha256="ab" * 32,
    )
    return replace(image, **changes)


@pytest.fixture
def a(store: SqlMetadata) -> Account:
    account = make_account("a", flexible_variants=True, browser_ttl=60, image_quota=7)
    store.accounts.create(account)
    return account


@pytest.fixture
def b(store: SqlMetadata) -> Account:
    account = make_account("b")
    store.accounts.create(account)
    return account


def test_ping(store: SqlMetadata) -> None:
    store.database.ping()


# --- accounts -----------------------------------------------------------------------------


def test_account_round_trips(store: SqlMetadata, a: Account) -> None:
    assert store.accounts.get(a.id) == a
    assert store.accounts.get("acctmissing") is None


def test_list_accounts(store: SqlMetadata) -> None:
    assert store.accounts.all() == []
    made = [make_account(tag, created=at(i)) for i, tag in enumerate("xyz")]
    for account in made:
        store.accounts.create(account)
    assert sorted(store.accounts.all(), key=lambda acc: acc.id) == made


@pytest.mark.parametrize(
    ("changes", "applied"),
    [
        ({"flexible_variants": False}, {"flexible_variants": False}),
        ({"browser_ttl": 3600}, {"browser_ttl": 3600}),
        ({"image_quota": 1}, {"image_quota": 1}),
        ({"keep_gps": True}, {"keep_gps": True}),
        (
            {"flexible_variants": False, "browser_ttl": 0, "image_quota": 0, "keep_gps": True},
            {"flexible_variants": False, "browser_ttl": 0, "image_quota": 0, "keep_gps": True},
        ),
        ({}, {}),
    ],
    ids=["flexible", "ttl", "quota", "gps", "all", "nothing"],
)
def test_update_account(
    store: SqlMetadata, a: Account, changes: dict[str, Any], applied: dict[str, Any]
) -> None:
    expected = replace(a, **applied)
    assert store.accounts.update(a.id, AccountChanges(**changes)) == expected
    assert store.accounts.get(a.id) == expected


@pytest.mark.parametrize(
    ("record", "field"), [(AccountChanges, "hash"), (ImageChanges, "blob_key")]
)
def test_changes_name_only_what_may_change(record: type, field: str) -> None:
    """A misspelt or forbidden field is an error where it is written, never dropped."""
    with pytest.raises(TypeError):
        record(**{field: "x"})


def test_update_missing_account(store: SqlMetadata) -> None:
    assert store.accounts.update("acctmissing", AccountChanges(browser_ttl=1)) is None
    assert store.accounts.all() == []


# --- uniqueness -----------------------------------------------------------------------------


def _dup_account_hash(store: SqlMetadata, a: Account) -> None:
    store.accounts.create(make_account("other", hash=a.hash))


def _dup_account_id(store: SqlMetadata, a: Account) -> None:
    store.accounts.create(make_account("other", id=a.id))


def _dup_token_hash(store: SqlMetadata, a: Account) -> None:
    store.tokens.add(make_token(a.id, "tok1"), "tokenhash")
    store.tokens.add(make_token(a.id, "tok2"), "tokenhash")


def _dup_variant(store: SqlMetadata, a: Account) -> None:
    store.variants.create(a.id, Variant("thumb", VariantOptions(width=10)))
    store.variants.create(a.id, Variant("thumb", VariantOptions(width=20)))


def _dup_image(store: SqlMetadata, a: Account) -> None:
    store.images.insert(make_image(a.id, "same"))
    store.images.insert(make_image(a.id, "same", filename="other.png"))


@pytest.mark.parametrize(
    "clash",
    [_dup_account_hash, _dup_account_id, _dup_token_hash, _dup_variant, _dup_image],
    ids=["account-hash", "account-id", "token-hash", "variant-name", "image-id"],
)
def test_duplicates_raise_conflict_and_change_nothing(
    store: SqlMetadata, a: Account, clash: Callable[[SqlMetadata, Account], None]
) -> None:
    with pytest.raises(Conflict):
        clash(store, a)
    assert store.accounts.all() == [a]
    assert [t.id for t in store.tokens.all(a.id)] in ([], ["tok1"])
    assert store.variants.all(a.id) in ([], [Variant("thumb", VariantOptions(width=10))])
    assert [i.filename for i in store.images.by_offset(a.id, 0, 10)] in ([], ["photo.jpg"])


def test_same_names_in_another_account_do_not_clash(
    store: SqlMetadata, a: Account, b: Account
) -> None:
    for account in (a, b):
        store.variants.create(account.id, Variant("thumb", VariantOptions(width=10)))
        store.images.insert(make_image(account.id, "same", filename=f"{account.id}.jpg"))
        store.keys.put(account.id, SigningKey("k1", f"value-{account.id}", T0))
    for account in (a, b):
        image = store.images.get(account.id, "same")
        assert image is not None
        assert image.filename == f"{account.id}.jpg"
        assert [k.value for k in store.keys.all(account.id)] == [f"value-{account.id}"]


# --- tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scopes",
    [frozenset(), frozenset({Scope.READ}), frozenset({Scope.READ, Scope.EDIT})],
    ids=["none", "read", "read-edit"],
)
def test_token_round_trips(store: SqlMetadata, a: Account, scopes: frozenset[Scope]) -> None:
    token = make_token(a.id, "tok1", scopes=scopes)
    store.tokens.add(token, "hash1")
    assert store.tokens.find("hash1") == token
    assert store.tokens.all(a.id) == [token]
    assert store.tokens.find("hash2") is None


def test_revoked_tokens_are_not_found(store: SqlMetadata, a: Account) -> None:
    store.tokens.add(make_token(a.id, "tok1"), "hash1")
    store.tokens.add(make_token(a.id, "tok2", revoked=True), "hash2")
    assert store.tokens.find("hash2") is None
    assert store.tokens.revoke(a.id, "tok1") is True
    assert store.tokens.find("hash1") is None
    store.tokens.revoke(a.id, "tok1")  # twice is not an error
    assert store.tokens.find("hash1") is None
    listed = {t.id: t.revoked for t in store.tokens.all(a.id)}
    assert listed == {"tok1": True, "tok2": True}


def test_revoke_missing_or_foreign_token(store: SqlMetadata, a: Account, b: Account) -> None:
    token = make_token(a.id, "tok1")
    store.tokens.add(token, "hash1")
    assert store.tokens.revoke(a.id, "tokmissing") is False
    assert store.tokens.revoke(b.id, "tok1") is False
    assert store.tokens.find("hash1") == token


def test_list_tokens_per_account(store: SqlMetadata, a: Account, b: Account) -> None:
    mine = [make_token(a.id, f"tok{i}", created=at(i)) for i in range(3)]
    for i, token in enumerate(mine):
        store.tokens.add(token, f"hash{i}")
    store.tokens.add(make_token(b.id, "tokb"), "hashb")
    assert sorted(store.tokens.all(a.id), key=lambda t: t.id) == mine
    assert [t.id for t in store.tokens.all(b.id)] == ["tokb"]
    assert store.tokens.all("acctmissing") == []


# --- signing keys ---------------------------------------------------------------------------


def test_put_key_creates_then_replaces(store: SqlMetadata, a: Account) -> None:
    assert store.keys.all(a.id) == []
    store.keys.put(a.id, SigningKey("k1", "first", T0))
    assert store.keys.all(a.id) == [SigningKey("k1", "first", T0, 0)]
    store.keys.add_verifications(a.id, {"k1": 5})
    assert store.keys.all(a.id)[0].verifications == 5
    store.keys.put(a.id, SigningKey("k1", "second", at(10), verifications=99))
    assert store.keys.all(a.id) == [SigningKey("k1", "second", at(10), 0)]


def test_keys_are_listed_oldest_first(store: SqlMetadata, a: Account) -> None:
    for name, offset in [("middle", 1), ("newest", 2), ("oldest", 0)]:
        store.keys.put(a.id, SigningKey(name, f"v-{name}", at(offset)))
    assert [k.name for k in store.keys.all(a.id)] == ["oldest", "middle", "newest"]
    store.keys.put(a.id, SigningKey("oldest", "rotated", at(3)))
    assert [k.name for k in store.keys.all(a.id)] == ["middle", "newest", "oldest"]


def test_delete_key(store: SqlMetadata, a: Account) -> None:
    store.keys.put(a.id, SigningKey("k1", "v1", T0))
    store.keys.put(a.id, SigningKey("k2", "v2", at(1)))
    assert store.keys.delete(a.id, "k1") is True
    assert store.keys.delete(a.id, "k1") is False
    assert store.keys.delete(a.id, "never") is False
    assert [k.name for k in store.keys.all(a.id)] == ["k2"]


def test_add_key_verifications(store: SqlMetadata, a: Account) -> None:
    store.keys.put(a.id, SigningKey("k1", "v1", T0))
    store.keys.put(a.id, SigningKey("k2", "v2", at(1)))
    store.keys.add_verifications(a.id, {"k1": 3, "k2": 1, "unknown": 7})
    store.keys.add_verifications(a.id, {"k1": 2})
    store.keys.add_verifications(a.id, {})
    assert {k.name: k.verifications for k in store.keys.all(a.id)} == {"k1": 5, "k2": 1}


# --- variants -------------------------------------------------------------------------------

OPTIONS = [
    VariantOptions(),
    VariantOptions(
        fit=Fit.COVER,
        width=100,
        height=50,
        metadata=MetadataMode.NONE,
        background="#000000",
        browser_ttl=3600,
    ),
    VariantOptions(fit=Fit.PAD, height=300, metadata=MetadataMode.KEEP),
    *(VariantOptions(fit=fit, width=1) for fit in Fit),
]


@pytest.mark.parametrize("options", OPTIONS, ids=[o.cache_token() for o in OPTIONS])
@pytest.mark.parametrize("never_require", [False, True])
def test_variant_round_trips(
    store: SqlMetadata, a: Account, options: VariantOptions, never_require: bool
) -> None:
    variant = Variant("v1", options, never_require)
    store.variants.create(a.id, variant)
    assert store.variants.get(a.id, "v1") == variant
    assert store.variants.all(a.id) == [variant]
    assert store.variants.get(a.id, "v2") is None


def test_list_variants(store: SqlMetadata, a: Account, b: Account) -> None:
    made = [Variant(f"v{i}", VariantOptions(width=i + 1)) for i in range(4)]
    for variant in made:
        store.variants.create(a.id, variant)
    assert sorted(store.variants.all(a.id), key=lambda v: v.name) == made
    assert store.variants.all(b.id) == []


@pytest.mark.parametrize(
    ("before", "argument", "after"),
    [
        (False, None, False),
        (True, None, True),
        (False, True, True),
        (True, False, False),
        (True, True, True),
        (False, False, False),
    ],
)
def test_update_variant(
    store: SqlMetadata, a: Account, before: bool, argument: bool | None, after: bool
) -> None:
    store.variants.create(a.id, Variant("v1", VariantOptions(width=10), before))
    options = VariantOptions(fit=Fit.CROP, width=20, height=30)
    expected = Variant("v1", options, after)
    assert store.variants.update(a.id, "v1", options, argument) == expected
    assert store.variants.get(a.id, "v1") == expected


def test_update_missing_variant(store: SqlMetadata, a: Account) -> None:
    assert store.variants.update(a.id, "nope", VariantOptions(), True) is None
    assert store.variants.get(a.id, "nope") is None


def test_delete_variant(store: SqlMetadata, a: Account) -> None:
    store.variants.create(a.id, Variant("v1", VariantOptions()))
    assert store.variants.delete(a.id, "v1") is True
    assert store.variants.delete(a.id, "v1") is False
    assert store.variants.get(a.id, "v1") is None
    store.variants.create(a.id, Variant("v1", VariantOptions(width=5)))  # the name is free again
    assert store.variants.get(a.id, "v1") == Variant("v1", VariantOptions(width=5))


# --- images ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"format": None, "creator": None, "meta": {}, "width": 0, "height": 0, "size": 0},
        {"draft": True, "require_signed_urls": True},
        {"format": Format.SVG, "filename": "ünïcödé 画像.svg"},
    ],
    ids=["full", "sparse", "draft-signed", "svg-unicode"],
)
def test_image_round_trips(store: SqlMetadata, a: Account, changes: dict[str, Any]) -> None:
    image = make_image(a.id, "img1", **changes)
    store.images.insert(image)
    assert store.images.get(a.id, "img1") == image
    assert store.images.get(a.id, "img2") is None


def _random_text(alphabet: tuple[int, int], length: int) -> str:
    rng = random.Random(length)
    return "".join(chr(rng.randrange(*alphabet)) for _ in range(length))


IMAGE_IDS = {
    "ascii": "photos/2024/holiday.jpg",
    "unicode": "fotos/ünïcödé/画像 🖼/שלום.jpg",
    "1024-ascii": "a" * 1024,
    "1024-two-byte": _random_text((0x0400, 0x0500), 1024),
    "1024-mixed": ("x/画像-🖼-é" * 200)[:1024],
}


@pytest.mark.parametrize("image_id", IMAGE_IDS.values(), ids=IMAGE_IDS.keys())
def test_image_ids(store: SqlMetadata, a: Account, image_id: str) -> None:
    assert len(image_id) <= 1024
    image = make_image(a.id, image_id)
    store.images.insert(image)
    assert store.images.get(a.id, image_id) == image
    assert [i.id for i in store.images.by_offset(a.id, 0, 10)] == [image_id]
    assert store.images.update(a.id, image_id, ImageChanges(creator="c2")) == replace(
        image, creator="c2"
    )
    assert store.images.delete(a.id, image_id) == replace(image, creator="c2")


def test_image_id_of_1024_incompressible_three_byte_characters(
    store: SqlMetadata, a: Account
) -> None:
    # 3 KB of UTF-8: past what a PostgreSQL btree entry holds, so rows are keyed by digest.
    image_id = _random_text((0x4E00, 0x9FFF), 1024)
    store.images.insert(make_image(a.id, image_id))
    assert store.images.get(a.id, image_id) is not None


METAS = {
    "empty": {},
    "nested": {"a": {"b": {"c": [1, {"d": None}, []]}}, "list": [[1, 2], {"x": "y"}]},
    "unicode": {
        "名前": "画像 🖼",
        "skin": "👍🏽",
        "rtl": "שלום",
        "accents": "ünïcödé",
        "escapes": 'quote" backslash\\ newline\n tab\t',
    },
    "numbers": {
        "int": 42,
        "negative": -7,
        "zero": 0,
        "beyond-double": 2**53 + 1,
        "float": 1.5,
        "negative-float": -0.25,
        "pi": 3.141592653589793,
        "tiny": 1e-7,
    },
    "booleans": {"true": True, "false": False, "null": None, "list": [True, False, None, 0, 1]},
}


def _canonical(value: Any) -> str:
    """Tells ``True`` from ``1`` and ``1`` from ``1.0``, which ``==`` does not."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("meta", METAS.values(), ids=METAS.keys())
def test_metadata_json_round_trips(store: SqlMetadata, a: Account, meta: dict[str, Any]) -> None:
    store.images.insert(make_image(a.id, "inserted", meta=meta))
    store.images.insert(make_image(a.id, "updated", uploaded=at(-1)))
    store.images.update(a.id, "updated", ImageChanges(meta=meta))
    for image_id in ("inserted", "updated"):
        image = store.images.get(a.id, image_id)
        assert image is not None
        assert _canonical(image.meta) == _canonical(meta)
    assert [_canonical(i.meta) for i in store.images.by_offset(a.id, 0, 10)] == [
        _canonical(meta)
    ] * 2


@pytest.fixture
def gallery(store: SqlMetadata, a: Account) -> None:
    """Five public images p0..p4, a second apart, and two drafts in between and after."""
    for i in range(5):
        store.images.insert(make_image(a.id, f"p{i}", uploaded=at(i)))
    store.images.insert(make_image(a.id, "d1", uploaded=at(1.5), draft=True))
    store.images.insert(make_image(a.id, "d9", uploaded=at(9), draft=True))


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (0, 100, ["p4", "p3", "p2", "p1", "p0"]),
        (0, 2, ["p4", "p3"]),
        (2, 2, ["p2", "p1"]),
        (4, 2, ["p0"]),
        (1, 3, ["p3", "p2", "p1"]),
        (5, 2, []),
        (0, 0, []),
    ],
)
@pytest.mark.usefixtures("gallery")
def test_list_images_newest_first_without_drafts(
    store: SqlMetadata, a: Account, offset: int, limit: int, expected: list[str]
) -> None:
    assert [i.id for i in store.images.by_offset(a.id, offset, limit)] == expected


@pytest.mark.usefixtures("gallery")
def test_count_images_includes_drafts(store: SqlMetadata, a: Account, b: Account) -> None:
    assert store.images.count(a.id) == 7
    assert store.images.count(b.id) == 0


def test_list_images_breaks_ties_in_a_stable_order(store: SqlMetadata, a: Account) -> None:
    names = ["k3", "k1", "k5", "k2", "k4", "k6"]
    for name in names:
        store.images.insert(make_image(a.id, name))
    store.images.insert(make_image(a.id, "k0", uploaded=at(1)))
    listed = [i.id for i in store.images.by_offset(a.id, 0, 100)]
    assert listed[0] == "k0"
    assert sorted(listed[1:]) == sorted(names)
    assert [i.id for i in store.images.by_offset(a.id, 0, 100)] == listed
    paged = [i.id for offset in range(0, 7, 2) for i in store.images.by_offset(a.id, offset, 2)]
    assert paged == listed


@pytest.mark.parametrize(
    ("changes", "applied"),
    [
        ({"require_signed_urls": True}, {"require_signed_urls": True}),
        ({"meta": {"new": [1, 2]}}, {"meta": {"new": [1, 2]}}),
        ({"meta": {}}, {"meta": {}}),
        ({"creator": "someone-else"}, {"creator": "someone-else"}),
        ({"creator": None}, {}),  # None leaves a field as it is
        (
            {"require_signed_urls": True, "meta": {"k": 1}, "creator": "c2"},
            {"require_signed_urls": True, "meta": {"k": 1}, "creator": "c2"},
        ),
        ({}, {}),
    ],
    ids=[
        "signed",
        "meta",
        "meta-empty",
        "creator",
        "creator-none",
        "all",
        "nothing",
    ],
)
def test_update_image(
    store: SqlMetadata, a: Account, changes: dict[str, Any], applied: dict[str, Any]
) -> None:
    image = make_image(a.id, "img1")
    store.images.insert(image)
    expected = replace(image, **applied)
    assert store.images.update(a.id, "img1", ImageChanges(**changes)) == expected
    assert store.images.get(a.id, "img1") == expected
    assert store.images.get(a.id, "other") is None


def test_update_missing_image(store: SqlMetadata, a: Account) -> None:
    assert store.images.update(a.id, "nope", ImageChanges(creator="x")) is None
    assert store.images.count(a.id) == 0


def test_delete_image_returns_the_record(store: SqlMetadata, a: Account) -> None:
    image = make_image(a.id, "img1", draft=True)
    store.images.insert(image)
    store.images.insert(make_image(a.id, "img2"))
    assert store.images.delete(a.id, "img1") == image
    assert store.images.delete(a.id, "img1") is None
    assert store.images.get(a.id, "img1") is None
    assert store.images.count(a.id) == 1


# --- times ----------------------------------------------------------------------------------

MOMENTS = {
    "millis": T0,
    "micros-truncated": datetime(2024, 5, 17, 12, 0, 0, 999_999, tzinfo=UTC),
    "float-trap-1987": datetime(1987, 3, 2, 3, 19, 44, 535_000, tzinfo=UTC),
    "float-trap-2039": datetime(2039, 5, 22, 19, 43, 16, 424_000, tzinfo=UTC),
    "other-offset": datetime(2024, 5, 17, 14, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=2))),
    "epoch": datetime(1970, 1, 1, tzinfo=UTC),
}


def _account_time(store: SqlMetadata, moment: datetime) -> datetime:
    store.accounts.create(make_account("t", created=moment))
    return next(acc.created for acc in store.accounts.all())


def _token_time(store: SqlMetadata, moment: datetime) -> datetime:
    store.accounts.create(make_account("t"))
    store.tokens.add(make_token("acctt", "tok1", created=moment), "hash1")
    found = store.tokens.find("hash1")
    assert found is not None
    assert store.tokens.all("acctt")[0].created == found.created
    return found.created


def _key_time(store: SqlMetadata, moment: datetime) -> datetime:
    store.accounts.create(make_account("t"))
    store.keys.put("acctt", SigningKey("k1", "v1", moment))
    return store.keys.all("acctt")[0].created


def _image_time(store: SqlMetadata, moment: datetime) -> datetime:
    store.accounts.create(make_account("t"))
    store.images.insert(make_image("acctt", "img1", uploaded=moment))
    found = store.images.get("acctt", "img1")
    assert found is not None
    assert store.images.by_offset("acctt", 0, 1)[0].uploaded == found.uploaded
    return found.uploaded


@pytest.mark.parametrize("moment", MOMENTS.values(), ids=MOMENTS.keys())
@pytest.mark.parametrize(
    "read_back",
    [_account_time, _token_time, _key_time, _image_time],
    ids=["account", "token", "key", "image"],
)
def test_times_round_trip_to_the_millisecond_in_utc(
    store: SqlMetadata,
    moment: datetime,
    read_back: Callable[[SqlMetadata, datetime], datetime],
) -> None:
    expected = moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)
    got = read_back(store, moment)
    assert got == expected
    assert got.microsecond == expected.microsecond
    assert got.tzinfo is not None
    assert got.utcoffset() == timedelta(0)


# --- delivery context -----------------------------------------------------------------------


@pytest.fixture
def published(store: SqlMetadata, a: Account, b: Account) -> Image:
    """In account a: an image, a variant and two keys. In account b: other rows."""
    image = make_image(a.id, "img1", require_signed_urls=True)
    store.images.insert(image)
    store.variants.create(a.id, Variant("thumb", VariantOptions(width=10)))
    store.keys.put(a.id, SigningKey("newer", "v2", at(1)))
    store.keys.put(a.id, SigningKey("older", "v1", T0))
    store.images.insert(make_image(b.id, "onlyb"))
    store.variants.create(b.id, Variant("bonly", VariantOptions(width=99)))
    store.keys.put(b.id, SigningKey("bkey", "vb", T0))
    return image


def test_delivery_context_unknown_hash(store: SqlMetadata, published: Image) -> None:
    assert store.delivery.context("nosuchhash", "img1", "thumb") is None
    assert store.delivery.context("", "img1", None) is None


def test_delivery_context_finds_everything(
    store: SqlMetadata, a: Account, published: Image
) -> None:
    ctx = store.delivery.context(a.hash, "img1", "thumb")
    assert ctx is not None
    assert ctx.account == a
    assert ctx.image == published
    assert ctx.variant == Variant("thumb", VariantOptions(width=10))
    assert list(ctx.keys) == [SigningKey("older", "v1", T0), SigningKey("newer", "v2", at(1))]


@pytest.mark.parametrize(
    ("image_id", "variant_name", "has_image", "has_variant"),
    [
        ("img1", None, True, False),
        ("img1", "nosuchvariant", True, False),
        ("img1", "bonly", True, False),
        ("nosuchimage", "thumb", False, None),
        ("onlyb", "thumb", False, None),
    ],
    ids=["no-variant", "unknown-variant", "foreign-variant", "unknown-image", "foreign-image"],
)
def test_delivery_context_partial(
    store: SqlMetadata,
    a: Account,
    published: Image,
    image_id: str,
    variant_name: str | None,
    has_image: bool,
    has_variant: bool | None,
) -> None:
    ctx = store.delivery.context(a.hash, image_id, variant_name)
    assert ctx is not None
    assert ctx.account == a
    assert (ctx.image == published) if has_image else (ctx.image is None)
    if has_variant is False:
        assert ctx.variant is None
    assert {k.name for k in ctx.keys} <= {"older", "newer"}
    if has_image:
        assert [k.name for k in ctx.keys] == ["older", "newer"]


# --- account isolation ----------------------------------------------------------------------


def _snapshot(store: SqlMetadata, account: Account) -> tuple[object, ...]:
    return (
        store.accounts.get(account.id),
        store.tokens.all(account.id),
        store.tokens.find("hasha"),
        store.keys.all(account.id),
        store.variants.all(account.id),
        store.images.by_offset(account.id, 0, 100),
        store.images.count(account.id),
        store.delivery.context(account.hash, "img1", "thumb"),
    )


def _delivery_through(store: SqlMetadata, b: Account) -> object:
    ctx = store.delivery.context(b.hash, "img1", "thumb")
    return None if ctx is None else (ctx.account.id, ctx.image, ctx.variant)


PROBES: dict[str, tuple[Callable[[SqlMetadata, Account], object], object]] = {
    "get_image": (lambda s, b: s.images.get(b.id, "img1"), None),
    "list_images": (lambda s, b: s.images.by_offset(b.id, 0, 100), []),
    "count_images": (lambda s, b: s.images.count(b.id), 0),
    "update_image": (
        lambda s, b: s.images.update(b.id, "img1", ImageChanges(creator="b", meta={})),
        None,
    ),
    "delete_image": (lambda s, b: s.images.delete(b.id, "img1"), None),
    "insert_image": (lambda s, b: s.images.insert(make_image(b.id, "img1", filename="b")), None),
    "list_keys": (lambda s, b: s.keys.all(b.id), []),
    "delete_key": (lambda s, b: s.keys.delete(b.id, "older"), False),
    "add_key_verifications": (
        lambda s, b: s.keys.add_verifications(b.id, {"older": 5, "newer": 1}),
        None,
    ),
    "put_key": (lambda s, b: s.keys.put(b.id, SigningKey("older", "bvalue", at(5))), None),
    "list_variants": (lambda s, b: s.variants.all(b.id), []),
    "get_variant": (lambda s, b: s.variants.get(b.id, "thumb"), None),
    "update_variant": (
        lambda s, b: s.variants.update(b.id, "thumb", VariantOptions(width=1), True),
        None,
    ),
    "delete_variant": (lambda s, b: s.variants.delete(b.id, "thumb"), False),
    "create_variant": (
        lambda s, b: s.variants.create(b.id, Variant("thumb", VariantOptions(width=2))),
        None,
    ),
    "list_tokens": (lambda s, b: s.tokens.all(b.id), []),
    "revoke_token": (lambda s, b: s.tokens.revoke(b.id, "toka"), False),
    "update_account": (
        lambda s, b: s.accounts.update(b.id, AccountChanges(browser_ttl=1)),
        replace(make_account("b"), browser_ttl=1),
    ),
    "delivery_context": (_delivery_through, ("acctb", None, None)),
}


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
def test_nothing_of_one_account_is_reachable_through_another(
    store: SqlMetadata,
    a: Account,
    b: Account,
    probe: tuple[Callable[[SqlMetadata, Account], object], object],
) -> None:
    store.images.insert(make_image(a.id, "img1"))
    store.variants.create(a.id, Variant("thumb", VariantOptions(width=10)))
    store.keys.put(a.id, SigningKey("older", "v1", T0))
    store.keys.put(a.id, SigningKey("newer", "v2", at(1)))
    store.keys.add_verifications(a.id, {"older": 2})
    store.tokens.add(make_token(a.id, "toka"), "hasha")
    before = _snapshot(store, a)

    call, expected = probe
    assert call(store, b) == expected
    assert _snapshot(store, a) == before
