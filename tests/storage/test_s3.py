"""The S3 blob store beyond the contract: prefixes, the reserved shared tier, configuration
from the standard variables, and failures for real: SeaweedFS stopped, a bucket that is not
there, and a loopback server that throttles (503 SlowDown, 429), fails (500) or never answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from imagegate.adapters.storage import open_blob_store
from imagegate.adapters.storage.s3 import S3BlobStore, S3Limits, S3Location
from imagegate.core.errors import BlobMissing, StorageError
from s3server import CREDENTIALS, Scripted, SeaweedFS

FAST = S3Limits(connect_timeout=1, request_timeout=2, max_retries=3, retry_timeout=5)


@pytest.fixture(scope="module")
def bucket(seaweed: SeaweedFS) -> str:
    seaweed.start()
    return seaweed.bucket("s3")


# --- where keys go ---------------------------------------------------------------------------


def test_prefixes_keep_stores_apart(s3: SeaweedFS, bucket: str) -> None:
    one = open_blob_store(f"s3://{bucket}/one")
    two = open_blob_store(f"s3://{bucket}/one/two")  # nested: still apart from "one"'s keys
    whole = open_blob_store(f"s3://{bucket}")
    one.put("originals/k", b"1")
    two.put("originals/k", b"2")
    assert one.get("originals/k") == b"1"
    assert two.get("originals/k") == b"2"
    assert sorted(k for k, _ in two.iter_keys()) == ["originals/k"]
    assert "one/originals/k" in dict(whole.iter_keys())
    assert whole.get("one/two/originals/k") == b"2"  # the prefix is a plain path


def test_the_shared_tier_is_never_a_blob(s3: SeaweedFS, bucket: str) -> None:
    blobs = open_blob_store(f"s3://{bucket}/tier")
    whole = S3BlobStore(S3Location(bucket, ""))
    whole.put("tier/variants-not/x", b"a blob whose name only looks alike")
    whole.put("tier/variants.x", b"another")
    for key in ("variants", "variants/acct/img/v--d.webp"):
        with pytest.raises(StorageError):
            blobs.put(key, b"x")
        with pytest.raises(StorageError):
            blobs.get(key)
    blobs.put("originals/k", b"blob")
    # A rendered variant written beside the blobs (as the shared tier does) is not listed.
    whole.put("tier/variants/acct/img/v--d.webp", b"rendered")
    assert sorted(dict(blobs.iter_keys())) == ["originals/k", "variants-not/x", "variants.x"]


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3:///x", "s3://UPPER", "s3://b", "s3://bucket/Upper", "s3://bucket/a/../b"],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(StorageError):
        open_blob_store(url)


def test_a_missing_bucket_is_a_storage_error_not_a_missing_blob(s3: SeaweedFS) -> None:
    blobs = open_blob_store("s3://no-such-bucket-here/p")
    for attempt in (blobs.ping, lambda: blobs.get("k"), lambda: list(blobs.iter_keys())):
        with pytest.raises(StorageError) as caught:
            attempt()
        assert not isinstance(caught.value, BlobMissing)


def test_credentials_and_endpoint_come_from_the_standard_variables(
    s3: SeaweedFS, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loc = S3Location(bucket, "env")
    S3BlobStore(loc, env=s3.env()).put("k", b"signed")
    unsigned = {"AWS_ENDPOINT_URL": s3.endpoint}  # no credentials: requests go unsigned
    assert S3BlobStore(loc, env=unsigned).get("k") == b"signed"
    elsewhere = {**CREDENTIALS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing there
    with pytest.raises(StorageError):
        S3BlobStore(loc, env=elsewhere, limits=FAST).get("k")


# --- outages, for real ---------------------------------------------------------------------


def test_a_stopped_store_fails_fast_and_comes_back(s3: SeaweedFS, bucket: str) -> None:
    blobs = open_blob_store(f"s3://{bucket}/outage")
    blobs.put("originals/k", b"before")
    s3.stop()
    try:
        for attempt in (
            blobs.ping,
            lambda: blobs.get("originals/k"),
            lambda: blobs.put("originals/j", b"x"),
            lambda: blobs.delete("originals/k"),
            lambda: list(blobs.iter_keys()),
        ):
            started = time.monotonic()
            with pytest.raises(StorageError) as caught:
                attempt()
            assert not isinstance(caught.value, BlobMissing)
            assert caught.value.retry_after  # a client is told when to try again
            assert time.monotonic() - started < S3Limits().retry_timeout + 2
    finally:
        s3.start()
    # The same client, no restart: it answers again once the store does (SeaweedFS's volume
    # server may refuse reads for a moment after its S3 gateway is up).
    deadline = time.monotonic() + 20
    while True:
        try:
            blobs.ping()
            assert blobs.get("originals/k") == b"before"
            break
        except StorageError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def scripted(script: list[tuple[int, str, bytes] | None]) -> Iterator[tuple[Scripted, S3BlobStore]]:
    server = Scripted(script)
    env = {**CREDENTIALS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.port}"}
    try:
        yield server, S3BlobStore(S3Location("bucket", "p"), env=env, limits=FAST)
    finally:
        server.close()


SLOW_DOWN = (
    503,
    "Content-Type: application/xml\r\n",
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
)
TOO_MANY = (429, "", b"")
BROKEN = (500, "", b"<Error><Code>InternalError</Code></Error>")


@pytest.mark.parametrize(
    "failures",
    [[SLOW_DOWN], [SLOW_DOWN, SLOW_DOWN], [TOO_MANY], [BROKEN, SLOW_DOWN]],
    ids=["503-slowdown", "503-twice", "429", "500-then-503"],
)
def test_throttling_and_5xx_are_retried(failures: list[tuple[int, str, bytes]]) -> None:
    with scripted([*failures, (200, "", b"the bytes")]) as (server, blobs):
        assert blobs.get("originals/k") == b"the bytes"
    assert len(server.requests) == len(failures) + 1
    assert all(line.startswith(b"GET /bucket/p/originals/k") for line in server.requests)


def test_retries_are_bounded_in_count() -> None:
    with scripted([SLOW_DOWN] * 10) as (server, blobs):
        started = time.monotonic()
        with pytest.raises(StorageError):
            blobs.put("originals/k", b"x")
        assert time.monotonic() - started < FAST.retry_timeout + 1
    assert len(server.requests) == FAST.max_retries + 1


def test_a_server_that_never_answers_is_bounded_in_time() -> None:
    with scripted([None] * 10) as (server, blobs):
        started = time.monotonic()
        with pytest.raises(StorageError):
            blobs.get("originals/k")
        took = time.monotonic() - started
    # Each try waits one request timeout; no retry starts after the retry timeout.
    assert FAST.request_timeout <= took < FAST.retry_timeout + FAST.request_timeout + 1
    assert 2 <= len(server.requests) <= FAST.max_retries + 1


def test_a_missing_key_is_not_retried() -> None:
    not_found = (404, "", b"<Error><Code>NoSuchKey</Code></Error>")
    with scripted([not_found]) as (server, blobs):
        with pytest.raises(BlobMissing):
            blobs.get("originals/k")
    assert len(server.requests) == 1
