"""Upload-by-URL fetching against real sockets (security cases D.44-D.54).

The stand-in for an internal service is a small HTTP server on a loopback port. DNS is the
only thing stubbed (an injected resolver). Every other address that appears here (10.x,
169.254.169.254, public ones) must be refused before any connection: the autouse
``connections`` fixture records every outgoing connection and fails the test if one is
aimed anywhere but loopback.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import free_port, png
from imagegate.adapters.fetch import FetchPolicy, FetchRefused, blocked_reason, fetch
from imagegate.core.errors import PayloadTooLarge

PNG = png(32, 24)
BIG = 64 * 1024 * 1024
MESSAGE = "The image could not be fetched from the URL"


class Origin:
    """A tiny HTTP(S) server standing in for an internal service; it records what it sees."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.hits: list[tuple[str, dict[str, str]]] = []
        self.sent: dict[str, int] = {}
        self.done = threading.Event()
        self.stop = threading.Event()
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                origin.hits.append((self.path, dict(self.headers.items())))
                parts = urlsplit(self.path)
                path = parts.path
                if path == "/img.png":
                    self.reply(200, PNG)
                elif path == "/auth.png":
                    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
                    ok = self.headers.get("Authorization") == expected
                    self.reply(200 if ok else 401, PNG if ok else b"no")
                elif path == "/r":
                    self.redirect("/img.png")
                elif path.startswith("/chain/"):
                    left = int(path.rsplit("/", 1)[1])
                    if left:
                        self.redirect(f"/chain/{left - 1}")
                    else:
                        self.reply(200, PNG)
                elif path == "/to":
                    self.redirect(parse_qs(parts.query)["u"][0])
                elif path in ("/big", "/stream"):
                    self.flood(declared=path == "/big")
                elif path == "/slow":
                    self.drip()
                elif path == "/hang":
                    origin.stop.wait(10)
                else:
                    self.reply(404, b"not here")

            def reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def flood(self, declared: bool) -> None:
                self.send_response(200)
                if declared:
                    self.send_header("Content-Length", str(BIG))
                self.end_headers()
                sent, chunk = 0, b"\0" * 65536
                try:
                    while sent < BIG:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                except OSError:
                    pass
                origin.sent[self.path] = sent
                origin.done.set()

            def drip(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    while not origin.stop.wait(0.05):
                        self.wfile.write(b"\0")
                        self.wfile.flush()
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.host, self.port = host, int(self.httpd.server_address[1])
        self.origin = f"{'https' if tls else 'http'}://{host}:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def paths(self) -> list[str]:
        return [path for path, _ in self.hits]

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class StubDNS:
    """An injected resolver: answers from a table (one answer per call, the last repeats)."""

    def __init__(self, **table: list[str] | list[list[str]]) -> None:
        self.table = {name.replace("_", "."): answers for name, answers in table.items()}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answers = self.table.get(host)
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answers and isinstance(answers[0], list):
            sequence: list[list[str]] = answers  # type: ignore[assignment]
            return sequence.pop(0) if len(sequence) > 1 else sequence[0]
        return answers  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every address a connection was opened to; anything but loopback fails the test."""
    seen: list[str] = []
    strays: list[str] = []
    real = socket.create_connection

    def guarded(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        seen.append(address[0])
        try:
            loopback = ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            loopback = False  # a name: the fetcher would be resolving a second time
        if not loopback:
            strays.append(address[0])
            raise OSError("test guard: connection outside loopback")
        return real(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "create_connection", guarded)
    yield seen
    assert not strays, f"connections attempted outside loopback: {strays}"


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    server = Origin()
    yield server
    server.close()


@pytest.fixture
def internal() -> Iterator[Origin]:
    """A second loopback service that must never be reached."""
    server = Origin()
    yield server
    server.close()


def admitted(server: Origin, **changes: object) -> FetchPolicy:
    """A policy that deliberately admits ``server`` (an allowlisted origin)."""
    return FetchPolicy(allowlist=(server.origin,), **changes)  # type: ignore[arg-type]


def refusal(url: str, policy: FetchPolicy, resolver: StubDNS | None = None) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        fetch(url, policy, resolver or StubDNS())
    return caught.value


# --- refused before any connection ----------------------------------------------------------

SPELLINGS = [
    "http://127.0.0.1/img.png",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://012.0.0.1/",
    "http://127.1/",
    "http://127.0.0.1./",
    "http://%31%32%37.0.0.1/",
    "http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b::a00:1]/",
    "http://[2002:7f00:1::1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://[fe80::1%25eth0]/",
    "http://0.0.0.0/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://[fec0::1]/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.2.1/",
    "http://[2001:db8::1]/",
    "HTTP://127.0.0.1/",
    "http://good.test@127.0.0.1/",
]
SCHEMES = [
    "file:///etc/passwd",
    "ftp://public.test/x.png",
    "gopher://public.test:70/_x",
    "dict://public.test:11211/stat",
    "data:image/png;base64,iVBORw0KGgo=",
    "jar:http://public.test/x.jar!/",
    "javascript:alert(1)",
    "//public.test/x.png",
    "http:/public.test/x.png",
    "http://public.test:80\\@good.test/",
    " http://public.test/",
    "http://public.test\t/",
    "http://pub\nlic.test/",
]
PORTS = [
    "http://public.test:22/",
    "http://public.test:6379/",
    "https://public.test:25/",
    "http://public.test:0/",
    "http://public.test:65536/",
    "http://public.test:-1/",
    "http://public.test:8o/",
]


@pytest.mark.parametrize("url", SPELLINGS + SCHEMES + PORTS)
def test_refused_before_any_connection(url: str, connections: list[str], origin: Origin) -> None:
    dns = StubDNS(public_test=["93.184.215.14"], good_test=["93.184.215.14"])
    policy = FetchPolicy(allowed_ports=frozenset({80, 443, origin.port}))
    error = refusal(url, policy, dns)
    assert (type(error), str(error), error.status, error.code) == (FetchRefused, MESSAGE, 400, 5400)
    assert connections == []
    if url in PORTS:
        assert dns.calls == []  # a refused port costs no DNS lookup either


def test_direct_loopback_url_refused(origin: Origin, connections: list[str]) -> None:
    before = len(origin.hits)
    policy = FetchPolicy(allowed_ports=frozenset({80, 443, origin.port}))
    refusal(f"http://127.0.0.1:{origin.port}/img.png", policy)
    refusal(f"http://[::1]:{origin.port}/img.png", policy)
    assert len(origin.hits) == before and connections == []


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(max_size=60)
    | st.from_regex(r"(?i:https?)://[^/]{0,40}(/.{0,20})?", fullmatch=True)
    | st.builds(lambda a, b: f"http://{a}:{b}@{a}/", st.text(max_size=15), st.text(max_size=15))
)
def test_any_input_gets_the_one_refusal(url: str) -> None:
    """Whatever the text, the parser answers FetchRefused (no port is allowed, so nothing
    valid gets further), never another exception."""
    with pytest.raises(FetchRefused):
        fetch(url, FetchPolicy(allowed_ports=frozenset()), StubDNS())


def test_the_reason_is_logged_not_returned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="imagegate.fetch"):
        error = refusal(
            "http://user:secret@169.254.169.254/latest/meta-data/?token=t", FetchPolicy()
        )
    assert "link-local" in caplog.text and "169.254.169.254" in caplog.text
    assert "secret" not in caplog.text and "token" not in caplog.text
    assert "169.254" not in str(error) and error.__cause__ is None


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        (["127.0.0.1"], "loopback"),
        (["93.184.215.14", "::1"], "loopback"),  # one bad address is enough
        (["10.1.2.3"], "private"),
        (["::ffff:169.254.169.254"], "link-local"),
        ([], "no address"),
    ],
)
def test_hostnames_resolving_inward(
    answers: list[str], why: str, connections: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    dns = StubDNS(internal_test=answers)
    with caplog.at_level(logging.WARNING, logger="imagegate.fetch"):
        refusal("http://internal.test/img.png", FetchPolicy(), dns)
    assert dns.calls == ["internal.test"] and connections == []
    assert why in caplog.text


def test_blocked_reason_table() -> None:
    public = ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]
    for text in public:
        assert blocked_reason(ipaddress.ip_address(text)) is None, text
    for text in ["198.18.0.1", "240.0.0.1", "192.0.0.8", "ff02::1", "::ffff:0:7f00:1", "::7f00:1"]:
        assert blocked_reason(ipaddress.ip_address(text)) is not None, text


# --- one answer for every failure -----------------------------------------------------------


def test_every_refusal_is_identical(origin: Origin, internal: Origin) -> None:
    closed = free_port()
    quick = admitted(origin, total_timeout=0.5)
    unreachable = f"http://127.0.0.1:{closed}"
    cases = [
        ("http://10.0.0.1/", FetchPolicy()),  # blocked address
        ("http://public.test:6379/", FetchPolicy()),  # refused port
        ("gopher://public.test/", FetchPolicy()),  # refused scheme
        ("http://nxdomain.test/", FetchPolicy()),  # DNS failure
        (f"{unreachable}/img.png", FetchPolicy(allowlist=(unreachable,))),  # connection refused
        (f"{origin.origin}/hang", quick),  # timeout before the response
        (f"{origin.origin}/missing", admitted(origin)),  # non-2xx
        (f"{origin.origin}/chain/4", admitted(origin)),  # too many redirects
        (f"{origin.origin}/to?u={internal.origin}/img.png", admitted(origin)),  # inward hop
        (f"{origin.origin}/to?u=file:///etc/passwd", admitted(origin)),  # scheme hop
    ]
    seen = set()
    for url, policy in cases:
        error = refusal(url, policy)
        seen.add((type(error), str(error), error.args, error.status, error.code))
    assert seen == {(FetchRefused, MESSAGE, (MESSAGE,), 400, 5400)}
    assert internal.hits == []


# --- what is admitted -----------------------------------------------------------------------


def test_allowlisted_origin_is_fetched(origin: Origin, connections: list[str]) -> None:
    body, name = fetch(f"{origin.origin}/img.png?v=1", admitted(origin))
    assert body == PNG and name == "img.png"
    path, headers = origin.hits[-1]
    assert path == "/img.png?v=1"
    assert headers["Host"] == f"127.0.0.1:{origin.port}"
    assert "Authorization" not in headers and "Cookie" not in headers
    assert connections == ["127.0.0.1"]


def test_allowlisted_range_admits_the_address_on_allowed_ports_only(origin: Origin) -> None:
    in_range = FetchPolicy(allowlist=("127.0.0.0/8",), allowed_ports=frozenset({origin.port}))
    assert fetch(f"{origin.origin}/img.png", in_range)[0] == PNG
    refusal(f"{origin.origin}/img.png", FetchPolicy(allowlist=("127.0.0.0/8",)))


def test_allowlist_matches_exact_origins_only(origin: Origin) -> None:
    dns = StubDNS(**{"127.0.0.1.evil.test": ["127.0.0.1"]})
    policy = admitted(origin)
    refusal(f"http://127.0.0.1.evil.test:{origin.port}/img.png", policy, dns)
    refusal(f"https://127.0.0.1:{origin.port}/img.png", policy, dns)  # other scheme
    refusal(f"http://127.0.0.2:{origin.port}/img.png", policy, dns)  # other host
    with pytest.raises(ValueError):
        FetchPolicy(allowlist=("http://10.0.0.5:8080/images",))
    with pytest.raises(ValueError):
        FetchPolicy(allowlist=("10.0.0.5/8",))


def test_redirects_up_to_the_limit_are_followed(origin: Origin) -> None:
    assert fetch(f"{origin.origin}/chain/3", admitted(origin))[0] == PNG
    assert fetch(f"{origin.origin}/r", admitted(origin, max_redirects=1))[0] == PNG
    refusal(f"{origin.origin}/chain/4", admitted(origin))


def test_redirect_to_an_internal_target_is_checked_before_it_is_sent(
    origin: Origin, internal: Origin, connections: list[str]
) -> None:
    for target in (
        f"{internal.origin}/img.png",
        f"http://localhost:{internal.port}/img.png",
        f"http://[::ffff:127.0.0.1]:{internal.port}/img.png",
        "http://169.254.169.254/latest/meta-data/",
    ):
        refusal(f"{origin.origin}/to?u={target}", admitted(origin))
    assert internal.hits == []
    assert set(connections) == {"127.0.0.1"} and len(connections) == 4


def test_userinfo_is_sent_as_basic_auth_to_its_origin_only(origin: Origin) -> None:
    url = f"http://user:p%40ss@127.0.0.1:{origin.port}/auth.png"
    assert fetch(url, admitted(origin))[0] == PNG
    other = Origin()
    try:
        policy = FetchPolicy(allowlist=(origin.origin, other.origin))
        hop = f"http://user:p%40ss@127.0.0.1:{origin.port}/to?u={other.origin}/img.png"
        assert fetch(hop, policy)[0] == PNG
        assert "Authorization" in origin.hits[-1][1]
        assert "Authorization" not in other.hits[-1][1]
    finally:
        other.close()


# --- size and time --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big", "/stream"])
def test_oversized_is_refused_without_reading_everything(path: str) -> None:
    server = Origin()
    try:
        started = time.monotonic()
        with pytest.raises(PayloadTooLarge):
            fetch(f"{server.origin}{path}", admitted(server, max_bytes=1024 * 1024))
        assert time.monotonic() - started < 2
        assert server.done.wait(5)
        assert server.sent[path] < BIG // 4
    finally:
        server.close()


def test_slow_drip_is_cut_at_the_total_deadline(origin: Origin) -> None:
    started = time.monotonic()
    refusal(f"{origin.origin}/slow", admitted(origin, total_timeout=1.0, connect_timeout=1.0))
    assert 0.9 <= time.monotonic() - started < 1.5


def test_a_hung_resolver_cannot_outlive_the_deadline() -> None:
    release = threading.Event()

    def hung(host: str, port: int) -> list[str]:
        release.wait(5)
        return ["93.184.215.14"]

    started = time.monotonic()
    with pytest.raises(FetchRefused):
        fetch("http://slow-dns.test/x.png", FetchPolicy(total_timeout=0.5), hung)
    release.set()
    assert time.monotonic() - started < 1


# --- DNS rebinding --------------------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[Origin]:
    """A service on 127.0.0.2, admitted by range: it plays the public address."""
    try:
        server = Origin("127.0.0.2")
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address here")
    yield server
    server.close()


def test_rebinding_resolver_is_asked_once_and_the_checked_address_is_used(
    elsewhere: Origin, internal: Origin, connections: list[str]
) -> None:
    dns = StubDNS(rebind_test=[["127.0.0.2"], ["127.0.0.1"]])
    policy = FetchPolicy(allowlist=("127.0.0.2/32",), allowed_ports=frozenset({elsewhere.port}))
    assert fetch(f"http://rebind.test:{elsewhere.port}/img.png", policy, dns)[0] == PNG
    assert dns.calls == ["rebind.test"]
    assert connections == ["127.0.0.2"]
    assert elsewhere.hits[-1][1]["Host"] == f"rebind.test:{elsewhere.port}"
    assert internal.hits == []


def test_each_redirect_hop_is_resolved_and_checked_again(
    elsewhere: Origin, connections: list[str]
) -> None:
    dns = StubDNS(rebind_test=[["127.0.0.2"], ["127.0.0.1"]])
    policy = FetchPolicy(allowlist=("127.0.0.2/32",), allowed_ports=frozenset({elsewhere.port}))
    refusal(f"http://rebind.test:{elsewhere.port}/r", policy, dns)
    assert dns.calls == ["rebind.test", "rebind.test"]
    assert connections == ["127.0.0.2"] and elsewhere.paths() == ["/r"]


# --- TLS: the socket goes to the pinned address, the certificate is checked by name --------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=where, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=imagegate test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    )
    openssl(
        "req", "-new", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=images.test"
    )
    (where / "ext.cnf").write_text(
        "subjectAltName=DNS:images.test\nbasicConstraints=CA:FALSE\n"
        "extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n"
    )
    openssl(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    )
    return where


def test_tls_verifies_the_original_name_on_the_pinned_address(
    certificates: Path, connections: list[str]
) -> None:
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "leaf.pem", certificates / "leaf.key")
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,misc]
    server = Origin(tls=context)
    try:
        dns = StubDNS(images_test=["127.0.0.1"], other_test=["127.0.0.1"])
        trusted = FetchPolicy(
            allowlist=("127.0.0.1/32",),
            allowed_ports=frozenset({server.port}),
            ca_file=str(certificates / "ca.pem"),
        )
        assert fetch(f"https://images.test:{server.port}/img.png", trusted, dns)[0] == PNG
        assert names == ["images.test"] and connections == ["127.0.0.1"]
        assert server.hits[-1][1]["Host"] == f"images.test:{server.port}"
        refusal(f"https://other.test:{server.port}/img.png", trusted, dns)  # name mismatch
        refusal(f"https://127.0.0.1:{server.port}/img.png", trusted, dns)  # no IP in the cert
        default_trust = FetchPolicy(
            allowlist=("127.0.0.1/32",), allowed_ports=trusted.allowed_ports
        )
        refusal(f"https://images.test:{server.port}/img.png", default_trust, dns)  # unknown CA
        assert len(server.hits) == 1
    finally:
        server.close()
