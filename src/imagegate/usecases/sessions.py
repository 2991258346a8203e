"""Who is signed in to the dashboard: server-side sessions and the admin password.

A session's id is 32 random bytes carried only by the browser's cookie; the store keeps its
SHA-256, so neither a database dump nor a log line can be replayed as a sign-in. Sessions end
after ``IDLE`` without a request, after ``ABSOLUTE`` in any case, on sign-out (the row is
deleted), and, for a session opened with an API token, as soon as that token (or a token it
was made with) is revoked or expires. A session has the rights of what opened it: a read-only
token's session changes nothing, and only an admin session or one opened with an edit token
that does not expire sees or uses signing-key values. Signing in again past ``MAX_PER_TOKEN``
live sessions of one token (or of the admin) ends the oldest.

The admin password is kept as an scrypt hash (:mod:`imagegate.core.passwords`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from imagegate.core.errors import Unauthenticated
from imagegate.core.ids import sha256_hex
from imagegate.core.models import Account, ApiToken, Scope
from imagegate.core.passwords import DUMMY_HASH, check_password, hash_password
from imagegate.usecases.clock import Clock, now_ms
from imagegate.usecases.ports import AccountStore, SessionStore
from imagegate.usecases.records import StoredSession
from imagegate.usecases.tokens import Tokens

IDLE_MS = 12 * 3600 * 1000  # a session unused this long is over
ABSOLUTE_MS = 7 * 86400 * 1000  # and none outlives this, however busy
TOUCH_EVERY_MS = 60 * 1000  # extend the idle expiry at most once a minute
MAX_PER_TOKEN = 20  # live sessions of one token (or of the admin); the oldest end first


@dataclass(frozen=True, slots=True)
class Opened:
    """A new session: the raw id (for the cookie, once) and what was stored."""

    raw_id: str
    session: StoredSession


class Sessions:
    """Opening, finding and ending sessions, and the admin password."""

    def __init__(
        self, sessions: SessionStore, tokens: Tokens, accounts: AccountStore, clock: Clock
    ) -> None:
        self.store = sessions
        self.tokens = tokens
        self.accounts = accounts
        self.clock = clock

    def now_ms(self) -> int:
        return now_ms(self.clock)

    def sign_in_with_token(self, token_value: str) -> Opened:
        """A session for the account of an API token, with that token's rights. Raises
        ``Unauthenticated`` for an unknown, revoked or expired token."""
        token = self.tokens.authenticate(token_value.strip())
        return self._open(
            token.account_id,
            token.id,
            admin=False,
            read_only=Scope.EDIT not in token.scopes,
            key_access=token.reaches_keys,
        )

    def sign_in_as_admin(self, password: str) -> Opened:
        """An admin session (every account, full rights). Raises ``Unauthenticated`` if no
        admin password is set or this one is wrong; both take the same time."""
        if not check_password(password, self.admin_hash()):
            raise Unauthenticated("Wrong password")
        return self.open_admin()

    def admin_hash(self) -> str:
        """The stored hash to check a password against; one that matches nothing (at the
        same cost) if no admin password is set."""
        return self.store.admin_password() or DUMMY_HASH

    def open_admin(self) -> Opened:
        """An admin session, once the password has been checked."""
        accounts = self.accounts.all()
        first = accounts[0].id if accounts else None
        return self._open(first, None, admin=True, read_only=False, key_access=True)

    def admin_password_set(self) -> bool:
        return self.store.admin_password() is not None

    def set_admin_password(self, password: str) -> None:
        """Set (or replace) the admin password; ``ValueError`` if it is too short."""
        self.store.set_admin_password(hash_password(password), self.now_ms())

    def token_of(self, session: StoredSession) -> ApiToken | None:
        """The API token a token session was opened with (None for an admin session)."""
        if session.token_id is None or session.account_id is None:
            return None
        return self.tokens.get(session.account_id, session.token_id)

    def _open(
        self,
        account_id: str | None,
        token_id: str | None,
        *,
        admin: bool,
        read_only: bool,
        key_access: bool,
    ) -> Opened:
        now = self.now_ms()
        self.store.delete_expired(now)
        raw_id = secrets.token_urlsafe(32)
        session = StoredSession(
            id_hash=sha256_hex(raw_id),
            account_id=account_id,
            token_id=token_id,
            admin=admin,
            read_only=read_only,
            csrf_token=secrets.token_urlsafe(32),
            created_ms=now,
            expires_ms=now + IDLE_MS,
            key_access=key_access,
        )
        self.store.create(session, keep=MAX_PER_TOKEN)
        return Opened(raw_id, session)

    def find(self, raw_id: str) -> StoredSession | None:
        """The live session this cookie value names, its idle expiry pushed forward."""
        if not raw_id or len(raw_id) > 128:
            return None
        now = self.now_ms()
        session = self.store.find(sha256_hex(raw_id), now)
        if session is None:
            return None
        if now - session.created_ms > ABSOLUTE_MS:
            self.store.delete(session.id_hash)
            return None
        wanted = min(now + IDLE_MS, session.created_ms + ABSOLUTE_MS)
        if wanted - session.expires_ms >= TOUCH_EVERY_MS:
            self.store.touch(session.id_hash, wanted)
            session = replace(session, expires_ms=wanted)
        return session

    def end(self, session: StoredSession) -> None:
        self.store.delete(session.id_hash)

    def switch_account(self, session: StoredSession, account_id: str) -> Account | None:
        """Point an admin session at ``account_id``; None if it is not an admin session or
        there is no such account."""
        if not session.admin:
            return None
        account = self.accounts.get(account_id)
        if account is None or not self.store.set_account(session.id_hash, account.id):
            return None
        return account


__all__ = ["ABSOLUTE_MS", "IDLE_MS", "MAX_PER_TOKEN", "Opened", "Sessions"]
