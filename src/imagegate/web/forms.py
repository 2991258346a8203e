"""Decoding the fields of management requests. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from imagegate.core import client_json
from imagegate.core.errors import BadRequest

_SEGMENT = re.compile(r"([^.\[\]]+)|\[\]")


def parse_bool(value: str | bool | None, field: str, default: bool = False) -> bool:
    """Form booleans: ``true``/``false`` (any case), ``1``/``0``; absent means ``default``."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise BadRequest(f"{field} must be true or false")


def parse_metadata(fields: Iterable[tuple[str, str]]) -> dict[str, Any] | None:
    """Metadata from a multipart form, sent either as one JSON ``metadata`` field or
    flattened by SDKs into ``metadata.key=value`` and ``metadata.list[]=value`` fields."""
    whole: str | None = None
    flat: dict[str, Any] = {}
    seen = False
    for name, value in fields:
        if name == "metadata":
            whole = value
        elif name.startswith("metadata.") or name.startswith("metadata["):
            seen = True
            _assign(flat, name[len("metadata") :], value)
    if whole is not None:
        if seen:
            raise BadRequest("Send metadata either as JSON or as metadata.* fields, not both")
        if not whole.strip():
            return {}
        parsed = client_json.loads(whole, "metadata")
        if not isinstance(parsed, dict):
            raise BadRequest("metadata must be a JSON object")
        return parsed
    return flat if seen else None


def _assign(target: dict[str, Any], path: str, value: str) -> None:
    """Set ``value`` at a flattened path such as ``.a.b``, ``.a[]`` or ``[a][b]``."""
    tokens = [m.group(1) for m in _SEGMENT.finditer(path.lstrip("."))]
    if not tokens or tokens[0] is None:
        raise BadRequest("Malformed metadata field name")
    node: Any = target
    for index, token in enumerate(tokens):
        last = index == len(tokens) - 1
        if token is None:  # "[]": append to a list
            if not isinstance(node, list) or not last:
                raise BadRequest("Malformed metadata field name")
            node.append(value)
            return
        if not isinstance(node, dict):
            raise BadRequest("Conflicting metadata fields")
        if last:
            if token in node:
                raise BadRequest("Repeated metadata field")
            node[token] = value
            return
        following_is_list = tokens[index + 1] is None
        node = node.setdefault(token, [] if following_is_list else {})
