"""The ``store`` fixture: one migrated :class:`SqlMetadataStore` per test, on every backend.

SQLite gets a fresh file per test. PostgreSQL gets one fresh database per run, created from the
admin URL in ``IMAGEGATE_TEST_POSTGRES_URL`` and dropped at the end; every test starts from
empty tables. If PostgreSQL is not reachable its tests are skipped, unless ``CI`` is set to a
true value: then they fail, because CI must run them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import make_url

from imagegate.metadata.schema import metadata
from imagegate.metadata.sql import SqlMetadataStore

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
_FALSE = frozenset({"", "0", "false", "no", "off"})


def postgres_admin_url() -> str:
    return os.environ.get("IMAGEGATE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def in_ci() -> bool:
    """True when ``CI`` is set to anything but an empty or false-looking value."""
    return os.environ.get("CI", "").strip().lower() not in _FALSE


def _libpq_url(url: str) -> str:
    """The URL as libpq takes it: without a SQLAlchemy ``+driver`` suffix."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _admin_connection(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_libpq_url(url), autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a migrated database made for this run (per xdist worker), dropped afterwards."""
    admin = postgres_admin_url()
    try:
        conn = _admin_connection(admin)
    except psycopg.Error as exc:
        error = " ".join(str(exc).split())
        reason = f"PostgreSQL not reachable at {_shown(admin)}: {error}"
        if in_ci():
            pytest.fail(f"{reason} (CI is set, so the PostgreSQL tests must run)", pytrace=False)
        pytest.skip(reason)
    name = f"imagegate_test_{secrets.token_hex(8)}"
    with conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        store = SqlMetadataStore(url)
        try:
            store.migrate()
        finally:
            store.close()
        yield url
    finally:
        with _admin_connection(admin) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _truncate_all(store: SqlMetadataStore) -> None:
    """Empty every table of the schema (not Alembic's version table)."""
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlMetadataStore]:
    """A migrated, empty metadata store on the parametrized backend."""
    if request.param == "sqlite":
        store = SqlMetadataStore(f"sqlite:///{tmp_path / 'imagegate.db'}")
        prepare = store.migrate
    else:
        # The database was migrated once for the run; each test starts from empty tables.
        store = SqlMetadataStore(request.getfixturevalue("postgres_url"))
        prepare = partial(_truncate_all, store)
    try:
        prepare()
        yield store
    finally:
        store.close()


@pytest.fixture
def backend(store: SqlMetadataStore) -> str:
    """The SQLAlchemy dialect name of ``store``: ``sqlite`` or ``postgresql``."""
    return store.engine.dialect.name
