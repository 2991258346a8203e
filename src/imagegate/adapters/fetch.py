"""Upload by URL: fetch an image without letting the URL reach into imagegate's own network.

Each hop (the URL, then every redirect, at most ``max_redirects``) is checked from scratch
before a byte is sent: a strict parse (``http``/``https``; IPv4 literals only in canonical
dotted form, since ``127.1`` or ``0x7f.1`` read as addresses to WHATWG and ``inet_aton``), the
port, then ONE resolution whose every address must be public (:func:`blocked_reason`). The
socket then goes to a checked address (:class:`_PinnedBackend`) while httpcore keeps the
original name for ``Host``, SNI and certificate verification, so DNS rebinding has no second
lookup to poison. One total deadline clamps every socket operation; the body is counted as
it streams.

Allowlist entries are origins (``http://10.0.0.5:8080``: exact scheme, host and port, which
admits that port and every address of that host) or address ranges (``10.0.0.0/8``,
``fd00::/8``, ``10.0.0.5``: admits those addresses, on the allowed ports only).
URL credentials (``https://user:pass@host/x``, as Cloudflare accepts) go as Basic auth to
that origin only. Every refusal raises the same :class:`FetchRefused`; the reason is logged
to ``imagegate.fetch`` (without query or credentials). Past ``max_bytes``: ``PayloadTooLarge``.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin

import httpcore

from imagegate.core.errors import BadRequest, PayloadTooLarge
from imagegate.core.url_guard import (
    IPAddress,
    IPNetwork,
    Refused,
    Target,
    blocked_reason,
    parse_target,
)

log = logging.getLogger("imagegate.fetch")

Resolver = Callable[[str, int], list[str]]

REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = b"imagegate-url-fetch/1"


class FetchRefused(BadRequest):
    """One answer for every reason a URL could not be fetched: no oracle for the caller."""

    message = "The image could not be fetched from the URL"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    allowed_ports: frozenset[int] = frozenset({80, 443})
    allowlist: tuple[str, ...] = ()
    max_bytes: int = 10 * 1024 * 1024
    connect_timeout: float = 5.0
    total_timeout: float = 20.0
    max_redirects: int = 3
    ca_file: str | None = None  # PEM bundle to trust; default: certifi's (as httpx does)
    _origins: frozenset[tuple[str, str, int]] = field(
        init=False, repr=False, compare=False, default=frozenset()
    )
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        """Parse the allowlist once; a malformed entry is a configuration error (ValueError)."""
        origins: set[tuple[str, str, int]] = set()
        networks: list[IPNetwork] = []
        for entry in self.allowlist:
            if "://" in entry:
                try:
                    target = parse_target(entry)
                except Refused as exc:
                    raise ValueError(f"allowlist entry {entry!r}: {exc.reason}") from None
                if target.credentials is not None or target.target != "/":
                    raise ValueError(f"allowlist entry {entry!r}: an origin has no path or user")
                origins.add(target.origin)
            else:
                networks.append(ipaddress.ip_network(entry, strict=True))
        if not all(0 < port < 65536 for port in self.allowed_ports):
            raise ValueError("allowed_ports must be TCP ports")
        object.__setattr__(self, "_origins", frozenset(origins))
        object.__setattr__(self, "_networks", tuple(networks))


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` gives for ``host``, in its order, without repeats."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


# --- admission ------------------------------------------------------------------------------


def _admit(
    target: Target, policy: FetchPolicy, resolver: Resolver, deadline: float
) -> list[IPAddress]:
    """The checked addresses to connect to, or :class:`Refused`."""
    deliberate = target.origin in policy._origins
    if not deliberate and target.port not in policy.allowed_ports:
        raise Refused(f"port {target.port} not allowed")
    if target.literal is not None:
        addresses: list[IPAddress] = [target.literal]
    elif not deliberate and (target.host == "localhost" or target.host.endswith(".localhost")):
        raise Refused("a localhost name")
    else:
        addresses = _resolve(resolver, target.host, target.port, deadline, policy.connect_timeout)
    if not deliberate:
        for ip in addresses:
            reason = blocked_reason(ip)
            if reason and not any(ip.version == n.version and ip in n for n in policy._networks):
                raise Refused(f"{target.host} -> {ip}: {reason}")
    return addresses


def _resolve(
    resolver: Resolver, host: str, port: int, deadline: float, limit: float
) -> list[IPAddress]:
    """Call ``resolver`` once, in a thread so that a hung lookup cannot outlive the deadline."""
    box: list[list[str] | Exception] = []

    def run() -> None:
        try:
            box.append(resolver(host, port))
        except Exception as exc:
            box.append(exc)

    thread = threading.Thread(target=run, name="imagegate-resolve", daemon=True)
    thread.start()
    thread.join(max(0.0, min(limit, deadline - time.monotonic())))
    if not box:
        raise Refused(f"DNS lookup of {host} timed out")
    answer = box[0]
    if isinstance(answer, Exception):
        raise Refused(f"DNS lookup of {host} failed: {answer}")
    try:
        addresses = [ipaddress.ip_address(a) for a in answer]
    except ValueError:
        raise Refused(f"resolver gave a non-address for {host}") from None
    if not addresses:
        raise Refused(f"no address for {host}")
    return addresses


# --- transport ------------------------------------------------------------------------------


def _budget(deadline: float, cap: float | None, timeout: type[Exception]) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise timeout("total time limit reached")
    return left if cap is None else min(cap, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation ends by the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _budget(self._deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _budget(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        limit = _budget(self._deadline, timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, limit), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Opens connections for one checked origin, to its checked addresses only."""

    def __init__(self, target: Target, addresses: list[IPAddress], deadline: float) -> None:
        self._origin = (target.host, target.port)
        self._addresses, self._deadline = addresses, deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if (host, port) != self._origin:
            raise httpcore.ConnectError("connection to an origin that was not checked")
        error: Exception = httpcore.ConnectError("no address")
        for ip in self._addresses:
            limit = _budget(self._deadline, timeout, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(str(ip), port, limit, None, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are never used")


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _get(
    target: Target,
    addresses: list[IPAddress],
    credentials: tuple[str, str] | None,
    policy: FetchPolicy,
    deadline: float,
) -> bytes | str:
    """One GET: the body of a 2xx, or the ``Location`` of a redirect."""
    headers = [
        (b"Host", target.netloc.encode("ascii")),
        (b"User-Agent", USER_AGENT),
        (b"Accept", b"image/*,*/*;q=0.5"),
        (b"Accept-Encoding", b"identity"),
        (b"Connection", b"close"),
    ]
    if credentials is not None:
        token = base64.b64encode(":".join(credentials).encode("utf-8"))
        headers.append((b"Authorization", b"Basic " + token))
    url = httpcore.URL(
        scheme=target.scheme, host=target.host, port=target.port, target=target.target
    )
    timeouts = dict.fromkeys(("read", "write", "pool"), policy.total_timeout)
    extensions = {"timeout": {**timeouts, "connect": policy.connect_timeout}}
    tls = None  # built for https only; certifi's roots unless ca_file is set, as httpx does
    if target.scheme == "https" and policy.ca_file is not None:
        tls = ssl.create_default_context(cafile=policy.ca_file)
    elif target.scheme == "https":
        tls = httpcore.default_ssl_context()
    backend = _PinnedBackend(target, addresses, deadline)
    errors = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, OSError)
    try:
        with (
            httpcore.ConnectionPool(ssl_context=tls, network_backend=backend, retries=0) as pool,
            pool.stream("GET", url, headers=headers, extensions=extensions) as response,
        ):
            location = _header(response.headers, b"location")
            if response.status in REDIRECTS and location is not None:
                return location.decode("utf-8")
            if not 200 <= response.status < 300:
                raise Refused(f"HTTP status {response.status}")
            declared = _header(response.headers, b"content-length") or b""
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise PayloadTooLarge.over(policy.max_bytes)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_stream():
                size += len(chunk)
                if size > policy.max_bytes:
                    raise PayloadTooLarge.over(policy.max_bytes)
                chunks.append(chunk)
            return b"".join(chunks)
    except (*errors, httpcore.UnsupportedProtocol, UnicodeDecodeError) as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from None


# --- the use case ---------------------------------------------------------------------------


def fetch(url: str, policy: FetchPolicy, resolver: Resolver = system_resolver) -> tuple[bytes, str]:
    """Return ``(body, filename from the URL path)``; blocking, so run it in a worker thread.

    Raises :class:`FetchRefused` (400) for every refusal and
    :class:`~imagegate.core.errors.PayloadTooLarge` (413) past ``policy.max_bytes``.
    """
    deadline = time.monotonic() + policy.total_timeout
    where = "<unparsed URL>"
    try:
        target = parse_target(url)
        filename = _filename(target)
        credentials, owner = target.credentials, target.origin
        for _ in range(policy.max_redirects + 1):
            where = target.for_log
            addresses = _admit(target, policy, resolver, deadline)
            sent = credentials if target.origin == owner else None
            result = _get(target, addresses, sent, policy, deadline)
            if isinstance(result, bytes):
                return result, filename
            try:
                joined = urljoin(target.url, result)
            except ValueError:
                raise Refused("unparseable redirect target") from None
            target = parse_target(joined)
            if target.credentials is not None:
                credentials, owner = target.credentials, target.origin
        raise Refused(f"more than {policy.max_redirects} redirects")
    except Refused as refusal:
        log.warning("URL fetch refused: %s [%s]", refusal.reason, where)
        raise FetchRefused() from None


def _filename(target: Target) -> str:
    name = unquote(target.target.split("?", 1)[0].rsplit("/", 1)[-1])
    return "".join(c for c in name if c.isprintable() and c not in "/\\")[:255]


class Fetcher:
    """The :class:`~imagegate.usecases.ports.UrlFetcher` port: :func:`fetch` under one policy."""

    def __init__(self, policy: FetchPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolver = resolver

    def fetch(self, url: str) -> tuple[bytes, str]:
        return fetch(url, self.policy, self.resolver)
