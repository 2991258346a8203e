"""Signed delivery URLs, byte-compatible with Cloudflare's "Serve private images" scheme.

The string to sign is the URL's path, ``?``, and its query without the ``sig`` pair; the
signature is the lowercase hex HMAC-SHA256 of that string under the key's UTF-8 bytes.

This module is pure and uses the standard library only, so a backend can copy it alone:

* :func:`verify` checks a request as received (raw path and raw query bytes, never decoded
  and re-encoded) against a set of keys at a given ``now``. It never raises on any input and
  never reads the clock.
* :func:`sign_url` produces exactly the URL the seed's JavaScript signer produces (WHATWG
  ``URL`` and ``URLSearchParams`` rules), except that it drops a stale ``sig`` instead of
  signing it. It reads the clock only when neither ``now`` nor ``exp`` is given.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Outcome", "Policy", "Verdict", "sign_path", "sign_url", "verify"]

_LOWER_HEX = b"0123456789abcdef"
_ARRAY_NAMES = (b"exp[", b"sig[", b"exp%5b", b"sig%5b", b"exp%5B", b"sig%5B")


class Outcome(enum.StrEnum):
    """Why a signature was accepted or refused. Goes to logs and metrics, never to clients."""

    OK = "ok"
    MISSING = "missing"  # no sig, or no exp where an expiry is required
    MALFORMED = "malformed"  # bad sig/exp syntax, repeated or array-style parameters
    BAD = "bad"  # well formed, but no key produces this signature
    EXPIRED = "expired"  # signature good, now is past exp (+ skew)
    TOO_LONG = "too_long"  # signature good, exp is further ahead than the allowed lifetime


class Verdict(NamedTuple):
    """The outcome, and which key matched (if one did) and the ``exp`` it carried."""

    outcome: Outcome
    key_name: str | None = None
    exp: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


_MISSING = Verdict(Outcome.MISSING)
_MALFORMED = Verdict(Outcome.MALFORMED)
_BAD = Verdict(Outcome.BAD)


@dataclass(frozen=True, slots=True)
class Policy:
    """Operator choices for verification.

    ``clock_skew``: seconds a URL stays valid past ``exp`` (for clocks of several hosts).
    ``allow_no_expiry``: accept a signed URL that carries no ``exp`` at all.
    ``max_lifetime``: refuse an ``exp`` more than this many seconds ahead of ``now``.
    """

    clock_skew: int = 0
    allow_no_expiry: bool = False
    max_lifetime: int | None = None


_DEFAULT_POLICY = Policy()


def verify(
    raw_path: bytes,
    raw_query: bytes,
    keys: Iterable[tuple[str, bytes]],
    now: int,
    policy: Policy = _DEFAULT_POLICY,
) -> Verdict:
    """Check the signature of a delivery request.

    ``raw_path`` and ``raw_query`` are the bytes as received (ASGI ``raw_path`` and
    ``query_string``). ``keys`` yields ``(name, key_bytes)``; every key is tried. The outcome
    is returned, never raised, whatever the input.
    """
    if not raw_query:
        return _MISSING
    sig: bytes | None = None
    exp: bytes | None = None
    kept: list[bytes] = []
    for pair in raw_query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == b"sig":
            if sig is not None:
                return _MALFORMED
            sig = value
            continue
        if name == b"exp":
            if exp is not None:
                return _MALFORMED
            exp = value
        elif name.startswith(_ARRAY_NAMES):
            return _MALFORMED
        kept.append(pair)
    if sig is None:
        return _MISSING
    # Strict syntax before any parsing: sig is 64 lowercase hex digits, exp 1-12 ASCII digits
    # (``bytes.isdigit`` is ASCII-only; ``int()`` on text would take Unicode digits, signs,
    # spaces and underscores).
    if len(sig) != 64 or sig.strip(_LOWER_HEX):
        return _MALFORMED
    if exp is None:
        if not policy.allow_no_expiry:
            return _MISSING
    elif not (0 < len(exp) <= 12 and exp.isdigit()):
        return _MALFORMED

    message = raw_path + b"?" + b"&".join(kept) if kept else raw_path
    expected = bytes.fromhex(sig.decode("ascii"))
    matched: str | None = None
    for key_name, key in keys:
        if hmac.compare_digest(hmac.digest(key, message, "sha256"), expected):
            matched = key_name
            break
    if matched is None:
        return _BAD
    if exp is None:
        return Verdict(Outcome.OK, matched)
    expires = int(exp)
    if now > expires + policy.clock_skew:
        return Verdict(Outcome.EXPIRED, matched, expires)
    if policy.max_lifetime is not None and expires - now > policy.max_lifetime:
        return Verdict(Outcome.TOO_LONG, matched, expires)
    return Verdict(Outcome.OK, matched, expires)


# --- Signing --------------------------------------------------------------------------------

_FORM_SAFE = frozenset(b"*-._0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# WHATWG path percent-encode set, beyond C0 controls and non-ASCII: space " # < > ? ` { }
_PATH_UNSAFE = frozenset(b' "#<>?`{}')
_HEX = re.compile(rb"%[0-9A-Fa-f]{2}")
_SINGLE_DOT = {".", "%2e"}
_DOUBLE_DOT = {"..", ".%2e", "%2e.", "%2e%2e"}
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = {ord("\t"): None, ord("\n"): None, ord("\r"): None}


def sign_url(
    url: str,
    key: str | bytes,
    expires_in: int | None = 86400,
    *,
    now: float | None = None,
    exp: int | None = None,
) -> str:
    """Return ``url`` with ``exp`` and ``sig`` set, as the seed's Worker would write it.

    ``url`` is a full URL or a path starting with ``/``. ``exp`` defaults to
    ``now + expires_in`` (``now`` defaults to the clock). ``expires_in=None`` with no ``exp``
    makes a non-expiring URL, which a server accepts only if its operator allows them.
    Any ``exp`` already present is replaced where it stands (dropped for a non-expiring URL);
    any ``sig`` is dropped first.
    """
    if exp is None and expires_in is not None:
        exp = int(time.time() if now is None else now) + expires_in
    url = url.strip(_C0_AND_SPACE).translate(_TAB_NEWLINE)
    origin, rest = _split_origin(url)
    rest, hash_mark, fragment = rest.partition("#")
    raw_path, _, raw_query = rest.partition("?")
    path = _normalise_path(
        raw_path or "/", special=origin.startswith(("http:", "https:")) or not origin
    )

    pairs = [p for p in _parse_form(raw_query) if p[0] != "sig"]
    if exp is not None:
        pairs = _set_param(pairs, "exp", str(exp))
    else:
        pairs = [p for p in pairs if p[0] != "exp"]
    query = _serialise_form(pairs)
    message = f"{path}?{query}" if query else path
    key_bytes = key.encode("utf-8") if isinstance(key, str) else key
    sig = hmac.new(key_bytes, message.encode("utf-8"), hashlib.sha256).hexdigest()
    query = f"{query}&sig={sig}" if query else f"sig={sig}"
    return f"{origin}{path}?{query}{hash_mark}{fragment}"


def sign_path(path_and_query: str, key: str | bytes, exp: int | None) -> str:
    """Sign a delivery path (``/<hash>/<id>/<variant>[?query]``) for a given ``exp``."""
    return sign_url(path_and_query, key, None, exp=exp)


def _split_origin(url: str) -> tuple[str, str]:
    """Split ``scheme://authority`` (normalised) from the rest; ``""`` for a bare path."""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):(//)?([^/?#\\]*)", url)
    if match is None or url.startswith("/"):
        return "", url
    scheme = match.group(1).lower()
    authority = match.group(3)
    userinfo, at, hostport = authority.rpartition("@")
    host, colon, port = (
        hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
    )
    if not colon:
        host, port = hostport, ""
    if port and port == _DEFAULT_PORTS.get(scheme):
        port = ""
    hostport = host.lower() + (f":{port}" if port else "")
    return f"{scheme}://{userinfo}{at}{hostport}", url[match.end() :]


def _normalise_path(path: str, *, special: bool) -> str:
    """WHATWG path parsing: backslashes, dot segments, and the path percent-encode set."""
    if special:
        path = path.replace("\\", "/")
    out: list[str] = []
    segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        lowered = segment.lower()
        if lowered in _DOUBLE_DOT:
            if out:
                out.pop()
            if last:
                out.append("")
        elif lowered in _SINGLE_DOT:
            if last:
                out.append("")
        else:
            out.append(_encode_path_segment(segment))
    return "/" + "/".join(out)


def _encode_path_segment(segment: str) -> str:
    data = segment.encode("utf-8")
    if all(0x20 < b < 0x7F and b not in _PATH_UNSAFE for b in data):
        return segment
    return "".join(
        chr(b) if 0x20 < b < 0x7F and b not in _PATH_UNSAFE else f"%{b:02X}" for b in data
    )


def _parse_form(query: str) -> list[tuple[str, str]]:
    """The application/x-www-form-urlencoded parser of the URL standard."""
    pairs: list[tuple[str, str]] = []
    for chunk in query.split("&"):
        if not chunk:
            continue
        name, _, value = chunk.partition("=")
        pairs.append((_form_decode(name), _form_decode(value)))
    return pairs


def _form_decode(text: str) -> str:
    data = text.replace("+", " ").encode("utf-8")
    decoded = _HEX.sub(lambda m: bytes([int(m.group(0)[1:], 16)]), data)
    return decoded.decode("utf-8", errors="replace")


def _serialise_form(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{_form_encode(name)}={_form_encode(value)}" for name, value in pairs)


def _form_encode(text: str) -> str:
    return "".join(
        chr(b) if b in _FORM_SAFE else "+" if b == 0x20 else f"%{b:02X}"
        for b in text.encode("utf-8")
    )


def _set_param(pairs: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    """``URLSearchParams.set``: replace the first ``name`` in place, drop the others."""
    out: list[tuple[str, str]] = []
    done = False
    for pair in pairs:
        if pair[0] != name:
            out.append(pair)
        elif not done:
            out.append((name, value))
            done = True
    if not done:
        out.append((name, value))
    return out
