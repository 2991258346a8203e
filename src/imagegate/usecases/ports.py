"""The seams between the use cases and the outside world, as small Protocols: one per
area of the metadata store, and one each for blobs, rendered variants, image processing,
URL fetches and key sealing, and the feed that tells every process of a change.

Adapters implement these; the use cases depend on nothing else. Every method is
synchronous and may block: the web layer runs them in worker threads. Adapters catch their
driver's exceptions and raise imagegate's own (``StorageError``, ``StorageFull``,
``Conflict``...). Every metadata method is account-scoped unless it says otherwise: a lookup
with the wrong account id finds nothing rather than another account's row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from imagegate.core.listing import Cursor, MetaFilter
from imagegate.core.models import (
    Account,
    ApiToken,
    Format,
    Image,
    SigningKey,
    Variant,
    VariantOptions,
)
from imagegate.usecases.records import (
    AccountChanges,
    BlobRef,
    CacheKey,
    Change,
    DeliveryContext,
    ImageChanges,
    Row,
    SchemaStatus,
    StoredOriginal,
    StoredSession,
)

# --- the metadata store, by area --------------------------------------------------------------


class SchemaStore(Protocol):
    """The database itself."""

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest version. Idempotent; never loses a row.
        Runs under a database-wide lock: processes that migrate at once wait their turn,
        and the later ones find nothing left to do."""

    @property
    def embedded(self) -> bool:
        """True for the embedded database (SQLite), which one node owns."""

    def schema_status(self) -> SchemaStatus:
        """Where the schema stands, read without changing anything."""

    def ping(self) -> None:
        """Raise ``StorageError`` unless the database answers."""

    def close(self) -> None: ...


class AccountStore(Protocol):
    def create(self, account: Account) -> None: ...

    def get(self, account_id: str) -> Account | None: ...

    def all(self) -> list[Account]:
        """Every account, oldest first (store-wide)."""

    def update(self, account_id: str, changes: AccountChanges) -> Account | None:
        """Apply ``changes``; None if there is no such account."""


class TokenStore(Protocol):
    def add(self, token: ApiToken, token_hash: str, *, max_live: int | None = None) -> None:
        """Store a token. With ``max_live``, raises ``LimitReached`` (storing nothing) if the
        account would then hold more live tokens of its kind (batch or not) at
        ``token.created``. A token with a ``parent_id`` is stored only if that parent is
        alive (unrevoked, unexpired): otherwise ``Unauthenticated``, atomically with respect
        to :meth:`revoke`, so no token outlives a revocation racing with its making."""

    def get(self, account_id: str, token_id: str) -> ApiToken | None:
        """The token with this id, revoked or not; None if the account has none."""

    def find(self, token_hash: str) -> ApiToken | None:
        """The unrevoked token with this hash, of any account, or None."""

    def all(self, account_id: str) -> list[ApiToken]:
        """Oldest first, revoked and expired ones included."""

    def revoke(self, account_id: str, token_id: str) -> bool:
        """True if a token of this account was revoked; revoking twice is not an error. In
        the same transaction, every token made with it (and with those, however deep) is
        revoked, their dashboard sessions end, and the drafts whose upload URLs they asked
        for are deleted."""

    def prune(self, account_id: str, now_ms: int, keep_dead: int) -> int:
        """Delete the account's batch tokens that are revoked or expired at ``now_ms``, and
        its other revoked or expired tokens beyond the ``keep_dead`` newest; how many went."""


class KeyStore(Protocol):
    def all(self, account_id: str) -> list[SigningKey]:
        """Keys ordered by creation time, oldest first (all of them, however many), with
        their values as stored (sealed or not)."""

    def put(self, account_id: str, key: SigningKey, *, max_keys: int | None = None) -> None:
        """Create the key, or replace the value (and creation time) of one with this name.
        With ``max_keys``, creating a key that would make the account hold more raises
        ``LimitReached`` and stores nothing; replacing a value is always allowed."""

    def reseal(self, account_id: str, name: str, value: str) -> None:
        """Rewrite how a key's value is stored (sealing it), keeping its date and count."""

    def delete(self, account_id: str, name: str) -> bool:
        """True if it existed."""

    def add_verifications(self, account_id: str, counts: dict[str, int]) -> None:
        """Add to the per-key verification counters; unknown names are ignored."""


class VariantStore(Protocol):
    def all(self, account_id: str) -> list[Variant]:
        """Oldest first."""

    def get(self, account_id: str, name: str) -> Variant | None: ...

    def create(self, account_id: str, variant: Variant) -> None:
        """Raises ``Conflict`` if the name is taken."""

    def update(
        self, account_id: str, name: str, options: VariantOptions, never_require: bool | None
    ) -> Variant | None:
        """None if there is no such variant; ``never_require`` None leaves the flag alone."""

    def delete(self, account_id: str, name: str) -> bool: ...


class ImageStore(Protocol):
    def insert(
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
        """The draft waiting for this upload token (expired or not), of any account."""

    def complete_upload(
        self, upload_token_hash: str, now_ms: int, original: StoredOriginal
    ) -> Image | None:
        """Turn the draft into an image of ``original``, atomically and once: None if no
        draft has this token, its upload window closed before ``now_ms``, or another request
        completed it first."""

    def by_cursor(
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

    def get(self, account_id: str, image_id: str) -> Image | None: ...

    def by_offset(
        self, account_id: str, offset: int, limit: int, *, creator: str | None = None
    ) -> list[Image]:
        """Non-draft images, newest first (ties in a stable order). ``creator`` as in
        :meth:`by_cursor`."""

    def count(self, account_id: str) -> int:
        """Every image of the account, drafts included (they count against the quota)."""

    def update(self, account_id: str, image_id: str, changes: ImageChanges) -> Image | None:
        """Apply ``changes``; None if there is no such image."""

    def delete(self, account_id: str, image_id: str) -> Image | None:
        """Remove the record and return it (so its blob can go), or None."""

    # maintenance (imagegate gc): store-wide, not account-scoped
    def referenced_blob_keys(self) -> set[str]:
        """The blob key of every image record of every account, drafts included (a draft
        has none). A blob not in this set when it is read has no record referencing it."""

    def image_digests(self) -> set[tuple[str, str]]:
        """(account id, :func:`~imagegate.core.ids.image_digest` of the image id) of every
        image record, drafts included: the images whose rendered variants may be kept."""

    def delete_expired_drafts(self, before_ms: int) -> int:
        """Remove every draft whose upload window closed before ``before_ms``, atomically
        with respect to :meth:`complete_upload`; how many went."""

    def count_expired_drafts(self, before_ms: int) -> int:
        """How many drafts :meth:`delete_expired_drafts` would remove now."""


class DeliveryStore(Protocol):
    def context(
        self, account_hash: str, image_id: str, variant_name: str | None
    ) -> DeliveryContext | None:
        """None if no account has this hash. Otherwise the image (None if missing); when the
        image exists, also the variant (None if missing) and the account's keys: its
        ``MAX_SIGNING_KEYS`` newest at most, oldest first. One consistent read."""


class SessionStore(Protocol):
    def create(self, session: StoredSession, *, keep: int | None = None) -> None:
        """Store a new session. Raises ``Conflict`` if its id hash is taken. With ``keep``,
        end the oldest sessions of the same token (or, for admin sessions, of the admin)
        beyond the ``keep`` newest, this one included."""

    def find(self, id_hash: str, now_ms: int) -> StoredSession | None:
        """The session with this id hash, or None if there is none, it expired before
        ``now_ms``, or it is a token session whose token is revoked or expired since."""

    def touch(self, id_hash: str, expires_ms: int) -> None:
        """Move the session's expiry (idle timeout). A missing session is not an error."""

    def set_account(self, id_hash: str, account_id: str) -> bool:
        """Point an admin session at another account; False if no such session."""

    def delete(self, id_hash: str) -> bool:
        """End a session (sign-out); True if it existed. Deleting twice is not an error."""

    def delete_expired(self, now_ms: int) -> int:
        """Remove every session that expired before ``now_ms``; how many went."""

    def set_admin_password(self, password_hash: str, now_ms: int) -> None:
        """Store (or replace) the hash of the dashboard's admin password."""

    def admin_password(self) -> str | None:
        """The stored hash of the admin password, or None if none was set."""


# --- bytes, renders and the outside world ----------------------------------------------------


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


class ImageProcessor(Protocol):
    """Decoding, probing and rendering (libvips behind :mod:`imagegate.adapters.imaging`)."""

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
        original: tuple[int, int] | None = None,
        level: tuple[int, int] | None = None,
    ) -> tuple[bytes, Format]:
        """Render a variant of ``data`` (stored as ``source``) encoded as ``output``, which the
        caller has negotiated; ``options.format`` ``baseline-jpeg`` makes JPEG non-progressive.
        With ``original`` (its upright width and height) and ``level`` (the size ``data``
        must have), ``data`` is a reduced copy of that original (:mod:`imagegate.core.levels`):
        the output is planned against the original's size, and a copy not of ``level``'s
        size is a ``CorruptImage``.
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

    def levels(
        self, data: bytes, source: Format, width: int, height: int
    ) -> list[tuple[int, bytes]]:
        """The reduced copies of an original of ``source``, ``width`` x ``height`` upright,
        as (divisor, bytes), largest first (none for formats that have none). Raises
        ``CorruptImage``; decodes the whole original (seconds for the largest)."""


class KeySealer(Protocol):
    """Signing-key values at rest: sealed under the operator's master key, if one is set."""

    @property
    def active(self) -> bool:
        """Whether a master key is set (values are sealed when stored)."""

    def seal(self, value: str, account_id: str, name: str) -> str:
        """The value as it is to be stored: sealed, or as given without a master key."""

    def is_sealed(self, stored: str) -> bool:
        """Whether a stored value is sealed."""

    def open(self, stored: str, account_id: str, name: str) -> str:
        """The value of a stored key. Raises ``StorageError`` if it is sealed and cannot be
        opened (no master key, or the wrong one)."""


class UrlFetcher(Protocol):
    """Upload by URL: the image at a public URL, fetched within the operator's policy."""

    def fetch(self, url: str) -> tuple[bytes, str]:
        """The bytes and a filename from the URL's path. Raises ``BadRequest`` (one answer
        for every refusal: a private address, a bad port, a redirect too many...) and
        ``PayloadTooLarge`` past the upload limit."""


class ChangeFeed(Protocol):
    """Tells every other process that serves the same database what changed, so each
    forgets exactly what it read about it (PostgreSQL: ``LISTEN/NOTIFY``, typically within
    milliseconds). A feed that reaches no other process (SQLite) leaves them to the
    metadata TTL. Applying a change to the process that made it is the caller's job."""

    def announcing(self, change: Change) -> AbstractContextManager[None]:
        """Wrap exactly one store write: the change is sent inside that write's
        transaction where the database allows it (so it goes if and only if the write
        commits), otherwise right after the block. If the block raises, nothing is sent."""

    def listen(self, on_change: Callable[[Change], None], on_reach: Callable[[bool], None]) -> None:
        """Start delivering the changes other processes announce to ``on_change`` (from a
        thread of the feed's own), and tell ``on_reach`` whether they reach this process:
        True once listening (what was read before may be stale: forget it), False when
        the feed is lost (fall back to the TTL; the feed reconnects by itself, with
        backoff, and says True again). Idempotent; never raises for an unreachable
        database (it keeps trying)."""

    def close(self) -> None:
        """Stop listening (within a second); idempotent."""


class MetricsShare(Protocol):
    """Where the worker processes of one node pool what they counted, so a scrape that
    reaches any one of them reports the whole node."""

    def publish(self, counts: dict[str, Any]) -> None:
        """Record this process's counts (JSON-able), replacing what it recorded before."""

    def gather(self) -> list[tuple[dict[str, Any], bool]]:
        """What every worker of the node recorded, with whether it still runs (a worker
        that died keeps its counts: counters never go back). Empty when not shared."""


# --- moving a store --------------------------------------------------------------------------


class TableStore(Protocol):
    """A metadata database seen as its tables of rows, for copying a whole store into another
    database (``imagegate migrate-store``). Tables and columns are the schema's; a row is the
    database's values column by column, so two rows are equal exactly when every field is."""

    def schema_status(self) -> SchemaStatus:
        """Where the schema stands, read without changing anything."""

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest version (see :class:`SchemaStore`)."""

    def tables(self) -> list[str]:
        """Every table of the schema, each after the tables it references."""

    def unknown_tables(self) -> list[str]:
        """Tables this database holds that the schema does not know (the migrations'
        bookkeeping aside): rows a copy by :meth:`tables` would leave behind."""

    def primary_key(self, table: str) -> tuple[str, ...]:
        """The columns of the table's primary key, in order."""

    def count(self, table: str) -> int: ...

    def batches(self, table: str, size: int) -> Iterator[list[Row]]:
        """Every row, in primary-key order, ``size`` at a time. Each batch is read after the
        one before it was handled, past its last key."""

    def find(self, table: str, keys: Sequence[tuple[object, ...]]) -> list[Row]:
        """The rows with these primary keys (those that exist), in no set order."""

    def insert(self, table: str, rows: Sequence[Row]) -> None:
        """Add the rows, all or none. Raises ``Conflict`` if a key is taken."""

    def replace(self, table: str, rows: Sequence[Row]) -> None:
        """Overwrite every field of the rows with these keys, all or none."""

    def blob_refs(self, size: int) -> Iterator[list[BlobRef]]:
        """The blob of every image record (drafts have none), ``size`` at a time."""

    def key_values(self) -> Iterator[tuple[str, str, str]]:
        """Every signing key as (account id, name, value as stored: sealed or not)."""

    def close(self) -> None: ...
