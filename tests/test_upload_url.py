"""Upload by URL through the API: internal addresses are refused with one answer, an
allowlisted origin is fetched. A real HTTP server on loopback stands in for an internal
service, and counts the requests that reach it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import Server, dimensions, jpeg, serve_account
from imagegate.settings import Settings

PICTURE = jpeg(120, 90)
REFUSED = "The image could not be fetched from the URL"


class Internal(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        Internal.hits.append(self.path)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/pic.jpg")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(PICTURE)))
        self.end_headers()
        self.wfile.write(PICTURE)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def internal() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Internal)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Internal.hits = []
    yield int(httpd.server_port)
    httpd.shutdown()


def _server(settings: Settings, **overrides: object) -> Iterator[Server]:
    with serve_account(settings.model_copy(update=overrides), name="u") as srv:
        yield srv


def test_internal_targets_get_one_identical_refusal(settings: Settings, internal: int) -> None:
    port = internal
    urls = [
        f"http://127.0.0.1:{port}/pic.jpg",
        f"http://localhost:{port}/pic.jpg",
        f"http://2130706433:{port}/pic.jpg",
        f"http://0x7f000001:{port}/pic.jpg",
        f"http://0177.0.0.1:{port}/pic.jpg",
        f"http://127.1:{port}/pic.jpg",
        f"http://[::1]:{port}/pic.jpg",
        f"http://[::ffff:127.0.0.1]:{port}/pic.jpg",
        f"http://[64:ff9b::7f00:1]:{port}/pic.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/x.jpg",
        "http://100.64.0.1/x.jpg",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        f"http://127.0.0.1:{port}/redirect",
    ]
    # Even with the port allowed, nothing internal is reachable unless allowlisted.
    for srv in _server(settings, fetch_allowed_ports=f"80,443,{port}"):
        answers = set()
        with srv.client() as c:
            for url in urls:
                r = c.post(srv.images_url, data={"url": url})
                assert r.status_code == 400, (url, r.text)
                answers.add((r.json()["errors"][0]["code"], r.json()["errors"][0]["message"]))
        assert answers == {(5400, REFUSED)}
    assert Internal.hits == []


def test_allowlisted_origin_is_fetched(settings: Settings, internal: int) -> None:
    origin = f"http://127.0.0.1:{internal}"
    for srv in _server(settings, fetch_allowlist=origin):
        with srv.client() as c:
            r = c.post(srv.images_url, data={"url": f"{origin}/dir/pic.jpg", "id": "fetched"})
            assert r.status_code == 200, r.text
            assert r.json()["result"]["filename"] == "pic.jpg"
            blob = c.get(f"{srv.images_url}/fetched/blob").content
        assert dimensions(blob) == (120, 90)
        with srv.client() as c:
            both = c.post(
                srv.images_url,
                data={"url": f"{origin}/pic.jpg"},
                files={"file": ("a.jpg", PICTURE)},
            )
            assert both.status_code == 400
    assert Internal.hits == ["/dir/pic.jpg"]
