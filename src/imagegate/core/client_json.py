"""JSON that clients send, read strictly. Pure.

Everything a client sends as JSON (API request bodies, the ``metadata`` form field) is read
with :func:`loads`, and every JSON value imagegate keeps passes :func:`check`, so that what
is stored can always be written back out, by Python, by SQLite and by PostgreSQL alike:

- no ``NaN``, ``Infinity`` or ``-Infinity``: they are not JSON, PostgreSQL refuses them, and
  Python would write them back as text no JSON reader takes;
- integers within 64 bits (what SQLite's JSON keeps exactly; Python refuses to read more than
  4,300 digits at all), other numbers finite (``1e400`` would read as infinity);
- at most :data:`MAX_DEPTH` levels of arrays and objects;
- no key repeated in an object (which of the two would count?);
- strings, keys included, of Unicode characters only, and no NUL: a lone surrogate such as
  ``"\\ud800"`` cannot be encoded as UTF-8, and PostgreSQL's JSONB takes neither.

A value that breaks a rule is refused with :class:`~imagegate.core.errors.BadRequest`, never
stored, so no answer that later holds it can fail.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from imagegate.core.errors import BadRequest

MAX_DEPTH = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
#: The digits an integer within 64 bits may have (with its sign).
_INT_CHARS = 20
#: Characters no stored string may hold: NUL, and the UTF-16 surrogates.
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


class _Refused(Exception):
    """A rule broken while parsing; its message is safe to show."""


def loads(text: str | bytes, what: str = "The body") -> Any:
    """Parse ``text`` (UTF-8 if bytes) by the rules above; ``what`` names it in errors."""
    try:
        value = json.loads(
            text,
            parse_constant=_constant,
            parse_int=_integer,
            parse_float=_number,
            object_pairs_hook=_object,
        )
    except _Refused as exc:
        raise BadRequest(f"{what}: {exc}") from None
    except RecursionError:
        raise BadRequest(f"{what}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:  # JSONDecodeError, and bytes that are not UTF-8
        raise BadRequest(f"{what} is not valid JSON") from None
    check(value, what)
    return value


def check(value: Any, what: str = "The value") -> None:
    """Refuse a value that breaks a rule above (or that is not JSON at all), whatever
    produced it: parsed JSON, flattened form fields, or a caller's dictionary."""
    problem = _problem(value)
    if problem is not None:
        raise BadRequest(f"{what}: {problem}")


def _problem(value: Any) -> str | None:
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            if depth >= MAX_DEPTH:
                return f"nested more than {MAX_DEPTH} levels deep"
            for key, inner in item.items():
                if not isinstance(key, str):
                    return "object keys must be strings"
                if _FORBIDDEN.search(key):
                    return "strings must not contain NUL characters or lone surrogates"
                pending.append((inner, depth + 1))
        elif isinstance(item, list):
            if depth >= MAX_DEPTH:
                return f"nested more than {MAX_DEPTH} levels deep"
            pending.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            if _FORBIDDEN.search(item):
                return "strings must not contain NUL characters or lone surrogates"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                return "integers must fit in 64 bits"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "numbers must be finite"
        else:
            return "only JSON values are accepted"
    return None


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    if len(text) > _INT_CHARS:
        raise _Refused("integers must fit in 64 bits")
    number = int(text)
    if not INT_MIN <= number <= INT_MAX:
        raise _Refused("integers must fit in 64 bits")
    return number


def _number(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused("numbers must be finite")
    return number


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("a key is repeated in an object")
    return result


__all__ = ["MAX_DEPTH", "check", "loads"]
