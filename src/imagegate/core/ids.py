"""Identifiers: how imagegate makes them and which user-chosen ones it accepts. Pure."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid

_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_NAME = re.compile(r"[A-Za-z0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_CUSTOM_ID = 1024
MAX_KEY_NAME = 20
MAX_VARIANT_NAME = 99
#: Image ids that would be shadowed by API routes under ``/images/v1/``.
RESERVED_IDS = frozenset({"keys", "variants", "stats", "config", "batch_token", "direct_upload"})


def new_account_id() -> str:
    """32 hex characters, like Cloudflare account ids."""
    return secrets.token_hex(16)


def new_account_hash() -> str:
    """22 URL-safe characters, like ``ZWd9g1K7eljCn_KDTu_MWA``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


def new_image_id() -> str:
    return str(uuid.uuid4())


def new_blob_key(account_id: str) -> str:
    """Where an original lives. Never derived from the user's image id."""
    token = secrets.token_hex(16)
    return f"originals/{account_id}/{token[:2]}/{token}"


def new_signing_key_value() -> str:
    """32 random bytes in standard base64 (44 characters ending in ``=``), as Cloudflare writes
    keys. The string itself is the key: verifiers use its UTF-8 bytes, never decode it."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def new_api_token() -> str:
    return "igt_" + secrets.token_urlsafe(30)


def new_token_id() -> str:
    return secrets.token_hex(8)


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256 of ``text`` as UTF-8: how secrets are stored (API tokens, session
    ids, upload URLs), so a database dump holds nothing that can be replayed."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def image_digest(image_id: str) -> str:
    """SHA-256 of an image id: a fixed-size name for it in indexes and cache paths."""
    return sha256_hex(image_id)


def custom_id_problem(image_id: str) -> str | None:
    """Why ``image_id`` is not an acceptable custom id, or None if it is."""
    if not image_id:
        return "id must not be empty"
    if len(image_id) > MAX_CUSTOM_ID:
        return f"id must be at most {MAX_CUSTOM_ID} characters"
    if image_id.startswith("/") or image_id.endswith("/"):
        return "id must not start or end with /"
    if _UUID.fullmatch(image_id):
        return "id must not be a UUID"
    if _CONTROL.search(image_id):
        return "id must not contain control characters"
    if any(seg in ("", ".", "..") for seg in image_id.split("/")):
        return "id must not contain empty, '.' or '..' path segments"
    if image_id in RESERVED_IDS:
        return f"id {image_id!r} is reserved"
    return None


def is_key_name(name: str) -> bool:
    return len(name) <= MAX_KEY_NAME and _NAME.fullmatch(name) is not None


def is_variant_name(name: str) -> bool:
    return len(name) <= MAX_VARIANT_NAME and _NAME.fullmatch(name) is not None
