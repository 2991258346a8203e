"""Sessions and the admin password: the hashing, the expiry rules, and the store's methods
on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness import Clock, store_of
from imagegate.adapters.metadata import SqlMetadata
from imagegate.assembly import build
from imagegate.core.errors import Unauthenticated
from imagegate.core.ids import sha256_hex as session_hash
from imagegate.core.models import Account, ApiToken, Scope
from imagegate.core.passwords import check_password, hash_password
from imagegate.settings import Settings
from imagegate.usecases.records import StoredSession
from imagegate.usecases.sessions import ABSOLUTE_MS, IDLE_MS
from metadata.conftest import postgres_url, store

__all__ = ["postgres_url", "store"]


# --- the admin password -------------------------------------------------------------------------


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("a long passphrase"), hash_password("a long passphrase")
    assert first != second  # a fresh salt each time
    assert first.startswith("scrypt$32768$8$1$")
    assert "a long passphrase" not in first
    assert check_password("a long passphrase", first)
    assert check_password("a long passphrase", second)
    assert not check_password("a long passphrasE", first)
    assert not check_password("", first)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "scrypt$1$8$1$AAAA$AAAA",
        "scrypt$x$8$1$AAAA$AAAA",
        "bcrypt$2$8$1$AA$AA",
        "scrypt$16384$8$1$!!!$AAAA",
        "scrypt$4194304$8$1$AAAA$AAAA",
    ],
)
def test_malformed_or_costly_hashes_never_match(stored: str) -> None:
    assert not check_password("anything at all", stored)


def test_short_passwords_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        hash_password("short")


# --- the store ------------------------------------------------------------------------------------


def _account(store: SqlMetadata) -> Account:
    account = Account("acct1", "hash1", "one", datetime(2024, 5, 17, tzinfo=UTC))
    store.accounts.create(account)
    return account


def _session(account_id: str | None, token_id: str | None, **changes: object) -> StoredSession:
    base = StoredSession(
        id_hash=session_hash("raw-id"),
        account_id=account_id,
        token_id=token_id,
        admin=token_id is None,
        read_only=False,
        csrf_token="csrf",
        created_ms=1_000,
        expires_ms=10_000,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_sessions_in_the_store(store: SqlMetadata) -> None:
    account = _account(store)
    token = ApiToken("tok1", account.id, "t", frozenset(Scope), account.created)
    store.tokens.add(token, "h" * 64)
    session = _session(account.id, token.id)
    store.sessions.create(session)
    assert store.sessions.find(session.id_hash, 5_000) == session
    assert store.sessions.find(session.id_hash, 10_000) == session  # valid through expires
    assert store.sessions.find(session.id_hash, 10_001) is None
    assert store.sessions.find("0" * 64, 5_000) is None

    store.sessions.touch(session.id_hash, 20_000)
    assert store.sessions.find(session.id_hash, 15_000) == replace(session, expires_ms=20_000)

    other = _session(account.id, token.id, id_hash=session_hash("other"))
    store.sessions.create(other)
    assert store.sessions.delete(other.id_hash)  # sign-out
    assert not store.sessions.delete(other.id_hash)  # twice is not an error

    store.tokens.revoke(account.id, token.id)
    assert store.sessions.find(session.id_hash, 15_000) is None  # its token was revoked
    assert not store.sessions.delete(session.id_hash)  # and the revocation ended it


def test_admin_sessions_switch_accounts_and_expired_ones_are_swept(
    store: SqlMetadata,
) -> None:
    account = _account(store)
    other = Account("acct2", "hash2", "two", account.created)
    store.accounts.create(other)
    admin = _session(account.id, None)
    old = _session(None, None, id_hash=session_hash("old"), expires_ms=2_000)
    store.sessions.create(admin)
    store.sessions.create(old)
    assert store.sessions.set_account(admin.id_hash, other.id)
    found = store.sessions.find(admin.id_hash, 5_000)
    assert found is not None and found.account_id == other.id and found.admin
    assert not store.sessions.set_account(session_hash("missing"), other.id)
    assert store.sessions.delete_expired(5_000) == 1
    assert store.sessions.find(admin.id_hash, 5_000) is not None


def test_expired_tokens_end_their_sessions(store: SqlMetadata) -> None:
    account = _account(store)
    expires = account.created + timedelta(seconds=3)
    batch = ApiToken("tok2", account.id, "batch", frozenset(Scope), account.created, False, expires)
    store.tokens.add(batch, "b" * 64)
    session = _session(account.id, batch.id, expires_ms=10**13)
    store.sessions.create(session)
    in_time = int(expires.timestamp() * 1000) - 1
    assert store.sessions.find(session.id_hash, in_time) is not None
    assert store.sessions.find(session.id_hash, in_time + 2) is None


def test_the_admin_password_in_the_store(store: SqlMetadata) -> None:
    assert store.sessions.admin_password() is None
    store.sessions.set_admin_password("scrypt$first", 1)
    store.sessions.set_admin_password("scrypt$second", 2)
    assert store.sessions.admin_password() == "scrypt$second"


# --- session rules -----------------------------------------------------------------------------


def test_sessions_end_after_the_absolute_lifetime_however_busy(tmp_path: Path) -> None:
    clock = Clock()
    settings = Settings(data_dir=tmp_path)
    gate = build(settings, clock)
    gate.migrate()
    new = gate.accounts.create("a")
    sessions = gate.sessions
    opened = sessions.sign_in_with_token(new.api_token)
    assert opened.session.id_hash == session_hash(opened.raw_id)
    assert opened.session.csrf_token and opened.session.csrf_token != opened.raw_id
    elapsed = 0
    step = IDLE_MS // 1000 - 3600
    while (elapsed + step) * 1000 < ABSOLUTE_MS:
        clock.advance(step)
        elapsed += step
        assert sessions.find(opened.raw_id) is not None, elapsed
    clock.advance(step)
    assert sessions.find(opened.raw_id) is None
    gate.close()


def test_sign_in_refuses_bad_tokens_and_passwords(tmp_path: Path) -> None:
    gate = build(Settings(data_dir=tmp_path))
    gate.migrate()
    gate.accounts.create("a")
    sessions = gate.sessions
    for token in ("", "igt_nope", " "):
        with pytest.raises(Unauthenticated):
            sessions.sign_in_with_token(token)
    with pytest.raises(Unauthenticated):
        sessions.sign_in_as_admin("no password is set yet")
    store_of(gate).sessions.set_admin_password(hash_password("the right one"), 0)
    with pytest.raises(Unauthenticated):
        sessions.sign_in_as_admin("the wrong one")
    opened = sessions.sign_in_as_admin("the right one")
    assert opened.session.admin and not opened.session.read_only
    assert sessions.find(opened.raw_id) is not None
    assert sessions.find("x" * 200) is None
    gate.close()
