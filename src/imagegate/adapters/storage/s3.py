"""Blobs in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, Ceph, SeaweedFS), through
obstore (docs/object-storage.md says why that client, with its measurements).

``s3://bucket/optional/prefix`` names the place; the endpoint and credentials come from the
standard variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_REGION``), so one configuration works for every provider. An
``http://`` endpoint is allowed (a store on the same network); without credentials requests
go unsigned (a public or anonymous bucket).

Every request is bounded: a connect timeout, a timeout for the whole request, and retries
with exponential backoff and jitter on 5xx (503 SlowDown included), 429 and connection
errors, bounded in count and in total time (:class:`S3Limits`). A key that is not there is
``BlobMissing``; anything else that fails is ``StorageError``, whose ``Retry-After`` tells
a client when to try again.

A ``put`` is one PUT request, atomic by S3's nature: a reader sees the old object, the new
one or nothing. No multipart upload is ever started (the largest upload is far below S3's 5
GB limit for one PUT), so nothing partial is left behind and :meth:`sweep` has nothing to do.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from imagegate.core.errors import BlobMissing, StorageError

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

log = logging.getLogger("imagegate.storage")
_KEY = re.compile(r"[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: The top-level name under the prefix that holds the shared tier of rendered variants
#: (:mod:`imagegate.adapters.storage.s3_variants`), never a blob.
VARIANTS = "variants"


@dataclass(frozen=True, slots=True)
class S3Limits:
    """How long one request may take, and how hard a failing one is retried."""

    connect_timeout: float = 3.0
    request_timeout: float = 30.0  # one whole request, body included (10 MB at ~1 MB/s)
    max_retries: int = 3
    retry_timeout: float = 10.0  # no retry starts after this long since the first try
    init_backoff: float = 0.1
    max_backoff: float = 2.0


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str  # "" or "a/b" (no leading or trailing slash)

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """``s3://bucket[/prefix]``; raises ``StorageError`` for anything else."""
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        prefix = prefix.strip("/")
        if _BUCKET.fullmatch(bucket) is None or (prefix and _KEY.fullmatch(prefix) is None):
            raise StorageError(f"blob URL {url!r}: expected s3://bucket[/prefix] in lower case")
        return cls(bucket, prefix)

    def path(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def key(self, path: str) -> str | None:
        """The key a listed path names, or None if it is outside the prefix."""
        if not self.prefix:
            return path
        head = self.prefix + "/"
        return path[len(head) :] if path.startswith(head) else None


def open_s3(location: S3Location, env: Mapping[str, str], limits: S3Limits) -> S3Store:
    """An obstore client for ``location``, configured from ``env`` (``AWS_*``) alone."""
    config: S3Config = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        config["endpoint"] = endpoint
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    config["region"] = region
    key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key_id and secret:
        config["access_key_id"] = key_id
        config["secret_access_key"] = secret
        if env.get("AWS_SESSION_TOKEN"):
            config["session_token"] = env["AWS_SESSION_TOKEN"]
    else:
        config["skip_signature"] = True
    client: ClientConfig = {
        "allow_http": bool(endpoint and endpoint.startswith("http://")),
        "connect_timeout": timedelta(seconds=limits.connect_timeout),
        "timeout": timedelta(seconds=limits.request_timeout),
        "pool_idle_timeout": timedelta(seconds=30),
    }
    retry: RetryConfig = {
        "max_retries": limits.max_retries,
        "retry_timeout": timedelta(seconds=limits.retry_timeout),
        "backoff": {
            "init_backoff": timedelta(seconds=limits.init_backoff),
            "max_backoff": timedelta(seconds=limits.max_backoff),
            "base": 2,
        },
    }
    return S3Store(location.bucket, config=config, client_options=client, retry_config=retry)


def _missing_bucket(exc: BaseException) -> bool:
    return "NoSuchBucket" in str(exc)


class S3BlobStore:
    def __init__(
        self,
        location: S3Location,
        env: Mapping[str, str] | None = None,
        limits: S3Limits | None = None,
    ) -> None:
        self.location = location
        self.limits = limits or S3Limits()
        self.store = open_s3(location, os.environ if env is None else env, self.limits)

    def _path(self, key: str) -> str:
        # Keys are generated by imagegate, but refuse anything that could leave the prefix
        # or reach the shared tier of rendered variants.
        if (
            _KEY.fullmatch(key) is None
            or ".." in key
            or key == VARIANTS
            or key.startswith(VARIANTS + "/")
        ):
            raise StorageError(f"invalid blob key {key!r}")
        return self.location.path(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            obstore.put(self.store, path, data, use_multipart=False)
        except (BaseError, OSError, TimeoutError) as exc:
            raise _failure("put", exc) from None

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return bytes(obstore.get(self.store, path).bytes())
        except FileNotFoundError as exc:
            if _missing_bucket(exc):
                raise _failure("request", exc) from None
            raise BlobMissing() from None
        except (BaseError, OSError, TimeoutError) as exc:
            raise _failure("get", exc) from None

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            obstore.delete(self.store, path)
        except FileNotFoundError as exc:
            if _missing_bucket(exc):
                raise _failure("request", exc) from None
        except (BaseError, OSError, TimeoutError) as exc:
            raise _failure("delete", exc) from None

    def ping(self) -> None:
        """The bucket answers a listing of at most one object under the prefix."""
        prefix = self.location.prefix or None
        try:
            stream = obstore.list(self.store, prefix, chunk_size=1)
            next(iter(stream), None)
        except (BaseError, OSError, TimeoutError) as exc:
            raise _failure("list", exc) from None

    def iter_keys(self) -> Iterator[tuple[str, float]]:
        """Every key under the prefix with its LastModified; the shared tier of rendered
        variants and anything that is not a valid key are skipped."""
        prefix = self.location.prefix or None
        try:
            for chunk in obstore.list(self.store, prefix, chunk_size=1000):
                for meta in chunk:
                    key = self.location.key(meta["path"])
                    if key is None or _KEY.fullmatch(key) is None or ".." in key:
                        continue
                    if key == VARIANTS or key.startswith(VARIANTS + "/"):
                        continue
                    yield key, meta["last_modified"].timestamp()
        except (BaseError, OSError, TimeoutError) as exc:
            raise _failure("list", exc) from None

    def sweep(self, older_than: float = 0.0, *, dry_run: bool = False) -> int:
        """Nothing to sweep: every write is one PUT, which leaves nothing partial (no
        multipart upload is ever started)."""
        return 0


def _failure(operation: str, exc: BaseException) -> StorageError:
    """imagegate's error for a failed request, once the client's retries are spent. The
    driver's text (addresses, request ids) goes to the log, never to a client."""
    log.warning("object store %s failed: %s", operation, " ".join(str(exc).split())[:300])
    return StorageError()


__all__ = ["VARIANTS", "S3BlobStore", "S3Limits", "S3Location", "open_s3"]
