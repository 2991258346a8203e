"""Who is signed in to the dashboard: server-side sessions and the admin password.

A session's id is 32 random bytes carried only by the browser's cookie; the store keeps its
SHA-256, so neither a database dump nor a log line can be replayed as a sign-in. Sessions end
after ``IDLE`` without a request, after ``ABSOLUTE`` in any case, on sign-out (the row is
deleted), and, for a session opened with an API token, as soon as that token (or a token it
was made with) is revoked or expires. A session has the rights of what opened it: a read-only
token's session changes nothing, and only an admin session or one opened with an edit token
that does not expire sees or uses signing-key values. Signing in again past ``MAX_PER_TOKEN``
live sessions of one token (or of the admin) ends the oldest.

The admin password is kept as an scrypt hash (standard library) with a random salt and its
cost parameters, so they can be raised later without invalidating stored hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace

from imagegate.errors import Unauthenticated
from imagegate.models import Account, ApiToken, Scope
from imagegate.ports import StoredSession
from imagegate.service import Service, hash_token

IDLE_MS = 12 * 3600 * 1000  # a session unused this long is over
ABSOLUTE_MS = 7 * 86400 * 1000  # and none outlives this, however busy
TOUCH_EVERY_MS = 60 * 1000  # extend the idle expiry at most once a minute
MAX_PER_TOKEN = 20  # live sessions of one token (or of the admin); the oldest end first
MIN_PASSWORD_LENGTH = 10

# scrypt costs: N=2**15, r=8, p=1 takes ~50-100 ms and 32 MiB; parameters are stored per hash.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (salt and hash in unpadded base64)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the admin password must be at least {MIN_PASSWORD_LENGTH} characters")
    salt = secrets.token_bytes(16)
    derived = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(
        ("scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(derived))
    )


def check_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored``; False for any malformed hash."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return False
    if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(expected)), expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int = 32) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=length
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (ValueError, TypeError):
        raise ValueError("not base64") from None


def session_hash(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Opened:
    """A new session: the raw id (for the cookie, once) and what was stored."""

    raw_id: str
    session: StoredSession


class Sessions:
    """Opening, finding and ending sessions over the metadata store, on the service's clock."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.meta = service.meta

    def now_ms(self) -> int:
        return int(self.service.clock() * 1000)

    def sign_in_with_token(self, token_value: str) -> Opened:
        """A session for the account of an API token, with that token's rights. Raises
        ``Unauthenticated`` for an unknown, revoked or expired token."""
        token = self.service.authenticate(token_value.strip())
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
        return self.meta.admin_password() or _DUMMY_HASH

    def open_admin(self) -> Opened:
        """An admin session, once the password has been checked."""
        accounts = self.meta.list_accounts()
        first = accounts[0].id if accounts else None
        return self._open(first, None, admin=True, read_only=False, key_access=True)

    def admin_password_set(self) -> bool:
        return self.meta.admin_password() is not None

    def token_of(self, session: StoredSession) -> ApiToken | None:
        """The API token a token session was opened with (None for an admin session)."""
        if session.token_id is None or session.account_id is None:
            return None
        return self.meta.get_token(session.account_id, session.token_id)

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
        self.meta.delete_expired_sessions(now)
        raw_id = secrets.token_urlsafe(32)
        session = StoredSession(
            id_hash=session_hash(raw_id),
            account_id=account_id,
            token_id=token_id,
            admin=admin,
            read_only=read_only,
            csrf_token=secrets.token_urlsafe(32),
            created_ms=now,
            expires_ms=now + IDLE_MS,
            key_access=key_access,
        )
        self.meta.create_session(session, keep=MAX_PER_TOKEN)
        return Opened(raw_id, session)

    def find(self, raw_id: str) -> StoredSession | None:
        """The live session this cookie value names, its idle expiry pushed forward."""
        if not raw_id or len(raw_id) > 128:
            return None
        now = self.now_ms()
        session = self.meta.find_session(session_hash(raw_id), now)
        if session is None:
            return None
        if now - session.created_ms > ABSOLUTE_MS:
            self.meta.delete_session(session.id_hash)
            return None
        wanted = min(now + IDLE_MS, session.created_ms + ABSOLUTE_MS)
        if wanted - session.expires_ms >= TOUCH_EVERY_MS:
            self.meta.touch_session(session.id_hash, wanted)
            session = replace(session, expires_ms=wanted)
        return session

    def end(self, session: StoredSession) -> None:
        self.meta.delete_session(session.id_hash)

    def switch_account(self, session: StoredSession, account_id: str) -> Account | None:
        """Point an admin session at ``account_id``; None if it is not an admin session or
        there is no such account."""
        if not session.admin:
            return None
        account = self.meta.get_account(account_id)
        if account is None or not self.meta.set_session_account(session.id_hash, account.id):
            return None
        return account


#: Well formed, at the real cost, and matched by no password (its digest is all zero bits).
_DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43

__all__ = [
    "IDLE_MS",
    "MAX_PER_TOKEN",
    "Opened",
    "Sessions",
    "check_password",
    "hash_password",
    "hash_token",
    "session_hash",
]
