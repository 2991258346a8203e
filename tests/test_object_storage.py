"""imagegate with its blobs on a real S3-compatible store (SeaweedFS), end to end over HTTP:
an outage and the recovery from it, the shared render tier between two nodes on one bucket,
and ``imagegate gc`` on the bucket."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness import (
    Server,
    dimensions,
    in_process,
    jpeg,
    run_cli,
    serve_account,
    serve_cli,
    serve_in_thread,
)
from imagegate.adapters.storage import open_blob_store
from imagegate.core import ids
from imagegate.core.signing import sign_url
from imagegate.settings import Settings
from s3server import SeaweedFS

JPEG = {"Accept": "image/jpeg"}
WEBP = {"Accept": "image/webp"}


@pytest.fixture(scope="module")
def bucket(seaweed: SeaweedFS) -> str:
    seaweed.start()
    return seaweed.bucket("e2e")


@pytest.fixture
def blob_url(s3: SeaweedFS, bucket: str) -> str:
    return f"s3://{bucket}/node-{secrets.token_hex(4)}"


@pytest.fixture
def node(tmp_path: Path, blob_url: str) -> Iterator[Server]:
    settings = Settings(data_dir=tmp_path / "a", blob_url=blob_url, metadata_cache_ttl=0)
    with serve_account(settings) as srv:
        yield srv


def upload(srv: Server, image_id: str, *, private: bool = False) -> httpx.Response:
    with srv.client() as c:
        return c.post(
            srv.images_url,
            files={"file": ("p.jpg", jpeg(640, 480))},
            data={"id": image_id, "requireSignedURLs": "true" if private else "false"},
        )


def lookups(srv: Server) -> dict[str, int]:
    assert srv.gate is not None
    return srv.gate.observer.snapshot().lookups


def test_the_command_serves_from_a_bucket(tmp_path: Path, s3: SeaweedFS, blob_url: str) -> None:
    """``imagegate serve --blob-url s3://...`` as a user runs it (granian, its own workers),
    with the endpoint and credentials in the standard variables only."""
    with serve_cli(tmp_path / "data", env=s3.env(), args=("--blob-url", blob_url)) as srv:
        assert upload(srv, "from-cli").status_code == 200
        served = httpx.get(f"{srv.base_url}/{srv.account_hash}/from-cli/public", headers=JPEG)
        assert served.status_code == 200
        assert dimensions(served.content) == (640, 480)
        assert httpx.get(f"{srv.base_url}/readyz").status_code == 200
    keys = [key for key, _ in open_blob_store(blob_url).iter_keys()]
    assert len(keys) == 1 and keys[0].startswith("originals/")
    assert not (tmp_path / "data" / "blobs").exists() or not any(
        (tmp_path / "data" / "blobs").rglob("*")
    )


# --- an outage of the object store --------------------------------------------------------


def test_an_outage_and_the_recovery_without_a_restart(s3: SeaweedFS, node: Server) -> None:
    assert upload(node, "cat").status_code == 200
    assert upload(node, "bird").status_code == 200
    gate, account = in_process(node)
    bird_blob = gate.images.get(account, "bird").blob_key
    url = f"{node.base_url}/{node.account_hash}/cat/public"
    cached = httpx.get(url, headers=JPEG)
    assert cached.status_code == 200
    assert httpx.get(f"{node.base_url}/readyz").status_code == 200
    with node.client() as c:
        before = c.get(node.images_url).json()["result"]["images"]

    s3.stop()
    try:
        again = httpx.get(url, headers=JPEG)  # in this node's caches: keeps flowing
        assert again.status_code == 200
        assert again.content == cached.content

        cold = httpx.get(url, headers=WEBP)  # another output: a render, which needs the original
        assert cold.status_code == 503
        assert cold.headers["retry-after"] == "1"
        assert cold.headers["cf-resized"] == "err=5540"
        assert cold.headers["cache-control"] == "no-store"
        assert cold.text == "ERROR 5540: Storage error"

        ready = httpx.get(f"{node.base_url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["blobs"] == "unavailable"

        refused = upload(node, "dog")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["errors"][0]["code"] == 5540
        with node.client() as c:  # no record of the upload that could not be stored
            assert c.get(node.images_url).json()["result"]["images"] == before
            assert c.get(f"{node.images_url}/dog").status_code == 404
            # A delete goes through: the record goes now, its bytes later (gc: an orphan).
            assert c.delete(f"{node.images_url}/bird").status_code == 200
            assert c.get(f"{node.images_url}/bird").status_code == 404
    finally:
        s3.start()

    deadline = time.monotonic() + 20
    while httpx.get(f"{node.base_url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, "not ready again after the store came back"
        time.sleep(0.2)
    back = httpx.get(url, headers=WEBP)
    assert back.status_code == 200
    assert back.headers["content-type"] == "image/webp"
    assert upload(node, "dog").status_code == 200
    assert httpx.get(f"{node.base_url}/{node.account_hash}/dog/public").status_code == 200
    assert bird_blob in dict(gate.images.blobs.iter_keys())  # left for gc


# --- the shared render tier -------------------------------------------------------------------


@pytest.fixture
def two_nodes(tmp_path: Path, blob_url: str) -> Iterator[tuple[Server, Server]]:
    """Two nodes on one database and one bucket, each with its own caches."""
    settings_a = Settings(data_dir=tmp_path / "a", blob_url=blob_url, metadata_cache_ttl=0)
    with serve_account(settings_a) as a:
        settings_b = Settings(
            data_dir=tmp_path / "b",
            blob_url=blob_url,
            database_url=settings_a.resolved_database_url(),
            metadata_cache_ttl=0,
        )
        with serve_in_thread(settings_b) as b:
            yield a, b


def drain(*nodes: Server) -> None:
    for srv in nodes:
        assert srv.gate is not None
        shared = srv.gate.delivery.caches.shared
        assert shared is not None
        assert shared.drain(10)


def test_a_variant_rendered_on_one_node_is_not_rendered_on_another(
    two_nodes: tuple[Server, Server],
) -> None:
    a, b = two_nodes
    assert upload(a, "shared/photo.jpg", private=True).status_code == 200
    path = f"/{a.account_hash}/shared/photo.jpg/w=200"
    gate_a, account = in_process(a)
    gate_a.accounts.configure(account, flexible_variants=True)
    signed = sign_url(path, a.signing_key, 3600)

    on_a = httpx.get(a.base_url + signed, headers=WEBP)
    assert on_a.status_code == 200
    assert lookups(a)["render"] == 1
    drain(a)

    on_b = httpx.get(b.base_url + signed, headers=WEBP)
    assert on_b.status_code == 200
    assert on_b.content == on_a.content
    assert dimensions(on_b.content) == (200, 150)
    assert lookups(b)["render"] == 0
    assert lookups(b)["shared_hit"] == 1
    again = httpx.get(b.base_url + signed, headers=WEBP)  # now from B's own caches
    assert again.content == on_a.content
    assert lookups(b)["shared_hit"] == 1

    # The tier holds only what was authorised: an unsigned request is refused on B.
    assert httpx.get(b.base_url + path, headers=WEBP).status_code == 403


def test_a_changed_image_or_variant_is_rendered_again_never_served_stale(
    two_nodes: tuple[Server, Server],
) -> None:
    a, b = two_nodes
    assert upload(a, "v").status_code == 200
    with a.client() as c:
        made = c.post(
            f"{a.images_url}/variants",
            json={"id": "thumb", "options": {"fit": "scale-down", "width": 100, "height": 100}},
        )
        assert made.status_code == 200, made.text
    url = f"/{a.account_hash}/v/thumb"
    first = httpx.get(a.base_url + url, headers=JPEG)
    assert dimensions(first.content) == (100, 75)
    drain(a)

    with a.client() as c:  # through node A: the variant now makes 60 px wide renders
        changed = c.patch(
            f"{a.images_url}/variants/thumb",
            json={"options": {"fit": "scale-down", "width": 60, "height": 60}},
        )
        assert changed.status_code == 200, changed.text
    drain(a)
    on_b = httpx.get(b.base_url + url, headers=JPEG)
    assert dimensions(on_b.content) == (60, 45)
    assert lookups(b)["shared_hit"] == 0
    drain(b)  # B's render is in the tier before the image goes (a later one: see gc below)

    with a.client() as c:  # the image goes, and with it every render of it
        assert c.delete(f"{a.images_url}/v").status_code == 200
    drain(a)
    gone = httpx.get(b.base_url + url, headers=JPEG)
    assert gone.status_code == 404
    gate_a, _ = in_process(a)
    shared = gate_a.delivery.caches.shared
    assert shared is not None
    assert list(shared.store.images()) == []


# --- imagegate gc on the bucket ---------------------------------------------------------------


def test_gc_on_the_bucket(node: Server, blob_url: str) -> None:
    gate, account = in_process(node)
    assert upload(node, "kept").status_code == 200
    assert upload(node, "gone").status_code == 200
    for image_id in ("kept", "gone"):
        assert (
            httpx.get(f"{node.base_url}/{node.account_hash}/{image_id}/public").status_code == 200
        )
    shared = gate.delivery.caches.shared
    assert shared is not None
    shared.drain(10)
    blobs = open_blob_store(blob_url)
    orphan = ids.new_blob_key(account.id)
    blobs.put(orphan, b"bytes a crash left without a record")
    # The record of "gone" goes behind the shared tier's back (a purge that was dropped).
    gone = gate.images.get(account, "gone")
    store = gate.images.store
    store.delete(account.id, "gone")

    env = {
        "IMAGEGATE_DATABASE_URL": gate.settings.resolved_database_url(),
        "IMAGEGATE_BLOB_URL": blob_url,
    }
    dry = run_cli("gc", "--grace", "0", "--json", "--dry-run", data_dir=node.data_dir, env=env)
    assert dry.returncode == 0, dry.stderr
    assert '"orphans_removed": 2' in dry.stdout  # the orphan, and the blob of "gone"
    assert '"shared_images": 1' in dry.stdout
    done = run_cli("gc", "--grace", "0", "--json", data_dir=node.data_dir, env=env)
    assert done.returncode == 0, done.stderr
    assert '"shared_images": 1' in done.stdout

    assert sorted(key for key, _ in blobs.iter_keys()) == [
        gate.images.get(account, "kept").blob_key
    ]
    assert [d for _, d in shared.store.images()] == [ids.image_digest("kept")]
    assert gone.blob_key not in dict(blobs.iter_keys())
    assert httpx.get(f"{node.base_url}/{node.account_hash}/kept/public").status_code == 200
