"""API tokens in SQL (the :class:`~imagegate.usecases.ports.TokenStore` port), with their
lineage: a token made with another dies with it."""

from __future__ import annotations

import sqlalchemy as sa

from imagegate.adapters.metadata import codec
from imagegate.adapters.metadata.database import Database, translated
from imagegate.adapters.metadata.rows import lock_account, lock_live_token, token_alive
from imagegate.adapters.metadata.schema import api_tokens, images, sessions
from imagegate.core.errors import LimitReached, Unauthenticated
from imagegate.core.models import ApiToken


class SqlTokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    @translated
    def add(self, token: ApiToken, token_hash: str, *, max_live: int | None = None) -> None:
        now_ms = codec.to_ms(token.created)
        with self.db.tx() as conn:
            # Insert first: on SQLite that takes the write lock, so what is read next is
            # current; on PostgreSQL the row locks below order this against a revocation.
            conn.execute(api_tokens.insert().values(**codec.token_row(token, token_hash)))
            if max_live is not None:
                lock_account(conn, token.account_id)
                same_kind = (api_tokens.c.account_id == token.account_id) & (
                    api_tokens.c.batch.is_(token.batch)
                )
                live = sa.select(sa.func.count()).where(same_kind & token_alive(now_ms))
                if conn.execute(live).scalar_one() > max_live:
                    raise LimitReached()
            if token.parent_id is not None and not lock_live_token(
                conn, token.account_id, token.parent_id, now_ms
            ):
                raise Unauthenticated("Invalid API token")

    @translated
    def get(self, account_id: str, token_id: str) -> ApiToken | None:
        query = api_tokens.select().where(
            api_tokens.c.account_id == account_id, api_tokens.c.id == token_id
        )
        with self.db.tx() as conn:
            row = conn.execute(query).first()
        return codec.token(row) if row else None

    @translated
    def find(self, token_hash: str) -> ApiToken | None:
        query = api_tokens.select().where(
            api_tokens.c.token_hash == token_hash, api_tokens.c.revoked.is_(False)
        )
        with self.db.tx() as conn:
            row = conn.execute(query).first()
        return codec.token(row) if row else None

    @translated
    def all(self, account_id: str) -> list[ApiToken]:
        query = (
            api_tokens.select()
            .where(api_tokens.c.account_id == account_id)
            .order_by(api_tokens.c.created_ms, api_tokens.c.id)
        )
        with self.db.tx() as conn:
            return [codec.token(r) for r in conn.execute(query).all()]

    @translated
    def revoke(self, account_id: str, token_id: str) -> bool:
        mine = api_tokens.c.account_id == account_id
        with self.db.tx() as conn:
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

    @translated
    def prune(self, account_id: str, now_ms: int, keep_dead: int) -> int:
        mine = api_tokens.c.account_id == account_id
        dead = api_tokens.c.revoked.is_(True) | (api_tokens.c.expires_ms < now_ms)
        with self.db.tx() as conn:
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
