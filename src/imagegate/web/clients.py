"""Who is asking: the client's address, as seen through the reverse proxies the operator
trusts (``IMAGEGATE_TRUSTED_PROXIES``).

A request that comes straight from a client is known by its peer address. A request from a
trusted proxy is known by the address that proxy put in ``X-Forwarded-For``: the header is
read from the right, skipping trusted proxies, and the first address that is not one of
them is the client (anything left of it was written by the client and proves nothing).
Without trusted proxies the header is never read, so a client cannot choose its address.

IPv6 clients are known by their /64 network: one host holds a whole /64.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"


def parse_proxies(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.0/8``); raises ``ValueError`` naming a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or network: {entry.strip()!r}") from None
    return tuple(networks)


def client_key(peer: str | None, forwarded_for: str | None, proxies: tuple[Network, ...]) -> str:
    """The address a request is throttled under (a /64 for IPv6)."""
    address = _address(peer)
    if address is None:
        return UNKNOWN
    if proxies and forwarded_for and _trusted(address, proxies):
        for item in reversed(forwarded_for.split(",")):
            hop = _address(item.strip())
            if hop is None:
                break  # a malformed hop: the last good one stands
            address = hop
            if not _trusted(hop, proxies):
                break
    return _key(address)


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def _key(address: Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
