"""The store-wide maintenance methods ``imagegate gc`` relies on, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imagegate.adapters.metadata import SqlMetadata
from imagegate.core.ids import image_digest
from imagegate.core.models import Account, Format, Image, epoch_ms
from imagegate.usecases.records import StoredOriginal

T0 = datetime(2024, 5, 17, 12, 0, 0, tzinfo=UTC)


def account(tag: str) -> Account:
    return Account(id=f"acct{tag}", hash=f"hash{tag}", name=tag, created=T0)


def image(account_id: str, image_id: str, blob_key: str) -> Image:
    return Image(
        account_id=account_id,
        id=image_id,
        filename="a.jpg",
        uploaded=T0,
        require_signed_urls=False,
        meta={},
        format=Format.JPEG,
        width=4,
        height=3,
        size=10,
        blob_key=blob_key,
        sha256="ab" * 32,
    )


def draft(account_id: str, image_id: str, expires: datetime) -> Image:
    return Image(
        account_id=account_id,
        id=image_id,
        filename="",
        uploaded=T0,
        require_signed_urls=False,
        meta={},
        draft=True,
        upload_expires=expires,
    )


@pytest.fixture
def two_accounts(store: SqlMetadata) -> tuple[Account, Account]:
    a, b = account("a"), account("b")
    store.accounts.create(a)
    store.accounts.create(b)
    return a, b


def test_referenced_blob_keys_span_every_account_and_skip_drafts(
    store: SqlMetadata, two_accounts: tuple[Account, Account]
) -> None:
    a, b = two_accounts
    assert store.images.referenced_blob_keys() == set()
    store.images.insert(image(a.id, "one", "originals/a/00/one"))
    store.images.insert(image(b.id, "two", "originals/b/00/two"))
    store.images.insert(draft(a.id, "waiting", T0 + timedelta(hours=1)), upload_token_hash="h1")
    assert store.images.referenced_blob_keys() == {"originals/a/00/one", "originals/b/00/two"}
    store.images.delete(a.id, "one")
    assert store.images.referenced_blob_keys() == {"originals/b/00/two"}


def test_image_digests_span_every_account_drafts_included(
    store: SqlMetadata, two_accounts: tuple[Account, Account]
) -> None:
    a, b = two_accounts
    assert store.images.image_digests() == set()
    store.images.insert(image(a.id, "one", "originals/a/00/one"))
    store.images.insert(image(b.id, "one", "originals/b/00/one"))
    store.images.insert(draft(a.id, "waiting", T0 + timedelta(hours=1)), upload_token_hash="h1")
    assert store.images.image_digests() == {
        (a.id, image_digest("one")),
        (b.id, image_digest("one")),
        (a.id, image_digest("waiting")),
    }
    store.images.delete(a.id, "one")
    assert (a.id, image_digest("one")) not in store.images.image_digests()


def test_expired_drafts_are_counted_then_deleted(
    store: SqlMetadata, two_accounts: tuple[Account, Account]
) -> None:
    a, b = two_accounts
    store.images.insert(draft(a.id, "old", T0), upload_token_hash="h1")
    store.images.insert(draft(b.id, "older", T0 - timedelta(days=1)), upload_token_hash="h2")
    store.images.insert(draft(a.id, "open", T0 + timedelta(hours=1)), upload_token_hash="h3")
    store.images.insert(image(a.id, "done", "originals/a/00/done"))
    cutoff = epoch_ms(T0 + timedelta(seconds=1))

    assert store.images.count_expired_drafts(epoch_ms(T0)) == 1  # strictly before the cutoff
    assert store.images.count_expired_drafts(cutoff) == 2
    assert store.images.delete_expired_drafts(cutoff) == 2
    assert store.images.count_expired_drafts(cutoff) == 0
    assert store.images.get(a.id, "old") is None and store.images.get(b.id, "older") is None
    assert store.images.get(a.id, "open") is not None
    assert store.images.get(a.id, "done") is not None


def test_a_completed_draft_is_not_an_expired_one(
    store: SqlMetadata, two_accounts: tuple[Account, Account]
) -> None:
    """complete_upload and delete_expired_drafts race on one row: only one may win."""
    a, _ = two_accounts
    store.images.insert(draft(a.id, "racing", T0 + timedelta(minutes=5)), upload_token_hash="h")
    original = StoredOriginal(Format.JPEG, 4, 3, 10, "originals/a/00/racing", "cd" * 32, "a.jpg")
    done = store.images.complete_upload("h", epoch_ms(T0), original)
    assert done is not None
    assert store.images.delete_expired_drafts(epoch_ms(T0 + timedelta(days=1))) == 0
    assert store.images.referenced_blob_keys() == {"originals/a/00/racing"}
