"""Image records in SQL (the :class:`~imagegate.usecases.ports.ImageStore` port): uploaded
images, direct-upload drafts, listing pages, and what ``imagegate gc`` asks of them."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from imagegate.adapters.metadata import codec
from imagegate.adapters.metadata.database import Database, translated
from imagegate.adapters.metadata.filters import meta_condition
from imagegate.adapters.metadata.rows import image_key, image_of, lock_live_token
from imagegate.adapters.metadata.schema import images
from imagegate.core.errors import Unauthenticated
from imagegate.core.listing import Cursor, MetaFilter
from imagegate.core.models import Image
from imagegate.usecases.records import ImageChanges, StoredOriginal


def _by_creator(creator: str) -> sa.ColumnElement[bool]:
    """Images of ``creator``; ``""`` matches images with no creator, as Cloudflare documents."""
    if creator == "":
        return images.c.creator.is_(None) | (images.c.creator == "")
    return images.c.creator == creator


def _expired_drafts(before_ms: int) -> sa.ColumnElement[bool]:
    return images.c.draft.is_(True) & (images.c.upload_expires_ms < before_ms)


class SqlImages:
    def __init__(self, db: Database) -> None:
        self.db = db

    @translated
    def insert(
        self,
        image: Image,
        upload_token_hash: str | None = None,
        draft_token_id: str | None = None,
    ) -> None:
        row = codec.image_row(image)
        with self.db.tx() as conn:
            conn.execute(
                images.insert().values(
                    **row, upload_token_hash=upload_token_hash, draft_token_id=draft_token_id
                )
            )
            if draft_token_id is not None and not lock_live_token(
                conn, image.account_id, draft_token_id, codec.to_ms(image.uploaded)
            ):
                raise Unauthenticated("Invalid API token")

    @translated
    def find_draft(self, upload_token_hash: str) -> Image | None:
        query = images.select().where(
            images.c.upload_token_hash == upload_token_hash, images.c.draft.is_(True)
        )
        with self.db.tx() as conn:
            row = conn.execute(query).first()
        return codec.image(row) if row else None

    @translated
    def complete_upload(
        self, upload_token_hash: str, now_ms: int, original: StoredOriginal
    ) -> Image | None:
        where = (
            (images.c.upload_token_hash == upload_token_hash)
            & images.c.draft.is_(True)
            & (images.c.upload_expires_ms >= now_ms)
        )
        with self.db.tx() as conn:
            row = conn.execute(sa.select(images.c.account_id, images.c.id).where(where)).first()
            if row is None:
                return None
            done = conn.execute(
                images.update()
                .where(where)
                .values(
                    **codec.original_row(original),
                    draft=False,
                    upload_token_hash=None,
                    upload_expires_ms=None,
                )
            )
            if done.rowcount != 1:
                return None
            return image_of(conn, row.account_id, row.id)

    @translated
    def by_cursor(
        self,
        account_id: str,
        *,
        after: Cursor | None,
        limit: int,
        descending: bool,
        creator: str | None,
        filters: Sequence[MetaFilter],
    ) -> list[Image]:
        query = images.select().where(images.c.account_id == account_id, images.c.draft.is_(False))
        if creator is not None:
            query = query.where(_by_creator(creator))
        for meta_filter in filters:
            query = query.where(meta_condition(images.c.meta, meta_filter, self.db.dialect))
        order = (images.c.uploaded_ms, images.c.id_digest)
        if after is not None:
            if descending:
                bound = after.digest_prefix  # every digest with this prefix sorts after it
                query = query.where(
                    (images.c.uploaded_ms < after.uploaded_ms)
                    | ((images.c.uploaded_ms == after.uploaded_ms) & (images.c.id_digest < bound))
                )
            else:
                bound = after.digest_prefix + "g"  # past every digest with this prefix
                query = query.where(
                    (images.c.uploaded_ms > after.uploaded_ms)
                    | ((images.c.uploaded_ms == after.uploaded_ms) & (images.c.id_digest > bound))
                )
        query = query.order_by(*(c.desc() for c in order) if descending else order).limit(limit)
        with self.db.tx() as conn:
            return [codec.image(r) for r in conn.execute(query).all()]

    @translated
    def get(self, account_id: str, image_id: str) -> Image | None:
        with self.db.tx() as conn:
            return image_of(conn, account_id, image_id)

    @translated
    def by_offset(
        self, account_id: str, offset: int, limit: int, *, creator: str | None = None
    ) -> list[Image]:
        query = images.select().where(images.c.account_id == account_id, images.c.draft.is_(False))
        if creator is not None:
            query = query.where(_by_creator(creator))
        query = (
            query.order_by(images.c.uploaded_ms.desc(), images.c.id_digest.desc())
            .offset(offset)
            .limit(limit)
        )
        with self.db.tx() as conn:
            return [codec.image(r) for r in conn.execute(query).all()]

    @translated
    def count(self, account_id: str) -> int:
        query = (
            sa.select(sa.func.count()).select_from(images).where(images.c.account_id == account_id)
        )
        with self.db.tx() as conn:
            return int(conn.execute(query).scalar_one())

    @translated
    def update(self, account_id: str, image_id: str, changes: ImageChanges) -> Image | None:
        values = changes.values()
        with self.db.tx() as conn:
            if values:
                conn.execute(images.update().where(image_key(account_id, image_id)).values(values))
            return image_of(conn, account_id, image_id)

    @translated
    def delete(self, account_id: str, image_id: str) -> Image | None:
        with self.db.tx() as conn:
            found = image_of(conn, account_id, image_id)
            if found is not None:
                conn.execute(images.delete().where(image_key(account_id, image_id)))
            return found

    # --- maintenance (imagegate gc): store-wide, not account-scoped --------------------------

    @translated
    def referenced_blob_keys(self) -> set[str]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(images.c.blob_key).where(images.c.blob_key != ""))
            return {str(key) for (key,) in rows}

    @translated
    def image_digests(self) -> set[tuple[str, str]]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(images.c.account_id, images.c.id_digest))
            return {(str(account), str(digest)) for account, digest in rows}

    @translated
    def delete_expired_drafts(self, before_ms: int) -> int:
        with self.db.tx() as conn:
            return int(conn.execute(images.delete().where(_expired_drafts(before_ms))).rowcount)

    @translated
    def count_expired_drafts(self, before_ms: int) -> int:
        query = sa.select(sa.func.count()).select_from(images).where(_expired_drafts(before_ms))
        with self.db.tx() as conn:
            return int(conn.execute(query).scalar_one())
