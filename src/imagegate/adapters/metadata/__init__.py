"""Metadata stores on SQLAlchemy Core: one database (SQLite embedded, PostgreSQL at scale),
one store per area over it."""

from __future__ import annotations

from dataclasses import dataclass

from imagegate.adapters.metadata.accounts import SqlAccounts
from imagegate.adapters.metadata.database import Database
from imagegate.adapters.metadata.delivery import SqlDelivery
from imagegate.adapters.metadata.images import SqlImages
from imagegate.adapters.metadata.keys import SqlKeys
from imagegate.adapters.metadata.sessions import SqlSessions
from imagegate.adapters.metadata.tokens import SqlTokens
from imagegate.adapters.metadata.variants import SqlVariants


@dataclass(frozen=True, slots=True)
class SqlMetadata:
    """Every metadata store over one database."""

    database: Database
    accounts: SqlAccounts
    tokens: SqlTokens
    keys: SqlKeys
    variants: SqlVariants
    images: SqlImages
    sessions: SqlSessions
    delivery: SqlDelivery

    @classmethod
    def open(cls, url: str) -> SqlMetadata:
        """The stores over the database at ``url`` (no connection is made yet)."""
        db = Database(url)
        return cls(
            database=db,
            accounts=SqlAccounts(db),
            tokens=SqlTokens(db),
            keys=SqlKeys(db),
            variants=SqlVariants(db),
            images=SqlImages(db),
            sessions=SqlSessions(db),
            delivery=SqlDelivery(db),
        )

    def migrate(self) -> None:
        self.database.migrate()

    def close(self) -> None:
        self.database.close()


__all__ = ["Database", "SqlMetadata"]
