"""The local blob store beyond the contract (tests/storage/test_blob_contract.py): files
and their modes on disk, atomic writes on a failing disk, temporary files and their sweep."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

import imagegate.adapters.storage.atomic
from imagegate.adapters.storage.local import LocalBlobStore
from imagegate.core.errors import BlobMissing, StorageError, StorageFull


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def blobs(root: Path) -> LocalBlobStore:
    return LocalBlobStore(root)


def files_under(directory: Path) -> dict[str, bytes]:
    """Every regular file below ``directory``, by relative path, with its bytes."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def temp_files(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.name.endswith(".tmp")]


# --- the files on disk (the contract itself: tests/storage/test_blob_contract.py) -----------


@pytest.mark.parametrize("key", ["a", "originals/acct/ab/abcdef0123", "x.tmp", "a-b_c.d/0/z"])
def test_a_key_is_one_file_under_the_root(blobs: LocalBlobStore, root: Path, key: str) -> None:
    blobs.put(key, b"hello")
    blobs.put(key, b"again")
    assert files_under(root) == {key: b"again"}
    blobs.delete(key)
    assert files_under(root) == {}


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to read-only directories")
def test_ping_read_only(blobs: LocalBlobStore, root: Path) -> None:
    root.chmod(0o500)
    try:
        with pytest.raises(StorageError):
            blobs.ping()
    finally:
        root.chmod(0o700)


# --- keys that would leave the root ---------------------------------------------------------

BAD_KEYS = ["../x", "/etc/passwd", "a/../../b", "a/../b", "..", "./a", "a\\..\\b", ".hidden"]


@pytest.mark.parametrize("key", BAD_KEYS, ids=[repr(k) for k in BAD_KEYS])
def test_bad_keys_touch_nothing_outside_the_root(
    tmp_path: Path, blobs: LocalBlobStore, key: str
) -> None:
    (tmp_path / "x").write_bytes(b"outside")
    (tmp_path / "b").write_bytes(b"outside")
    blobs.put("a/b", b"inside")
    before = files_under(tmp_path)

    for attempt in (lambda: blobs.put(key, b"written"), lambda: blobs.get(key)):
        with pytest.raises(StorageError):
            attempt()
    with pytest.raises(StorageError):
        blobs.delete(key)

    assert files_under(tmp_path) == before


# --- atomicity ------------------------------------------------------------------------------


def test_put_leaves_no_temporary_file(blobs: LocalBlobStore, root: Path) -> None:
    for i in range(5):
        blobs.put(f"d/k{i}", b"x" * i)
        blobs.put("d/k0", b"again")
    assert temp_files(root) == []
    assert sorted(p.name for p in (root / "d").iterdir()) == [f"k{i}" for i in range(5)]


def test_sweep_removes_leftover_temporary_files(blobs: LocalBlobStore, root: Path) -> None:
    blobs.put("x", b"blob")
    blobs.put("x.tmp", b"a blob whose key ends in .tmp")
    blobs.put("deep/er/k", b"deep")
    leftovers = [root / ".x.tmp", root / ".x.0123456789ab.tmp", root / "deep/er/.k.abcdef.tmp"]
    for path in leftovers:
        path.write_bytes(b"partial")

    assert blobs.sweep() == len(leftovers)
    assert files_under(root) == {
        "x": b"blob",
        "x.tmp": b"a blob whose key ends in .tmp",
        "deep/er/k": b"deep",
    }
    assert blobs.sweep() == 0


class FailingOs:
    """Stands in for the ``os`` module inside the blob store: one call fails with ``code``,
    optionally after a number of successful calls (so a write can fail half-way)."""

    def __init__(self, name: str, code: int, after: int = 0) -> None:
        self.name, self.code, self.after = name, code, after

    def __getattr__(self, attr: str) -> Any:
        real = getattr(os, attr)
        if attr != self.name:
            return real

        def failing(*args: Any) -> Any:
            if self.after > 0:
                self.after -= 1
                if attr == "write":  # a short write: half of what was asked
                    fd, data = args
                    return real(fd, data[: max(1, len(data) // 2)])
                return real(*args)
            raise OSError(self.code, os.strerror(self.code))

        return failing


FAILURES = [
    ("write", errno.ENOSPC, 0, StorageFull),
    ("write", errno.ENOSPC, 1, StorageFull),
    ("write", errno.EDQUOT, 0, StorageFull),
    ("fsync", errno.ENOSPC, 0, StorageFull),
    ("write", errno.EIO, 1, StorageError),
    ("replace", errno.EIO, 0, StorageError),
    ("open", errno.EACCES, 0, StorageError),
]


@pytest.mark.parametrize(
    ("call", "code", "after", "raised"),
    FAILURES,
    ids=[f"{c}-{errno.errorcode[e]}-after{a}" for c, e, a, _ in FAILURES],
)
@pytest.mark.parametrize("existing", [True, False], ids=["overwrite", "new"])
def test_failed_put_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch,
    blobs: LocalBlobStore,
    root: Path,
    call: str,
    code: int,
    after: int,
    raised: type[StorageError],
    existing: bool,
) -> None:
    if existing:
        blobs.put("dir/key", b"previous value")
    before = files_under(root)

    monkeypatch.setattr(imagegate.adapters.storage.atomic, "os", FailingOs(call, code, after))
    with pytest.raises(raised) as caught:
        blobs.put("dir/key", b"new value " * 1000)
    if raised is StorageError:
        assert not isinstance(caught.value, StorageFull)
    monkeypatch.undo()

    assert files_under(root) == before
    assert temp_files(root) == []
    if existing:
        assert blobs.get("dir/key") == b"previous value"
    else:
        with pytest.raises(BlobMissing):
            blobs.get("dir/key")


# --- listing and ageing (imagegate gc) ----------------------------------------------------


def test_iter_keys_lists_every_key_with_its_mtime_and_nothing_else(
    blobs: LocalBlobStore, root: Path
) -> None:
    keys = ["x", "x.tmp", "deep/er/k", "originals/acct/ab/abcdef"]
    for key in keys:
        blobs.put(key, b"bytes")
    os.utime(root / "deep/er/k", (1_000_000, 1_000_000))
    (root / "deep/er/.k.abcdef.tmp").write_bytes(b"partial")  # a write in flight
    (root / ".hidden").mkdir()
    (root / ".hidden" / "k").write_bytes(b"not a key")
    (root / "Upper").write_bytes(b"not a key either")

    listed = dict(blobs.iter_keys())

    assert sorted(listed) == sorted(keys)
    assert listed["deep/er/k"] == 1_000_000
    assert all(isinstance(mtime, float) for mtime in listed.values())
    for key in listed:
        assert blobs.get(key) == b"bytes"  # every listed key is one get() accepts


def test_iter_keys_of_a_missing_root_is_an_error(blobs: LocalBlobStore, root: Path) -> None:
    root.rmdir()
    with pytest.raises(StorageError):
        list(blobs.iter_keys())


def test_sweep_spares_young_temporary_files_and_can_only_count(
    blobs: LocalBlobStore, root: Path
) -> None:
    old, young = root / ".a.000000000001.tmp", root / ".b.000000000002.tmp"
    for path in (old, young):
        path.write_bytes(b"partial")
    os.utime(old, (1_000_000, 1_000_000))

    assert blobs.sweep(60, dry_run=True) == 1
    assert old.exists() and young.exists()
    assert blobs.sweep(60) == 1
    assert not old.exists() and young.exists()
    assert blobs.sweep() == 1  # no age given: every temporary file
    assert temp_files(root) == []
