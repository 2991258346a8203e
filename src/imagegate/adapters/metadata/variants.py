"""Named variants in SQL (the :class:`~imagegate.usecases.ports.VariantStore` port)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from imagegate.adapters.metadata import codec
from imagegate.adapters.metadata.database import Database, translated
from imagegate.adapters.metadata.rows import variant_of
from imagegate.adapters.metadata.schema import variants
from imagegate.core.models import Variant, VariantOptions


class SqlVariants:
    def __init__(self, db: Database) -> None:
        self.db = db

    @translated
    def all(self, account_id: str) -> list[Variant]:
        query = (
            variants.select()
            .where(variants.c.account_id == account_id)
            .order_by(variants.c.created_ms, variants.c.name)
        )
        with self.db.tx() as conn:
            return [codec.variant(r) for r in conn.execute(query).all()]

    @translated
    def get(self, account_id: str, name: str) -> Variant | None:
        with self.db.tx() as conn:
            return variant_of(conn, account_id, name)

    @translated
    def create(self, account_id: str, variant: Variant) -> None:
        row = codec.variant_row(account_id, variant, codec.to_ms(datetime.now(UTC)))
        with self.db.tx() as conn:
            conn.execute(variants.insert().values(**row))

    @translated
    def update(
        self, account_id: str, name: str, options: VariantOptions, never_require: bool | None
    ) -> Variant | None:
        values: dict[str, Any] = {"options": options.to_dict()}
        if never_require is not None:
            values["never_require_signed_urls"] = never_require
        where = (variants.c.account_id == account_id) & (variants.c.name == name)
        with self.db.tx() as conn:
            conn.execute(variants.update().where(where).values(values))
            return variant_of(conn, account_id, name)

    @translated
    def delete(self, account_id: str, name: str) -> bool:
        where = (variants.c.account_id == account_id) & (variants.c.name == name)
        with self.db.tx() as conn:
            return conn.execute(variants.delete().where(where)).rowcount > 0
