"""Direct creator uploads: an API client asks for a one-time upload URL, hands it to an end
user, and the end user's browser posts the file there with no credentials.

The image exists from the first step as a *draft*: it has its id, metadata and access, and
counts against the quota, but it is not listed or served. The upload URL carries a random
secret (never the image id, which may be a guessable custom id); only its hash is stored. The
first valid POST before the window closes completes the draft, atomically; every other POST
is refused with one answer.

An upload URL is a credential made with an API token, so it lives no longer than that token:
its window closes by the token's expiry, and revoking the token deletes the draft (the URL
then answers like a used one).
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from imagegate.core import ids
from imagegate.core.errors import BadRequest, Conflict, UploadUrlGone
from imagegate.core.models import Account, ApiToken, Image, epoch_ms
from imagegate.usecases.caches import Caches
from imagegate.usecases.clock import Clock, utc
from imagegate.usecases.images import Images
from imagegate.usecases.ports import ImageStore
from imagegate.usecases.records import Change

DEFAULT_WINDOW = timedelta(minutes=30)
MIN_WINDOW = timedelta(minutes=2)
MAX_WINDOW = timedelta(hours=6)


class DirectUploads:
    def __init__(self, images: Images, store: ImageStore, caches: Caches, clock: Clock) -> None:
        self.images = images
        self.store = store
        self.caches = caches
        self.clock = clock

    def create(
        self,
        account: Account,
        *,
        custom_id: str | None = None,
        meta: dict[str, Any] | None = None,
        require_signed_urls: bool = False,
        creator: str | None = None,
        expiry: datetime | None = None,
        issuer: ApiToken | None = None,
    ) -> tuple[Image, str]:
        """Make the draft; return it and the secret its upload URL carries. ``issuer`` is the
        API token asking: the URL closes when it expires, and goes when it is revoked."""
        now = utc(self.clock)
        expires = expiry or now + DEFAULT_WINDOW
        if not now + MIN_WINDOW - timedelta(seconds=5) <= expires <= now + MAX_WINDOW:
            raise BadRequest("expiry must be between 2 minutes and 6 hours from now")
        if issuer is not None and issuer.expires is not None:
            expires = min(expires, issuer.expires)
        checked = self.images.check_new(account, custom_id, meta, creator)
        self.images.check_quota(account)
        draft = Image(
            account_id=account.id,
            id=custom_id or ids.new_image_id(),
            filename="",
            uploaded=now,
            require_signed_urls=require_signed_urls,
            meta=checked,
            creator=creator,
            draft=True,
            upload_expires=expires,
        )
        secret = secrets.token_urlsafe(32)
        try:
            self.store.insert(
                draft,
                upload_token_hash=ids.sha256_hex(secret),
                draft_token_id=issuer.id if issuer is not None else None,
            )
        except Conflict:
            raise Conflict("An image with this id already exists") from None
        return draft, secret

    def check_open(self, secret: str) -> None:
        """Refuse (410) a secret that names no draft still open for its upload: the secret is
        the upload URL's only credential, checked before a byte of the upload is read."""
        self._open_draft(ids.sha256_hex(secret))

    def complete(self, secret: str, data: bytes, filename: str) -> Image:
        """Store the file for the draft this secret names, once."""
        token_hash = ids.sha256_hex(secret)
        draft = self._open_draft(token_hash)
        original = self.images.store_original(draft.account_id, data, filename)
        with self.caches.changing(Change.image(draft.account_id, draft.id)):  # no longer a draft
            done = self.store.complete_upload(token_hash, epoch_ms(utc(self.clock)), original)
        if done is None:  # another request won, or the window closed meanwhile
            self.images.blobs.delete(original.blob_key)
            raise UploadUrlGone()
        done = replace(done, upload_expires=None)
        self.images.stored(done)
        return done

    def _open_draft(self, token_hash: str) -> Image:
        draft = self.store.find_draft(token_hash)
        if draft is None or draft.upload_expires is None or draft.upload_expires < utc(self.clock):
            raise UploadUrlGone()
        return draft
