"""Values that cross the ports: what a store is asked to change, and what it hands back
beyond the models. Frozen, typed, no behaviour beyond spelling themselves out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from imagegate.core.models import Account, Format, Image, SigningKey, Variant


def _set_fields(record: Any) -> dict[str, Any]:
    """The fields of a changes record that are set (not None), by name."""
    return {
        f.name: getattr(record, f.name)
        for f in fields(record)
        if getattr(record, f.name) is not None
    }


@dataclass(frozen=True, slots=True)
class AccountChanges:
    """Account settings to change; None leaves a setting as it is."""

    flexible_variants: bool | None = None
    browser_ttl: int | None = None
    image_quota: int | None = None
    keep_gps: bool | None = None

    def values(self) -> dict[str, Any]:
        return _set_fields(self)


@dataclass(frozen=True, slots=True)
class ImageChanges:
    """What an edit changes on an image; None leaves a field as it is (``meta`` replaces)."""

    require_signed_urls: bool | None = None
    meta: dict[str, Any] | None = None
    creator: str | None = None

    def values(self) -> dict[str, Any]:
        return _set_fields(self)


@dataclass(frozen=True, slots=True)
class StoredOriginal:
    """An original whose bytes are stored: what its record says about them."""

    format: Format
    width: int
    height: int
    size: int
    blob_key: str
    sha256: str
    filename: str


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """The schema revision a database is at, and the newest the code knows."""

    current: str | None
    head: str
    #: False when ``current`` is a revision this code does not know: a newer version's.
    known: bool = True

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def newer(self) -> bool:
        return self.current is not None and not self.known


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Names one rendered variant. ``digest`` covers everything that shapes the bytes (the
    original's hash, the options, the output format, the image's access), so a change to
    any of them makes a new key and the old entry is never served again."""

    account_id: str
    image_digest: str
    variant: str  # the variant's name, or "_flex" for options in the URL
    digest: str
    format: Format


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    """Everything the delivery path needs about one request, read in one go."""

    account: Account
    image: Image | None
    variant: Variant | None
    keys: Sequence[SigningKey]


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A dashboard sign-in as stored: the hash of its random id (the raw id lives only in the
    browser's cookie), whose it is, and until when. ``account_id`` is the account managed
    (None for an admin session on a store with no account yet); ``token_id`` names the API
    token a token session was opened with. ``key_access``: the session may see signing-key
    values and sign URLs (an admin, or a token with the edit scope and no expiry)."""

    id_hash: str
    account_id: str | None
    token_id: str | None
    admin: bool
    read_only: bool
    csrf_token: str
    created_ms: int
    expires_ms: int
    key_access: bool = False  # may see and use signing-key values


@dataclass(frozen=True, slots=True)
class Change:
    """A write every process that serves the account must know of at once: what it read
    about ``subject`` may no longer be true. ``kind`` says what ``subject`` names:

    - ``account``: the account itself, its settings or its signing keys (subject empty);
    - ``image``: the image whose id is ``subject``;
    - ``variant``: the named variant ``subject``.

    ``renders`` is true when rendered copies must go too (access, deletion, options)."""

    kind: str
    account_id: str
    subject: str = ""
    renders: bool = False

    KINDS = ("account", "image", "variant")

    @classmethod
    def account(cls, account_id: str) -> Change:
        return cls("account", account_id)

    @classmethod
    def image(cls, account_id: str, image_id: str, *, renders: bool = False) -> Change:
        return cls("image", account_id, image_id, renders)

    @classmethod
    def variant(cls, account_id: str, name: str) -> Change:
        return cls("variant", account_id, name, True)


#: One row of a table, column by column, as the database gives it back (moving a store).
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A blob an image record references, and what the record says of its bytes."""

    key: str
    size: int
    sha256: str
