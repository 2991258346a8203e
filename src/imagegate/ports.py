"""The seams between the use cases and the outside world, as small Protocols.

Adapters (``storage/``, ``metadata/``, ``imaging``) implement these; :mod:`imagegate.service`
depends on nothing else. Every method is synchronous and may block: the web layer runs them
in worker threads. Adapters catch their driver's exceptions and raise imagegate's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from imagegate.listing import Cursor, MetaFilter
from imagegate.models import Account, ApiToken, Format, Image, SigningKey, Variant, VariantOptions


class BlobStore(Protocol):
    """Opaque bytes by key. Keys are ``[a-z0-9/._-]`` strings made by imagegate, never users."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` atomically: a reader sees the old value, the new one, or nothing,
        never a partial write. Overwriting is allowed. Raises ``StorageFull`` when out of
        space and ``StorageError`` on other failures; nothing partial is left behind."""

    def get(self, key: str) -> bytes:
        """Return the bytes. Raises ``BlobMissing`` if there is no such key."""

    def delete(self, key: str) -> None:
        """Remove the key. Deleting a missing key is not an error."""

    def ping(self) -> None:
        """Raise ``StorageError`` unless the store is reachable and writable."""

    def iter_keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its last modification time (unix seconds), in no set order.
        Keys written or removed while the iteration runs may or may not appear; nothing
        partial (a write in flight) ever does. Raises ``StorageError`` if the store cannot
        be listed at all."""

    def sweep(self, older_than: float = 0.0, *, dry_run: bool = False) -> int:
        """Remove leftovers of interrupted writes (never a stored key) untouched for
        ``older_than`` seconds; return how many went (with ``dry_run``, how many would go).
        A store whose writes leave nothing behind returns 0."""


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


class VariantCache(Protocol):
    """Rendered variants, bounded in size. Losing an entry is never an error."""

    def get(self, key: CacheKey) -> bytes | None:
        """The bytes, or None on a miss."""

    def put(self, key: CacheKey, data: bytes) -> None:
        """Store atomically; may evict other entries to stay within the bound. May refuse
        silently (too big, cache off); raises ``StorageFull``/``StorageError`` on I/O failure."""

    def purge_image(self, account_id: str, image_digest: str) -> None:
        """Remove every entry of one image."""

    def purge_variant(self, account_id: str, variant: str) -> None:
        """Remove every entry rendered for one named variant."""


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    """Everything the delivery path needs about one request, read in one go."""

    account: Account
    image: Image | None
    variant: Variant | None
    keys: Sequence[SigningKey]


class MetadataStore(Protocol):
    """Accounts, tokens, keys, variants and image records. All methods are account-scoped:
    a lookup with the wrong account id finds nothing rather than another account's row."""

    # lifecycle
    def migrate(self) -> None:
        """Create or upgrade the schema to the newest version. Idempotent."""

    def ping(self) -> None:
        """Raise ``StorageError`` unless the database answers."""

    def close(self) -> None: ...

    # accounts and tokens
    def create_account(self, account: Account) -> None: ...

    def get_account(self, account_id: str) -> Account | None: ...

    def list_accounts(self) -> list[Account]: ...

    def update_account(self, account_id: str, **changes: Any) -> Account | None:
        """Apply ``flexible_variants``, ``browser_ttl``, ``image_quota`` or ``keep_gps`` (None
        leaves a field as it is); None if there is no such account."""

    def add_token(self, token: ApiToken, token_hash: str, *, max_live: int | None = None) -> None:
        """Store a token. With ``max_live``, raises ``LimitReached`` (storing nothing) if the
        account would then hold more live tokens of its kind (batch or not) at
        ``token.created``. A token with a ``parent_id`` is stored only if that parent is
        alive (unrevoked, unexpired): otherwise ``Unauthenticated``, atomically with respect
        to :meth:`revoke_token`, so no token outlives a revocation racing with its making."""

    def get_token(self, account_id: str, token_id: str) -> ApiToken | None:
        """The token with this id, revoked or not; None if the account has none."""

    def find_token(self, token_hash: str) -> ApiToken | None:
        """The unrevoked token with this hash, or None."""

    def list_tokens(self, account_id: str) -> list[ApiToken]: ...

    def revoke_token(self, account_id: str, token_id: str) -> bool:
        """True if a token of this account was revoked; revoking twice is not an error. In
        the same transaction, every token made with it (and with those, however deep) is
        revoked, their dashboard sessions end, and the drafts whose upload URLs they asked
        for are deleted."""

    def prune_tokens(self, account_id: str, now_ms: int, keep_dead: int) -> int:
        """Delete the account's batch tokens that are revoked or expired at ``now_ms``, and
        its other revoked or expired tokens beyond the ``keep_dead`` newest; how many went."""

    # signing keys
    def list_keys(self, account_id: str) -> list[SigningKey]:
        """Keys ordered by creation time, oldest first (all of them, however many)."""

    def put_key(self, account_id: str, key: SigningKey, *, max_keys: int | None = None) -> None:
        """Create the key, or replace the value (and creation time) of one with this name.
        With ``max_keys``, creating a key that would make the account hold more raises
        ``LimitReached`` and stores nothing; replacing a value is always allowed."""

    def replace_key_value(self, account_id: str, name: str, value: str) -> None:
        """Rewrite how a key's value is stored (sealing it), keeping its date and count."""

    def delete_key(self, account_id: str, name: str) -> bool:
        """True if it existed."""

    def add_key_verifications(self, account_id: str, counts: dict[str, int]) -> None:
        """Add to the per-key verification counters; unknown names are ignored."""

    # variants
    def list_variants(self, account_id: str) -> list[Variant]: ...

    def get_variant(self, account_id: str, name: str) -> Variant | None: ...

    def create_variant(self, account_id: str, variant: Variant) -> None:
        """Raises ``Conflict`` if the name is taken."""

    def update_variant(
        self, account_id: str, name: str, options: VariantOptions, never_require: bool | None
    ) -> Variant | None:
        """None if there is no such variant; ``never_require`` None leaves the flag alone."""

    def delete_variant(self, account_id: str, name: str) -> bool: ...

    # images
    def insert_image(
        self,
        image: Image,
        upload_token_hash: str | None = None,
        draft_token_id: str | None = None,
    ) -> None:
        """Raises ``Conflict`` if the account already has an image with this id. A draft
        (direct creator upload) carries the hash of its one-time upload token, and the id of
        the API token that asked for it: that token must be alive (else ``Unauthenticated``,
        nothing stored), and revoking it deletes the draft."""

    def find_draft(self, upload_token_hash: str) -> Image | None:
        """The draft waiting for this upload token (expired or not), or None."""

    def complete_upload(self, upload_token_hash: str, now_ms: int, **fields: Any) -> Image | None:
        """Turn the draft into an image with ``fields`` (format, width, height, size,
        blob_key, sha256, filename), atomically and once: None if no draft has this token,
        its upload window closed before ``now_ms``, or another request completed it first."""

    def list_images_page(
        self,
        account_id: str,
        *,
        after: Cursor | None,
        limit: int,
        descending: bool,
        creator: str | None,
        filters: Sequence[MetaFilter],
    ) -> list[Image]:
        """Non-draft images ordered by (uploaded, id digest), strictly after ``after`` in
        that order. ``creator`` "" matches images with no creator; None does not filter."""

    def get_image(self, account_id: str, image_id: str) -> Image | None: ...

    def list_images(
        self, account_id: str, offset: int, limit: int, *, creator: str | None = None
    ) -> list[Image]:
        """Non-draft images, newest first (ties in a stable order). ``creator`` as in
        :meth:`list_images_page`."""

    def count_images(self, account_id: str) -> int:
        """Every image of the account, drafts included (they count against the quota)."""

    def update_image(self, account_id: str, image_id: str, **changes: Any) -> Image | None:
        """Apply ``require_signed_urls``, ``meta``, ``creator``; None if no such image."""

    def delete_image(self, account_id: str, image_id: str) -> Image | None:
        """Remove the record and return it (so its blob can go), or None."""

    def delivery_context(
        self, account_hash: str, image_id: str, variant_name: str | None
    ) -> DeliveryContext | None:
        """None if no account has this hash. Otherwise the image (None if missing); when the
        image exists, also the variant (None if missing) and the account's keys: its
        ``MAX_SIGNING_KEYS`` newest at most, oldest first."""

    # dashboard sessions and the admin password
    def create_session(self, session: StoredSession, *, keep: int | None = None) -> None:
        """Store a new session. Raises ``Conflict`` if its id hash is taken. With ``keep``,
        end the oldest sessions of the same token (or, for admin sessions, of the admin)
        beyond the ``keep`` newest, this one included."""

    def find_session(self, id_hash: str, now_ms: int) -> StoredSession | None:
        """The session with this id hash, or None if there is none, it expired before
        ``now_ms``, or it is a token session whose token is revoked or expired since."""

    def touch_session(self, id_hash: str, expires_ms: int) -> None:
        """Move the session's expiry (idle timeout). A missing session is not an error."""

    def set_session_account(self, id_hash: str, account_id: str) -> bool:
        """Point an admin session at another account; False if no such session."""

    def delete_session(self, id_hash: str) -> bool:
        """End a session (sign-out); True if it existed. Deleting twice is not an error."""

    def delete_expired_sessions(self, now_ms: int) -> int:
        """Remove every session that expired before ``now_ms``; how many went."""

    def set_admin_password(self, password_hash: str, now_ms: int) -> None:
        """Store (or replace) the hash of the dashboard's admin password."""

    def admin_password(self) -> str | None:
        """The stored hash of the admin password, or None if none was set."""

    # maintenance (imagegate gc): store-wide, not account-scoped
    def referenced_blob_keys(self) -> set[str]:
        """The blob key of every image record of every account, drafts included (a draft
        has none). A blob not in this set when it is read has no record referencing it."""

    def delete_expired_drafts(self, before_ms: int) -> int:
        """Remove every draft whose upload window closed before ``before_ms``, atomically
        with respect to :meth:`complete_upload`; how many went."""

    def count_expired_drafts(self, before_ms: int) -> int:
        """How many drafts :meth:`delete_expired_drafts` would remove now."""


class ImageProcessor(Protocol):
    """Decoding, probing and rendering (libvips behind :mod:`imagegate.imaging`)."""

    def probe(self, data: bytes) -> tuple[Format, int, int]:
        """Format, width and height from the header alone. Raises ``UnsupportedFormat``,
        ``ImageTooLarge`` or ``CorruptImage``; never decodes the pixels."""

    def render(
        self,
        data: bytes,
        source: Format,
        options: VariantOptions,
        output: Format,
        *,
        keep_gps: bool = False,
    ) -> tuple[bytes, Format]:
        """Render a variant of ``data`` (stored as ``source``) encoded as ``output``, which the
        caller has negotiated; ``options.format`` ``baseline-jpeg`` makes JPEG non-progressive.
        ``metadata=keep`` keeps GPS only with ``keep_gps`` (the account opted in), and never
        the EXIF thumbnail.

        Returns the bytes and their format, which is always ``output``: the bytes are made
        by the options, never the original passed through (an SVG is only sanitised, and
        only for options that keep it as it is; an animation over the animation-area limit
        is rendered from its first frame). Raises ``CorruptImage`` if the image cannot be
        decoded, ``ImageTooLarge`` if the result would be over the pixel limits,
        ``UnsupportedFormat`` if ``output`` cannot be encoded, ``SvgNotTransformable`` for
        options or an output that would transform an SVG, ``RenderTimedOut`` past the
        render's time budget.
        """


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
