"""Accounts (tenants): each with its own images, variants, keys and tokens.

A new account starts with the ``public`` variant (the largest side allowed, scaled down), a
``default`` signing key and an API token with every scope; its id, hash, token and key are
what an operator is shown once.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagegate.core import ids
from imagegate.core.errors import BadRequest, Forbidden
from imagegate.core.models import Account, Scope, Variant, VariantOptions
from imagegate.core.options import MAX_BROWSER_TTL, MIN_BROWSER_TTL
from imagegate.usecases.caches import Caches
from imagegate.usecases.clock import Clock, utc
from imagegate.usecases.keys import Keys
from imagegate.usecases.ports import AccountStore, VariantStore
from imagegate.usecases.records import AccountChanges, Change
from imagegate.usecases.tokens import Tokens


@dataclass(frozen=True, slots=True)
class NewAccount:
    account: Account
    api_token: str
    signing_key: str

    def credentials(self) -> dict[str, str]:
        """What an operator is shown once: the ids, the first API token and signing key."""
        return {
            "account_id": self.account.id,
            "account_hash": self.account.hash,
            "api_token": self.api_token,
            "signing_key": self.signing_key,
        }


class Accounts:
    def __init__(
        self,
        accounts: AccountStore,
        variants: VariantStore,
        keys: Keys,
        tokens: Tokens,
        caches: Caches,
        clock: Clock,
        *,
        default_quota: int,
        max_side: int,
    ) -> None:
        self.store = accounts
        self.variants = variants
        self.keys = keys
        self.tokens = tokens
        self.caches = caches
        self.clock = clock
        self.default_quota = default_quota
        self.max_side = max_side

    def create(self, name: str = "default") -> NewAccount:
        account = Account(
            id=ids.new_account_id(),
            hash=ids.new_account_hash(),
            name=name,
            created=utc(self.clock),
            image_quota=self.default_quota,
        )
        self.store.create(account)
        side = self.max_side
        self.variants.create(account.id, Variant("public", VariantOptions(width=side, height=side)))
        key = self.keys.create(account.id, "default")
        token, _ = self.tokens.create(account.id, "default", frozenset(Scope))
        return NewAccount(account, token, key.value)

    def all(self) -> list[Account]:
        """Every account, oldest first."""
        return self.store.all()

    def get(self, account_id: str) -> Account | None:
        return self.store.get(account_id)

    def first(self, account_id: str | None = None) -> Account | None:
        """The account ``account_id``, or the oldest when None; None if there is none."""
        for account in self.store.all():
            if account_id is None or account.id == account_id:
                return account
        return None

    def by_hash(self, account_hash: str) -> Account | None:
        return next((a for a in self.store.all() if a.hash == account_hash), None)

    def configure(
        self,
        account: Account,
        *,
        flexible_variants: bool | None = None,
        browser_ttl: int | None = None,
        keep_gps: bool | None = None,
    ) -> Account:
        """Change the account's image settings; None leaves a setting as it is."""
        if browser_ttl is not None and not MIN_BROWSER_TTL <= browser_ttl <= MAX_BROWSER_TTL:
            raise BadRequest(
                f"The browser TTL is a whole number of seconds from {MIN_BROWSER_TTL} "
                f"(1 hour) to {MAX_BROWSER_TTL} (1 year)"
            )
        changes = AccountChanges(
            flexible_variants=flexible_variants, browser_ttl=browser_ttl, keep_gps=keep_gps
        )
        with self.caches.changing(Change.account(account.id)):
            updated = self.store.update(account.id, changes)
        if updated is None:
            raise Forbidden()
        return updated
