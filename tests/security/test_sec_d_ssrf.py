"""Security cases D.44-D.54 of spec/security-cases.md: upload from a URL, through the API.

Most of section D is tested where the fetcher is: tests/test_fetch.py (every address
spelling, schemes, ports, DNS answers, rebinding, redirects per hop, size and time limits,
TLS) and tests/test_upload_url.py (the same refusals through the API). docs/security.md maps
each case to those tests. Here are the cases they leave open, end to end.

Only loopback receives traffic: the "origin" stub is allowlisted (it plays a public host),
the "internal" stub is not (it plays the metadata service or an intranet host) and must see
nothing. Names are resolved by an injected resolver, never by DNS.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sec_common import Stub, check, launch

from harness import Server, free_port, png
from imagegate.adapters.fetch import FetchPolicy, FetchRefused, fetch

REFUSED = "The image could not be fetched from the URL"
PICTURE = png(40, 30)


@pytest.fixture(scope="module")
def internal() -> Iterator[Stub]:
    stub = Stub({"/secret.png": (200, {"Content-Type": "image/png"}, PICTURE)})
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def origin(internal: Stub) -> Iterator[Stub]:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9">'
        f'<image href="{internal.origin}/secret.png" width="9" height="9"/>'
        f'<use href="{internal.origin}/s.svg#a"/>'
        f'<rect width="9" height="9" style="fill:url({internal.origin}/css)"/></svg>'
    ).encode()

    def to(location: str, status: int = 302) -> tuple[int, dict[str, str], bytes]:
        return status, {"Location": location}, b""

    stub = Stub(
        {
            "/img.png": (200, {"Content-Type": "image/png"}, PICTURE),
            "/r": to("/img.png"),
            "/to-internal": to(f"{internal.origin}/secret.png"),
            "/to-internal-307": to(f"{internal.origin}/secret.png", 307),
            "/to-internal-303": to(f"{internal.origin}/secret.png", 303),
            "/to-metadata": to("http://169.254.169.254/latest/meta-data/"),
            "/to-file": to("file:///etc/passwd"),
            "/to-gopher": to(f"gopher://127.0.0.1:{internal.port}/_x"),
            "/loop": to("/loop"),
            "/page.html": (200, {"Content-Type": "text/html"}, b"<html><script>1</script>"),
            "/flood.png": (200, {"Content-Type": "image/png"}, PICTURE + b"\0" * 11_000_000),
            "/bomb.png": (200, {"Content-Type": "image/png"}, pixel_flood()),
            "/drawing.svg": (200, {"Content-Type": "image/svg+xml"}, svg),
            "/missing": (404, {}, b"not here"),
        }
    )
    stub.routes["/chain"] = to(f"{stub.origin}/to-internal")
    yield stub
    stub.close()


def pixel_flood() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", 65535, 65535, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def closed_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def fetching(
    tmp_path_factory: pytest.TempPathFactory, origin: Stub, internal: Stub, closed_port: int
) -> Iterator[Server]:
    """A server that trusts only ``origin`` (and a closed port), and allows the internal
    stub's port, so that only the address rules stand between a URL and it."""
    with launch(
        tmp_path_factory.mktemp("ssrf") / "data",
        fetch_allowlist=f"{origin.origin},http://127.0.0.1:{closed_port}",
        fetch_allowed_ports=f"80,443,{internal.port},{origin.port}",
        fetch_timeout=5,
    ) as srv:
        yield srv


def by_url(srv: Server, url: str, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {srv.api_token}", **headers}
    with httpx.Client(timeout=30, trust_env=False) as c:  # no proxy for the test's own calls
        return c.post(srv.images_url, data={"url": url}, headers=auth)


def refused(r: httpx.Response, srv: Server) -> None:
    check(r, srv)
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [{"code": 5400, "message": REFUSED}]


def count_images(srv: Server) -> int:
    with srv.client() as c:
        return int(c.get(f"{srv.images_url}/stats").json()["result"]["count"]["current"])


def test_d48_redirects_are_checked_before_each_hop(
    fetching: Server, origin: Stub, internal: Stub
) -> None:
    """D.48: a trusted origin redirecting inward (302, 303, 307; to the metadata address;
    through a chain; to file: or gopher:), or in a loop, is refused, and the internal host
    never receives a request. A redirect within the trusted origin is followed."""
    before = len(internal.hits)
    for path in (
        "/to-internal",
        "/to-internal-303",
        "/to-internal-307",
        "/to-metadata",
        "/chain",
        "/to-file",
        "/to-gopher",
        "/loop",
    ):
        started = time.monotonic()
        refused(by_url(fetching, f"{origin.origin}{path}"), fetching)
        assert time.monotonic() - started < 3, path
    assert len(internal.hits) == before
    assert [p for p, _ in origin.hits].count("/loop") == 4  # the URL and three redirects
    r = by_url(fetching, f"{origin.origin}/r")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "template",
    [
        "http://{internal}\\@{origin}/img.png",
        "http://{origin}\\@{internal}/secret.png",
        "http://{origin}@{internal}/secret.png",
        "http://{internal}/secret.png#@{origin}",
        " http://{internal}/secret.png",
        "http://{internal}\t/secret.png",
        "http://127.0.0.1%0d%0a:{internal_port}/secret.png",
        "http://127.0.0.1%2509:{internal_port}/secret.png",
        "HTTP://{internal}/secret.png",
        "http:/{internal}/secret.png",
        "http:\\\\{internal}\\secret.png",
        "//{internal}/secret.png",
    ],
)
def test_d49_parser_differentials_reach_nothing_internal(
    fetching: Server, origin: Stub, internal: Stub, template: str
) -> None:
    """D.49: the URL that is checked is the URL that is fetched: backslashes, ``@`` games,
    fragments, whitespace and control characters all end in the one 400, with the internal
    host untouched."""
    before = len(internal.hits)
    url = template.format(
        internal=f"127.0.0.1:{internal.port}",
        origin=f"127.0.0.1:{origin.port}",
        internal_port=internal.port,
    )
    refused(by_url(fetching, url), fetching)
    assert len(internal.hits) == before


def test_d49_fullwidth_number_sign_is_no_delimiter(
    fetching: Server, origin: Stub, internal: Stub
) -> None:
    """D.49: a fullwidth number sign (U+FF03) is no delimiter, for imagegate as for WHATWG:
    in ``http://<internal>\uff03@<origin>/`` the host is the trusted origin (the rest is
    userinfo), and that is where the request goes. Nothing is NFKC-normalised, so the
    look-alike never turns into a ``#`` that would make the internal host the target."""
    before, seen = len(internal.hits), len(origin.hits)
    url = f"http://127.0.0.1:{internal.port}\uff03@127.0.0.1:{origin.port}/img.png"
    r = by_url(fetching, url)
    check(r, fetching)
    assert r.status_code == 200, r.text
    assert len(internal.hits) == before and len(origin.hits) == seen + 1


def test_d50_allowlist_entries_match_whole_origins(origin: Stub) -> None:
    """D.50: with ``http://img.test:<port>`` allowlisted, look-alike hosts, a userinfo
    prefix, the origin in a query, or another port are not that origin. Every name resolves
    to loopback here, so anything admitted would have reached the stub."""

    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    port = origin.port
    policy = FetchPolicy(allowlist=(f"http://img.test:{port}",), allowed_ports=frozenset({port}))
    before = len(origin.hits)
    for url in (
        f"http://img.test.evil.test:{port}/img.png",
        f"http://evilimg.test:{port}/img.png",
        f"http://evil.test:{port}/?u=http://img.test:{port}/img.png",
        f"http://img.test@evil.test:{port}/img.png",
        f"http://img.test:{port}@evil.test:{port}/img.png",
        f"https://img.test:{port}/img.png",
        f"http://img.test:{port + 1}/img.png",
        f"http://IMG.test.:{port}x/img.png",
    ):
        with pytest.raises(FetchRefused):
            fetch(url, policy, resolver)
    assert len(origin.hits) == before
    assert fetch(f"http://IMG.test.:{port}/img.png", policy, resolver)[0] == PICTURE


def test_d51_every_refusal_looks_the_same(
    fetching: Server, origin: Stub, internal: Stub, closed_port: int
) -> None:
    """D.51: blocked address, refused port, localhost name, connection refused, upstream
    404, redirect inward: one body, no status, address or reason, and no slow path."""
    answers = set()
    for url in (
        f"http://127.0.0.1:{internal.port}/secret.png",
        "http://10.0.0.1:6379/",
        "http://imagegate.localhost/x.png",
        f"http://127.0.0.1:{closed_port}/x.png",
        f"{origin.origin}/missing",
        f"{origin.origin}/to-internal",
        "http://[::ffff:169.254.169.254]/latest/",
    ):
        started = time.monotonic()
        r = by_url(fetching, url)
        assert time.monotonic() - started < 3, url
        refused(r, fetching)
        for detail in ("127.0.0.1", "169.254", "refused", "404", "localhost", str(closed_port)):
            assert detail not in r.text
        answers.add(r.text)
    assert len(answers) == 1


def test_d52_remote_content_is_validated_and_nothing_is_stored(
    fetching: Server, origin: Stub
) -> None:
    """D.52: HTML (415), a body past the size limit counted on the stream (413), and a
    pixel flood (422) from a trusted origin store nothing."""
    images = count_images(fetching)
    blobs = sorted((fetching.data_dir / "blobs").rglob("*"))
    for path, status in (("/page.html", 415), ("/flood.png", 413), ("/bomb.png", 422)):
        r = by_url(fetching, f"{origin.origin}{path}")
        check(r, fetching)
        assert r.status_code == status, (path, r.text)
    assert count_images(fetching) == images
    assert sorted((fetching.data_dir / "blobs").rglob("*")) == blobs


def test_d53_an_svg_fetched_by_url_fetches_nothing_more(
    fetching: Server, origin: Stub, internal: Stub
) -> None:
    """D.53: there are no secondary fetches (no watermarks, overlays, remote profiles or
    webhooks); an SVG's references are removed before anything renders it."""
    before = len(internal.hits)
    r = by_url(fetching, f"{origin.origin}/drawing.svg")
    assert r.status_code == 200, r.text
    image_id = r.json()["result"]["id"]
    served = httpx.get(f"{fetching.base_url}/{fetching.account_hash}/{image_id}/public")
    assert served.status_code == 200 and b"127.0.0.1" not in served.content
    assert len(internal.hits) == before


def test_d54_outbound_requests_carry_nothing_of_the_caller(
    fetching: Server, origin: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D.54: the fetch sends a fixed User-Agent and none of the caller's cookies,
    credentials or forwarding headers, and ignores proxy variables (a proxy configured with
    credentials would receive them)."""
    proxy = Stub()
    try:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, f"http://user:proxy-secret@127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        r = by_url(
            fetching,
            f"{origin.origin}/img.png?n=1",
            Cookie="session=caller-secret",
            **{
                "X-Forwarded-For": "203.0.113.9",
                "X-Forwarded-Host": "evil.example",
                "X-Real-IP": "203.0.113.9",
                "X-Api-Key": "caller-secret",
            },
        )
        assert r.status_code == 200, r.text
        path, headers = origin.hits[-1]
        assert path == "/img.png?n=1"
        sent = {k.lower(): v for k, v in headers.items()}
        assert sent["user-agent"] == "imagegate-url-fetch/1"
        for name in ("cookie", "authorization", "x-forwarded-for", "x-forwarded-host"):
            assert name not in sent
        assert "caller-secret" not in str(headers) and fetching.api_token not in str(headers)
        assert proxy.hits == []
    finally:
        proxy.close()
