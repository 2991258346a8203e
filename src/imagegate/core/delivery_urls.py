"""Delivery URLs: parse a request's raw path, and build the URLs the API hands out. Pure.

Two forms are served, each signed over the path it was requested with::

    /<account_hash>/<image_id>/<variant>
    /cdn-cgi/imagedelivery/<account_hash>/<image_id>/<variant>

The image id may hold ``/``; the last segment is the variant name or flexible options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

CDN_PREFIX = b"/cdn-cgi/imagedelivery/"
_HASH = re.compile(rb"[A-Za-z0-9_-]{1,64}")
_LAST = re.compile(rb"[A-Za-z0-9=,._:%-]{1,512}")
# In delivery URLs an id is written as-is except for characters that would end or break the
# path: % ? # and whitespace/controls, plus non-ASCII as UTF-8 percent-escapes.
_ID_SAFE = "/!$&'()*+,;=:@-._~"


@dataclass(frozen=True, slots=True)
class DeliveryPath:
    account_hash: str
    image_id: str
    last: str  # variant name or flexible options, undecoded


class BadDeliveryPath(ValueError):
    """The path cannot name any image (bad shape, bad encoding, dot segments)."""


def parse_delivery_path(raw_path: bytes) -> DeliveryPath:
    """Split a raw request path into account hash, decoded image id and last segment."""
    rest = raw_path[len(CDN_PREFIX) :] if raw_path.startswith(CDN_PREFIX) else raw_path[1:]
    parts = rest.split(b"/")
    if len(parts) < 3:
        raise BadDeliveryPath("too few segments")
    account_hash, id_parts, last = parts[0], parts[1:-1], parts[-1]
    if _HASH.fullmatch(account_hash) is None or _LAST.fullmatch(last) is None:
        raise BadDeliveryPath("bad account hash or variant")
    try:
        segments = [unquote_to_bytes(p).decode("utf-8") for p in id_parts]
    except UnicodeDecodeError:
        raise BadDeliveryPath("id is not UTF-8") from None
    image_id = "/".join(segments)
    if any(s in ("", ".", "..") for s in image_id.split("/")):
        raise BadDeliveryPath("empty or dot segment")
    return DeliveryPath(account_hash.decode(), image_id, last.decode())


def delivery_path(account_hash: str, image_id: str, variant: str) -> str:
    return f"/{account_hash}/{quote(image_id, safe=_ID_SAFE)}/{variant}"


def delivery_url(public_url: str, account_hash: str, image_id: str, variant: str) -> str:
    return public_url.rstrip("/") + delivery_path(account_hash, image_id, variant)
