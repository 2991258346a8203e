"""The ``store`` fixture: one migrated :class:`SqlMetadata` per test, on every backend.

SQLite gets a fresh file per test. PostgreSQL gets one fresh database per run
(:func:`databases.own_database`: its admin URL, and when its tests skip or fail); every test
starts from empty tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from databases import own_database
from imagegate.adapters.metadata import SqlMetadata
from imagegate.adapters.metadata.schema import metadata


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a migrated database made for this run (per xdist worker), dropped afterwards."""
    with own_database() as url:
        yield url


def _truncate_all(store: SqlMetadata) -> None:
    """Empty every table of the schema (not Alembic's version table)."""
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with store.database.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlMetadata]:
    """A migrated, empty metadata store on the parametrized backend."""
    if request.param == "sqlite":
        store = SqlMetadata.open(f"sqlite:///{tmp_path / 'imagegate.db'}")
        prepare = store.migrate
    else:
        # The database was migrated once for the run; each test starts from empty tables.
        store = SqlMetadata.open(request.getfixturevalue("postgres_url"))
        prepare = partial(_truncate_all, store)
    try:
        prepare()
        yield store
    finally:
        store.close()


@pytest.fixture
def backend(store: SqlMetadata) -> str:
    """The SQLAlchemy dialect name of ``store``: ``sqlite`` or ``postgresql``."""
    return store.database.engine.dialect.name
