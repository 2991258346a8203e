"""URLs signed by the reference signers in JavaScript, served by a running imagegate.

* Every vector in ``tests/interop/vectors.jsonl`` (made by the project's ``sign.mjs``) is
  served by a server holding that vector's key (its clock frozen at the epoch, so even the
  2021 and ``exp=0`` vectors are live), and every one-character change to the path, query or
  ``sig`` is refused.
* When the shared reference folder is there, its vectors and the project's agree: each shared
  vector is served, and each signer writes the other's vectors byte for byte.
* The seed's own Worker, run in workerd, signs private images with custom ids; those URLs
  load, and stop loading when unsigned, expired, or signed with a deleted key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from harness import (
    Clock,
    Server,
    dimensions,
    in_process,
    jpeg,
    raw_request,
    serve_account,
    serve_in_thread,
    store_of,
)
from imagegate.assembly import Imagegate, build
from imagegate.core import ids
from imagegate.core.models import Account, Format, Image, SigningKey, Variant, VariantOptions
from imagegate.settings import Settings
from nodejs import SIGN_MJS, VECTORS_FILE, load_vectors, require_shared, sign_jsonl
from workerd import sign_with_worker

VECTORS = load_vectors()
VECTORS_FILE_LINES = VECTORS_FILE.read_text("utf-8").splitlines()
EPOCH = datetime.fromtimestamp(0, tz=UTC)


def _seed_image(gate: Imagegate, account: Account, image_id: str, data: bytes) -> None:
    key = ids.new_blob_key(account.id)
    gate.images.blobs.put(key, data)
    store_of(gate).images.insert(
        Image(
            account_id=account.id,
            id=image_id,
            filename="seed.jpg",
            uploaded=EPOCH,
            require_signed_urls=True,
            format=Format.JPEG,
            width=320,
            height=240,
            size=len(data),
            blob_key=key,
            sha256=hashlib.sha256(data).hexdigest(),
        )
    )


@contextlib.contextmanager
def serving_vectors(vectors: list[dict[str, Any]], data_dir: Path) -> Iterator[Server]:
    """A server whose store holds each vector's account hash, key, image and variant."""
    settings = Settings(data_dir=data_dir)
    gate = build(settings, clock=Clock(0.0))
    gate.migrate()
    data = jpeg(320, 240)
    accounts: dict[str, Account] = {}
    keys: dict[str, set[str]] = {}  # values already held, by account hash
    for n, vector in enumerate(vectors):
        parts = urlsplit(vector["signed"]).path.split("/")
        if parts[1] == "cdn-cgi":
            parts = parts[2:]
        account_hash, image_id, variant = parts[1], unquote("/".join(parts[2:-1])), parts[-1]
        account = accounts.get(account_hash)
        if account is None:
            account = Account(
                ids.new_account_id(), account_hash, "vectors", EPOCH, flexible_variants=True
            )
            store_of(gate).accounts.create(account)
            accounts[account_hash] = account
        held = keys.setdefault(account_hash, set())
        if vector["key"] not in held:  # vectors share keys; an account holds at most ten
            held.add(vector["key"])
            store_of(gate).keys.put(account.id, SigningKey(f"k{n}", vector["key"], EPOCH))
        if store_of(gate).images.get(account.id, image_id) is None:
            _seed_image(gate, account, image_id, data)
        if "=" not in variant and store_of(gate).variants.get(account.id, variant) is None:
            options = VariantOptions(width=100, height=100)
            store_of(gate).variants.create(account.id, Variant(variant, options))
    with serve_in_thread(settings, gate) as srv:
        yield srv


@pytest.fixture(scope="module")
def vector_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving_vectors(VECTORS, tmp_path_factory.mktemp("vectors")) as srv:
        yield srv


def _target(signed: str) -> str:
    parts = urlsplit(signed)
    return f"{parts.path}?{parts.query}"


def _flexible(vector: dict[str, Any]) -> bool:
    return "=" in urlsplit(vector["signed"]).path.rsplit("/", 1)[-1]


def assert_served(server: Server, vector: dict[str, Any]) -> None:
    r = raw_request(server.base_url, _target(vector["signed"]))
    assert r.status == 200, (vector["signed"], r.text)
    assert r.headers["content-type"] == "image/jpeg"
    # Named variants fit 100x100; the flexible one asks for w=400,fit=cover (no height).
    assert dimensions(r.body) == ((400, 300) if _flexible(vector) else (100, 75))


@pytest.mark.parametrize("vector", VECTORS, ids=[v["signed"][-12:] for v in VECTORS])
def test_published_vector_is_served(vector_server: Server, vector: dict[str, Any]) -> None:
    assert_served(vector_server, vector)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["signed"][-12:] for v in VECTORS])
def test_any_one_character_change_is_refused(vector_server: Server, vector: dict[str, Any]) -> None:
    target = _target(vector["signed"])
    query_start = target.index("?")
    refused = 0
    for i, ch in enumerate(target):
        if i == 0:
            continue  # the leading "/" is not the URL's to change
        tampered = target[:i] + ("b" if ch == "a" else "a") + target[i + 1 :]
        r = raw_request(vector_server.base_url, tampered)
        assert r.status in (403, 404), (tampered, r.status, r.text)
        if i > query_start:
            # Anything in the query, exp or sig: the one uniform answer.
            assert r.text == "ERROR 9425: Image access denied", (tampered, r.text)
            assert r.headers["cf-resized"] == "err=9425"
        refused += 1
    assert refused == len(target) - 1


# --- the shared reference folder -------------------------------------------------------------


def _inputs(vectors: list[dict[str, Any]]) -> str:
    return "".join(
        json.dumps({"url": v["url"], "key": v["key"], "exp": v["exp"]}, ensure_ascii=False) + "\n"
        for v in vectors
    )


def test_shared_vectors_are_served(tmp_path: Path) -> None:
    shared = load_vectors(require_shared("interop/vectors.jsonl"))
    assert shared, "the shared vectors file is empty"
    with serving_vectors(shared, tmp_path / "data") as srv:
        for vector in shared:
            assert_served(srv, vector)


def test_project_signer_writes_the_shared_vectors() -> None:
    """The project's sign.mjs, given the shared vectors' inputs, writes each shared vector
    byte for byte; and every shared vector is one of the project's own."""
    shared_file = require_shared("interop/vectors.jsonl")
    shared = load_vectors(shared_file)
    ours = sign_jsonl(_inputs(shared), SIGN_MJS)
    assert [v["signed"] for v in ours] == [v["signed"] for v in shared]
    project_lines = set(VECTORS_FILE_LINES)
    missing = [line for line in shared_file.read_text("utf-8").splitlines() if line.strip()]
    missing = [line for line in missing if line not in project_lines]
    assert not missing, f"shared vectors not among the project's: {missing}"


def test_shared_signer_writes_the_project_vectors() -> None:
    """The shared reference signer, given the project's vectors' inputs, writes the project's
    vectors byte for byte."""
    theirs = sign_jsonl(_inputs(VECTORS), require_shared("interop/sign.mjs"))
    assert [v["signed"] for v in theirs] == [v["signed"] for v in VECTORS]


# --- the seed's Worker, in workerd ----------------------------------------------------------


WORKER_IDS = ["products/shoes/café.jpg", "a/b/c/d", "ünï/çødé photo.jpg", "plain"]


@pytest.fixture
def worker_server(tmp_path: Path) -> Iterator[tuple[Server, Clock]]:
    settings = Settings(data_dir=tmp_path / "data")
    clock = Clock(time.time())
    with serve_account(settings, clock=clock, name="worker") as srv:
        gate, account = in_process(srv)
        for image_id in WORKER_IDS:
            gate.images.upload(
                account, jpeg(320, 240), custom_id=image_id, require_signed_urls=True
            )
        gate.variants.create(account, "preview", {"width": 32, "height": 32}, True)
        yield srv, clock


def test_worker_signed_urls_load_and_stop_loading(worker_server: tuple[Server, Clock]) -> None:
    srv, clock = worker_server
    paths = [f"/{srv.account_hash}/{i}/public" for i in WORKER_IDS]
    signed = sign_with_worker(srv.signing_key, paths)
    assert len(signed) == len(paths)
    for line in signed:
        r = raw_request(srv.base_url, line)
        assert r.status == 200, (line, r.text)
        assert r.headers["content-type"] == "image/jpeg" and dimensions(r.body) == (320, 240)
        unsigned = raw_request(srv.base_url, line.split("?")[0])
        assert (unsigned.status, unsigned.text) == (403, "ERROR 9425: Image access denied")

    # The Worker's URLs live one day: a day and a minute later they are refused.
    clock.now += 86400 + 60
    for line in signed:
        assert raw_request(srv.base_url, line).status == 403
    clock.now -= 86400 + 60

    # Signed with a key that is then deleted: refused, while a fresh key's URL works.
    with srv.client() as c:
        keys = c.put(f"{srv.images_url}/keys/fresh").json()["result"]["keys"]
        fresh = {k["name"]: k["value"] for k in keys}["fresh"]
        assert c.delete(f"{srv.images_url}/keys/default").status_code == 200
    for line in signed:
        assert raw_request(srv.base_url, line).status == 403
    for line in sign_with_worker(fresh, paths[:1]):
        assert raw_request(srv.base_url, line).status == 200

    # A variant that never requires a signature serves the same private images unsigned.
    for image_id in WORKER_IDS:
        r = httpx.get(f"{srv.base_url}/{srv.account_hash}/{image_id}/preview")
        assert r.status_code == 200 and dimensions(r.content) == (32, 24)
