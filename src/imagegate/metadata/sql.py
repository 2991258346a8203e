"""The metadata store on SQLAlchemy Core: SQLite (WAL) embedded, PostgreSQL at scale.

Driver exceptions never leave this module: a unique-key clash becomes ``Conflict``, a full
disk ``StorageFull`` and any other database failure ``StorageError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from imagegate.errors import Conflict, LimitReached, StorageError, StorageFull, Unauthenticated
from imagegate.ids import image_digest
from imagegate.listing import Cursor, MetaFilter
from imagegate.metadata import codec
from imagegate.metadata.filters import meta_condition
from imagegate.metadata.schema import (
    accounts,
    admin_credentials,
    api_tokens,
    images,
    sessions,
    signing_keys,
    variants,
)
from imagegate.models import (
    MAX_SIGNING_KEYS,
    Account,
    ApiToken,
    Image,
    SigningKey,
    Variant,
    VariantOptions,
)
from imagegate.ports import DeliveryContext, StoredSession
from imagegate.private_files import create_file

P = ParamSpec("P")
T = TypeVar("T")

_MIGRATIONS = Path(__file__).with_name("migrations")


def _wrap_errors(method: Callable[P, T]) -> Callable[P, T]:
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except sa.exc.IntegrityError:
            raise Conflict() from None
        except sa.exc.SQLAlchemyError as exc:
            if _disk_full(exc):
                raise StorageFull() from None
            raise StorageError(f"database error: {type(exc).__name__}") from None

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


SQLITE_FULL = 13  # "database or disk is full"; extended codes keep it in the low byte
PG_DISK_FULL = "53100"


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


class SqlMetadataStore:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # --- lifecycle ------------------------------------------------------------------------

    @_wrap_errors
    def migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
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

    @_wrap_errors
    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    # --- accounts and tokens --------------------------------------------------------------

    @_wrap_errors
    def create_account(self, account: Account) -> None:
        with self._tx() as conn:
            conn.execute(accounts.insert().values(**codec.account_row(account)))

    @_wrap_errors
    def get_account(self, account_id: str) -> Account | None:
        with self._tx() as conn:
            row = conn.execute(accounts.select().where(accounts.c.id == account_id)).first()
        return codec.account(row) if row else None

    @_wrap_errors
    def list_accounts(self) -> list[Account]:
        with self._tx() as conn:
            rows = conn.execute(accounts.select().order_by(accounts.c.created_ms)).all()
        return [codec.account(r) for r in rows]

    @_wrap_errors
    def update_account(self, account_id: str, **changes: Any) -> Account | None:
        allowed = {"flexible_variants", "browser_ttl", "image_quota", "name", "keep_gps"}
        values = {k: v for k, v in changes.items() if k in allowed and v is not None}
        with self._tx() as conn:
            if values:
                conn.execute(accounts.update().where(accounts.c.id == account_id).values(values))
            row = conn.execute(accounts.select().where(accounts.c.id == account_id)).first()
        return codec.account(row) if row else None

    @_wrap_errors
    def add_token(self, token: ApiToken, token_hash: str, *, max_live: int | None = None) -> None:
        now_ms = codec.to_ms(token.created)
        with self._tx() as conn:
            # Insert first: on SQLite that takes the write lock, so what is read next is
            # current; on PostgreSQL the row locks below order this against a revocation.
            conn.execute(api_tokens.insert().values(**codec.token_row(token, token_hash)))
            if max_live is not None:
                _lock_account(conn, token.account_id)
                same_kind = (api_tokens.c.account_id == token.account_id) & (
                    api_tokens.c.batch.is_(token.batch)
                )
                live = sa.select(sa.func.count()).where(same_kind & _alive(now_ms))
                if conn.execute(live).scalar_one() > max_live:
                    raise LimitReached()
            if token.parent_id is not None and not _token_alive(
                conn, token.account_id, token.parent_id, now_ms
            ):
                raise Unauthenticated("Invalid API token")

    @_wrap_errors
    def get_token(self, account_id: str, token_id: str) -> ApiToken | None:
        query = api_tokens.select().where(
            api_tokens.c.account_id == account_id, api_tokens.c.id == token_id
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return codec.token(row) if row else None

    @_wrap_errors
    def find_token(self, token_hash: str) -> ApiToken | None:
        query = api_tokens.select().where(
            api_tokens.c.token_hash == token_hash, api_tokens.c.revoked.is_(False)
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return codec.token(row) if row else None

    @_wrap_errors
    def list_tokens(self, account_id: str) -> list[ApiToken]:
        query = (
            api_tokens.select()
            .where(api_tokens.c.account_id == account_id)
            .order_by(api_tokens.c.created_ms, api_tokens.c.id)
        )
        with self._tx() as conn:
            return [codec.token(r) for r in conn.execute(query).all()]

    @_wrap_errors
    def revoke_token(self, account_id: str, token_id: str) -> bool:
        mine = api_tokens.c.account_id == account_id
        with self._tx() as conn:
            revoke = api_tokens.update().values(revoked=True)
            if conn.execute(revoke.where(mine, api_tokens.c.id == token_id)).rowcount == 0:
                return False
            dead, frontier = {token_id}, [token_id]
            while frontier:  # every token made with a dead one, however deep
                below = sa.select(api_tokens.c.id).where(mine, api_tokens.c.parent_id.in_(frontier))
                frontier = [t for t in conn.execute(below).scalars() if t not in dead]
                if frontier:
                    conn.execute(revoke.where(mine, api_tokens.c.id.in_(frontier)))
                    dead.update(frontier)
            conn.execute(sessions.delete().where(sessions.c.token_id.in_(dead)))
            conn.execute(
                images.delete().where(
                    images.c.account_id == account_id,
                    images.c.draft.is_(True),
                    images.c.draft_token_id.in_(dead),
                )
            )
            return True

    @_wrap_errors
    def prune_tokens(self, account_id: str, now_ms: int, keep_dead: int) -> int:
        mine = api_tokens.c.account_id == account_id
        dead = api_tokens.c.revoked.is_(True) | (api_tokens.c.expires_ms < now_ms)
        with self._tx() as conn:
            gone = conn.execute(
                api_tokens.delete().where(mine, api_tokens.c.batch.is_(True), dead)
            ).rowcount
            beyond = (
                sa.select(api_tokens.c.id)
                .where(mine, api_tokens.c.batch.is_(False), dead)
                .order_by(api_tokens.c.created_ms.desc(), api_tokens.c.id.desc())
                .offset(keep_dead)
            )
            old = list(conn.execute(beyond).scalars())
            if old:
                gone += conn.execute(api_tokens.delete().where(api_tokens.c.id.in_(old))).rowcount
            return int(gone)

    # --- signing keys ---------------------------------------------------------------------

    @_wrap_errors
    def list_keys(self, account_id: str) -> list[SigningKey]:
        with self._tx() as conn:
            return _keys(conn, account_id)

    @_wrap_errors
    def put_key(self, account_id: str, key: SigningKey, *, max_keys: int | None = None) -> None:
        where = (signing_keys.c.account_id == account_id) & (signing_keys.c.name == key.name)
        values = {"value": key.value, "created_ms": codec.to_ms(key.created), "verifications": 0}
        with self._tx() as conn:
            if conn.execute(signing_keys.update().where(where).values(values)).rowcount > 0:
                return
            conn.execute(
                signing_keys.insert().values(account_id=account_id, name=key.name, **values)
            )
            if max_keys is not None:
                _lock_account(conn, account_id)
                held = sa.select(sa.func.count()).where(signing_keys.c.account_id == account_id)
                if conn.execute(held).scalar_one() > max_keys:
                    raise LimitReached()

    @_wrap_errors
    def replace_key_value(self, account_id: str, name: str, value: str) -> None:
        where = (signing_keys.c.account_id == account_id) & (signing_keys.c.name == name)
        with self._tx() as conn:
            conn.execute(signing_keys.update().where(where).values(value=value))

    @_wrap_errors
    def delete_key(self, account_id: str, name: str) -> bool:
        where = (signing_keys.c.account_id == account_id) & (signing_keys.c.name == name)
        with self._tx() as conn:
            return conn.execute(signing_keys.delete().where(where)).rowcount > 0

    @_wrap_errors
    def add_key_verifications(self, account_id: str, counts: dict[str, int]) -> None:
        with self._tx() as conn:
            for name, count in counts.items():
                conn.execute(
                    signing_keys.update()
                    .where(signing_keys.c.account_id == account_id, signing_keys.c.name == name)
                    .values(verifications=signing_keys.c.verifications + count)
                )

    # --- variants -------------------------------------------------------------------------

    @_wrap_errors
    def list_variants(self, account_id: str) -> list[Variant]:
        query = (
            variants.select()
            .where(variants.c.account_id == account_id)
            .order_by(variants.c.created_ms, variants.c.name)
        )
        with self._tx() as conn:
            return [codec.variant(r) for r in conn.execute(query).all()]

    @_wrap_errors
    def get_variant(self, account_id: str, name: str) -> Variant | None:
        with self._tx() as conn:
            return _variant(conn, account_id, name)

    @_wrap_errors
    def create_variant(self, account_id: str, variant: Variant) -> None:
        row = codec.variant_row(account_id, variant, codec.to_ms(datetime.now(UTC)))
        with self._tx() as conn:
            conn.execute(variants.insert().values(**row))

    @_wrap_errors
    def update_variant(
        self, account_id: str, name: str, options: VariantOptions, never_require: bool | None
    ) -> Variant | None:
        values: dict[str, Any] = {"options": options.to_dict()}
        if never_require is not None:
            values["never_require_signed_urls"] = never_require
        where = (variants.c.account_id == account_id) & (variants.c.name == name)
        with self._tx() as conn:
            conn.execute(variants.update().where(where).values(values))
            return _variant(conn, account_id, name)

    @_wrap_errors
    def delete_variant(self, account_id: str, name: str) -> bool:
        where = (variants.c.account_id == account_id) & (variants.c.name == name)
        with self._tx() as conn:
            return conn.execute(variants.delete().where(where)).rowcount > 0

    # --- images ---------------------------------------------------------------------------

    @_wrap_errors
    def insert_image(
        self,
        image: Image,
        upload_token_hash: str | None = None,
        draft_token_id: str | None = None,
    ) -> None:
        row = codec.image_row(image)
        with self._tx() as conn:
            conn.execute(
                images.insert().values(
                    **row, upload_token_hash=upload_token_hash, draft_token_id=draft_token_id
                )
            )
            if draft_token_id is not None and not _token_alive(
                conn, image.account_id, draft_token_id, codec.to_ms(image.uploaded)
            ):
                raise Unauthenticated("Invalid API token")

    @_wrap_errors
    def find_draft(self, upload_token_hash: str) -> Image | None:
        query = images.select().where(
            images.c.upload_token_hash == upload_token_hash, images.c.draft.is_(True)
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return codec.image(row) if row else None

    @_wrap_errors
    def complete_upload(self, upload_token_hash: str, now_ms: int, **fields: Any) -> Image | None:
        allowed = {"format", "width", "height", "size", "blob_key", "sha256", "filename"}
        values = {k: v for k, v in fields.items() if k in allowed}
        if "format" in values and values["format"] is not None:
            values["format"] = values["format"].value
        where = (
            (images.c.upload_token_hash == upload_token_hash)
            & images.c.draft.is_(True)
            & (images.c.upload_expires_ms >= now_ms)
        )
        with self._tx() as conn:
            row = conn.execute(sa.select(images.c.account_id, images.c.id).where(where)).first()
            if row is None:
                return None
            done = conn.execute(
                images.update()
                .where(where)
                .values(**values, draft=False, upload_token_hash=None, upload_expires_ms=None)
            )
            if done.rowcount != 1:
                return None
            return _image(conn, row.account_id, row.id)

    @_wrap_errors
    def list_images_page(
        self,
        account_id: str,
        *,
        after: Cursor | None,
        limit: int,
        descending: bool,
        creator: str | None,
        filters: Sequence[MetaFilter],
    ) -> list[Image]:
        query = images.select().where(images.c.account_id == account_id, images.c.draft.is_(False))
        if creator is not None:
            query = query.where(_by_creator(creator))
        dialect = self.engine.dialect.name
        for meta_filter in filters:
            query = query.where(meta_condition(images.c.meta, meta_filter, dialect))
        order = (images.c.uploaded_ms, images.c.id_digest)
        if after is not None:
            if descending:
                bound = after.digest_prefix  # every digest with this prefix sorts after it
                query = query.where(
                    (images.c.uploaded_ms < after.uploaded_ms)
                    | ((images.c.uploaded_ms == after.uploaded_ms) & (images.c.id_digest < bound))
                )
            else:
                bound = after.digest_prefix + "g"  # past every digest with this prefix
                query = query.where(
                    (images.c.uploaded_ms > after.uploaded_ms)
                    | ((images.c.uploaded_ms == after.uploaded_ms) & (images.c.id_digest > bound))
                )
        query = query.order_by(*(c.desc() for c in order) if descending else order).limit(limit)
        with self._tx() as conn:
            return [codec.image(r) for r in conn.execute(query).all()]

    @_wrap_errors
    def get_image(self, account_id: str, image_id: str) -> Image | None:
        with self._tx() as conn:
            return _image(conn, account_id, image_id)

    @_wrap_errors
    def list_images(
        self, account_id: str, offset: int, limit: int, *, creator: str | None = None
    ) -> list[Image]:
        query = images.select().where(images.c.account_id == account_id, images.c.draft.is_(False))
        if creator is not None:
            query = query.where(_by_creator(creator))
        query = (
            query.order_by(images.c.uploaded_ms.desc(), images.c.id_digest.desc())
            .offset(offset)
            .limit(limit)
        )
        with self._tx() as conn:
            return [codec.image(r) for r in conn.execute(query).all()]

    @_wrap_errors
    def count_images(self, account_id: str) -> int:
        query = (
            sa.select(sa.func.count()).select_from(images).where(images.c.account_id == account_id)
        )
        with self._tx() as conn:
            return int(conn.execute(query).scalar_one())

    @_wrap_errors
    def update_image(self, account_id: str, image_id: str, **changes: Any) -> Image | None:
        allowed = {"require_signed_urls", "meta", "creator"}
        values = {k: v for k, v in changes.items() if k in allowed}
        where = (images.c.account_id == account_id) & (images.c.id_digest == image_digest(image_id))
        with self._tx() as conn:
            if values:
                conn.execute(images.update().where(where).values(values))
            return _image(conn, account_id, image_id)

    @_wrap_errors
    def delete_image(self, account_id: str, image_id: str) -> Image | None:
        where = (images.c.account_id == account_id) & (images.c.id_digest == image_digest(image_id))
        with self._tx() as conn:
            found = _image(conn, account_id, image_id)
            if found is not None:
                conn.execute(images.delete().where(where))
            return found

    @_wrap_errors
    def delivery_context(
        self, account_hash: str, image_id: str, variant_name: str | None
    ) -> DeliveryContext | None:
        with self._tx() as conn:
            row = conn.execute(accounts.select().where(accounts.c.hash == account_hash)).first()
            if row is None:
                return None
            account = codec.account(row)
            image = _image(conn, account.id, image_id)
            if image is None:
                return DeliveryContext(account, None, None, ())
            variant = _variant(conn, account.id, variant_name) if variant_name else None
            keys = _keys(conn, account.id, newest=MAX_SIGNING_KEYS)
            return DeliveryContext(account, image, variant, keys)

    # --- dashboard sessions and the admin password -----------------------------------------

    @_wrap_errors
    def create_session(self, session: StoredSession, *, keep: int | None = None) -> None:
        with self._tx() as conn:
            conn.execute(sessions.insert().values(**codec.session_row(session)))
            if keep is None:
                return
            same = (
                sessions.c.token_id == session.token_id
                if session.token_id is not None
                else sessions.c.token_id.is_(None) & sessions.c.admin.is_(True)
            )
            older = (
                sa.select(sessions.c.id_hash)
                .where(same)
                .order_by(sessions.c.created_ms.desc(), sessions.c.id_hash.desc())
                .offset(keep)
            )
            ended = list(conn.execute(older).scalars())
            if ended:
                conn.execute(sessions.delete().where(sessions.c.id_hash.in_(ended)))

    @_wrap_errors
    def find_session(self, id_hash: str, now_ms: int) -> StoredSession | None:
        token_ok = sessions.c.admin.is_(True) | sa.exists().where(
            api_tokens.c.id == sessions.c.token_id,
            api_tokens.c.revoked.is_(False),
            api_tokens.c.expires_ms.is_(None) | (api_tokens.c.expires_ms >= now_ms),
        ).correlate(sessions)
        query = sessions.select().where(
            sessions.c.id_hash == id_hash, sessions.c.expires_ms >= now_ms, token_ok
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return codec.stored_session(row) if row is not None else None

    @_wrap_errors
    def touch_session(self, id_hash: str, expires_ms: int) -> None:
        query = sessions.update().where(sessions.c.id_hash == id_hash)
        with self._tx() as conn:
            conn.execute(query.values(expires_ms=expires_ms))

    @_wrap_errors
    def set_session_account(self, id_hash: str, account_id: str) -> bool:
        query = sessions.update().where(sessions.c.id_hash == id_hash)
        with self._tx() as conn:
            return conn.execute(query.values(account_id=account_id)).rowcount > 0

    @_wrap_errors
    def delete_session(self, id_hash: str) -> bool:
        with self._tx() as conn:
            return conn.execute(sessions.delete().where(sessions.c.id_hash == id_hash)).rowcount > 0

    @_wrap_errors
    def delete_expired_sessions(self, now_ms: int) -> int:
        with self._tx() as conn:
            return int(
                conn.execute(sessions.delete().where(sessions.c.expires_ms < now_ms)).rowcount
            )

    @_wrap_errors
    def set_admin_password(self, password_hash: str, now_ms: int) -> None:
        with self._tx() as conn:
            conn.execute(admin_credentials.delete())
            conn.execute(
                admin_credentials.insert().values(
                    id=1, password_hash=password_hash, updated_ms=now_ms
                )
            )

    @_wrap_errors
    def admin_password(self) -> str | None:
        query = sa.select(admin_credentials.c.password_hash).where(admin_credentials.c.id == 1)
        with self._tx() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return str(value) if value is not None else None

    # --- maintenance (imagegate gc) ---------------------------------------------------------

    @_wrap_errors
    def referenced_blob_keys(self) -> set[str]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(images.c.blob_key).where(images.c.blob_key != ""))
            return {str(key) for (key,) in rows}

    @_wrap_errors
    def delete_expired_drafts(self, before_ms: int) -> int:
        where = images.c.draft.is_(True) & (images.c.upload_expires_ms < before_ms)
        with self._tx() as conn:
            return int(conn.execute(images.delete().where(where)).rowcount)

    @_wrap_errors
    def count_expired_drafts(self, before_ms: int) -> int:
        where = images.c.draft.is_(True) & (images.c.upload_expires_ms < before_ms)
        query = sa.select(sa.func.count()).select_from(images).where(where)
        with self._tx() as conn:
            return int(conn.execute(query).scalar_one())


def _keys(conn: Connection, account_id: str, newest: int | None = None) -> list[SigningKey]:
    """The account's keys, oldest first; with ``newest``, only that many of the newest."""
    query = signing_keys.select().where(signing_keys.c.account_id == account_id)
    if newest is None:
        query = query.order_by(signing_keys.c.created_ms, signing_keys.c.name)
        return [codec.signing_key(r) for r in conn.execute(query).all()]
    query = query.order_by(signing_keys.c.created_ms.desc(), signing_keys.c.name.desc())
    return [codec.signing_key(r) for r in reversed(conn.execute(query.limit(newest)).all())]


def _alive(now_ms: int) -> sa.ColumnElement[bool]:
    """A token that is neither revoked nor expired at ``now_ms``."""
    return api_tokens.c.revoked.is_(False) & (
        api_tokens.c.expires_ms.is_(None) | (api_tokens.c.expires_ms >= now_ms)
    )


def _token_alive(conn: Connection, account_id: str, token_id: str, now_ms: int) -> bool:
    """Whether the token is alive, read under a row lock (PostgreSQL): a revocation running
    at the same time either sees what this transaction adds below the token, or this
    transaction sees the revocation."""
    query = (
        sa.select(api_tokens.c.id)
        .where(api_tokens.c.account_id == account_id, api_tokens.c.id == token_id)
        .where(_alive(now_ms))
        .with_for_update()
    )
    return conn.execute(query).first() is not None


def _lock_account(conn: Connection, account_id: str) -> None:
    """Serialise writers that count an account's rows against a limit (PostgreSQL; SQLite
    has one writer at a time already)."""
    conn.execute(sa.select(accounts.c.id).where(accounts.c.id == account_id).with_for_update())


def _variant(conn: Connection, account_id: str, name: str) -> Variant | None:
    where = (variants.c.account_id == account_id) & (variants.c.name == name)
    row = conn.execute(variants.select().where(where)).first()
    return codec.variant(row) if row else None


def _image_key(account_id: str, image_id: str) -> sa.ColumnElement[bool]:
    return (images.c.account_id == account_id) & (images.c.id_digest == image_digest(image_id))


def _by_creator(creator: str) -> sa.ColumnElement[bool]:
    """Images of ``creator``; ``""`` matches images with no creator, as Cloudflare documents."""
    if creator == "":
        return images.c.creator.is_(None) | (images.c.creator == "")
    return images.c.creator == creator


def _image(conn: Connection, account_id: str, image_id: str) -> Image | None:
    where = _image_key(account_id, image_id)
    row = conn.execute(images.select().where(where)).first()
    return codec.image(row) if row else None
