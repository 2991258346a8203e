"""The BlobStore contract (usecases/ports.py), on every store: the local directory and an
S3-compatible bucket on a real SeaweedFS. What only one store can show lives beside it:
tests/storage/test_local.py (file modes, temporary files, a failing disk) and
tests/storage/test_s3.py (prefixes, outages, retries and timeouts)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagegate.adapters.storage import open_blob_store
from imagegate.core.errors import BlobMissing, StorageError
from imagegate.usecases.ports import BlobStore


@pytest.fixture(scope="module")
def s3_bucket(request: pytest.FixtureRequest) -> str:
    seaweed = request.getfixturevalue("seaweed")
    seaweed.start()
    return str(seaweed.bucket("contract"))


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """An empty store of each kind (on S3: a prefix of its own in a shared bucket)."""
    if request.param == "local":
        yield open_blob_store(str(tmp_path / "blobs"))
        return
    request.getfixturevalue("s3")  # running, and AWS_* set in this process
    bucket = request.getfixturevalue("s3_bucket")
    yield open_blob_store(f"s3://{bucket}/contract-{secrets.token_hex(6)}")


def stored(blobs: BlobStore) -> dict[str, bytes]:
    """Every key the store lists, with its bytes."""
    return {key: blobs.get(key) for key, _ in sorted(blobs.iter_keys())}


# --- put, get, delete -----------------------------------------------------------------------

KEYS = ["a", "originals/acct/ab/abcdef0123", "x.tmp", "a-b_c.d/0/z", "9" * 200]
PAYLOADS = {"empty": b"", "text": b"hello", "binary": bytes(range(256)) * 4, "1mib": b"\0" * 2**20}


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("data", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_put_then_get(blobs: BlobStore, key: str, data: bytes) -> None:
    blobs.put(key, data)
    assert blobs.get(key) == data
    assert stored(blobs) == {key: data}


def test_overwrite(blobs: BlobStore) -> None:
    blobs.put("k", b"old value that is longer")
    blobs.put("k", b"new")
    assert blobs.get("k") == b"new"
    assert stored(blobs) == {"k": b"new"}


def test_get_missing(blobs: BlobStore) -> None:
    with pytest.raises(BlobMissing):
        blobs.get("nothing/here")
    blobs.put("gone", b"x")
    blobs.delete("gone")
    with pytest.raises(BlobMissing):
        blobs.get("gone")


def test_delete(blobs: BlobStore) -> None:
    blobs.put("a/one", b"1")
    blobs.put("a/two", b"2")
    blobs.delete("a/one")
    blobs.delete("a/one")  # missing: not an error
    blobs.delete("never/was")
    assert stored(blobs) == {"a/two": b"2"}


def test_ping(blobs: BlobStore) -> None:
    blobs.ping()


def test_a_large_original(blobs: BlobStore) -> None:
    data = secrets.token_bytes(12 * 2**20)  # above the largest upload
    blobs.put("originals/big", data)
    assert blobs.get("originals/big") == data
    assert blobs.sweep() == 0  # nothing partial left by a write that finished


# --- keys that would leave the root or prefix -------------------------------------------------

BAD_KEYS = [
    "../x",
    "/etc/passwd",
    "a/../../b",
    "a/../b",
    "..",
    "a/..",
    "./a",
    "a/./b",
    "UPPER",
    "a/Upper",
    "",
    "/",
    "a/",
    "a//b",
    ".hidden",
    "a/.x.tmp",
    "a\\..\\b",
    "a b",
    "a\nb",
    "a\n",
    "a\0b",
    "ü",
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=[repr(k) for k in BAD_KEYS])
def test_bad_keys_are_refused(blobs: BlobStore, key: str) -> None:
    blobs.put("a/b", b"inside")
    before = stored(blobs)

    with pytest.raises(StorageError):
        blobs.put(key, b"written")
    with pytest.raises(StorageError) as caught:
        blobs.get(key)
    assert not isinstance(caught.value, BlobMissing)
    with pytest.raises(StorageError):
        blobs.delete(key)

    assert stored(blobs) == before


# --- listing (imagegate gc) -----------------------------------------------------------------


def test_iter_keys_lists_every_key_with_its_modification_time(blobs: BlobStore) -> None:
    keys = ["x", "x.tmp", "deep/er/k", "originals/acct/ab/abcdef"]
    before = time.time()
    for key in keys:
        blobs.put(key, b"bytes")
    after = time.time()

    listed = dict(blobs.iter_keys())

    assert sorted(listed) == sorted(keys)
    for mtime in listed.values():
        assert isinstance(mtime, float)
        assert before - 2 <= mtime <= after + 2  # S3 keeps whole seconds
    for key in listed:
        assert blobs.get(key) == b"bytes"  # every listed key is one get() accepts


def test_iter_keys_of_an_empty_store(blobs: BlobStore) -> None:
    assert list(blobs.iter_keys()) == []
    assert blobs.sweep() == 0
    assert blobs.sweep(60, dry_run=True) == 0
