"""Who is signed in to the dashboard: server-side sessions and the admin password.

A session's id is 32 random bytes carried only by the browser's cookie; the store keeps its
SHA-256, so neither a database dump nor a log line can be replayed as a sign-in. Sessions end
after ``IDLE`` without a request, after ``ABSOLUTE`` in any case, on sign-out (the row is
deleted), and, for a session opened with an API token, as soon as that token is revoked.

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
from imagegate.models import Account, Scope
from imagegate.ports import StoredSession
from imagegate.service import Service, hash_token

IDLE_MS = 12 * 3600 * 1000  # a session unused this long is over
ABSOLUTE_MS = 7 * 86400 * 1000  # and none outlives this, however busy
TOUCH_EVERY_MS = 60 * 1000  # extend the idle expiry at most once a minute
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
        """A session for the account of an API token; read-only if the token cannot edit.
        Raises ``Unauthenticated`` for an unknown, revoked or expired token."""
        token = self.service.authenticate(token_value.strip())
        return self._open(token.account_id, token.id, False, Scope.EDIT not in token.scopes)

    def sign_in_as_admin(self, password: str) -> Opened:
        """An admin session (every account, full rights). Raises ``Unauthenticated`` if no
        admin password is set or this one is wrong; both take the same time."""
        stored = self.meta.admin_password()
        if stored is None:
            check_password(password, _DUMMY_HASH)  # spend the same time either way
            raise Unauthenticated("Wrong password")
        if not check_password(password, stored):
            raise Unauthenticated("Wrong password")
        accounts = self.meta.list_accounts()
        return self._open(accounts[0].id if accounts else None, None, True, False)

    def admin_password_set(self) -> bool:
        return self.meta.admin_password() is not None

    def _open(
        self, account_id: str | None, token_id: str | None, admin: bool, read_only: bool
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
        )
        self.meta.create_session(session)
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


_DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43

__all__ = [
    "IDLE_MS",
    "Opened",
    "Sessions",
    "check_password",
    "hash_password",
    "hash_token",
    "session_hash",
]
