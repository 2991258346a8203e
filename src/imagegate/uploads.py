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

import hashlib
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from imagegate import ids
from imagegate.errors import BadRequest, Conflict, PayloadTooLarge, UploadUrlGone
from imagegate.models import Account, ApiToken, Image, epoch_ms
from imagegate.service import Service

DEFAULT_WINDOW = timedelta(minutes=30)
MIN_WINDOW = timedelta(minutes=2)
MAX_WINDOW = timedelta(hours=6)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class DirectUploads:
    def __init__(self, service: Service) -> None:
        self.service = service

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
        svc = self.service
        now = svc.now()
        expires = expiry or now + DEFAULT_WINDOW
        if not now + MIN_WINDOW - timedelta(seconds=5) <= expires <= now + MAX_WINDOW:
            raise BadRequest("expiry must be between 2 minutes and 6 hours from now")
        if issuer is not None and issuer.expires is not None:
            expires = min(expires, issuer.expires)
        checked = svc.check_new_image(account, custom_id, meta, creator)
        svc.check_quota(account)
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
            svc.meta.insert_image(
                draft,
                upload_token_hash=_hash(secret),
                draft_token_id=issuer.id if issuer is not None else None,
            )
        except Conflict:
            raise Conflict("An image with this id already exists") from None
        return draft, secret

    def check_open(self, secret: str) -> None:
        """Refuse (410) a secret that names no draft still open for its upload: the secret is
        the upload URL's only credential, checked before a byte of the upload is read."""
        self._open_draft(_hash(secret))

    def _open_draft(self, token_hash: str) -> Image:
        draft = self.service.meta.find_draft(token_hash)
        now = self.service.now()
        if draft is None or draft.upload_expires is None or draft.upload_expires < now:
            raise UploadUrlGone()
        return draft

    def complete(self, secret: str, data: bytes, filename: str) -> Image:
        """Store the file for the draft this secret names, once."""
        svc = self.service
        token_hash = _hash(secret)
        draft = self._open_draft(token_hash)
        now = svc.now()
        if len(data) > svc.limits.max_upload_bytes:
            raise PayloadTooLarge()
        fmt, width, height = svc.processor.probe(data)
        blob_key = ids.new_blob_key(draft.account_id)
        svc.blobs.put(blob_key, data)
        done = svc.meta.complete_upload(
            token_hash,
            epoch_ms(now),
            format=fmt,
            width=width,
            height=height,
            size=len(data),
            blob_key=blob_key,
            sha256=hashlib.sha256(data).hexdigest(),
            filename=(filename or "upload")[:255],
        )
        if done is None:  # another request won, or the window closed meanwhile
            svc.blobs.delete(blob_key)
            raise UploadUrlGone()
        svc.caches.forget_metadata()
        return replace(done, upload_expires=None)
