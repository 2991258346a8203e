"""A metadata database as its tables of rows (the :class:`~imagegate.usecases.ports.TableStore`
port): what ``imagegate migrate-store`` reads from one database and writes into another.

Rows go through the schema's own :class:`sqlalchemy.Table` objects on both sides, so a value
comes back as the same Python value from SQLite and from PostgreSQL (a JSON column as a dict,
a boolean as a bool), and two rows compare field by field. Batches are read by keyset
(``WHERE (pk) > (last pk) ORDER BY pk``), each in a short transaction of its own: a copy
never holds the source open for its whole length, and each side only ever pages in its own
collation order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from imagegate.adapters.metadata.database import Database, translated
from imagegate.adapters.metadata.schema import images, metadata, signing_keys
from imagegate.usecases.records import BlobRef, Row, SchemaStatus

#: What Alembic keeps in the database besides the schema: never copied (the target is
#: migrated by its own migrations).
BOOKKEEPING = frozenset({"alembic_version"})


class SqlTables:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _table(self, name: str) -> sa.Table:
        return metadata.tables[name]

    def _pk(self, table: sa.Table) -> list[sa.Column[object]]:
        return list(table.primary_key.columns)

    def schema_status(self) -> SchemaStatus:
        return self.db.schema_status()

    def migrate(self) -> None:
        self.db.migrate()

    def tables(self) -> list[str]:
        return [table.name for table in metadata.sorted_tables]

    @translated
    def unknown_tables(self) -> list[str]:
        with self.db.engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
        return sorted(present - set(metadata.tables) - BOOKKEEPING)

    def primary_key(self, table: str) -> tuple[str, ...]:
        return tuple(column.name for column in self._pk(self._table(table)))

    @translated
    def count(self, table: str) -> int:
        with self.db.tx() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(self._table(table))
                ).scalar_one()
            )

    def batches(self, table: str, size: int) -> Iterator[list[Row]]:
        t = self._table(table)
        pk = self._pk(t)
        last: tuple[object, ...] | None = None
        while True:
            batch = self._page(t, pk, last, size)
            if not batch:
                return
            yield batch
            if len(batch) < size:
                return
            last = tuple(batch[-1][c.name] for c in pk)

    @translated
    def _page(
        self, t: sa.Table, pk: list[sa.Column[object]], last: tuple[object, ...] | None, size: int
    ) -> list[Row]:
        query = sa.select(t).order_by(*pk).limit(size)
        if last is not None:
            query = query.where(_key_of(pk) > _key_value(pk, last))
        with self.db.tx() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    @translated
    def find(self, table: str, keys: Sequence[tuple[object, ...]]) -> list[Row]:
        if not keys:
            return []
        t = self._table(table)
        pk = self._pk(t)
        if len(pk) == 1:
            where = pk[0].in_([key[0] for key in keys])
        else:
            where = sa.tuple_(*pk).in_([tuple(key) for key in keys])
        with self.db.tx() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.select(t).where(where))]

    @translated
    def insert(self, table: str, rows: Sequence[Row]) -> None:
        if rows:
            with self.db.tx() as conn:
                conn.execute(sa.insert(self._table(table)), [dict(row) for row in rows])

    @translated
    def replace(self, table: str, rows: Sequence[Row]) -> None:
        t = self._table(table)
        pk = self._pk(t)
        with self.db.tx() as conn:
            for row in rows:
                where = sa.and_(*(c == row[c.name] for c in pk))
                conn.execute(sa.update(t).where(where).values(**row))

    def blob_refs(self, size: int) -> Iterator[list[BlobRef]]:
        for batch in self.batches(images.name, size):
            refs = [
                BlobRef(row["blob_key"], row["size"], row["sha256"])
                for row in batch
                if row["blob_key"]
            ]
            if refs:
                yield refs

    @translated
    def key_values(self) -> Iterator[tuple[str, str, str]]:
        columns = (signing_keys.c.account_id, signing_keys.c.name, signing_keys.c.value)
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(*columns).order_by(*columns[:2])).all()
        return iter([(row[0], row[1], row[2]) for row in rows])

    def close(self) -> None:
        self.db.close()


def _key_of(pk: list[sa.Column[object]]) -> sa.ColumnElement[Any]:
    return pk[0] if len(pk) == 1 else sa.tuple_(*pk)


def _key_value(pk: list[sa.Column[object]], last: tuple[object, ...]) -> sa.ColumnElement[Any]:
    if len(pk) == 1:
        return sa.literal(last[0], pk[0].type)
    return sa.tuple_(*(sa.literal(v, c.type) for v, c in zip(last, pk, strict=True)))
