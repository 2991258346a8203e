"""Which URLs and addresses an upload-by-URL may reach. Pure: no sockets, no DNS.

:func:`parse_target` reads a URL strictly (``http``/``https`` only; IPv4 literals only in
canonical dotted form, since ``127.1``, ``0x7f.1`` and ``2130706433`` read as addresses to
WHATWG parsers and ``inet_aton``); :func:`blocked_reason` says why an address is not public
(loopback, private, link-local, CGNAT, multicast, reserved, and IPv6 forms that embed such
an IPv4 address). Refusals raise :class:`Refused` with the reason, for the log only.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(Exception):
    """Internal: the precise reason, for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- addresses ------------------------------------------------------------------------------


# The IANA special-purpose registries, explicitly: ``is_global`` alone misses some of these
# on older Pythons (CVE-2024-4032) and calls multicast global.
_BLOCKED_V4 = tuple(
    (ipaddress.IPv4Network(net), why)
    for net, why in (
        ("0.0.0.0/8", "this network / unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local / cloud metadata"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved / broadcast"),
    )
)
# IPv6 must be global unicast (2000::/3: not ::, ::1, fc00::/7, fe80::/10, ff00::/8 ...),
# and not one of its special blocks.
_BLOCKED_V6 = tuple(
    (ipaddress.IPv6Network(net), why)
    for net, why in (
        ("2001::/23", "IETF protocol assignments (Teredo, ORCHID, benchmarking)"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
    )
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched from, or ``None`` for a public unicast address.

    IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``,
    6to4 ``2002::/16``) are judged by the IPv4 address inside; Teredo is refused whole.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "scoped IPv6 address"
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            reason = blocked_reason(inner)
            return None if reason is None else f"{reason} (inside {ip})"
        if ip not in _GLOBAL_UNICAST:
            return "loopback" if ip.is_loopback else "not global unicast"
        for net6, why in _BLOCKED_V6:
            if ip in net6:
                return why
    else:
        for net4, why in _BLOCKED_V4:
            if ip in net4:
                return why
    return None if ip.is_global else "not globally routable"


# --- URLs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # lowercase name, or an address in canonical text (IPv6 without brackets)
    port: int
    target: str  # path and query, ASCII
    literal: IPAddress | None
    credentials: tuple[str, str] | None

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.target}"

    @property
    def for_log(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.target.split('?', 1)[0]}"


_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):(.*)", re.S)
_HOSTNAME = re.compile(r"[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*")
_NUMBER = {8: re.compile(r"[0-7]+"), 10: re.compile(r"[0-9]+"), 16: re.compile(r"[0-9a-f]+")}
_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))


def parse_target(url: str) -> Target:
    """Parse ``url`` strictly; raise :class:`Refused` for anything doubtful."""
    if len(url) > 8192:
        raise Refused("URL too long")
    if any(ord(c) < 0x21 or c in "\x7f\\" for c in url):
        raise Refused("space, control character or backslash in the URL")
    match = _SCHEME.fullmatch(url)
    if match is None:
        raise Refused("no scheme")
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme not in DEFAULT_PORTS:
        raise Refused(f"scheme {scheme!r} not allowed")
    if not rest.startswith("//"):
        raise Refused("no authority")
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:].split("#", 1)[0]
    tail = quote(tail if tail.startswith("/") else "/" + tail, safe=_PRINTABLE)
    userinfo, at, hostport = authority.rpartition("@")
    credentials = None
    if at:
        user, _, password = userinfo.partition(":")
        credentials = (unquote(user), unquote(password))
    if hostport.startswith("["):
        close = hostport.find("]")
        raw, after = hostport[1:close], hostport[close + 1 :]
        if close < 0 or "%" in raw or (after and not after.startswith(":")):
            raise Refused("malformed IPv6 literal")
        try:
            literal: IPAddress | None = ipaddress.IPv6Address(raw)
        except ValueError:
            raise Refused("malformed IPv6 literal") from None
        host, port_text = str(literal), after[1:]
    else:
        raw, _, port_text = hostport.partition(":")
        host, literal = _normalise_host(raw)
    if port_text and not (_NUMBER[10].fullmatch(port_text) and 0 < int(port_text) < 65536):
        raise Refused(f"bad port {port_text[:12]!r}")
    port = int(port_text) if port_text else DEFAULT_PORTS[scheme]
    return Target(scheme, host, port, tail, literal, credentials)


def _normalise_host(raw: str) -> tuple[str, ipaddress.IPv4Address | None]:
    if not raw.isascii():
        try:
            raw = raw.encode("idna").decode("ascii")
        except UnicodeError:
            raise Refused("host is not a valid internationalised name") from None
    host = raw.lower().removesuffix(".")
    if len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise Refused("host is not a DNS name")
    last = host.rsplit(".", 1)[-1]
    if not (_NUMBER[10].fullmatch(last) or re.fullmatch(r"0x[0-9a-f]*", last)):
        return host, None
    # The WHATWG URL parser (and inet_aton) read this host as an IPv4 address.
    address = _whatwg_ipv4(host)
    if address is None:
        raise Refused("malformed IPv4 literal")
    if str(address) != host:
        raise Refused(f"non-canonical IPv4 literal (reads as {address})")
    return host, address


def _whatwg_ipv4(host: str) -> ipaddress.IPv4Address | None:
    numbers: list[int] = []
    parts = host.split(".")
    for part in parts:
        if part.startswith("0x"):
            digits, base = part[2:], 16
        elif len(part) > 1 and part.startswith("0"):
            digits, base = part[1:], 8
        else:
            digits, base = part, 10
        if digits and not _NUMBER[base].fullmatch(digits):
            return None
        numbers.append(int(digits, base) if digits else 0)
    *head, last = numbers
    if len(parts) > 4 or any(n > 255 for n in head) or last >= 256 ** (5 - len(parts)):
        return None
    return ipaddress.IPv4Address(last + sum(n << (8 * (3 - i)) for i, n in enumerate(head)))
