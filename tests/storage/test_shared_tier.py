"""The shared tier's writer: it never makes a request wait, and under pressure it drops.
Against a loopback server that accepts and never answers (``Scripted`` in tests/s3server.py),
so every write hangs for real until its timeout."""

from __future__ import annotations

import time

from imagegate.adapters.storage.s3 import S3BlobStore, S3Limits, S3Location
from imagegate.adapters.storage.s3_variants import S3VariantCache
from imagegate.core.models import Format
from imagegate.usecases.records import CacheKey
from imagegate.usecases.shared_tier import SharedTier
from s3server import CREDENTIALS, Scripted

SLOW = S3Limits(connect_timeout=1, request_timeout=3, max_retries=0, retry_timeout=3)


def key(n: int) -> CacheKey:
    return CacheKey("a" * 32, "i" * 64, "v", f"{n:064x}", Format.WEBP)


def test_writes_never_wait_and_are_dropped_when_the_queue_is_full() -> None:
    server = Scripted([None] * 50)
    try:
        env = {**CREDENTIALS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.port}"}
        blobs = S3BlobStore(S3Location("bucket", "p"), env=env, limits=SLOW)
        tier = SharedTier(S3VariantCache(blobs.store, blobs.location), max_pending=3)
        started = time.monotonic()
        for n in range(20):
            tier.offer(key(n), b"rendered bytes")
        assert time.monotonic() - started < 0.5  # 20 offers against a store that hangs
        assert tier.dropped >= 16  # one in flight, three queued at most
        assert tier.get(key(1)) is None  # a read that fails is a miss, never an error
    finally:
        server.close()


def test_the_pending_bytes_are_bounded_too() -> None:
    server = Scripted([None] * 50)
    try:
        env = {**CREDENTIALS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.port}"}
        blobs = S3BlobStore(S3Location("bucket", "p"), env=env, limits=SLOW)
        tier = SharedTier(
            S3VariantCache(blobs.store, blobs.location), max_pending=100, max_pending_bytes=1000
        )
        for n in range(10):
            tier.offer(key(n), b"x" * 400)
        assert tier.dropped == 8  # two of 400 bytes fit under 1000
    finally:
        server.close()
