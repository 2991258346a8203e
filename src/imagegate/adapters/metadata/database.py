"""One SQL database for every metadata store: SQLite (WAL) embedded, PostgreSQL at scale.

:class:`Database` owns the engine, the schema's migrations and the translation of driver
errors: a unique-key clash becomes ``Conflict``, a full disk ``StorageFull`` and any other
database failure ``StorageError``. The stores of each area (``accounts``, ``tokens``, ...)
run their queries through it and never see a driver exception.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import alembic.util
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from imagegate.core.errors import Conflict, StorageError, StorageFull
from imagegate.private_files import create_file
from imagegate.usecases.records import SchemaStatus

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_FULL = 13  # "database or disk is full"; extended codes keep it in the low byte
PG_DISK_FULL = "53100"
#: The advisory lock ``imagegate migrate`` holds on PostgreSQL (any fixed 64-bit number).
MIGRATION_LOCK = 0x1A6E6A7E_0001


def translated(method: Callable[Concatenate[S, P], T]) -> Callable[Concatenate[S, P], T]:
    """Run a store method with driver errors turned into imagegate's own."""

    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(self, *args, **kwargs)
        except sa.exc.IntegrityError:
            raise Conflict() from None
        except sa.exc.SQLAlchemyError as exc:
            if _disk_full(exc):
                raise StorageFull() from None
            raise StorageError(f"database error: {type(exc).__name__}") from None

    wrapper.__name__ = method.__name__
    wrapper.__qualname__ = method.__qualname__
    wrapper.__doc__ = method.__doc__
    return wrapper


def _disk_full(exc: sa.exc.SQLAlchemyError) -> bool:
    """Whether the database refused a write for want of space (SQLite or PostgreSQL)."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
        return True
    if getattr(orig, "sqlstate", None) == PG_DISK_FULL:
        return True
    return "database or disk is full" in str(orig)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; ``postgresql://`` URLs use psycopg 3."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        database = sa.engine.make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            sa.event.listen(engine, "do_connect", _owner_only(Path(database)))
        return engine
    return sa.create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


def _owner_only(database: Path) -> Callable[..., None]:
    """A hook that creates the SQLite file ``0600`` before SQLite opens it, so SQLite, which
    gives its ``-wal``, ``-shm`` and ``-journal`` files the database's mode, never makes any
    of them readable by others. An existing file is left as it is; a file that cannot be
    made (a missing or read-only directory) is left for SQLite to report."""

    def create(*_: Any) -> None:
        with suppress(OSError):
            create_file(database)

    return create


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _notify(conn: Connection, outbox: list[tuple[str, str]]) -> None:
    for channel, payload in outbox:
        conn.execute(
            sa.text("SELECT pg_notify(:channel, :payload)"),
            {"channel": channel, "payload": payload},
        )
    outbox.clear()


class Database:
    """The engine, its transactions and the schema (the :class:`~imagegate.usecases.ports.
    SchemaStore` port)."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        #: Notifications to send with the next transaction that commits in this context
        #: (see :class:`~imagegate.adapters.metadata.changes.PgChangeFeed`).
        self.outbox: ContextVar[list[tuple[str, str]] | None] = ContextVar(
            f"imagegate_outbox_{id(self)}", default=None
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn
            outbox = self.outbox.get()
            if outbox:  # delivered if and only if this transaction commits
                _notify(conn, outbox)

    @translated
    def notify(self, outbox: list[tuple[str, str]]) -> None:
        """Send notifications (PostgreSQL) in a transaction of their own."""
        with self.engine.begin() as conn:
            _notify(conn, outbox)

    @property
    def embedded(self) -> bool:
        return self.dialect == "sqlite"

    @translated
    def migrate(self) -> None:
        with self._migration_lock():
            self._migrate()

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """One migration at a time per database, across processes and machines.
        PostgreSQL: a session advisory lock, held on a connection of its own (released when
        it closes, even if this process dies). SQLite: an exclusive ``flock`` on a file
        beside the database (released by the kernel when the process dies)."""
        if self.dialect == "postgresql":
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
                try:
                    yield
                finally:
                    conn.execute(
                        sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK}
                    )
                    conn.commit()
            return
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            yield
            return
        if database.startswith("file:"):
            yield
            return
        fd = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # SQLite changes some columns by rebuilding the table (copy, drop, rename):
                # with foreign keys on, dropping ``accounts`` would cascade to every row of
                # every account. The pragma only takes effect outside a transaction.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    config.attributes["connection"] = conn
                    command.upgrade(config, "head")
                    if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise StorageError("a migration left rows that reference nothing")
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()

    @translated
    def schema_status(self) -> SchemaStatus:
        scripts = ScriptDirectory(str(MIGRATIONS))
        head = scripts.get_current_head()
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        known = True
        if current is not None:
            try:
                known = scripts.get_revision(current) is not None
            except alembic.util.CommandError:
                known = False
        return SchemaStatus(current=current, head=head or "", known=known)

    @translated
    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
