"""Rows a client can make an account grow are bounded: signing keys (which also bounds the
work of refusing a bad signature), API tokens, batch tokens and dashboard sessions. Each
limit answers in the shape of its surface; an older store that holds more keeps working.
Against a running server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from dashboard.helpers import Browserish, csrf_of, dashboard_server
from harness import Clock, Server, jpeg, store_of
from imagegate.adapters.metadata.schema import signing_keys
from imagegate.assembly import build
from imagegate.assembly.doctor import examine
from imagegate.core.ids import sha256_hex as session_hash
from imagegate.core.models import MAX_SIGNING_KEYS, Scope, SigningKey, epoch_ms
from imagegate.core.signing import sign_url
from imagegate.settings import Settings
from imagegate.usecases.clock import utc
from imagegate.usecases.sessions import MAX_PER_TOKEN
from imagegate.usecases.tokens import MAX_API_TOKENS, MAX_BATCH_TOKENS


@pytest.fixture
def timed(tmp_path: Path) -> Iterator[tuple[Server, Clock]]:
    """A dashboard server (one account, an admin password) whose clock the test moves."""
    clock = Clock(time.time())
    with dashboard_server(tmp_path / "data", clock=clock) as srv:
        yield srv, clock


def refused_as_limit(r: httpx.Response, words: str) -> None:
    assert r.status_code == 403, r.text
    error = r.json()["errors"][0]
    assert error["code"] == 5453 and words in error["message"]
    assert r.json()["success"] is False and r.json()["result"] is None


# --- signing keys -------------------------------------------------------------------------------


def test_an_account_holds_at_most_ten_keys(server: Server) -> None:
    assert MAX_SIGNING_KEYS == 10  # the number docs/api.md and docs/signing.md give
    with server.client() as c:
        keys = f"{server.images_url}/keys"
        for n in range(1, MAX_SIGNING_KEYS):
            assert c.put(f"{keys}/k{n}").status_code == 200
        refused_as_limit(c.put(f"{keys}/onemore"), "at most 10 signing keys")
        listed = c.get(keys).json()["result"]["keys"]
        assert len(listed) == MAX_SIGNING_KEYS and "onemore" not in {k["name"] for k in listed}
        assert c.put(f"{keys}/default").status_code == 200  # rotating is not adding
        assert c.delete(f"{keys}/k1").status_code == 200
        assert c.put(f"{keys}/onemore").status_code == 200


def test_a_store_that_holds_more_keys_keeps_working_within_bounds(server: Server) -> None:
    """1,500 keys, as a store written before the limit may hold: the account is listed,
    rotated and pruned as before, cannot grow, and a signature is checked against its ten
    newest keys only, so a bad one costs ten HMACs, not 1,500."""
    with server.client() as c:
        up = c.post(
            server.images_url,
            files={"file": ("p.jpg", jpeg(64, 48))},
            data={"id": "p.jpg", "requireSignedURLs": "true"},
        )
        assert up.status_code == 200
    meta = store_of(server)
    start = epoch_ms(utc(server.gate.clock)) - 10_000_000  # type: ignore[union-attr]
    rows = [
        {
            "account_id": server.account_id,
            "name": f"old{n}",
            "value": f"value-of-old-key-number-{n}-" + "x" * 20,
            "created_ms": start + n,
            "verifications": 0,
        }
        for n in range(1500)
    ]
    with meta.database.engine.begin() as conn:
        conn.execute(sa.insert(signing_keys), rows)

    path = f"/{server.account_hash}/p.jpg/public"
    ctx = meta.delivery.context(server.account_hash, "p.jpg", "public")
    assert ctx is not None and len(ctx.keys) == MAX_SIGNING_KEYS
    newest, oldest = rows[-1]["value"], rows[0]["value"]
    assert httpx.get(server.url(sign_url(path, newest, 600))).status_code == 200
    assert httpx.get(server.url(sign_url(path, server.signing_key, 600))).status_code == 200
    assert httpx.get(server.url(sign_url(path, oldest, 600))).status_code == 403

    with server.client() as c:
        keys = f"{server.images_url}/keys"
        assert len(c.get(keys).json()["result"]["keys"]) == 1501
        refused_as_limit(c.put(f"{keys}/brandnew"), "at most 10 signing keys")
        rotated = c.put(f"{keys}/old0").json()["result"]["keys"]  # the oldest becomes newest
        value = next(k["value"] for k in rotated if k["name"] == "old0")
        assert c.delete(f"{keys}/old1").status_code == 200
    assert httpx.get(server.url(sign_url(path, value, 600))).status_code == 200


# --- tokens -----------------------------------------------------------------------------------


def test_batch_tokens_are_capped_and_spent_ones_cleared(timed: tuple[Server, Clock]) -> None:
    srv, clock = timed
    batch_url = f"{srv.images_url}/batch_token"
    with srv.client() as c:
        for _ in range(MAX_BATCH_TOKENS):
            assert c.get(batch_url).status_code == 200
        refused_as_limit(c.get(batch_url), "at most 100 live batch tokens")
        clock.advance(15 * 60 + 1)
        assert c.get(batch_url).status_code == 200
    held = store_of(srv).tokens.all(srv.account_id)
    assert len([t for t in held if t.batch]) == 1  # the spent ones went


def test_api_tokens_are_capped(timed: tuple[Server, Clock]) -> None:
    srv, _ = timed
    gate = srv.gate  # type: ignore[union-attr]
    made = [
        gate.tokens.create(srv.account_id, f"t{n}", frozenset({Scope.READ}))[1]
        for n in range(MAX_API_TOKENS - 1)  # the account's first token is the hundredth
    ]
    admin = Browserish(srv)
    assert admin.sign_in(password="correct horse battery staple").status_code == 303
    token = csrf_of(admin.http.get("/dashboard/settings").text)
    refused = admin.post("/dashboard/tokens", {"csrf_token": token, "name": "extra"})
    assert refused.status_code == 403 and "at most 100 live API tokens" in refused.text
    assert "extra" not in {t.name for t in gate.tokens.all(srv.account_id)}

    gate.tokens.revoke(srv.account_id, made[0].id)
    again = admin.post("/dashboard/tokens", {"csrf_token": token, "name": "extra"})
    assert again.status_code == 200 and 'id="new-token"' in again.text
    admin.close()


# --- sessions ---------------------------------------------------------------------------------


def test_a_token_keeps_at_most_twenty_sessions(timed: tuple[Server, Clock]) -> None:
    srv, clock = timed
    browsers = [Browserish(srv) for _ in range(MAX_PER_TOKEN + 1)]
    for browser in browsers:
        assert browser.sign_in().status_code == 303
        clock.advance(1)
    first, *rest = browsers
    assert first.http.get("/dashboard/images").status_code == 303  # ended: sign in again
    for browser in rest:
        assert browser.http.get("/dashboard/images").status_code == 200
    meta = store_of(srv)
    now_ms = int(srv.gate.clock() * 1000)  # type: ignore[union-attr]
    found = [meta.sessions.find(session_hash(b.session_cookie or ""), now_ms) for b in browsers]
    alive = [session for session in found if session is not None]
    assert len(alive) == MAX_PER_TOKEN
    for browser in browsers:
        browser.close()


def test_doctor_names_accounts_over_the_key_cap(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    gate = build(settings)
    gate.migrate()
    crowded = gate.accounts.create("crowded").account
    gate.accounts.create("tidy")
    for n in range(MAX_SIGNING_KEYS + 2):
        store_of(gate).keys.put(crowded.id, SigningKey(f"k{n}", "v", utc(gate.clock)))
    gate.close()
    warnings = [f for f in examine(settings) if f.check == "signing keys"]
    assert [(f.status, crowded.id in f.detail) for f in warnings] == [("warn", True)]
    assert "holds 13 keys; only its 10 newest" in warnings[0].detail
