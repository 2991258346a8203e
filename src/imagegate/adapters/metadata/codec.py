"""Rows to models and back. The only place that knows how models are laid out in tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Row

from imagegate.core.ids import image_digest
from imagegate.core.models import (
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
from imagegate.usecases.records import StoredOriginal, StoredSession

to_ms = epoch_ms


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def account_row(a: Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "hash": a.hash,
        "name": a.name,
        "created_ms": to_ms(a.created),
        "flexible_variants": a.flexible_variants,
        "browser_ttl": a.browser_ttl,
        "image_quota": a.image_quota,
        "keep_gps": a.keep_gps,
    }


def account(r: Row[Any]) -> Account:
    return Account(
        id=r.id,
        hash=r.hash,
        name=r.name,
        created=from_ms(r.created_ms),
        flexible_variants=bool(r.flexible_variants),
        browser_ttl=r.browser_ttl,
        image_quota=r.image_quota,
        keep_gps=bool(r.keep_gps),
    )


def token_row(t: ApiToken, token_hash: str) -> dict[str, Any]:
    return {
        "id": t.id,
        "account_id": t.account_id,
        "name": t.name,
        "token_hash": token_hash,
        "scopes": ",".join(sorted(s.value for s in t.scopes)),
        "created_ms": to_ms(t.created),
        "revoked": t.revoked,
        "expires_ms": to_ms(t.expires) if t.expires else None,
        "parent_id": t.parent_id,
        "batch": t.batch,
    }


def token(r: Row[Any]) -> ApiToken:
    return ApiToken(
        id=r.id,
        account_id=r.account_id,
        name=r.name,
        scopes=frozenset(Scope(s) for s in r.scopes.split(",") if s),
        created=from_ms(r.created_ms),
        revoked=bool(r.revoked),
        expires=from_ms(r.expires_ms) if r.expires_ms is not None else None,
        parent_id=r.parent_id,
        batch=bool(r.batch),
    )


def signing_key(r: Row[Any]) -> SigningKey:
    return SigningKey(
        name=r.name, value=r.value, created=from_ms(r.created_ms), verifications=r.verifications
    )


def variant_row(account_id: str, v: Variant, created_ms: int) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "name": v.name,
        "options": v.options.to_dict(),
        "never_require_signed_urls": v.never_require_signed_urls,
        "created_ms": created_ms,
    }


def variant(r: Row[Any]) -> Variant:
    return Variant(
        name=r.name,
        options=VariantOptions.from_dict(r.options),
        never_require_signed_urls=bool(r.never_require_signed_urls),
    )


def image_row(i: Image) -> dict[str, Any]:
    return {
        "account_id": i.account_id,
        "id_digest": image_digest(i.id),
        "id": i.id,
        "filename": i.filename,
        "uploaded_ms": to_ms(i.uploaded),
        "require_signed_urls": i.require_signed_urls,
        "meta": i.meta,
        "creator": i.creator,
        "draft": i.draft,
        "format": i.format.value if i.format else None,
        "width": i.width,
        "height": i.height,
        "size": i.size,
        "blob_key": i.blob_key,
        "sha256": i.sha256,
        "upload_expires_ms": to_ms(i.upload_expires) if i.upload_expires else None,
    }


def original_row(o: StoredOriginal) -> dict[str, Any]:
    """The columns an uploaded original fills in (on a draft, when its upload completes)."""
    return {
        "format": o.format.value,
        "width": o.width,
        "height": o.height,
        "size": o.size,
        "blob_key": o.blob_key,
        "sha256": o.sha256,
        "filename": o.filename,
    }


def image(r: Row[Any]) -> Image:
    return Image(
        account_id=r.account_id,
        id=r.id,
        filename=r.filename,
        uploaded=from_ms(r.uploaded_ms),
        require_signed_urls=bool(r.require_signed_urls),
        meta=r.meta or {},
        creator=r.creator,
        draft=bool(r.draft),
        format=Format(r.format) if r.format else None,
        width=r.width,
        height=r.height,
        size=r.size,
        blob_key=r.blob_key,
        sha256=r.sha256,
        upload_expires=from_ms(r.upload_expires_ms) if r.upload_expires_ms is not None else None,
    )


def session_row(s: StoredSession) -> dict[str, Any]:
    return {
        "id_hash": s.id_hash,
        "account_id": s.account_id,
        "token_id": s.token_id,
        "admin": s.admin,
        "read_only": s.read_only,
        "key_access": s.key_access,
        "csrf_token": s.csrf_token,
        "created_ms": s.created_ms,
        "expires_ms": s.expires_ms,
    }


def stored_session(r: Row[Any]) -> StoredSession:
    return StoredSession(
        id_hash=r.id_hash,
        account_id=r.account_id,
        token_id=r.token_id,
        admin=bool(r.admin),
        read_only=bool(r.read_only),
        csrf_token=r.csrf_token,
        created_ms=r.created_ms,
        expires_ms=r.expires_ms,
        key_access=bool(r.key_access),
    )
