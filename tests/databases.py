"""PostgreSQL for tests: a database of one's own, made from an admin URL and dropped after.

The admin URL is ``IMAGEGATE_TEST_POSTGRES_URL`` (default below). If PostgreSQL is not
reachable, tests that need it are skipped, unless ``CI`` is set to a true value: then they
fail, because CI must run them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from imagegate.adapters.metadata import SqlMetadata

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


@contextlib.contextmanager
def own_database(*, migrated: bool = True) -> Iterator[str]:
    """URL of a fresh database, migrated unless told otherwise, dropped afterwards (or a
    skip, see above)."""
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
        if migrated:
            store = SqlMetadata.open(url)
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
