"""Accounts in SQL (the :class:`~imagegate.usecases.ports.AccountStore` port)."""

from __future__ import annotations

from imagegate.adapters.metadata import codec
from imagegate.adapters.metadata.database import Database, translated
from imagegate.adapters.metadata.schema import accounts
from imagegate.core.models import Account
from imagegate.usecases.records import AccountChanges


class SqlAccounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    @translated
    def create(self, account: Account) -> None:
        with self.db.tx() as conn:
            conn.execute(accounts.insert().values(**codec.account_row(account)))

    @translated
    def get(self, account_id: str) -> Account | None:
        with self.db.tx() as conn:
            row = conn.execute(accounts.select().where(accounts.c.id == account_id)).first()
        return codec.account(row) if row else None

    @translated
    def all(self) -> list[Account]:
        with self.db.tx() as conn:
            rows = conn.execute(accounts.select().order_by(accounts.c.created_ms)).all()
        return [codec.account(r) for r in rows]

    @translated
    def update(self, account_id: str, changes: AccountChanges) -> Account | None:
        values = changes.values()
        with self.db.tx() as conn:
            if values:
                conn.execute(accounts.update().where(accounts.c.id == account_id).values(values))
            row = conn.execute(accounts.select().where(accounts.c.id == account_id)).first()
        return codec.account(row) if row else None
