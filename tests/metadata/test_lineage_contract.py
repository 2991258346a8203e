"""What the store promises about credentials made with other credentials, and about the rows
an account may grow: token lineage and revocation, drafts' issuers, session trimming, and
the limits on keys and tokens, on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from imagegate.adapters.metadata import SqlMetadata
from imagegate.adapters.metadata.schema import signing_keys
from imagegate.core.errors import LimitReached, Unauthenticated
from imagegate.core.models import MAX_SIGNING_KEYS, Account, ApiToken, SigningKey, epoch_ms
from imagegate.usecases.records import StoredSession
from metadata.test_contract import T0, at, make_account, make_image, make_token

MS0 = epoch_ms(T0)


@pytest.fixture
def a(store: SqlMetadata) -> Account:
    account = make_account("a")
    store.accounts.create(account)
    return account


def child(account_id: str, token_id: str, parent: str, **changes: object) -> ApiToken:
    return make_token(account_id, token_id, parent_id=parent, **changes)


def session(id_hash: str, token_id: str | None, created_ms: int) -> StoredSession:
    return StoredSession(
        id_hash=id_hash,
        account_id="accta",
        token_id=token_id,
        admin=token_id is None,
        read_only=False,
        csrf_token="csrf",
        created_ms=created_ms,
        expires_ms=created_ms + 10**9,
        key_access=token_id is None,
    )


def alive(store: SqlMetadata, account_id: str) -> set[str]:
    return {t.id for t in store.tokens.all(account_id) if not t.revoked}


# --- lineage ------------------------------------------------------------------------------


def test_lineage_round_trips(store: SqlMetadata, a: Account) -> None:
    root = make_token(a.id, "root")
    batch = child(a.id, "batch", "root", batch=True, expires=at(900))
    store.tokens.add(root, "h-root")
    store.tokens.add(batch, "h-batch")
    assert store.tokens.find("h-batch") == batch
    assert store.tokens.get(a.id, "batch") == batch
    assert store.tokens.get(a.id, "missing") is None
    assert store.tokens.get("acctother", "batch") is None


def test_revoking_a_token_revokes_every_generation_below_it(store: SqlMetadata, a: Account) -> None:
    store.tokens.add(make_token(a.id, "root"), "h0")
    store.tokens.add(child(a.id, "kid", "root"), "h1")
    store.tokens.add(child(a.id, "grandkid", "kid", batch=True, expires=at(900)), "h2")
    store.tokens.add(child(a.id, "sibling", "root"), "h3")
    store.tokens.add(make_token(a.id, "stranger"), "h4")
    assert store.tokens.revoke(a.id, "kid")
    assert alive(store, a.id) == {"root", "sibling", "stranger"}
    assert store.tokens.revoke(a.id, "root")
    assert alive(store, a.id) == {"stranger"}
    for value in ("h0", "h1", "h2", "h3"):
        assert store.tokens.find(value) is None


def test_revocation_ends_the_sessions_of_every_token_below(store: SqlMetadata, a: Account) -> None:
    store.tokens.add(make_token(a.id, "root"), "h0")
    store.tokens.add(child(a.id, "kid", "root"), "h1")
    store.tokens.add(make_token(a.id, "stranger"), "h2")
    for id_hash, token_id in (("s-root", "root"), ("s-kid", "kid"), ("s-other", "stranger")):
        store.sessions.create(session(id_hash, token_id, MS0))
    store.sessions.create(session("s-admin", None, MS0))
    store.tokens.revoke(a.id, "root")
    assert store.sessions.find("s-root", MS0) is None
    assert store.sessions.find("s-kid", MS0) is None
    assert not store.sessions.delete("s-kid")  # the rows went, not just their rights
    assert store.sessions.find("s-other", MS0) is not None
    assert store.sessions.find("s-admin", MS0) is not None


def test_a_token_below_a_dead_one_is_refused_and_not_stored(store: SqlMetadata, a: Account) -> None:
    store.tokens.add(make_token(a.id, "root"), "h0")
    store.tokens.add(make_token(a.id, "brief", expires=at(10)), "h1")
    store.tokens.revoke(a.id, "root")
    with pytest.raises(Unauthenticated):
        store.tokens.add(child(a.id, "late", "root"), "h2")
    with pytest.raises(Unauthenticated):
        store.tokens.add(child(a.id, "after", "brief", created=at(11)), "h3")
    with pytest.raises(Unauthenticated):
        store.tokens.add(child(a.id, "orphan", "missing"), "h4")
    assert {t.id for t in store.tokens.all(a.id)} == {"root", "brief"}
    store.tokens.add(child(a.id, "in-time", "brief", created=at(10), expires=at(10)), "h5")


def test_a_draft_needs_a_live_issuer_and_goes_with_it(store: SqlMetadata, a: Account) -> None:
    store.tokens.add(make_token(a.id, "root"), "h0")
    store.tokens.add(make_token(a.id, "other"), "h1")
    waiting = make_image(a.id, "d1", draft=True, format=None, upload_expires=at(600))
    store.images.insert(waiting, upload_token_hash="u1", draft_token_id="root")
    store.images.insert(replace(waiting, id="d2"), upload_token_hash="u2", draft_token_id="other")
    store.images.insert(replace(waiting, id="legacy"), upload_token_hash="u3")
    store.tokens.revoke(a.id, "root")
    assert store.images.find_draft("u1") is None and store.images.get(a.id, "d1") is None
    assert store.images.find_draft("u2") is not None and store.images.find_draft("u3") is not None
    with pytest.raises(Unauthenticated):
        store.images.insert(
            replace(waiting, id="d4"), upload_token_hash="u4", draft_token_id="root"
        )
    assert store.images.get(a.id, "d4") is None


# --- limits and clean-up ----------------------------------------------------------------------


def test_live_tokens_are_counted_by_kind(store: SqlMetadata, a: Account) -> None:
    for n in range(3):
        store.tokens.add(make_token(a.id, f"t{n}"), f"ht{n}", max_live=3)
    with pytest.raises(LimitReached):
        store.tokens.add(make_token(a.id, "t3"), "ht3", max_live=3)
    assert store.tokens.get(a.id, "t3") is None
    store.tokens.add(child(a.id, "b0", "t0", batch=True, expires=at(900)), "hb0", max_live=1)
    with pytest.raises(LimitReached):
        store.tokens.add(child(a.id, "b1", "t0", batch=True, expires=at(900)), "hb1", max_live=1)
    store.tokens.revoke(a.id, "t1")  # revoked and expired tokens do not count
    store.tokens.add(make_token(a.id, "t4"), "ht4", max_live=3)
    later = at(901)
    store.tokens.add(
        child(a.id, "b2", "t0", batch=True, created=later, expires=later + timedelta(seconds=900)),
        "hb2",
        max_live=1,
    )


def test_pruning_drops_spent_batch_tokens_and_old_dead_ones(store: SqlMetadata, a: Account) -> None:
    store.tokens.add(make_token(a.id, "root"), "h")
    store.tokens.add(child(a.id, "spent", "root", batch=True, expires=at(5)), "hs")
    store.tokens.add(child(a.id, "fresh", "root", batch=True, expires=at(900)), "hf")
    for n in range(4):
        store.tokens.add(make_token(a.id, f"dead{n}", created=at(n), revoked=True), f"hd{n}")
    assert store.tokens.prune(a.id, epoch_ms(at(10)), keep_dead=2) == 3
    assert {t.id for t in store.tokens.all(a.id)} == {"root", "fresh", "dead2", "dead3"}
    assert store.tokens.prune("acctother", epoch_ms(at(10)), keep_dead=0) == 0


def test_signing_keys_stop_at_the_limit_but_rotate_past_it(store: SqlMetadata, a: Account) -> None:
    for n in range(3):
        store.keys.put(a.id, SigningKey(f"k{n}", f"v{n}", at(n)), max_keys=3)
    with pytest.raises(LimitReached):
        store.keys.put(a.id, SigningKey("k3", "v3", at(3)), max_keys=3)
    assert [k.name for k in store.keys.all(a.id)] == ["k0", "k1", "k2"]
    store.keys.put(a.id, SigningKey("k0", "rotated", at(4)), max_keys=3)
    store.keys.put(a.id, SigningKey("k0", "again", at(5)), max_keys=2)  # over: may still rotate
    assert {k.name: k.value for k in store.keys.all(a.id)}["k0"] == "again"


def test_delivery_tries_only_the_newest_keys(store: SqlMetadata, a: Account) -> None:
    """A store written before the limit may hold any number of keys: delivery reads the
    newest ``MAX_SIGNING_KEYS``, oldest first, and the API still lists them all."""
    held = MAX_SIGNING_KEYS + 40
    rows = [
        {
            "account_id": a.id,
            "name": f"k{n}",
            "value": f"v{n}",
            "created_ms": epoch_ms(at(n)),
            "verifications": 0,
        }
        for n in range(held)
    ]
    with store.database.engine.begin() as conn:
        conn.execute(sa.insert(signing_keys), rows)
    store.images.insert(make_image(a.id, "img"))
    ctx = store.delivery.context(a.hash, "img", None)
    assert ctx is not None
    newest = [f"k{n}" for n in range(held - MAX_SIGNING_KEYS, held)]
    assert [k.name for k in ctx.keys] == newest
    assert len(store.keys.all(a.id)) == held


def test_sessions_beyond_the_newest_of_a_token_end(store: SqlMetadata, a: Account) -> None:
    store.tokens.add(make_token(a.id, "root"), "h0")
    store.tokens.add(make_token(a.id, "other"), "h1")
    store.sessions.create(session("o", "other", MS0), keep=2)
    for n in range(4):
        store.sessions.create(session(f"r{n}", "root", MS0 + n), keep=2)
        store.sessions.create(session(f"a{n}", None, MS0 + n), keep=3)
    made = ["o", *(f"{kind}{n}" for kind in "ra" for n in range(4))]
    kept = {s for s in made if store.sessions.find(s, MS0) is not None}
    assert kept == {"o", "r2", "r3", "a1", "a2", "a3"}
