"""What the security suite shares: servers to attack, the one denial, and the meta-check.

Every case of ``spec/security-cases.md`` asserts, besides its own answer, what the spec's
section 0 asks of every answer: not a 500, and no traceback, filesystem path or key material
in the body (:func:`check`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness import ROOT, Clock, RawResponse, Server, serve_account
from imagegate.settings import Settings

DENIED = "ERROR 9425: Image access denied"
#: The servers' metrics token, and the header that scrapes with it.
METRICS_TOKEN = "metrics-token-of-the-security-suite"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
#: Text that must never reach a client, whatever it sent.
LEAK_MARKERS = ("Traceback", 'File "', "site-packages", str(ROOT))

Answer = httpx.Response | RawResponse


def launch(
    data_dir: Path, clock: Clock | None = None, **overrides: Any
) -> contextlib.AbstractContextManager[Server]:
    """:func:`harness.serve_account` over ``data_dir`` with the suite's metrics token, and
    ``overrides`` of any setting."""
    settings = Settings(data_dir=data_dir, **{"metrics_token": METRICS_TOKEN, **overrides})
    return serve_account(settings, clock=clock, name="security")


# --- answers --------------------------------------------------------------------------------


def parts(r: Answer) -> tuple[int, dict[str, str], bytes]:
    if isinstance(r, RawResponse):
        return r.status, r.headers, r.body
    return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content


def check(r: Answer, srv: Server | None = None, *, secrets: bool = True) -> None:
    """Section 0's meta-test: never a 500, never a traceback, a path, or key material.

    ``secrets=False`` for the few answers that carry a key by design (``GET /keys``)."""
    status, _headers, body = parts(r)
    assert status != 500, body[:300]
    text = body.decode("utf-8", "replace")
    for marker in LEAK_MARKERS:
        assert marker not in text, f"{marker!r} in the answer: {text[:300]!r}"
    if srv is not None:
        for where in {str(srv.data_dir), str(srv.data_dir.resolve())}:
            assert where not in text, f"the data directory is in the answer: {text[:300]!r}"
        if secrets:
            for secret in (srv.signing_key, srv.api_token):
                assert not secret or secret not in text, "key material in the answer"


def assert_denied(r: Answer, srv: Server | None = None, *, head: bool = False) -> None:
    """The one answer to every signature failure (DESIGN.md section 1)."""
    check(r, srv)
    status, headers, body = parts(r)
    assert status == 403, (status, body[:200])
    assert headers["cf-resized"] == "err=9425"
    assert headers["cache-control"] == "no-store"
    assert headers["content-type"].startswith("text/plain")
    if not head:
        assert body.decode() == DENIED


def assert_api_error(r: httpx.Response, status: int, code: int | None = None) -> None:
    """Cloudflare's envelope, with the status (and code) expected."""
    check(r)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False and body["result"] is None and body["messages"] == []
    assert isinstance(body["errors"][0]["message"], str)
    if code is not None:
        assert body["errors"][0]["code"] == code, body


# --- requests -------------------------------------------------------------------------------


def target(url: str) -> str:
    """Path and query of a full URL, exactly as written (for :func:`harness.raw_request`)."""
    parts_ = urlsplit(url)
    return f"{parts_.path}?{parts_.query}" if parts_.query else parts_.path


def raw(
    base_url: str, target_: str, method: str = "GET", headers: dict[str, str] | None = None
) -> RawResponse:
    """:func:`harness.raw_request` with headers: the target goes out byte for byte (no
    client resolves its dot segments or re-encodes it)."""
    where = urlsplit(base_url)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
    try:
        conn.putrequest(method, target_, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        answer = {k.lower(): v for k, v in response.getheaders()}
        return RawResponse(response.status, answer, response.read())
    finally:
        conn.close()


def send_raw(base_url: str, data: bytes, timeout: float = 30) -> RawResponse:
    """Send ``data`` as it is (a whole request, any bytes) and read one response."""
    where = urlsplit(base_url)
    with socket.create_connection((where.hostname or "", where.port or 80), timeout) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return RawResponse(response.status, headers, response.read())


def mac(message: bytes, key: str) -> str:
    """The signature of ``path?query`` bytes, as any backend computes it."""
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def upload(srv: Server, data: bytes, filename: str = "f", **fields: str) -> dict[str, Any]:
    with srv.client() as c:
        r = c.post(srv.images_url, files={"file": (filename, data)}, data=fields)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


def add_variant(srv: Server, name: str, *, never: bool = False, **options: Any) -> None:
    body = {
        "id": name,
        "options": {"fit": "scale-down", "width": 100, "height": 100, **options},
        "neverRequireSignedURLs": never,
    }
    with srv.client() as c:
        r = c.post(f"{srv.images_url}/variants", json=body)
    assert r.status_code == 200, r.text


def flexible(srv: Server) -> None:
    with srv.client() as c:
        assert c.patch(f"{srv.images_url}/config", json={"flexible_variants": True}).is_success


# --- a stand-in for other hosts, on loopback --------------------------------------------------


@dataclass
class Stub:
    """A loopback HTTP server that records every request it gets and answers from a table:
    ``routes[path] = (status, headers, body)``; anything else is a 404."""

    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    hits: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                stub.hits.append((self.path, dict(self.headers.items())))
                status, headers, body = stub.routes.get(
                    self.path.split("?", 1)[0], (404, {}, b"no")
                )
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET
            do_CONNECT = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def elapsed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started
