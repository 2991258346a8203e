"""Direct creator uploads from a browser page on another origin (Debian's Chromium through
Playwright): the page posts the file to the one-time upload URL with ``fetch()`` and reads
the answer, error or not; it can read nothing else of the API."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from dashboard.browser import browser
from harness import Server, jpeg

__all__ = ["browser"]

PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>uploader</title>
<link rel="icon" href="data:,"></head><body><p>A customer's page</p></body></html>"""

#: What the customer's page runs: post a file to the upload URL and read the JSON answer.
UPLOAD = """async ([url, data, headers, credentials]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const form = new FormData();
  form.append("file", new Blob([bytes], {type: "image/jpeg"}), "photo.jpg");
  try {
    const r = await fetch(url, {method: "POST", body: form, headers, credentials});
    return {status: r.status, body: await r.json()};
  } catch (e) {
    return {error: String(e)};
  }
}"""
#: The same page trying to read the API with a token it somehow holds.
READ = """async ([url, token]) => {
  try {
    const r = await fetch(url, {headers: {Authorization: "Bearer " + token}});
    return {status: r.status, body: await r.text()};
  } catch (e) {
    return {error: String(e)};
  }
}"""


@pytest.fixture(scope="module")
def customer_site() -> Iterator[str]:
    """The customer's page, served from another loopback origin."""

    class Page(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

    site = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()


@pytest.fixture
def page(browser: Any, customer_site: str) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(15000)
    try:
        tab = context.new_page()
        tab.goto(customer_site)
        yield tab
    finally:
        context.close()


def draft(server: Server, image_id: str) -> str:
    with server.client() as c:
        r = c.post(f"{server.images_url}/direct_upload", data={"id": image_id})
    assert r.status_code == 200, r.text
    url: str = r.json()["result"]["uploadURL"]
    return url


PHOTO = base64.b64encode(jpeg(60, 40)).decode()


def test_a_page_on_another_origin_uploads_and_reads_the_answer(server: Server, page: Any) -> None:
    assert not page.url.startswith(server.base_url)  # another origin than the API's
    plain = page.evaluate(UPLOAD, [draft(server, "plain"), PHOTO, {}, "omit"])
    assert plain["status"] == 200, plain
    assert plain["body"]["result"]["id"] == "plain" and plain["body"]["success"] is True

    # A header of the page's own makes fetch() send a preflight first.
    headers = {"X-Requested-With": "XMLHttpRequest"}
    preflighted = page.evaluate(UPLOAD, [draft(server, "preflighted"), PHOTO, headers, "omit"])
    assert preflighted["status"] == 200, preflighted
    assert preflighted["body"]["result"]["id"] == "preflighted"

    # Errors are readable too: a used URL (410), a file that is not an image (415).
    again = page.evaluate(UPLOAD, [draft(server, "once"), PHOTO, {}, "omit"])
    assert again["status"] == 200
    used = f"{server.base_url}/upload/{'A' * 43}"
    gone = page.evaluate(UPLOAD, [used, PHOTO, {}, "omit"])
    assert gone["status"] == 410 and gone["body"]["errors"][0]["code"] == 5410
    not_image = page.evaluate(UPLOAD, [draft(server, "text"), "aGVsbG8=", {}, "omit"])
    assert not_image["status"] == 415 and not_image["body"]["success"] is False

    with server.client() as c:
        stored = c.get(f"{server.images_url}/preflighted").json()["result"]
    assert "draft" not in stored and stored["filename"] == "photo.jpg"


def test_the_upload_url_grants_no_credentials_and_the_api_no_cors(
    server: Server, page: Any
) -> None:
    """With credentials, even the upload URL's answer is not readable (it never allows
    them); the rest of the API is not readable from another origin at all, token or not."""
    with_cookies = page.evaluate(UPLOAD, [draft(server, "cookies"), PHOTO, {}, "include"])
    assert "error" in with_cookies, with_cookies
    for url in (server.images_url, f"{server.images_url}/keys"):
        read = page.evaluate(READ, [url, server.api_token])
        assert "error" in read, read  # blocked: no CORS answer for the API


def too_large(server: Server, url: str) -> bytes:
    """The head of the answer to an upload that declares 64 MB (and sends none of it)."""
    where = urlsplit(url)
    head = (
        f"POST {where.path} HTTP/1.1\r\nHost: x\r\nOrigin: https://customer.example\r\n"
        f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {64 * 2**20}\r\n\r\n"
    )
    with socket.create_connection((where.hostname or "", where.port or 80), timeout=10) as sock:
        sock.sendall(head.encode())
        return sock.recv(65536).lower()


def test_cors_headers_on_the_wire(server: Server) -> None:
    origin = {"Origin": "https://customer.example"}
    url = draft(server, "wire")
    with httpx.Client() as c:
        preflight = c.options(
            url,
            headers={
                **origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-requested-with",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in preflight.headers
        done = c.post(url, files={"file": ("a.jpg", jpeg(20, 20))}, headers=origin)
        assert done.status_code == 200
        assert done.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in done.headers
        big = too_large(server, draft(server, "big"))
        assert big.startswith(b"http/1.1 413") and b"access-control-allow-origin: *" in big

        api = server.images_url
        for method, target in [
            ("OPTIONS", api),
            ("OPTIONS", f"{api}/keys"),
            ("GET", api),
            ("GET", f"{server.base_url}/{server.account_hash}/wire/public"),
        ]:
            r = c.request(
                method,
                target,
                headers={
                    **origin,
                    "Access-Control-Request-Method": "GET",
                    "Authorization": f"Bearer {server.api_token}",
                },
            )
            grants = {k for k in r.headers if k.startswith("access-control-")}
            assert not grants, (method, target, grants)
