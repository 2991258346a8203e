"""Listing images with v2's query: cursors and metadata filters, parsed and checked. Pure.

Filters follow Cloudflare: ``meta.<field>[<op>]=<value>`` where the field may be nested with
dots (at most 5 levels; names of letters, digits and ``_``, at most 100 characters), and the
operator is one the SDK documents: ``eq`` (any type), ``eq:string``, ``eq:number``,
``eq:boolean``; ``in`` (any type), ``in:string``, ``in:number`` (``|``-separated, at most 10
values); ``gt``, ``gte``, ``lt``, ``lte`` (numbers), also written ``gt:number`` and so on. At
most 5 filters, all of which must hold. Numbers are decimal, finite. Invalid filters are
refused, never ignored.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

MAX_FILTERS = 5
MAX_DEPTH = 5
MAX_IN = 10
#: Each operator as written, and what it means (``gt:number`` is ``gt``: ranges are numeric).
OPERATORS = {
    **{op: op for op in ("eq", "eq:string", "eq:number", "eq:boolean")},
    **{op: op for op in ("in", "in:string", "in:number")},
    **{f"{op}{typed}": op for op in ("gt", "gte", "lt", "lte") for typed in ("", ":number")},
}
_NUMERIC = frozenset({"eq:number", "in:number", "gt", "gte", "lt", "lte"})
_PARAM = re.compile(r"meta\.([A-Za-z0-9_.]+)\[([a-z:]+)\]")
_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
_NUMBER = re.compile(r"-?\d{1,15}(\.\d{1,15})?([eE][-+]?\d{1,3})?")


class InvalidListing(ValueError):
    """A filter, cursor or page size that cannot be honoured."""


@dataclass(frozen=True, slots=True)
class MetaFilter:
    path: tuple[str, ...]
    op: str
    values: tuple[str | float | bool, ...]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after the last image of a page: its upload time and id digest."""

    uploaded_ms: int
    digest_prefix: str  # 32 hex characters of the id's SHA-256


def parse_filters(params: Iterable[tuple[str, str]]) -> list[MetaFilter]:
    filters = []
    for name, raw in params:
        if not name.startswith("meta."):
            continue
        match = _PARAM.fullmatch(name)
        if match is None:
            raise InvalidListing("metadata filters are written meta.<field>[<operator>]")
        path = tuple(match.group(1).split("."))
        op = OPERATORS.get(match.group(2))
        if op is None:
            raise InvalidListing(f"unknown metadata filter operator {match.group(2)!r}")
        if len(path) > MAX_DEPTH or not all(_NAME.fullmatch(p) for p in path):
            raise InvalidListing("metadata field names are letters, digits and _, 5 levels deep")
        filters.append(MetaFilter(path, op, _values(op, raw)))
    if len(filters) > MAX_FILTERS:
        raise InvalidListing(f"at most {MAX_FILTERS} metadata filters")
    return filters


def _values(op: str, raw: str) -> tuple[str | float | bool, ...]:
    items = raw.split("|") if op.startswith("in") else [raw]
    if not 1 <= len(items) <= MAX_IN:
        raise InvalidListing(f"'{op}' takes 1 to {MAX_IN} values separated by |")
    if op in _NUMERIC:
        numbers = [_number(item) for item in items]
        if None in numbers:
            raise InvalidListing(f"'{op}' compares numbers")
        return tuple(n for n in numbers if n is not None)
    if op == "eq:boolean":
        if raw not in ("true", "false"):
            raise InvalidListing("'eq:boolean' takes true or false")
        return (raw == "true",)
    return tuple(items)


def _number(text: str) -> float | None:
    """A decimal number, finite, or None."""
    if _NUMBER.fullmatch(text) is None:
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def untyped_candidates(value: str) -> tuple[str, float | None, bool | None]:
    """How an untyped ``eq``/``in`` value may match: as a string, a number, a boolean."""
    boolean = {"true": True, "false": False}.get(value)
    return value, _number(value), boolean


def encode_cursor(cursor: Cursor) -> str:
    """32 characters (Cloudflare's limit for continuation tokens)."""
    raw = struct.pack(">Q", cursor.uploaded_ms) + bytes.fromhex(cursor.digest_prefix)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidListing("invalid continuation_token") from None
    if len(raw) != 24 or len(token) > 32:
        raise InvalidListing("invalid continuation_token")
    return Cursor(struct.unpack(">Q", raw[:8])[0], raw[8:].hex())
