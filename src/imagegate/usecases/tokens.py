"""API tokens: making them, checking them, and revoking them with everything made with them.

A token's value is shown once, when it is made, and stored only as its SHA-256. A token made
with another (a batch token, or a token made in a dashboard session opened with a token) has
no scope its parent lacks, expires no later, and is revoked with it; a batch token makes no
tokens. Every account holds a bounded number of live tokens of each kind, and tokens past
use are cleared as new ones are made.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from imagegate.core import ids
from imagegate.core.errors import Forbidden, LimitReached, Unauthenticated
from imagegate.core.models import Account, ApiToken, Scope, epoch_ms
from imagegate.usecases.clock import Clock, utc
from imagegate.usecases.ports import AccountStore, TokenStore

BATCH_TOKEN_LIFETIME = timedelta(minutes=15)
MAX_API_TOKENS = 100  # live tokens per account, batch tokens aside
MAX_BATCH_TOKENS = 100  # live batch tokens per account (each lives 15 minutes)
DEAD_TOKENS_KEPT = 100  # revoked or expired tokens an account keeps listed; older ones go


class Tokens:
    def __init__(self, tokens: TokenStore, accounts: AccountStore, clock: Clock) -> None:
        self.store = tokens
        self.accounts = accounts
        self.clock = clock

    def create(
        self,
        account_id: str,
        name: str,
        scopes: frozenset[Scope],
        *,
        parent: ApiToken | None = None,
    ) -> tuple[str, ApiToken]:
        """Make an API token; its value is returned here once and stored only as a hash.
        ``parent`` is the token a dashboard session was opened with, if it was."""
        expires = None
        if parent is not None:
            self._check_parent(parent, account_id)
            if not scopes <= parent.scopes:
                raise Forbidden("A token cannot make a token with a scope it does not have")
            expires = parent.expires
        token = ApiToken(
            ids.new_token_id(),
            account_id,
            name,
            scopes,
            utc(self.clock),
            expires=expires,
            parent_id=parent.id if parent else None,
        )
        value = self._add(token, MAX_API_TOKENS, "live API tokens; revoke one first")
        return value, token

    def create_batch(self, token: ApiToken) -> tuple[str, datetime]:
        """A short-lived token for the same account and scopes (Cloudflare's batch API). It
        expires no later than ``token``, dies with it, and makes no tokens itself."""
        self._check_parent(token, token.account_id)
        now = utc(self.clock)
        expires = now + BATCH_TOKEN_LIFETIME
        if token.expires is not None:
            expires = min(expires, token.expires)
        batch = ApiToken(
            ids.new_token_id(),
            token.account_id,
            "batch",
            token.scopes,
            now,
            expires=expires,
            parent_id=token.id,
            batch=True,
        )
        value = self._add(
            batch, MAX_BATCH_TOKENS, "live batch tokens; each lasts 15 minutes, reuse one"
        )
        return value, expires

    def authenticate(self, value: str) -> ApiToken:
        """The live token with this value; ``Unauthenticated`` for any other."""
        token = self.store.find(ids.sha256_hex(value)) if value else None
        if token is None or (token.expires is not None and token.expires < utc(self.clock)):
            raise Unauthenticated("Invalid API token")
        return token

    def account_for(self, token: ApiToken, account_id: str, scope: Scope) -> Account:
        """The account a request addresses, if this token may act on it with ``scope``."""
        if token.account_id != account_id or scope not in token.scopes:
            raise Forbidden()
        account = self.accounts.get(account_id)
        if account is None:
            raise Forbidden()
        return account

    def account_for_keys(self, token: ApiToken, account_id: str) -> Account:
        """The account, if this token may see and use its signing-key values: that needs the
        edit scope and a token that does not expire (see ``ApiToken.reaches_keys``)."""
        account = self.account_for(token, account_id, Scope.EDIT)
        if not token.reaches_keys:
            raise Forbidden("Signing keys need an edit token that does not expire")
        return account

    def all(self, account_id: str) -> list[ApiToken]:
        """Every token of the account, oldest first (never their values)."""
        return self.store.all(account_id)

    def get(self, account_id: str, token_id: str) -> ApiToken | None:
        return self.store.get(account_id, token_id)

    def revoke(self, account_id: str, token_id: str) -> bool:
        """Revoke a token and every token made with it; their dashboard sessions end and the
        upload URLs they asked for stop working. False if the account has no such token."""
        return self.store.revoke(account_id, token_id)

    def _check_parent(self, parent: ApiToken, account_id: str) -> None:
        if parent.batch:
            raise Forbidden("A batch token cannot make tokens")
        if parent.account_id != account_id:
            raise Forbidden()

    def _add(self, token: ApiToken, limit: int, what: str) -> str:
        """Store ``token`` under a fresh value (returned), within ``limit`` live tokens of its
        kind; tokens past use are cleared first, so an account's rows stay bounded."""
        value = ids.new_api_token()
        self.store.prune(token.account_id, epoch_ms(token.created), DEAD_TOKENS_KEPT)
        try:
            self.store.add(token, ids.sha256_hex(value), max_live=limit)
        except LimitReached:
            raise LimitReached(f"An account has at most {limit} {what}") from None
        return value
