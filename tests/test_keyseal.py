"""Signing keys sealed at rest under IMAGEGATE_MASTER_KEY."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from harness import in_process, jpeg, serve_account
from imagegate.adapters.keyseal import PREFIX, KeySeal, SealError
from imagegate.assembly import build
from imagegate.core.signing import sign_url
from imagegate.settings import Settings


def test_seal_round_trip_is_bound_to_its_row() -> None:
    seal = KeySeal("correct horse battery staple")
    stored = seal.seal("the key", "acct", "default")
    assert stored.startswith(PREFIX) and "the key" not in stored
    assert seal.open(stored, "acct", "default") == "the key"
    assert seal.seal("the key", "acct", "default") != stored  # fresh nonce each time
    with pytest.raises(SealError):
        seal.open(stored, "acct", "other")  # moved to another row
    with pytest.raises(SealError):
        KeySeal("another master key").open(stored, "acct", "default")
    with pytest.raises(SealError):
        KeySeal(None).open(stored, "acct", "default")
    assert KeySeal(None).open("plain", "acct", "default") == "plain"


def stored_values(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "imagegate.db") as db:
        return [row[0] for row in db.execute("select value from signing_keys")]


def test_keys_are_encrypted_at_rest_and_still_verify(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, master_key=SecretStr("m" * 32))
    with serve_account(settings, name="sealed") as srv:
        gate, account = in_process(srv)
        gate.images.upload(account, jpeg(40, 40), custom_id="p", require_signed_urls=True)
        values = stored_values(tmp_path)
        assert values and all(v.startswith(PREFIX) for v in values)
        assert srv.signing_key not in "".join(values)
        url = f"{srv.base_url}/{srv.account_hash}/p/public"
        assert httpx.get(sign_url(url, srv.signing_key, 60)).status_code == 200
        keys = httpx.get(
            f"{srv.base_url}/accounts/{srv.account_id}/images/v1/keys",
            headers={"Authorization": f"Bearer {srv.api_token}"},
        ).json()["result"]["keys"]
        assert keys[0]["value"] == srv.signing_key  # the API shows the key itself


def test_existing_clear_keys_are_sealed_on_request(tmp_path: Path) -> None:
    plain = build(Settings(data_dir=tmp_path))
    plain.migrate()
    new = plain.accounts.create("old")
    assert stored_values(tmp_path) == [new.signing_key]
    sealed = build(Settings(data_dir=tmp_path, master_key=SecretStr("k" * 32)))
    assert sealed.keys.seal_all() == 1
    assert stored_values(tmp_path)[0].startswith(PREFIX)
    assert sealed.keys.all(new.account)[0].value == new.signing_key
    assert sealed.keys.seal_all() == 0
