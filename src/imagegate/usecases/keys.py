"""Signing keys: an account's secrets for signed delivery URLs, sealed at rest.

An account holds at most ``MAX_SIGNING_KEYS`` keys (so a bad signature costs a bounded number
of HMACs); one that holds more, made before the cap, keeps them all and may rotate or delete
them, but not add another. Deleting the last key makes a new ``default``, so an account can
always sign. Values are sealed under the operator's master key when one is set.
"""

from __future__ import annotations

from dataclasses import replace

from imagegate.core import ids
from imagegate.core.delivery_urls import delivery_path
from imagegate.core.errors import (
    BadRequest,
    ImageNotFound,
    KeyNotFound,
    LimitReached,
    VariantNotFound,
)
from imagegate.core.models import MAX_SIGNING_KEYS, Account, SigningKey
from imagegate.core.signing import sign_url
from imagegate.usecases.caches import Caches
from imagegate.usecases.clock import Clock, utc
from imagegate.usecases.ports import AccountStore, ImageStore, KeySealer, KeyStore, VariantStore
from imagegate.usecases.records import Change


class Keys:
    def __init__(
        self,
        keys: KeyStore,
        sealer: KeySealer,
        caches: Caches,
        clock: Clock,
        *,
        accounts: AccountStore,
        images: ImageStore,
        variants: VariantStore,
    ) -> None:
        self.store = keys
        self.sealer = sealer
        self.caches = caches
        self.clock = clock
        self.accounts = accounts
        self.images = images
        self.variants = variants

    def all(self, account: Account) -> list[SigningKey]:
        """The account's keys, oldest first, with their values readable."""
        return [self._opened(account.id, k) for k in self.store.all(account.id)]

    def held(self, account: Account) -> int:
        """How many keys the account holds (values left sealed)."""
        return len(self.store.all(account.id))

    def value(self, account: Account, name: str | None) -> SigningKey:
        """The key ``name`` (the oldest if None), readable."""
        for key in self.all(account):
            if name is None or key.name == name:
                return key
        raise KeyNotFound()

    def put(self, account: Account, name: str) -> list[SigningKey]:
        """Create the key ``name``, or give it a new value if it exists; all keys after."""
        if not ids.is_key_name(name):
            raise BadRequest("Key names are 1-20 letters and digits")
        try:
            self.create(account.id, name, max_keys=MAX_SIGNING_KEYS)
        except LimitReached:
            raise LimitReached(
                f"An account has at most {MAX_SIGNING_KEYS} signing keys: "
                "delete one before adding another"
            ) from None
        return self.all(account)

    def delete(self, account: Account, name: str) -> list[SigningKey]:
        """Delete ``name``; when the last key goes, a new ``default`` is made. All keys after."""
        with self.caches.changing(Change.account(account.id)):
            deleted = self.store.delete(account.id, name)
        if not deleted:
            raise KeyNotFound()
        keys = self.all(account)
        return keys or [self.create(account.id, "default")]

    def create(self, account_id: str, name: str, max_keys: int | None = None) -> SigningKey:
        """A fresh random key, stored sealed; returned readable."""
        key = SigningKey(name, ids.new_signing_key_value(), utc(self.clock))
        sealed = replace(key, value=self.sealer.seal(key.value, account_id, name))
        with self.caches.changing(Change.account(account_id)):  # new, or a new value
            self.store.put(account_id, sealed, max_keys=max_keys)
        return key

    def seal_all(self) -> int:
        """Seal every key still stored in the clear (after a master key is first set)."""
        sealed = 0
        for account in self.accounts.all():
            for key in self.store.all(account.id):
                if not self.sealer.is_sealed(key.value):
                    value = self.sealer.seal(key.value, account.id, key.name)
                    self.store.reseal(account.id, key.name, value)
                    sealed += 1
        return sealed

    def signed_url(
        self,
        account: Account,
        image_id: str,
        variant: str,
        expires_in: int,
        *,
        key_name: str | None = None,
        public_url: str = "",
    ) -> tuple[str, int, str]:
        """A delivery URL of an image's variant signed with ``key_name`` (the oldest key if
        None), valid for ``expires_in`` seconds: the URL, its ``exp`` and the key used."""
        if self.images.get(account.id, image_id) is None:
            raise ImageNotFound()
        if self.variants.get(account.id, variant) is None:
            raise VariantNotFound()
        key = self.value(account, key_name)
        exp = int(self.clock()) + expires_in
        path = delivery_path(account.hash, image_id, variant)
        return sign_url(public_url.rstrip("/") + path, key.value, exp=exp), exp, key.name

    def _opened(self, account_id: str, key: SigningKey) -> SigningKey:
        return replace(key, value=self.sealer.open(key.value, account_id, key.name))
