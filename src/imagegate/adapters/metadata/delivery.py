"""What the delivery path reads about one request, in one transaction (the
:class:`~imagegate.usecases.ports.DeliveryStore` port)."""

from __future__ import annotations

from imagegate.adapters.metadata import codec
from imagegate.adapters.metadata.database import Database, translated
from imagegate.adapters.metadata.rows import image_of, keys_of, variant_of
from imagegate.adapters.metadata.schema import accounts
from imagegate.core.models import MAX_SIGNING_KEYS
from imagegate.usecases.records import DeliveryContext


class SqlDelivery:
    def __init__(self, db: Database) -> None:
        self.db = db

    @translated
    def context(
        self, account_hash: str, image_id: str, variant_name: str | None
    ) -> DeliveryContext | None:
        with self.db.tx() as conn:
            row = conn.execute(accounts.select().where(accounts.c.hash == account_hash)).first()
            if row is None:
                return None
            account = codec.account(row)
            image = image_of(conn, account.id, image_id)
            if image is None:
                return DeliveryContext(account, None, None, ())
            variant = variant_of(conn, account.id, variant_name) if variant_name else None
            keys = keys_of(conn, account.id, newest=MAX_SIGNING_KEYS)
            return DeliveryContext(account, image, variant, keys)
