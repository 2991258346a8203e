"""Signing keys encrypted at rest under an operator's master key (``IMAGEGATE_MASTER_KEY``).

A stored value is ``enc:v1:`` + base64(nonce || AES-256-GCM ciphertext), the key derived from
the master key with HKDF-SHA256, and the account id and key name bound in as associated data,
so a sealed value copied to another row does not open. Without a master key, values are
stored as given; a store that holds sealed values cannot be read without it.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from imagegate.core.errors import StorageError

PREFIX = "enc:v1:"


class SealError(StorageError):
    """A sealed value cannot be opened: no master key, or the wrong one."""


class KeySeal:
    def __init__(self, master_key: str | None) -> None:
        self._aead: AESGCM | None = None
        if master_key:
            derived = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=b"imagegate", info=b"signing-keys/v1"
            ).derive(master_key.encode("utf-8"))
            self._aead = AESGCM(derived)

    @property
    def active(self) -> bool:
        return self._aead is not None

    def seal(self, value: str, account_id: str, name: str) -> str:
        if self._aead is None:
            return value
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), _aad(account_id, name))
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def is_sealed(self, stored: str) -> bool:
        return stored.startswith(PREFIX)

    def open(self, stored: str, account_id: str, name: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # written before a master key was set
        if self._aead is None:
            raise SealError("signing keys are encrypted at rest: set IMAGEGATE_MASTER_KEY")
        raw = base64.b64decode(stored[len(PREFIX) :])
        try:
            plain = self._aead.decrypt(raw[:12], raw[12:], _aad(account_id, name))
        except InvalidTag:
            raise SealError("a signing key does not open with this IMAGEGATE_MASTER_KEY") from None
        return plain.decode("utf-8")


def _aad(account_id: str, name: str) -> bytes:
    return f"{account_id}/{name}".encode()
