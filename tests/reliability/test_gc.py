"""``imagegate gc``: each kind of leftover made on purpose, as a crash or an abandoned upload
leaves it, then found and removed; what is live or may still be in flight is never touched."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from workload import blob_files, run_gc, sha256

from harness import jpeg, run_cli, store_of
from imagegate.assembly import Imagegate, build
from imagegate.core import ids
from imagegate.core.models import Account
from imagegate.settings import Settings
from imagegate.usecases.maintenance import DEFAULT_GRACE, CollectionRefused, GarbageCollector

HOUR = 3600.0


class Store:
    """A real store (SQLite and the local disk) with one account, and a gc over it."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.offset = 0.0  # the store's clock runs this far ahead of the real one
        self.gate: Imagegate = build(Settings(data_dir=data_dir), clock=self.clock)
        self.gate.migrate()
        self.account: Account = self.gate.accounts.create("gc").account
        self.gc = self.gate.gc

    def clock(self) -> float:
        return time.time() + self.offset

    @property
    def now(self) -> float:
        return self.clock()

    def orphan(self, age: float) -> str:
        """Bytes with no record, as a crash between the upload's two steps leaves them."""
        key = ids.new_blob_key(self.account.id)
        self.gate.images.blobs.put(key, b"orphan bytes")
        path = self.data_dir / "blobs" / key
        os.utime(path, (self.now - age, self.now - age))
        return key

    def temp_file(self, age: float) -> Path:
        path = self.data_dir / "blobs" / "originals" / f".{ids.new_image_id()}.tmp"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a write")
        os.utime(path, (self.now - age, self.now - age))
        return path

    def upload(self, image_id: str) -> str:
        data = jpeg(64, 48)
        self.gate.images.upload(self.account, data, custom_id=image_id)
        return sha256(data)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data")


def test_old_orphans_go_young_ones_and_referenced_blobs_stay(store: Store) -> None:
    digest = store.upload("kept")
    image = store.gate.images.get(store.account, "kept")
    os.utime(store.data_dir / "blobs" / image.blob_key, (store.now - 9 * HOUR,) * 2)
    old, young = store.orphan(2 * HOUR), store.orphan(60)

    report = store.gc.collect()

    keys, _ = blob_files(store.data_dir)
    assert keys == {image.blob_key, young}
    assert old not in keys
    assert (report.blobs, report.referenced) == (3, 1)
    assert (report.orphans_removed, report.orphans_young, report.orphans_failed) == (1, 1, 0)
    original, _ = store.gate.images.original(store.account, "kept")
    assert sha256(original) == digest


def test_a_crash_between_the_record_delete_and_the_blob_delete(store: Store) -> None:
    store.upload("doomed")
    gone = store_of(store.gate).images.delete(store.account.id, "doomed")  # the record went...
    assert gone is not None
    keys, _ = blob_files(store.data_dir)
    assert gone.blob_key in keys  # ... and the process died before the bytes did

    report = store.gc.collect(grace=0)

    assert report.orphans_removed == 1
    assert blob_files(store.data_dir)[0] == set()


def test_an_upload_in_flight_is_safe_from_gc(store: Store) -> None:
    """The bytes are written before the record: a gc in between must not take them."""
    data = jpeg(64, 48)
    records = store.gate.images.store  # the records the upload writes, after its bytes
    real_insert = records.insert
    reports = []

    def insert_after_a_gc(*args: object, **kwargs: object) -> None:
        reports.append(store.gc.collect())  # runs between the two steps, default grace
        real_insert(*args, **kwargs)  # type: ignore[arg-type]

    records.insert = insert_after_a_gc  # type: ignore[method-assign]
    try:
        store.gate.images.upload(store.account, data, custom_id="in-flight")
    finally:
        del records.insert  # type: ignore[method-assign]
    assert reports[0].orphans_young == 1 and reports[0].orphans_removed == 0
    original, _ = store.gate.images.original(store.account, "in-flight")
    assert original == data


def test_temporary_files_go_once_no_write_can_own_them(store: Store) -> None:
    stale, fresh = store.temp_file(HOUR), store.temp_file(1)
    report = store.gc.collect()
    assert report.temp_files == 1
    assert not stale.exists() and fresh.exists()
    assert store.gc.collect(grace=0).temp_files == 1
    assert not fresh.exists()


def test_expired_drafts_go_and_free_their_id(store: Store) -> None:
    direct = store.gate.uploads
    expires = datetime.fromtimestamp(store.now, UTC) + timedelta(minutes=30)
    direct.create(store.account, custom_id="abandoned", expiry=expires)
    direct.create(store.account, custom_id="waiting", expiry=expires + timedelta(hours=5))
    assert store.gate.images.stats(store.account)[0] == 2

    assert store.gc.collect().expired_drafts == 0  # the window is still open
    store.offset += 30 * 60 + 30
    assert store.gc.collect().expired_drafts == 0  # closed, but within the grace period
    store.offset += HOUR
    assert store.gc.collect().expired_drafts == 1
    assert store.gate.images.stats(store.account)[0] == 1
    store.upload("abandoned")  # the custom id is free again
    assert store_of(store.gate).images.get(store.account.id, "waiting") is not None


def test_dry_run_reports_and_removes_nothing(store: Store) -> None:
    store.upload("kept")
    orphan, temp = store.orphan(2 * HOUR), store.temp_file(HOUR)
    store.gate.uploads.create(
        store.account, expiry=datetime.fromtimestamp(store.now, UTC) + timedelta(minutes=10)
    )
    store.offset += 2 * HOUR
    before = blob_files(store.data_dir)

    dry = store.gc.collect(dry_run=True)

    assert (dry.orphans_removed, dry.temp_files, dry.expired_drafts) == (1, 1, 1)
    assert blob_files(store.data_dir) == before and temp.exists()
    assert store.gate.images.stats(store.account)[0] == 2
    real = store.gc.collect()
    assert (real.orphans_removed, real.temp_files, real.expired_drafts) == (1, 1, 1)
    assert orphan not in blob_files(store.data_dir)[0]


def test_a_store_that_looks_misconfigured_is_left_alone(tmp_path: Path, store: Store) -> None:
    """Pointed at the wrong database, every blob would look orphaned."""
    store.upload("kept")
    empty = build(Settings(data_dir=tmp_path / "other"))
    empty.migrate()
    wrong = GarbageCollector(
        store_of(empty).images,
        store_of(empty).accounts,
        store.gate.images.blobs,
        lambda: store.now + 9 * HOUR,
    )
    with pytest.raises(CollectionRefused, match="no account"):
        wrong.collect()
    assert len(blob_files(store.data_dir)[0]) == 1

    for _ in range(30):
        store.orphan(2 * HOUR)
    with pytest.raises(CollectionRefused, match="30 of 31 blobs"):
        store.gc.collect()
    assert len(blob_files(store.data_dir)[0]) == 31
    assert store.gc.collect(force=True).orphans_removed == 30


def test_the_command(store: Store) -> None:
    store.upload("kept")
    store.orphan(2 * HOUR)
    store.orphan(10)
    store.temp_file(HOUR)
    dry = run_cli("gc", "--dry-run", data_dir=store.data_dir, check=True)
    assert "orphan blobs to remove: 1" in dry.stdout
    assert f"kept (younger than {int(DEFAULT_GRACE)} s): 1" in dry.stdout
    assert len(blob_files(store.data_dir)[0]) == 3

    report = run_gc(store.data_dir)
    assert report["orphans_removed"] == 1 and report["temp_files"] == 1
    assert report["dry_run"] is False
    assert run_gc(store.data_dir, "--grace", "0")["orphans_removed"] == 1
    assert len(blob_files(store.data_dir)[0]) == 1
