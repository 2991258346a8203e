"""The change feed (:class:`~imagegate.usecases.ports.ChangeFeed`) over the metadata database.

PostgreSQL: a change is a ``pg_notify`` on one channel, sent inside the transaction of the
write it describes, so it reaches the other processes if and only if the write commits, and
after it. Each process listens on a connection of its own (not the pool's), in one thread
that reconnects with backoff when the connection is lost and says so, so the caches can
fall back to their short TTL meanwhile and forget everything when it is back.

SQLite has no such thing: :class:`LocalChangeFeed` reaches no other process, and the
caches of other processes keep the short TTL.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

from imagegate.adapters.metadata.database import Database
from imagegate.usecases.records import Change

log = logging.getLogger("imagegate.changes")

CHANNEL = "imagegate_changes"
RECONNECT_FIRST = 0.05  # seconds before the first reconnection attempt, then doubled
RECONNECT_MAX = 5.0
POLL_SECONDS = 0.25  # how often the listening thread looks up from the socket (to stop)


def encode(change: Change, origin: str) -> str:
    """The payload of a notification (PostgreSQL allows up to 8,000 bytes; ids are short)."""
    return json.dumps(
        [origin, change.kind, change.account_id, change.subject, change.renders],
        separators=(",", ":"),
    )


def decode(payload: str) -> tuple[str, Change] | None:
    """The origin and change of a payload; None for one this version cannot read."""
    try:
        origin, kind, account_id, subject, renders = json.loads(payload)
    except (ValueError, TypeError):
        return None
    if kind not in Change.KINDS or not all(isinstance(v, str) for v in (account_id, subject)):
        return None
    return str(origin), Change(kind, account_id, subject, bool(renders))


class LocalChangeFeed:
    """A feed that reaches no other process (SQLite): announcing sends nothing, and
    listening only says that other processes are out of reach."""

    @contextmanager
    def announcing(self, change: Change) -> Iterator[None]:
        yield

    def listen(self, on_change: Callable[[Change], None], on_reach: Callable[[bool], None]) -> None:
        on_reach(False)

    def close(self) -> None:
        pass


class PgChangeFeed:
    """``LISTEN/NOTIFY`` on PostgreSQL; see the module's docstring."""

    def __init__(self, database: Database, url: str) -> None:
        self.database = database
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        #: Names this process's notifications, so it does not apply its own twice.
        self.origin = secrets.token_hex(8)
        self.reaching = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._lock = threading.Lock()

    @contextmanager
    def announcing(self, change: Change) -> Iterator[None]:
        outbox = [(CHANNEL, encode(change, self.origin))]
        token = self.database.outbox.set(outbox)
        try:
            yield
        finally:
            self.database.outbox.reset(token)
        if outbox:  # no transaction committed in the block: send it on its own
            self.database.notify(outbox)

    def listen(self, on_change: Callable[[Change], None], on_reach: Callable[[bool], None]) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, args=(on_change, on_reach), name="imagegate-changes", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=2 * POLL_SECONDS + 1)

    # --- the listening thread -----------------------------------------------------------------

    def _run(self, on_change: Callable[[Change], None], on_reach: Callable[[bool], None]) -> None:
        delay = RECONNECT_FIRST
        on_reach(False)
        while not self._stop.is_set():
            try:
                conn = psycopg.connect(
                    self.dsn,
                    autocommit=True,
                    connect_timeout=5,
                    application_name="imagegate-changes",
                    keepalives=1,
                    keepalives_idle=5,
                    keepalives_interval=2,
                    keepalives_count=3,
                )
            except psycopg.Error as exc:
                log.warning("change feed: cannot connect (%s); retrying", type(exc).__name__)
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            try:
                with conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.reaching = True
                    on_reach(True)
                    log.info("change feed: listening")
                    delay = RECONNECT_FIRST
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=POLL_SECONDS):
                            self._deliver(note.payload, on_change)
            except psycopg.Error as exc:
                log.warning("change feed: connection lost (%s); reconnecting", type(exc).__name__)
            finally:
                if self.reaching:
                    self.reaching = False
                    on_reach(False)
            self._stop.wait(delay)

    def _deliver(self, payload: str, on_change: Callable[[Change], None]) -> None:
        decoded = decode(payload)
        if decoded is None:
            log.warning("change feed: a notification this version cannot read")
            return
        origin, change = decoded
        if origin != self.origin:
            on_change(change)
