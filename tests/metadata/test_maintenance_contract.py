"""The store-wide maintenance methods ``imagegate gc`` relies on, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imagegate.metadata.sql import SqlMetadataStore
from imagegate.models import Account, Format, Image, epoch_ms

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
def two_accounts(store: SqlMetadataStore) -> tuple[Account, Account]:
    a, b = account("a"), account("b")
    store.create_account(a)
    store.create_account(b)
    return a, b


def test_referenced_blob_keys_span_every_account_and_skip_drafts(
    store: SqlMetadataStore, two_accounts: tuple[Account, Account]
) -> None:
    a, b = two_accounts
    assert store.referenced_blob_keys() == set()
    store.insert_image(image(a.id, "one", "originals/a/00/one"))
    store.insert_image(image(b.id, "two", "originals/b/00/two"))
    store.insert_image(draft(a.id, "waiting", T0 + timedelta(hours=1)), upload_token_hash="h1")
    assert store.referenced_blob_keys() == {"originals/a/00/one", "originals/b/00/two"}
    store.delete_image(a.id, "one")
    assert store.referenced_blob_keys() == {"originals/b/00/two"}


def test_expired_drafts_are_counted_then_deleted(
    store: SqlMetadataStore, two_accounts: tuple[Account, Account]
) -> None:
    a, b = two_accounts
    store.insert_image(draft(a.id, "old", T0), upload_token_hash="h1")
    store.insert_image(draft(b.id, "older", T0 - timedelta(days=1)), upload_token_hash="h2")
    store.insert_image(draft(a.id, "open", T0 + timedelta(hours=1)), upload_token_hash="h3")
    store.insert_image(image(a.id, "done", "originals/a/00/done"))
    cutoff = epoch_ms(T0 + timedelta(seconds=1))

    assert store.count_expired_drafts(epoch_ms(T0)) == 1  # strictly before the cutoff
    assert store.count_expired_drafts(cutoff) == 2
    assert store.delete_expired_drafts(cutoff) == 2
    assert store.count_expired_drafts(cutoff) == 0
    assert store.get_image(a.id, "old") is None and store.get_image(b.id, "older") is None
    assert store.get_image(a.id, "open") is not None
    assert store.get_image(a.id, "done") is not None


def test_a_completed_draft_is_not_an_expired_one(
    store: SqlMetadataStore, two_accounts: tuple[Account, Account]
) -> None:
    """complete_upload and delete_expired_drafts race on one row: only one may win."""
    a, _ = two_accounts
    store.insert_image(draft(a.id, "racing", T0 + timedelta(minutes=5)), upload_token_hash="h")
    done = store.complete_upload(
        "h", epoch_ms(T0), format=Format.JPEG, width=4, height=3, size=10,
        blob_key="originals/a/00/racing", sha256="cd" * 32, filename="a.jpg",
    )  # fmt: skip
    assert done is not None
    assert store.delete_expired_drafts(epoch_ms(T0 + timedelta(days=1))) == 0
    assert store.referenced_blob_keys() == {"originals/a/00/racing"}
