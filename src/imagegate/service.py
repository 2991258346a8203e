"""The use cases, over the ports. No HTTP, no drivers: callers pass plain values and get
models back or imagegate errors raised. Every method may block; the web layer runs them in
worker threads, the CLI calls them directly."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imagegate import ids
from imagegate.errors import (
    AccessDenied,
    BadRequest,
    Conflict,
    DeliveryNotFound,
    Forbidden,
    ImageNotFound,
    InvalidDeliveryUrl,
    KeyNotFound,
    LimitReached,
    PayloadTooLarge,
    Unauthenticated,
    UnknownAccountHash,
    VariantNotFound,
)
from imagegate.models import (
    Account,
    ApiToken,
    Format,
    Image,
    Scope,
    SigningKey,
    Variant,
    VariantOptions,
)
from imagegate.ports import BlobStore, ImageProcessor, MetadataStore
from imagegate.signing import Outcome, Policy, sign_url, verify
from imagegate.urls import BadDeliveryPath, delivery_path, parse_delivery_path

log = logging.getLogger("imagegate.service")

MAX_VARIANTS = 100
MAX_METADATA_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Limits:
    max_upload_bytes: int = 10 * 1024 * 1024
    max_image_side: int = 12000
    default_image_quota: int = 100000


@dataclass(frozen=True, slots=True)
class NewAccount:
    account: Account
    api_token: str
    signing_key: str


@dataclass(frozen=True, slots=True)
class Authorized:
    """A delivery request that may be served."""

    account: Account
    image: Image
    variant: Variant
    signed: bool  # served under a verified signature
    exp: int | None


def hash_token(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class Service:
    def __init__(
        self,
        meta: MetadataStore,
        blobs: BlobStore,
        processor: ImageProcessor,
        *,
        policy: Policy = Policy(),
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.meta = meta
        self.blobs = blobs
        self.processor = processor
        self.policy = policy
        self.limits = limits
        self.clock = clock
        self._usage: Counter[tuple[str, str]] = Counter()
        self._usage_lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    # --- accounts and tokens --------------------------------------------------------------

    def create_account(self, name: str = "default") -> NewAccount:
        account = Account(
            id=ids.new_account_id(),
            hash=ids.new_account_hash(),
            name=name,
            created=self.now(),
            image_quota=self.limits.default_image_quota,
        )
        self.meta.create_account(account)
        side = self.limits.max_image_side
        public = Variant("public", VariantOptions(width=side, height=side))
        self.meta.create_variant(account.id, public)
        key = SigningKey("default", ids.new_signing_key_value(), self.now())
        self.meta.put_key(account.id, key)
        token, _ = self.create_token(account.id, "default", frozenset(Scope))
        return NewAccount(account, token, key.value)

    def create_token(
        self, account_id: str, name: str, scopes: frozenset[Scope]
    ) -> tuple[str, ApiToken]:
        """Make an API token; its value is returned here once and stored only as a hash."""
        value = ids.new_api_token()
        token = ApiToken(ids.new_token_id(), account_id, name, scopes, self.now())
        self.meta.add_token(token, hash_token(value))
        return value, token

    def authenticate(self, token_value: str) -> ApiToken:
        token = self.meta.find_token(hash_token(token_value)) if token_value else None
        if token is None:
            raise Unauthenticated("Invalid API token")
        return token

    def account_for(self, token: ApiToken, account_id: str, scope: Scope) -> Account:
        """The account a request addresses, if this token may act on it with ``scope``."""
        if token.account_id != account_id or scope not in token.scopes:
            raise Forbidden()
        account = self.meta.get_account(account_id)
        if account is None:
            raise Forbidden()
        return account

    # --- images ---------------------------------------------------------------------------

    def upload(
        self,
        account: Account,
        data: bytes,
        *,
        filename: str = "",
        custom_id: str | None = None,
        meta: dict[str, Any] | None = None,
        require_signed_urls: bool = False,
        creator: str | None = None,
    ) -> Image:
        if len(data) > self.limits.max_upload_bytes:
            raise PayloadTooLarge()
        if custom_id is not None:
            problem = ids.custom_id_problem(custom_id)
            if problem:
                raise BadRequest(f"Invalid custom id: {problem}")
        meta = check_metadata(meta or {})
        if creator is not None and len(creator) > 1024:
            raise BadRequest("creator must be at most 1024 characters")
        fmt, width, height = self.processor.probe(data)
        if self.meta.count_images(account.id) >= account.image_quota:
            raise LimitReached("Image quota reached for this account")
        image = Image(
            account_id=account.id,
            id=custom_id or ids.new_image_id(),
            filename=(filename or "upload")[:255],
            uploaded=self.now(),
            require_signed_urls=require_signed_urls,
            meta=meta,
            creator=creator,
            format=fmt,
            width=width,
            height=height,
            size=len(data),
            blob_key=ids.new_blob_key(account.id),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        # Bytes first, record second: a crash in between leaves an orphan blob (swept by gc),
        # never a record without its bytes. The upload is acknowledged after both.
        self.blobs.put(image.blob_key, data)
        try:
            self.meta.insert_image(image)
        except Conflict:
            self.blobs.delete(image.blob_key)
            raise Conflict("An image with this id already exists") from None
        except Exception:
            self.blobs.delete(image.blob_key)
            raise
        return image

    def get_image(self, account: Account, image_id: str) -> Image:
        image = self.meta.get_image(account.id, image_id)
        if image is None:
            raise ImageNotFound()
        return image

    def list_images(self, account: Account, page: int, per_page: int) -> list[Image]:
        return self.meta.list_images(account.id, (page - 1) * per_page, per_page)

    def edit_image(
        self,
        account: Account,
        image_id: str,
        *,
        require_signed_urls: bool | None = None,
        meta: dict[str, Any] | None = None,
        creator: str | None = None,
    ) -> Image:
        changes: dict[str, Any] = {}
        if require_signed_urls is not None:
            changes["require_signed_urls"] = require_signed_urls
        if meta is not None:
            changes["meta"] = check_metadata(meta)
        if creator is not None:
            changes["creator"] = creator
        image = self.meta.update_image(account.id, image_id, **changes)
        if image is None:
            raise ImageNotFound()
        return image

    def delete_image(self, account: Account, image_id: str) -> None:
        image = self.meta.delete_image(account.id, image_id)
        if image is None:
            raise ImageNotFound()
        if image.blob_key:
            self.blobs.delete(image.blob_key)

    def original(self, account: Account, image_id: str) -> tuple[bytes, Format | None]:
        image = self.get_image(account, image_id)
        if image.draft:
            raise ImageNotFound()
        return self.blobs.get(image.blob_key), image.format

    # --- signing keys ---------------------------------------------------------------------

    def list_keys(self, account: Account) -> list[SigningKey]:
        return self.meta.list_keys(account.id)

    def put_key(self, account: Account, name: str) -> list[SigningKey]:
        """Create the key ``name``, or give it a new value if it exists."""
        if not ids.is_key_name(name):
            raise BadRequest("Key names are 1-20 letters and digits")
        self.meta.put_key(account.id, SigningKey(name, ids.new_signing_key_value(), self.now()))
        return self.meta.list_keys(account.id)

    def delete_key(self, account: Account, name: str) -> list[SigningKey]:
        """Delete ``name``. When the last key goes, a new ``default`` is generated."""
        if not self.meta.delete_key(account.id, name):
            raise KeyNotFound()
        keys = self.meta.list_keys(account.id)
        if not keys:
            default = SigningKey("default", ids.new_signing_key_value(), self.now())
            self.meta.put_key(account.id, default)
            keys = [default]
        return keys

    def key_value(self, account: Account, name: str | None) -> SigningKey:
        keys = self.meta.list_keys(account.id)
        for key in keys:
            if name is None or key.name == name:
                return key
        raise KeyNotFound()

    def record_key_use(self, account_id: str, key_name: str) -> None:
        with self._usage_lock:
            self._usage[(account_id, key_name)] += 1

    def flush_key_usage(self) -> None:
        """Write the verification counts gathered since the last flush."""
        with self._usage_lock:
            usage, self._usage = self._usage, Counter()
        by_account: dict[str, dict[str, int]] = {}
        for (account_id, name), count in usage.items():
            by_account.setdefault(account_id, {})[name] = count
        for account_id, counts in by_account.items():
            self.meta.add_key_verifications(account_id, counts)

    # --- variants -------------------------------------------------------------------------

    def list_variants(self, account: Account) -> list[Variant]:
        return self.meta.list_variants(account.id)

    def get_variant(self, account: Account, name: str) -> Variant:
        variant = self.meta.get_variant(account.id, name)
        if variant is None:
            raise VariantNotFound()
        return variant

    def create_variant(self, account: Account, variant: Variant) -> Variant:
        if not ids.is_variant_name(variant.name):
            raise BadRequest("Variant names are 1-99 letters and digits")
        if len(self.meta.list_variants(account.id)) >= MAX_VARIANTS:
            raise LimitReached(f"An account has at most {MAX_VARIANTS} variants")
        try:
            self.meta.create_variant(account.id, variant)
        except Conflict:
            raise Conflict("A variant with this name already exists") from None
        return variant

    def update_variant(
        self, account: Account, name: str, options: VariantOptions, never_require: bool | None
    ) -> Variant:
        variant = self.meta.update_variant(account.id, name, options, never_require)
        if variant is None:
            raise VariantNotFound()
        return variant

    def delete_variant(self, account: Account, name: str) -> None:
        if name == "public":
            raise BadRequest("The public variant cannot be deleted")
        if not self.meta.delete_variant(account.id, name):
            raise VariantNotFound()

    def update_config(
        self, account: Account, *, flexible_variants: bool | None, browser_ttl: int | None
    ) -> Account:
        updated = self.meta.update_account(
            account.id, flexible_variants=flexible_variants, browser_ttl=browser_ttl
        )
        if updated is None:
            raise Forbidden()
        return updated

    # --- signed URLs for backends ---------------------------------------------------------

    def signed_url(
        self,
        account: Account,
        image_id: str,
        variant: str,
        expires_in: int,
        *,
        key_name: str | None = None,
        public_url: str = "",
    ) -> tuple[str, int]:
        self.get_image(account, image_id)
        self.get_variant(account, variant)
        key = self.key_value(account, key_name)
        exp = int(self.clock()) + expires_in
        path = delivery_path(account.hash, image_id, variant)
        return sign_url(public_url.rstrip("/") + path, key.value, exp=exp), exp

    # --- delivery -------------------------------------------------------------------------

    def authorize(self, raw_path: bytes, raw_query: bytes) -> Authorized:
        """Decide whether a delivery request may be served. Raises a ``DeliveryError``."""
        try:
            parsed = parse_delivery_path(raw_path)
        except BadDeliveryPath:
            raise InvalidDeliveryUrl() from None
        ctx = self.meta.delivery_context(parsed.account_hash, parsed.image_id, parsed.last)
        if ctx is None:
            raise UnknownAccountHash()
        image = ctx.image
        if image is None or image.draft:
            raise DeliveryNotFound()
        variant = ctx.variant
        if variant is None:
            raise AccessDenied()
        if not image.require_signed_urls or variant.never_require_signed_urls:
            return Authorized(ctx.account, image, variant, signed=False, exp=None)
        now = int(self.clock())
        keys = [(k.name, k.value.encode("utf-8")) for k in ctx.keys]
        verdict = verify(raw_path, raw_query, keys, now, self.policy)
        if verdict.key_name is not None:
            self.record_key_use(ctx.account.id, verdict.key_name)
        if verdict.outcome is not Outcome.OK:
            log.info(
                "signature refused",
                extra={"outcome": verdict.outcome.value, "key": verdict.key_name},
            )
            raise AccessDenied()
        return Authorized(ctx.account, image, variant, signed=True, exp=verdict.exp)

    def render(self, authorized: Authorized) -> tuple[bytes, Format]:
        image = authorized.image
        data = self.blobs.get(image.blob_key)
        if image.format is None:
            raise DeliveryNotFound()
        options = authorized.variant.options
        return self.processor.render(data, image.format, options)


def check_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise BadRequest("metadata must be a JSON object")
    if len(json.dumps(meta, separators=(",", ":")).encode("utf-8")) > MAX_METADATA_BYTES:
        raise BadRequest(f"metadata must be at most {MAX_METADATA_BYTES} bytes")
    return meta


__all__ = ["Authorized", "Limits", "NewAccount", "Service", "hash_token"]
