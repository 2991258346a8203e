"""Dashboard sessions and the admin password in SQL (the
:class:`~imagegate.usecases.ports.SessionStore` port)."""

from __future__ import annotations

import sqlalchemy as sa

from imagegate.adapters.metadata import codec
from imagegate.adapters.metadata.database import Database, translated
from imagegate.adapters.metadata.schema import admin_credentials, api_tokens, sessions
from imagegate.usecases.records import StoredSession


class SqlSessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    @translated
    def create(self, session: StoredSession, *, keep: int | None = None) -> None:
        with self.db.tx() as conn:
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

    @translated
    def find(self, id_hash: str, now_ms: int) -> StoredSession | None:
        token_ok = sessions.c.admin.is_(True) | sa.exists().where(
            api_tokens.c.id == sessions.c.token_id,
            api_tokens.c.revoked.is_(False),
            api_tokens.c.expires_ms.is_(None) | (api_tokens.c.expires_ms >= now_ms),
        ).correlate(sessions)
        query = sessions.select().where(
            sessions.c.id_hash == id_hash, sessions.c.expires_ms >= now_ms, token_ok
        )
        with self.db.tx() as conn:
            row = conn.execute(query).first()
        return codec.stored_session(row) if row is not None else None

    @translated
    def touch(self, id_hash: str, expires_ms: int) -> None:
        query = sessions.update().where(sessions.c.id_hash == id_hash)
        with self.db.tx() as conn:
            conn.execute(query.values(expires_ms=expires_ms))

    @translated
    def set_account(self, id_hash: str, account_id: str) -> bool:
        query = sessions.update().where(sessions.c.id_hash == id_hash)
        with self.db.tx() as conn:
            return conn.execute(query.values(account_id=account_id)).rowcount > 0

    @translated
    def delete(self, id_hash: str) -> bool:
        with self.db.tx() as conn:
            return conn.execute(sessions.delete().where(sessions.c.id_hash == id_hash)).rowcount > 0

    @translated
    def delete_expired(self, now_ms: int) -> int:
        with self.db.tx() as conn:
            return int(
                conn.execute(sessions.delete().where(sessions.c.expires_ms < now_ms)).rowcount
            )

    @translated
    def set_admin_password(self, password_hash: str, now_ms: int) -> None:
        with self.db.tx() as conn:
            conn.execute(admin_credentials.delete())
            conn.execute(
                admin_credentials.insert().values(
                    id=1, password_hash=password_hash, updated_ms=now_ms
                )
            )

    @translated
    def admin_password(self) -> str | None:
        query = sa.select(admin_credentials.c.password_hash).where(admin_credentials.c.id == 1)
        with self.db.tx() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return str(value) if value is not None else None
