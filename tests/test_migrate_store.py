"""``imagegate migrate-store``: the embedded store (SQLite and local blobs) moved into
PostgreSQL and another blob store (a directory, or a bucket on SeaweedFS), interrupted with
SIGKILL and resumed, verified, run again without effect, and then served: every image,
private ones through URLs signed before the move. Also what it refuses: a target holding
another store, rows changed since the copy, a source behind the schema or holding a table
it does not know."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx
import pytest
import sqlalchemy as sa

from databases import own_database
from harness import (
    cli_command,
    cli_env,
    dimensions,
    free_port,
    jpeg,
    png,
    run_cli,
    wait_until_up,
)
from imagegate.adapters.metadata import Database
from imagegate.adapters.metadata.tables import SqlTables
from imagegate.adapters.storage import open_blob_store
from imagegate.adapters.storage.local import LocalBlobStore
from imagegate.adapters.storage.sizes import size_of
from imagegate.assembly import build
from imagegate.core.delivery_urls import delivery_path
from imagegate.core.models import Scope
from imagegate.settings import Settings
from imagegate.usecases.ports import BlobStore
from s3server import SeaweedFS

pytestmark = pytest.mark.postgres

MASTER_KEY = "a master key for the move, long enough to be a real one"
ADMIN_PASSWORD = "correct horse battery"
MANY = 300  # images in the big store: enough to interrupt each phase reliably


@dataclass
class Embedded:
    """An embedded store built through the use cases, and what the test knows of it."""

    data_dir: Path
    api_tokens: dict[str, str] = field(default_factory=dict)  # account id -> token
    images: dict[str, tuple[str, str, str, bool]] = field(default_factory=dict)
    # image id -> (account id, account hash, sha256 of the original, private)
    signed: dict[str, str] = field(default_factory=dict)  # private image id -> signed path


def embedded_store(data_dir: Path, images: int) -> Embedded:
    """Three accounts with settings, variants, keys (sealed), tokens with lineage (one
    revoked, a batch one), public and private images with metadata, a draft, dashboard
    sessions and the admin password."""
    gate = build(Settings(data_dir=data_dir, master_key=MASTER_KEY))
    gate.migrate()
    store = Embedded(data_dir)
    pictures = [png(24 + i, 16 + i) for i in range(5)] + [jpeg(40, 30)]
    try:
        accounts = [gate.accounts.create(name) for name in ("first", "second", "third")]
        gate.sessions.set_admin_password(ADMIN_PASSWORD)
        gate.sessions.sign_in_as_admin(ADMIN_PASSWORD)
        for n, new in enumerate(accounts):
            account = gate.accounts.configure(
                new.account, flexible_variants=n == 0, browser_ttl=7200 + n, keep_gps=n == 1
            )
            store.api_tokens[account.id] = new.api_token
            gate.keys.put(account, "second")
            options = {"width": 50 + n, "height": 40, "fit": "cover"}
            gate.variants.create(account, f"thumb{n}", options, n == 2)
            parent = gate.tokens.authenticate(new.api_token)
            gate.tokens.create(account.id, "child", frozenset({Scope.READ}), parent=parent)
            gate.tokens.create_batch(parent)
            _, doomed = gate.tokens.create(account.id, "doomed", frozenset(Scope))
            gate.tokens.revoke(account.id, doomed.id)
            gate.sessions.sign_in_with_token(new.api_token)
            gate.uploads.create(account, meta={"draft": n}, issuer=parent)
        for i in range(images):
            account = accounts[i % 3].account
            private = i % 2 == 1
            data = pictures[i % len(pictures)]
            image = gate.images.upload(
                account,
                data,
                filename=f"picture-{i}.png",
                meta={"n": i, "tags": ["a", "b"], "ratio": i / 7},
                require_signed_urls=private,
                creator=f"user-{i % 4}" if i % 5 else None,
            )
            digest = hashlib.sha256(data).hexdigest()
            store.images[image.id] = (account.id, account.hash, digest, private)
            if private:
                url, _, _ = gate.keys.signed_url(account, image.id, "public", 7 * 86400)
                store.signed[image.id] = url
    finally:
        gate.close()
    return store


def target_env(database_url: str, blob_url: str) -> dict[str, str]:
    return {
        "IMAGEGATE_DATABASE_URL": database_url,
        "IMAGEGATE_BLOB_URL": blob_url,
        "IMAGEGATE_MASTER_KEY": MASTER_KEY,
    }


def move(
    source: Path,
    database_url: str,
    blob_url: str,
    *args: str,
    master: bool = True,
    extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {"IMAGEGATE_MASTER_KEY": MASTER_KEY} if master else {}
    env.update(extra or {})
    return run_cli(
        "migrate-store",
        "--to-database-url",
        database_url,
        "--to-blob-url",
        blob_url,
        *args,
        data_dir=source,
        env=env,
        timeout=300,
    )


def killed_when(
    command: list[str], seen: Callable[[str], bool], extra: dict[str, str]
) -> list[str]:
    """Run ``command`` and SIGKILL it as soon as a line of its standard error passes
    ``seen``; the lines it wrote. Fails if it ends before that."""
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=cli_env({"IMAGEGATE_MASTER_KEY": MASTER_KEY, **extra}),
    )
    assert proc.stderr is not None
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if seen(line):
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"it ended by itself: {lines[-5:]}"
    return lines


def rows(database_url: str) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, in key order."""
    tables = SqlTables(Database(database_url))
    try:
        return {
            table: [row for batch in tables.batches(table, 1000) for row in batch]
            for table in tables.tables()
        }
    finally:
        tables.close()


def blob_files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


@contextlib.contextmanager
def serve_target(data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """``imagegate serve`` on the new store: nothing of the old data directory."""
    data_dir.mkdir()
    port = free_port()
    log = (data_dir.parent / "served.log").open("ab")
    proc = subprocess.Popen(
        cli_command("serve", "--data-dir", str(data_dir), "--port", str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=cli_env(env),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@dataclass
class BlobTarget:
    """Where the blobs move to: its URL, what a process needs to reach it, and what is in it."""

    url: str
    env: dict[str, str]

    def listing(self) -> dict[str, float]:
        """Every key the store holds, with its modification time."""
        return dict(open_blob_store(self.url).iter_keys())


@pytest.fixture(params=["local", "s3"])
def blob_target(request: pytest.FixtureRequest, tmp_path: Path) -> BlobTarget:
    """A directory, or a new bucket on a real SeaweedFS (its address and credentials in this
    process's environment, and given to the commands)."""
    if request.param == "local":
        return BlobTarget(str(tmp_path / "moved-blobs"), {})
    s3: SeaweedFS = request.getfixturevalue("s3")
    return BlobTarget(f"s3://{s3.bucket('moved')}/images", s3.env())


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Embedded:
    return embedded_store(tmp_path_factory.mktemp("big") / "data", MANY)


@pytest.fixture
def small(tmp_path: Path) -> Embedded:
    return embedded_store(tmp_path / "small", 6)


def test_interrupted_twice_resumed_verified_idempotent_and_served(
    big: Embedded, blob_target: BlobTarget, tmp_path: Path
) -> None:
    source_db = f"sqlite:///{big.data_dir / 'imagegate.db'}"
    before = rows(source_db)
    for table, found in before.items():
        # A table the store below leaves empty is a table this test does not move: give it rows.
        assert found, f"the test's store has no row in {table}"
    assert all(str(key["value"]).startswith("enc:v1:") for key in before["signing_keys"])
    blobs, reach = blob_target.url, blob_target.env
    with own_database(migrated=False) as url:
        command = cli_command(
            "migrate-store", "--data-dir", str(big.data_dir), "--to-database-url", url,
            "--to-blob-url", blobs, "--batch-size", "10", "--jobs", "1",
        )  # fmt: skip
        # 1. Killed while copying the images' rows: part of the table is there.
        killed_when(command, lambda ln: ln.startswith("images: ") and "done" not in ln, reach)
        partial = rows(url)
        assert len(partial["accounts"]) == 3
        assert 0 < len(partial["images"]) < len(before["images"])
        assert blob_target.listing() == {}
        # 2. Killed while copying blobs: every row is there, part of the blobs.
        killed_when(command, lambda ln: ln.startswith("blobs: ") and "done" not in ln, reach)
        assert rows(url) == before
        copied_before = blob_target.listing()
        assert 0 < len(copied_before) < MANY

        # 3. To the end: the rows were there, the blobs copied before are skipped.
        done = move(big.data_dir, url, blobs, "--batch-size", "10", "--json", extra=reach)
        assert done.returncode == 0, done.stdout + done.stderr
        outcome = json.loads(done.stdout)
        assert outcome["equal"] is True
        assert outcome["copied"]["rows_copied"] == 0
        assert outcome["copied"]["blobs_present"] >= len(copied_before)
        assert outcome["copied"]["blobs_copied"] == MANY - outcome["copied"]["blobs_present"]
        assert outcome["verified"]["blobs"] == MANY
        assert outcome["verified"]["rows"] == sum(len(found) for found in before.values())
        assert rows(url) == before
        moved = blob_target.listing()
        assert len(moved) == MANY
        assert all(moved[key] == seen for key, seen in copied_before.items())

        # 4. Again: nothing changes, row or blob.
        again = move(big.data_dir, url, blobs, "--json", extra=reach)
        assert again.returncode == 0, again.stdout + again.stderr
        copied = json.loads(again.stdout)["copied"]
        assert (copied["rows_copied"], copied["rows_replaced"], copied["blobs_copied"]) == (0, 0, 0)
        assert rows(url) == before
        assert blob_target.listing() == moved

        # 5. A node on the new store serves every image; private ones through the URLs
        # signed before the move (their keys are sealed: the same master key is in force).
        with serve_target(tmp_path / "node", {**target_env(url, blobs), **reach}) as base:
            check_served(big, base)


def check_served(store: Embedded, base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for image_id, (account_id, account_hash, digest, private) in store.images.items():
            plain = client.get(delivery_path(account_hash, image_id, "public"))
            if private:
                assert plain.status_code == 403
                signed = client.get(store.signed[image_id])
                assert signed.status_code == 200, signed.text
                assert dimensions(signed.content)[0] > 0
            else:
                assert plain.status_code == 200, plain.text
        # The tokens moved too: an old one lists its account's images and fetches originals.
        for account_id, token in store.api_tokens.items():
            headers = {"Authorization": f"Bearer {token}"}
            api = f"/accounts/{account_id}/images/v1"
            listed = client.get(api, params={"per_page": 1000}, headers=headers)
            assert listed.status_code == 200, listed.text
            ids = {image["id"] for image in listed.json()["result"]["images"]}
            mine = {i for i, (owner, *_) in store.images.items() if owner == account_id}
            assert ids == mine
            for image_id in sorted(mine)[:5]:
                original = client.get(f"{api}/{image_id}/blob", headers=headers)
                assert original.status_code == 200
                assert hashlib.sha256(original.content).hexdigest() == store.images[image_id][2]


def test_every_table_of_the_schema_is_moved(small: Embedded) -> None:
    """The tables a copy walks are every table the source database holds (its migrations'
    bookkeeping aside): a table added by a migration but not to the schema would fail here."""
    tables = SqlTables(Database(f"sqlite:///{small.data_dir / 'imagegate.db'}"))
    try:
        with tables.db.engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        assert set(tables.tables()) == present
        assert tables.unknown_tables() == []
    finally:
        tables.close()


def test_a_target_holding_another_store_is_refused_then_forced(
    small: Embedded, tmp_path: Path
) -> None:
    other = embedded_store(tmp_path / "other", 2)
    blobs = str(tmp_path / "blobs")
    with own_database() as url:
        assert move(other.data_dir, url, blobs).returncode == 0
        theirs = rows(url)
        refused = move(small.data_dir, url, blobs)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "the target already holds a different store" in refused.stderr
        assert "is in the target, not in the source" in refused.stderr
        assert "--force" in refused.stderr
        assert rows(url) == theirs  # nothing written
        forced = move(small.data_dir, url, blobs, "--force")
        # Everything of the source is there now; the target's own rows are listed.
        assert forced.returncode == 1, forced.stdout + forced.stderr
        assert "only in the target" in forced.stdout
        assert "missing in the target" not in forced.stdout
        assert "differs" not in forced.stdout


def test_rows_changed_since_the_copy_stop_it_and_verification_names_them(
    small: Embedded, tmp_path: Path
) -> None:
    blobs = tmp_path / "blobs"
    with own_database() as url:
        assert move(small.data_dir, url, str(blobs)).returncode == 0
        unsealed = move(small.data_dir, url, str(blobs), "--verify-only", master=False)
        assert unsealed.returncode == 0
        assert "note: 6 signing key(s) are sealed" in unsealed.stdout
        assert "IMAGEGATE_MASTER_KEY" in unsealed.stdout
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE api_tokens SET revoked = true WHERE name = 'child'"))
        engine.dispose()
        # A tampered blob of the same size is not seen by the copy, only by the hashes.
        key = next(iter(blob_files(blobs)))
        (blobs / key).write_bytes(bytes(len((blobs / key).read_bytes())))

        checked = move(small.data_dir, url, str(blobs), "--verify-only")
        assert checked.returncode == 1
        assert checked.stdout.count("api_tokens ") == 3
        assert "differs (revoked)" in checked.stdout
        assert f"blob {key}: SHA-256 differs in the target" in checked.stdout

        stopped = move(small.data_dir, url, str(blobs))
        assert stopped.returncode == 2
        assert "rows of api_tokens that differ" in stopped.stderr
        assert ": revoked" in stopped.stderr

        forced = move(small.data_dir, url, str(blobs), "--force")
        assert forced.returncode == 1  # the rows are the source's again; the blob is not
        assert "api_tokens" not in forced.stdout
        assert f"blob {key}: SHA-256 differs" in forced.stdout
        (blobs / key).unlink()
        assert move(small.data_dir, url, str(blobs)).returncode == 0


def test_a_source_behind_the_schema_or_with_an_unknown_table_is_refused(
    small: Embedded, tmp_path: Path
) -> None:
    database = small.data_dir / "imagegate.db"
    with own_database(migrated=False) as url:
        with contextlib.closing(sqlite3.connect(database)) as conn, conn:
            head = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            conn.execute("UPDATE alembic_version SET version_num = '0004_token_lineage'")
        behind = move(small.data_dir, url, str(tmp_path / "blobs"))
        assert behind.returncode == 2
        assert "imagegate migrate --data-dir" in behind.stderr
        with contextlib.closing(sqlite3.connect(database)) as conn, conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (head,))
            conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
        unknown = move(small.data_dir, url, str(tmp_path / "blobs"))
        assert unknown.returncode == 2
        assert "does not know: notes" in unknown.stderr
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []  # nothing written, not even the schema
        engine.dispose()


def test_no_store_or_a_bad_url_is_said_plainly(tmp_path: Path) -> None:
    missing = move(tmp_path / "nothing", "postgresql://127.0.0.1:1/x", str(tmp_path / "b"))
    assert missing.returncode == 2
    assert "no embedded store" in missing.stderr
    store = embedded_store(tmp_path / "one", 0)
    bad = move(store.data_dir, "nosuch://x", str(tmp_path / "b"))
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    unreachable = move(store.data_dir, "postgresql://postgres@127.0.0.1:1/x", str(tmp_path / "b"))
    assert unreachable.returncode == 1
    assert "error: the target database: database error" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    (tmp_path / "file").write_bytes(b"")
    unmakeable = move(
        store.data_dir, "sqlite:///" + str(tmp_path / "t.db"), str(tmp_path / "file/b")
    )
    assert unmakeable.returncode == 2
    assert "the target blob store: blob directory" in unmakeable.stderr
    assert "cannot be made" in unmakeable.stderr
    same = move(store.data_dir, f"sqlite:///{store.data_dir / 'imagegate.db'}", str(tmp_path))
    assert same.returncode == 2
    assert "the target database is the source's" in same.stderr


def test_a_blob_store_that_cannot_say_a_size_is_sized_by_reading(tmp_path: Path) -> None:
    local = LocalBlobStore(tmp_path / "blobs")
    local.put("ab/cd", b"12345")
    assert size_of(local)("ab/cd") == 5
    assert size_of(local)("ab/ef") is None
    contract_only = SimpleNamespace(get=local.get)  # what every blob store can do
    sized = size_of(cast(BlobStore, contract_only))
    assert (sized("ab/cd"), sized("ab/ef")) == (5, None)
