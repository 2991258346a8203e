"""The use cases, over the ports. No HTTP, no drivers: callers pass plain values and get
models back or imagegate errors raised. Every method may block; the web layer runs them in
worker threads, the CLI calls them directly."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from imagegate import client_json, ids
from imagegate.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    ImageNotFound,
    KeyNotFound,
    LimitReached,
    PayloadTooLarge,
    Unauthenticated,
    VariantNotFound,
)
from imagegate.keyseal import PREFIX, KeySeal
from imagegate.listing import Cursor, InvalidListing, MetaFilter, decode_cursor, encode_cursor
from imagegate.models import (
    MAX_SIGNING_KEYS,
    Account,
    ApiToken,
    Format,
    Image,
    Scope,
    SigningKey,
    Variant,
    VariantOptions,
    epoch_ms,
)
from imagegate.ports import BlobStore, ImageProcessor, MetadataStore
from imagegate.serving import Caches
from imagegate.signing import sign_url
from imagegate.urls import delivery_path

log = logging.getLogger("imagegate.service")

MAX_VARIANTS = 100
BATCH_TOKEN_LIFETIME = timedelta(minutes=15)
MAX_API_TOKENS = 100  # live tokens per account, batch tokens aside
MAX_BATCH_TOKENS = 100  # live batch tokens per account (each lives 15 minutes)
DEAD_TOKENS_KEPT = 100  # revoked or expired tokens an account keeps listed; older ones go
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

    def credentials(self) -> dict[str, str]:
        """What an operator is shown once: the ids, the first API token and signing key."""
        return {
            "account_id": self.account.id,
            "account_hash": self.account.hash,
            "api_token": self.api_token,
            "signing_key": self.signing_key,
        }


def hash_token(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class Service:
    def __init__(
        self,
        meta: MetadataStore,
        blobs: BlobStore,
        processor: ImageProcessor,
        caches: Caches,
        *,
        keyseal: KeySeal | None = None,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.meta = meta
        self.blobs = blobs
        self.processor = processor
        self.caches = caches
        self.keyseal = keyseal or KeySeal(None)
        self.limits = limits
        self.clock = clock
        self.counters: Counter[str] = Counter()  # uploads, upload_bytes

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
        key = self._new_key(account.id, "default")
        token, _ = self.create_token(account.id, "default", frozenset(Scope))
        return NewAccount(account, token, key.value)

    def create_token(
        self,
        account_id: str,
        name: str,
        scopes: frozenset[Scope],
        *,
        parent: ApiToken | None = None,
    ) -> tuple[str, ApiToken]:
        """Make an API token; its value is returned here once and stored only as a hash.

        A token made with another (``parent``: the token a dashboard session was opened
        with) has no scope its parent lacks, expires no later, and is revoked with it. A
        batch token makes no tokens."""
        expires = None
        if parent is not None:
            self._check_parent(parent, account_id)
            if not scopes <= parent.scopes:
                raise Forbidden("A token cannot make a token with a scope it does not have")
            expires = parent.expires
        token = ApiToken(
            ids.new_token_id(),
            account_id,
            name,
            scopes,
            self.now(),
            expires=expires,
            parent_id=parent.id if parent else None,
        )
        value = self._add_token(token, MAX_API_TOKENS, "live API tokens; revoke one first")
        return value, token

    def authenticate(self, token_value: str) -> ApiToken:
        token = self.meta.find_token(hash_token(token_value)) if token_value else None
        if token is None or (token.expires is not None and token.expires < self.now()):
            raise Unauthenticated("Invalid API token")
        return token

    def create_batch_token(self, token: ApiToken) -> tuple[str, datetime]:
        """A short-lived token for the same account and scopes (Cloudflare's batch API). It
        expires no later than ``token``, dies with it, and makes no tokens itself."""
        self._check_parent(token, token.account_id)
        now = self.now()
        expires = now + BATCH_TOKEN_LIFETIME
        if token.expires is not None:
            expires = min(expires, token.expires)
        batch = ApiToken(
            ids.new_token_id(),
            token.account_id,
            "batch",
            token.scopes,
            now,
            expires=expires,
            parent_id=token.id,
            batch=True,
        )
        value = self._add_token(
            batch, MAX_BATCH_TOKENS, "live batch tokens; each lasts 15 minutes, reuse one"
        )
        return value, expires

    def revoke_token(self, account_id: str, token_id: str) -> bool:
        """Revoke a token and every token made with it; their dashboard sessions end and the
        upload URLs they asked for stop working. False if the account has no such token."""
        return self.meta.revoke_token(account_id, token_id)

    def _check_parent(self, parent: ApiToken, account_id: str) -> None:
        if parent.batch:
            raise Forbidden("A batch token cannot make tokens")
        if parent.account_id != account_id:
            raise Forbidden()

    def _add_token(self, token: ApiToken, limit: int, what: str) -> str:
        """Store ``token`` under a fresh value (returned), within ``limit`` live tokens of its
        kind; tokens past use are cleared first, so an account's rows stay bounded."""
        value = ids.new_api_token()
        self.meta.prune_tokens(token.account_id, epoch_ms(token.created), DEAD_TOKENS_KEPT)
        try:
            self.meta.add_token(token, hash_token(value), max_live=limit)
        except LimitReached:
            raise LimitReached(f"An account has at most {limit} {what}") from None
        return value

    def account_for(self, token: ApiToken, account_id: str, scope: Scope) -> Account:
        """The account a request addresses, if this token may act on it with ``scope``."""
        if token.account_id != account_id or scope not in token.scopes:
            raise Forbidden()
        account = self.meta.get_account(account_id)
        if account is None:
            raise Forbidden()
        return account

    def account_for_keys(self, token: ApiToken, account_id: str) -> Account:
        """The account, if this token may see and use its signing-key values: that needs the
        edit scope and a token that does not expire (see ``ApiToken.reaches_keys``)."""
        account = self.account_for(token, account_id, Scope.EDIT)
        if not token.reaches_keys:
            raise Forbidden("Signing keys need an edit token that does not expire")
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
        meta = self.check_new_image(account, custom_id, meta, creator)
        fmt, width, height = self.processor.probe(data)
        self.check_quota(account)
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
        self.counters["uploads"] += 1
        self.counters["upload_bytes"] += len(data)
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

    def check_new_image(
        self,
        account: Account,
        custom_id: str | None,
        meta: dict[str, Any] | None,
        creator: str | None,
    ) -> dict[str, Any]:
        """Validate what a new image is given; return its metadata, checked."""
        if custom_id is not None:
            problem = ids.custom_id_problem(custom_id)
            if problem:
                raise BadRequest(f"Invalid custom id: {problem}")
        check_creator(creator)
        return check_metadata(meta or {})

    def check_quota(self, account: Account) -> None:
        if self.meta.count_images(account.id) >= account.image_quota:
            raise LimitReached("Image quota reached for this account")

    def stats(self, account: Account) -> tuple[int, int]:
        """Images held (drafts included) and images allowed."""
        return self.meta.count_images(account.id), account.image_quota

    def list_images_v2(
        self,
        account: Account,
        *,
        continuation_token: str | None,
        per_page: int,
        descending: bool,
        creator: str | None,
        filters: list[MetaFilter],
    ) -> tuple[list[Image], str | None]:
        """A page of images and the token for the next page (None on the last)."""
        try:
            after = decode_cursor(continuation_token) if continuation_token else None
        except InvalidListing as exc:
            raise BadRequest(str(exc)) from None
        page = self.meta.list_images_page(
            account.id,
            after=after,
            limit=per_page + 1,
            descending=descending,
            creator=creator,
            filters=filters,
        )
        if len(page) <= per_page:
            return page, None
        page = page[:per_page]
        last = page[-1]
        cursor = Cursor(epoch_ms(last.uploaded), ids.image_digest(last.id)[:32])
        return page, encode_cursor(cursor)

    def get_image(self, account: Account, image_id: str) -> Image:
        image = self.meta.get_image(account.id, image_id)
        if image is None:
            raise ImageNotFound()
        return image

    def list_images(
        self, account: Account, page: int, per_page: int, creator: str | None = None
    ) -> list[Image]:
        check_creator(creator)
        offset = (page - 1) * per_page
        return self.meta.list_images(account.id, offset, per_page, creator=creator)

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
            check_creator(creator)
            changes["creator"] = creator
        image = self.meta.update_image(account.id, image_id, **changes)
        if image is None:
            raise ImageNotFound()
        if require_signed_urls is not None:
            self.caches.purge_image(account.id, image_id)  # access changed: purge copies
        else:
            self.caches.forget_metadata()
        return image

    def delete_image(self, account: Account, image_id: str) -> None:
        image = self.meta.delete_image(account.id, image_id)
        if image is None:
            raise ImageNotFound()
        self.caches.purge_image(account.id, image_id)
        if image.blob_key:
            self.blobs.delete(image.blob_key)

    def original(self, account: Account, image_id: str) -> tuple[bytes, Format | None]:
        image = self.get_image(account, image_id)
        if image.draft:
            raise ImageNotFound()
        return self.blobs.get(image.blob_key), image.format

    # --- signing keys ---------------------------------------------------------------------

    def list_keys(self, account: Account) -> list[SigningKey]:
        """The account's keys, oldest first, with their values readable."""
        return [self._opened(account.id, k) for k in self.meta.list_keys(account.id)]

    def put_key(self, account: Account, name: str) -> list[SigningKey]:
        """Create the key ``name``, or give it a new value if it exists. An account holds at
        most ``MAX_SIGNING_KEYS``; one that holds more (made before the cap) keeps them all
        and may rotate or delete them, but not add another."""
        if not ids.is_key_name(name):
            raise BadRequest("Key names are 1-20 letters and digits")
        try:
            self._new_key(account.id, name, max_keys=MAX_SIGNING_KEYS)
        except LimitReached:
            raise LimitReached(
                f"An account has at most {MAX_SIGNING_KEYS} signing keys: "
                "delete one before adding another"
            ) from None
        self.caches.forget_metadata()
        return self.list_keys(account)

    def delete_key(self, account: Account, name: str) -> list[SigningKey]:
        """Delete ``name``. When the last key goes, a new ``default`` is generated."""
        if not self.meta.delete_key(account.id, name):
            raise KeyNotFound()
        self.caches.forget_metadata()
        keys = self.list_keys(account)
        return keys or [self._new_key(account.id, "default")]

    def key_value(self, account: Account, name: str | None) -> SigningKey:
        for key in self.list_keys(account):
            if name is None or key.name == name:
                return key
        raise KeyNotFound()

    def seal_keys(self) -> int:
        """Encrypt every key still stored in the clear (after a master key is first set)."""
        sealed = 0
        for account in self.meta.list_accounts():
            for key in self.meta.list_keys(account.id):
                if not key.value.startswith(PREFIX):
                    value = self.keyseal.seal(key.value, account.id, key.name)
                    self.meta.replace_key_value(account.id, key.name, value)
                    sealed += 1
        return sealed

    def _new_key(self, account_id: str, name: str, max_keys: int | None = None) -> SigningKey:
        """A fresh random key, stored sealed; returned readable."""
        key = SigningKey(name, ids.new_signing_key_value(), self.now())
        sealed = replace(key, value=self.keyseal.seal(key.value, account_id, name))
        self.meta.put_key(account_id, sealed, max_keys=max_keys)
        return key

    def _opened(self, account_id: str, key: SigningKey) -> SigningKey:
        return replace(key, value=self.keyseal.open(key.value, account_id, key.name))

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
        self.caches.purge_variant(account.id, name)
        return variant

    def delete_variant(self, account: Account, name: str) -> None:
        if name == "public":
            raise BadRequest("The public variant cannot be deleted")
        if not self.meta.delete_variant(account.id, name):
            raise VariantNotFound()
        self.caches.purge_variant(account.id, name)

    def update_config(
        self,
        account: Account,
        *,
        flexible_variants: bool | None,
        browser_ttl: int | None,
        keep_gps: bool | None = None,
    ) -> Account:
        updated = self.meta.update_account(
            account.id,
            flexible_variants=flexible_variants,
            browser_ttl=browser_ttl,
            keep_gps=keep_gps,
        )
        if updated is None:
            raise Forbidden()
        self.caches.forget_metadata()
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


def check_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise BadRequest("metadata must be a JSON object")
    client_json.check(meta, "metadata")
    encoded = json.dumps(meta, separators=(",", ":"))
    if len(encoded.encode("utf-8")) > MAX_METADATA_BYTES:
        raise BadRequest(f"metadata must be at most {MAX_METADATA_BYTES} bytes")
    return meta


def check_creator(creator: str | None) -> None:
    """A creator is at most 1,024 characters and holds no NUL (no text column takes one)
    and no lone surrogate (UTF-8 cannot encode one, so no answer holding it could be sent)."""
    if creator is None:
        return
    if len(creator) > 1024:
        raise BadRequest("creator must be at most 1024 characters")
    client_json.check(creator, "creator")


__all__ = ["MAX_SIGNING_KEYS", "Limits", "NewAccount", "Service", "hash_token"]
