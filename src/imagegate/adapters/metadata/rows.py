"""Queries that more than one store runs inside its own transaction."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from imagegate.adapters.metadata import codec
from imagegate.adapters.metadata.schema import accounts, api_tokens, images, signing_keys, variants
from imagegate.core.ids import image_digest
from imagegate.core.models import Image, SigningKey, Variant


def keys_of(conn: Connection, account_id: str, newest: int | None = None) -> list[SigningKey]:
    """The account's keys, oldest first; with ``newest``, only that many of the newest."""
    query = signing_keys.select().where(signing_keys.c.account_id == account_id)
    if newest is None:
        query = query.order_by(signing_keys.c.created_ms, signing_keys.c.name)
        return [codec.signing_key(r) for r in conn.execute(query).all()]
    query = query.order_by(signing_keys.c.created_ms.desc(), signing_keys.c.name.desc())
    return [codec.signing_key(r) for r in reversed(conn.execute(query.limit(newest)).all())]


def variant_of(conn: Connection, account_id: str, name: str) -> Variant | None:
    where = (variants.c.account_id == account_id) & (variants.c.name == name)
    row = conn.execute(variants.select().where(where)).first()
    return codec.variant(row) if row else None


def image_key(account_id: str, image_id: str) -> sa.ColumnElement[bool]:
    return (images.c.account_id == account_id) & (images.c.id_digest == image_digest(image_id))


def image_of(conn: Connection, account_id: str, image_id: str) -> Image | None:
    row = conn.execute(images.select().where(image_key(account_id, image_id))).first()
    return codec.image(row) if row else None


def token_alive(now_ms: int) -> sa.ColumnElement[bool]:
    """A token that is neither revoked nor expired at ``now_ms``."""
    return api_tokens.c.revoked.is_(False) & (
        api_tokens.c.expires_ms.is_(None) | (api_tokens.c.expires_ms >= now_ms)
    )


def lock_live_token(conn: Connection, account_id: str, token_id: str, now_ms: int) -> bool:
    """Whether the token is alive, read under a row lock (PostgreSQL): a revocation running
    at the same time either sees what this transaction adds below the token, or this
    transaction sees the revocation."""
    query = (
        sa.select(api_tokens.c.id)
        .where(api_tokens.c.account_id == account_id, api_tokens.c.id == token_id)
        .where(token_alive(now_ms))
        .with_for_update()
    )
    return conn.execute(query).first() is not None


def lock_account(conn: Connection, account_id: str) -> None:
    """Serialise writers that count an account's rows against a limit (PostgreSQL; SQLite
    has one writer at a time already)."""
    conn.execute(sa.select(accounts.c.id).where(accounts.c.id == account_id).with_for_update())
