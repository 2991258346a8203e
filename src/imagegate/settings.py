"""One Settings object, read once from ``IMAGEGATE_*`` variables (or given explicitly).

Every setting is documented in ``docs/settings.md``; a test checks that the two agree.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IMAGEGATE_", extra="ignore", frozen=True)

    data_dir: Path = Field(Path("data"), description="Where the embedded store lives.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is SQLite at <data_dir>/imagegate.db."
    )
    blob_url: str | None = Field(
        None,
        description="Where originals live: s3://bucket[/prefix] (endpoint and credentials from "
        "the AWS_* variables) or a directory; default <data_dir>/blobs.",
    )
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on.")
    public_url: str | None = Field(
        None, description="Base URL clients reach the server at; default http://host:port."
    )
    workers: int = Field(1, ge=1, description="Server worker processes.")
    access_log: bool = Field(True, description="Write one JSON access-log line per request.")
    metrics_token: SecretStr | None = Field(
        None,
        min_length=16,
        description="Bearer token /metrics asks for (16+ characters); unset, /metrics is off.",
    )
    node_name: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=200,
        description="Names this node in the node label of every metric; default the hostname.",
    )
    metrics_dir: Path | None = Field(
        None,
        description="Directory where the workers of one node pool their metrics; imagegate "
        "serve makes a fresh one for its workers. Unset: each process reports alone.",
    )
    http: Literal["1", "2", "auto"] = Field(
        "1", description="HTTP version served: 1 (fastest), 2, or auto-detect per connection."
    )

    # Signed URLs
    clock_skew: int = Field(0, ge=0, le=3600, description="Seconds a URL stays valid past exp.")
    allow_non_expiring: bool = Field(False, description="Accept signed URLs with no exp.")
    max_url_lifetime: int | None = Field(
        None, ge=1, description="Refuse signed URLs whose exp is further ahead than this."
    )

    master_key: SecretStr | None = Field(
        None, description="Encrypts signing keys at rest (AES-256-GCM under a key derived from it)."
    )
    allow_unsafe_config: bool = Field(
        False, description="Start even with a configuration imagegate considers unsafe."
    )

    # Uploads and rendering
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest upload.")
    max_image_side: int = Field(12000, ge=1, description="Largest width or height accepted.")
    max_image_pixels: int = Field(100_000_000, ge=1, description="Largest pixel count accepted.")
    render_concurrency: int = Field(
        default_factory=lambda: os.cpu_count() or 2, ge=1, description="Renders run at once."
    )
    render_queue: int = Field(
        32, ge=0, description="Renders that may wait; beyond this the answer is 503."
    )
    render_timeout: float = Field(
        10.0, ge=0, le=600, description="Seconds a render may run before it is cancelled; 0: none."
    )
    max_output_pixels: int = Field(
        25_000_000, ge=1, description="Largest output of a render (frames summed); shrunk to fit."
    )
    heavy_render_pixels: int = Field(
        10_000_000, ge=0, description="Estimated pixel work above which a render is heavy."
    )
    levels_queue: int = Field(
        256, ge=0, description="Originals waiting for their reduced copies; 0: none kept."
    )

    # Slow clients
    header_timeout: float = Field(
        10.0, ge=1, le=60, description="Seconds a client may take to send a request's headers."
    )
    body_timeout: float = Field(
        20.0, gt=0, le=3600, description="Seconds a request body may take, plus 1 per 500 bytes."
    )

    # Upload by URL
    fetch_allowlist: str = Field(
        "", description="Comma-separated origins or address ranges an upload URL may reach."
    )
    fetch_allowed_ports: str = Field("80,443", description="Comma-separated ports for upload URLs.")
    fetch_timeout: float = Field(20.0, gt=0, le=300, description="Seconds a URL fetch may take.")

    # Caches and output
    variant_cache_bytes: int = Field(
        1024**3, ge=0, description="Disk bound of rendered variants (LRU); 0 turns it off."
    )
    memory_cache_bytes: int = Field(
        64 * 1024**2, ge=0, description="Per-process memory bound of hot variants; 0 turns it off."
    )
    metadata_cache_ttl: float = Field(
        1.0, ge=0, le=60, description="Seconds a worker may reuse what it read about an image."
    )
    metadata_cache_ttl_notified: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="Seconds a worker may reuse what it read while PostgreSQL's change feed "
        "tells it of every change (never less than metadata_cache_ttl).",
    )
    shared_variants: bool = Field(
        True,
        description="With blobs in an object store, keep renders there for every node too.",
    )
    avif_max_side: int = Field(
        1200, ge=0, description="Largest output side encoded as AVIF; larger falls back to WebP."
    )
    avif_fallback: bool = Field(
        True,
        description="Serve a negotiated AVIF not yet made as WebP (or JPEG) at once and encode "
        "the AVIF in the background; false: the first request waits for the AVIF.",
    )
    avif_fallback_max_age: int = Field(
        60, ge=1, le=86400, description="max-age in seconds of that WebP (or JPEG) stand-in."
    )

    # Dashboard sign-in
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the client (for sign-in throttling).",
    )

    # Accounts
    default_image_quota: int = Field(100000, ge=0, description="Images allowed per account.")

    def unsafe_reasons(self) -> list[str]:
        """What about this configuration would let private images leak; empty if nothing."""
        reasons = []
        exposed = self.host not in ("127.0.0.1", "::1", "localhost")
        if exposed and self.allow_non_expiring and self.max_url_lifetime is None:
            reasons.append(
                f"listening on {self.host} with non-expiring signed URLs allowed and no maximum "
                "lifetime: a leaked URL would work forever (set IMAGEGATE_MAX_URL_LIFETIME, or "
                "IMAGEGATE_ALLOW_NON_EXPIRING=false)"
            )
        if exposed and self.clock_skew > 300:
            reasons.append(
                f"listening on {self.host} with a clock skew allowance of {self.clock_skew} s: "
                "expired URLs would keep working that long (keep IMAGEGATE_CLOCK_SKEW <= 300)"
            )
        return reasons

    def first_account_path(self) -> Path:
        """Where ``imagegate init`` keeps the first account's credentials (mode 600)."""
        return self.data_dir / "first-account.json"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'imagegate.db').resolve()}"

    def resolved_blob_url(self) -> str:
        if self.blob_url:
            return self.blob_url
        return str((self.data_dir / "blobs").resolve())

    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_networks(cls, value: str) -> str:
        for entry in (e.strip() for e in value.split(",")):
            try:
                ipaddress.ip_network(entry, strict=False) if entry else None
            except ValueError:
                raise ValueError(f"trusted_proxies: not an address or network: {entry!r}") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        return value
