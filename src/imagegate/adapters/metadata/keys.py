"""Signing keys in SQL (the :class:`~imagegate.usecases.ports.KeyStore` port)."""

from __future__ import annotations

import sqlalchemy as sa

from imagegate.adapters.metadata import codec
from imagegate.adapters.metadata.database import Database, translated
from imagegate.adapters.metadata.rows import keys_of, lock_account
from imagegate.adapters.metadata.schema import signing_keys
from imagegate.core.errors import LimitReached
from imagegate.core.models import SigningKey


class SqlKeys:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _named(account_id: str, name: str) -> sa.ColumnElement[bool]:
        return (signing_keys.c.account_id == account_id) & (signing_keys.c.name == name)

    @translated
    def all(self, account_id: str) -> list[SigningKey]:
        with self.db.tx() as conn:
            return keys_of(conn, account_id)

    @translated
    def put(self, account_id: str, key: SigningKey, *, max_keys: int | None = None) -> None:
        values = {"value": key.value, "created_ms": codec.to_ms(key.created), "verifications": 0}
        with self.db.tx() as conn:
            replaced = signing_keys.update().where(self._named(account_id, key.name))
            if conn.execute(replaced.values(values)).rowcount > 0:
                return
            conn.execute(
                signing_keys.insert().values(account_id=account_id, name=key.name, **values)
            )
            if max_keys is not None:
                lock_account(conn, account_id)
                held = sa.select(sa.func.count()).where(signing_keys.c.account_id == account_id)
                if conn.execute(held).scalar_one() > max_keys:
                    raise LimitReached()

    @translated
    def reseal(self, account_id: str, name: str, value: str) -> None:
        with self.db.tx() as conn:
            conn.execute(
                signing_keys.update().where(self._named(account_id, name)).values(value=value)
            )

    @translated
    def delete(self, account_id: str, name: str) -> bool:
        with self.db.tx() as conn:
            return (
                conn.execute(signing_keys.delete().where(self._named(account_id, name))).rowcount
                > 0
            )

    @translated
    def add_verifications(self, account_id: str, counts: dict[str, int]) -> None:
        with self.db.tx() as conn:
            for name, count in counts.items():
                conn.execute(
                    signing_keys.update()
                    .where(self._named(account_id, name))
                    .values(verifications=signing_keys.c.verifications + count)
                )
