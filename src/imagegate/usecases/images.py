"""Images: uploads (a file, or a URL to fetch), listing, details, edits, deletion, originals.

An upload is checked before a pixel is decoded: its size, its custom id, metadata and
creator, its header (format and dimensions) and the account's quota. Its bytes are stored
before its record, so a crash between the two leaves an orphan blob (``imagegate gc`` removes
it), never a record without its bytes; the upload is acknowledged after both. Direct creator
uploads (:mod:`imagegate.usecases.direct_uploads`) store their originals the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from imagegate.core import client_json, ids
from imagegate.core.errors import (
    BadRequest,
    Conflict,
    ImageNotFound,
    LimitReached,
    PayloadTooLarge,
    StorageError,
)
from imagegate.core.levels import divisors as level_divisors
from imagegate.core.levels import level_key
from imagegate.core.listing import Cursor, InvalidListing, MetaFilter, decode_cursor, encode_cursor
from imagegate.core.models import Account, Format, Image, epoch_ms
from imagegate.usecases.caches import Caches
from imagegate.usecases.clock import Clock, utc
from imagegate.usecases.levels import Levels
from imagegate.usecases.observer import Observer
from imagegate.usecases.ports import BlobStore, ImageProcessor, ImageStore, UrlFetcher
from imagegate.usecases.records import Change, ImageChanges, StoredOriginal

log = logging.getLogger("imagegate.images")

MAX_METADATA_BYTES = 1024
MAX_CREATOR = 1024


def check_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata is a JSON object every store can hold, of at most 1,024 bytes."""
    if not isinstance(meta, dict):
        raise BadRequest("metadata must be a JSON object")
    client_json.check(meta, "metadata")
    encoded = json.dumps(meta, separators=(",", ":"))
    if len(encoded.encode("utf-8")) > MAX_METADATA_BYTES:
        raise BadRequest(f"metadata must be at most {MAX_METADATA_BYTES} bytes")
    return meta


def check_creator(creator: str | None) -> None:
    """A creator is at most 1,024 characters and holds no NUL (no text column takes one)
    and no lone surrogate (UTF-8 cannot encode one, so no answer holding it could be sent)."""
    if creator is None:
        return
    if len(creator) > MAX_CREATOR:
        raise BadRequest(f"creator must be at most {MAX_CREATOR} characters")
    client_json.check(creator, "creator")


class Images:
    def __init__(
        self,
        images: ImageStore,
        blobs: BlobStore,
        processor: ImageProcessor,
        fetcher: UrlFetcher,
        caches: Caches,
        observer: Observer,
        clock: Clock,
        *,
        max_upload_bytes: int,
        levels: Levels | None = None,
    ) -> None:
        self.store = images
        self.blobs = blobs
        self.processor = processor
        self.fetcher = fetcher
        self.caches = caches
        self.observer = observer
        self.clock = clock
        self.max_upload_bytes = max_upload_bytes
        self.levels = levels  # reduced copies, derived in the background

    # --- uploads ------------------------------------------------------------------------------

    def upload(
        self,
        account: Account,
        data: bytes,
        *,
        filename: str = "",
        custom_id: str | None = None,
        meta: dict[str, Any] | None = None,
        require_signed_urls: bool = False,
        creator: str | None = None,
    ) -> Image:
        self._check_size(data)
        checked = self.check_new(account, custom_id, meta, creator)
        original = self._probe(account.id, data, filename)
        self.check_quota(account)
        self._put(original, data)
        image = Image(
            account_id=account.id,
            id=custom_id or ids.new_image_id(),
            filename=original.filename,
            uploaded=utc(self.clock),
            require_signed_urls=require_signed_urls,
            meta=checked,
            creator=creator,
            format=original.format,
            width=original.width,
            height=original.height,
            size=original.size,
            blob_key=original.blob_key,
            sha256=original.sha256,
        )
        try:
            self.store.insert(image)
        except Conflict:
            self.blobs.delete(image.blob_key)
            raise Conflict("An image with this id already exists") from None
        except Exception:
            self.blobs.delete(image.blob_key)
            raise
        self.stored(image)
        return image

    def stored(self, image: Image) -> None:
        """An original is stored and its record written: queue its reduced copies."""
        if self.levels is not None:
            self.levels.queue(image)

    def fetch(self, url: str) -> tuple[bytes, str]:
        """The bytes at ``url`` and a filename for them (upload by URL), within the
        operator's fetch policy; may take seconds."""
        return self.fetcher.fetch(url)

    def check_new(
        self,
        account: Account,
        custom_id: str | None,
        meta: dict[str, Any] | None,
        creator: str | None,
    ) -> dict[str, Any]:
        """Validate what a new image is given; return its metadata, checked."""
        if custom_id is not None:
            problem = ids.custom_id_problem(custom_id)
            if problem:
                raise BadRequest(f"Invalid custom id: {problem}")
        check_creator(creator)
        return check_metadata(meta or {})

    def check_quota(self, account: Account) -> None:
        """Refuse a new image (a draft too) once the account holds its quota."""
        if self.store.count(account.id) >= account.image_quota:
            raise LimitReached("Image quota reached for this account")

    def store_original(self, account_id: str, data: bytes, filename: str) -> StoredOriginal:
        """Check an upload's bytes (size, then the header only) and store them under a new
        key; the caller writes the record, and deletes the blob if that fails."""
        self._check_size(data)
        original = self._probe(account_id, data, filename)
        self._put(original, data)
        return original

    def _check_size(self, data: bytes) -> None:
        if len(data) > self.max_upload_bytes:
            raise PayloadTooLarge.over(self.max_upload_bytes)

    def _probe(self, account_id: str, data: bytes, filename: str) -> StoredOriginal:
        """What the upload's header says (no pixel decoded), under a new blob key."""
        fmt, width, height = self.processor.probe(data)
        return StoredOriginal(
            format=fmt,
            width=width,
            height=height,
            size=len(data),
            blob_key=ids.new_blob_key(account_id),
            sha256=hashlib.sha256(data).hexdigest(),
            filename=(filename or "upload")[:255],
        )

    def _put(self, original: StoredOriginal, data: bytes) -> None:
        self.blobs.put(original.blob_key, data)
        self.observer.uploaded(len(data))

    # --- reading --------------------------------------------------------------------------------

    def stats(self, account: Account) -> tuple[int, int]:
        """Images held (drafts included) and images allowed."""
        return self.store.count(account.id), account.image_quota

    def by_cursor(
        self,
        account: Account,
        *,
        continuation_token: str | None,
        per_page: int,
        descending: bool,
        creator: str | None,
        filters: list[MetaFilter],
    ) -> tuple[list[Image], str | None]:
        """A page of images (v2) and the token for the next page (None on the last)."""
        check_creator(creator)
        try:
            after = decode_cursor(continuation_token) if continuation_token else None
        except InvalidListing as exc:
            raise BadRequest(str(exc)) from None
        page = self.store.by_cursor(
            account.id,
            after=after,
            limit=per_page + 1,
            descending=descending,
            creator=creator,
            filters=filters,
        )
        if len(page) <= per_page:
            return page, None
        page = page[:per_page]
        last = page[-1]
        cursor = Cursor(epoch_ms(last.uploaded), ids.image_digest(last.id)[:32])
        return page, encode_cursor(cursor)

    def by_offset(
        self, account: Account, page: int, per_page: int, creator: str | None = None
    ) -> list[Image]:
        """A page of images (v1), newest first."""
        check_creator(creator)
        return self.store.by_offset(account.id, (page - 1) * per_page, per_page, creator=creator)

    def get(self, account: Account, image_id: str) -> Image:
        image = self.store.get(account.id, image_id)
        if image is None:
            raise ImageNotFound()
        return image

    def original(self, account: Account, image_id: str) -> tuple[bytes, Format | None]:
        """The bytes as uploaded, and their format."""
        image = self.get(account, image_id)
        if image.draft:
            raise ImageNotFound()
        return self.blobs.get(image.blob_key), image.format

    # --- changing ---------------------------------------------------------------------------

    def edit(
        self,
        account: Account,
        image_id: str,
        *,
        require_signed_urls: bool | None = None,
        meta: dict[str, Any] | None = None,
        creator: str | None = None,
    ) -> Image:
        """Change an image's access, metadata (replaced whole) or creator; None leaves one."""
        if meta is not None:
            check_metadata(meta)
        check_creator(creator)
        changes = ImageChanges(require_signed_urls, meta, creator)
        # access changed: its renders go too (they were made under the old access)
        change = Change.image(account.id, image_id, renders=require_signed_urls is not None)
        with self.caches.changing(change):
            image = self.store.update(account.id, image_id, changes)
        if image is None:
            raise ImageNotFound()
        return image

    def delete(self, account: Account, image_id: str) -> None:
        """Delete the record, every render of it, and its bytes."""
        with self.caches.changing(Change.image(account.id, image_id, renders=True)):
            image = self.store.delete(account.id, image_id)
        if image is None:
            raise ImageNotFound()
        if image.blob_key:
            try:
                self.blobs.delete(image.blob_key)
                self._delete_levels(image)
            except StorageError:  # the image is gone; its bytes are an orphan gc removes
                log.warning("could not remove the original of a deleted image")

    def _delete_levels(self, image: Image) -> None:
        """Its reduced copies, kept or not (a server with copies turned off may delete an
        image whose copies another made)."""
        for divisor in level_divisors(image.format, image.width, image.height):
            self.blobs.delete(level_key(image.blob_key, divisor))
