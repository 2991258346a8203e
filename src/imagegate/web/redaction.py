"""What never reaches a log line: credentials in query strings, paths and messages. Pure.

A request's query is logged with the value of every parameter whose *name* looks like a
credential replaced by ``REDACTED``: any name holding ``token``, ``secret``, ``passw``,
``pwd``, ``key``, ``sig``, ``credential``, ``auth``, ``session``, ``jwt``, ``cookie``,
``bearer`` or ``csrf``, in any case (``sig``, ``access_token``, ``api_key``, ``X-Amz-Signature``,
``password``...), also when the name is percent-encoded (``%73ig``, ``t%6Fken``, even twice).
A value that holds an imagegate API token (``igt_...``), or that decodes to a ``Bearer``
credential or to a query carrying a credential (``next=%2Fdashboard%3Ftoken%3D...``), is
redacted whatever its name.
A path loses the secret of a direct-upload URL (``/upload/<secret>``, however many slashes,
in any case, under ``/client/v4`` too).

Both run for every request's access-log line, so the common case stays one regular
expression in C: a query with no ``%`` and no ``igt_`` is redacted by a single ``sub``; only
a query with percent-encoding takes a second pass that looks at each pair in Python. The
same query comes again and again (a page's signed image URLs, asked by every visitor), so
the last few thousand answers are remembered.

:class:`RedactingFormatter` is the net under every other log line (warnings, errors and
their tracebacks): it rewrites the formatted text, taking out credential-named pairs,
``Bearer`` credentials, API tokens, upload secrets, 64-hex signatures and 44-character
signing-key values wherever they appear.
"""

from __future__ import annotations

import functools
import logging
import re
from urllib.parse import unquote_plus

REDACTED = "REDACTED"
_WORDS = b"token|secret|passw|pwd|key|sig|credential|auth|session|jwt|cookie|bearer|csrf"
#: Pairs (after ``&``, ``;``, ``?`` or the start) whose name holds a credential word; ``?``
#: also starts a pair, for a URL carried unencoded in a value (``next=/x?token=...``).
_PLAIN_PAIR = re.compile(rb"(^|[&;?])([^=&;?]*?(?:" + _WORDS + rb")[^=&;?]*)=[^&;?]*", re.I)
_REDACTED_VALUE = b"=" + REDACTED.encode()
_CREDENTIAL_NAME = re.compile(_WORDS.decode(), re.I)
_NESTED_PAIR = re.compile(r"(?:^|[?&;#])[^=&;?#]*(?:" + _WORDS.decode() + r")[^=&;?#]*=", re.I)
_API_TOKEN = re.compile(r"igt_[A-Za-z0-9_-]{8,}")
_ANY_PAIR = re.compile(r"(^|[&;?])([^=&;?]*)=([^&;?]*)")
_UPLOAD_SECRET = re.compile(r"^(/+(?:client/+v4/+)?upload/+)[^/]+", re.I)

_TEXT_RULES = (
    (re.compile(r"(?i)\b(bearer)(\s+)[^\s\"',;]+"), r"\1\2" + REDACTED),
    (
        re.compile(r"(?i)([\w.%-]*(?:" + _WORDS.decode() + r")[\w.%-]*)=(?!REDACTED)[^&;\s\"'<>]+"),
        r"\1=" + REDACTED,
    ),
    (_API_TOKEN, "igt_" + REDACTED),
    (re.compile(r"(?i)(/upload/+)[^/\s\"'?]+"), r"\1" + REDACTED),
    (re.compile(r"\b[0-9a-f]{64}\b"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])"), REDACTED),
)


def _plain_redacted(pair: re.Match[bytes]) -> bytes:
    # A function rather than a ``\1\2=`` template, which Python 3.11 expands in Python.
    return pair.group(1) + pair.group(2) + _REDACTED_VALUE


@functools.lru_cache(maxsize=4096)
def redact_query(query: bytes) -> str:
    """The raw query string as it may be logged."""
    if not query:
        return ""
    plain = _PLAIN_PAIR.sub(_plain_redacted, query).decode("latin-1")
    if "%" not in plain and "igt_" not in plain:
        return plain
    return _ANY_PAIR.sub(_redact_encoded, plain)


def _redact_encoded(pair: re.Match[str]) -> str:
    """A pair whose name only decodes to a credential word, or whose value holds a token
    or decodes to a query that carries a credential: its value redacted."""
    whole, name, value = pair.group(0), pair.group(2), pair.group(3)
    if value == REDACTED or ("%" not in whole and "igt_" not in value):
        return whole
    plain = _decoded(value)
    if (
        ("%" in name and _CREDENTIAL_NAME.search(_decoded(name)))
        or _API_TOKEN.search(plain)
        or plain[:7].lower() == "bearer "
        or ("=" in plain and _NESTED_PAIR.search(plain))
    ):
        return f"{pair.group(1)}{name}={REDACTED}"
    return whole


def _decoded(text: str) -> str:
    """``text`` percent-decoded until it stops changing (three rounds at most)."""
    for _ in range(3):
        if "%" not in text and "+" not in text:
            break
        decoded = unquote_plus(text, encoding="latin-1")
        if decoded == text:
            break
        text = decoded
    return text


def redact_path(path: str) -> str:
    """The decoded request path as it may be logged."""
    found = _UPLOAD_SECRET.match(path)
    if found is None:
        return path
    return found.group(1) + REDACTED + path[found.end() :]


def redact_text(text: str) -> str:
    """Free text (a log message, a traceback) with anything credential-like taken out."""
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter that passes each finished line, traceback included, through
    :func:`redact_text`. Lines of ``skip`` loggers (the access log, redacted field by field
    already) are left as they are, so the per-request cost does not grow."""

    def __init__(self, fmt: str | None = None, *, skip: tuple[str, ...] = ()) -> None:
        super().__init__(fmt)
        self.skip = frozenset(skip)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.name in self.skip else redact_text(text)
