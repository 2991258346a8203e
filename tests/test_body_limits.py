"""Request bodies to the API: read only after the credentials, and capped by route.

Every request here is written by hand on a socket, so a test can send a request's head, stop,
and see whether the server answers before it has the body (it must, whenever it would refuse
the request) or waits to read it all.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from harness import Server, jpeg, serve_cli

SMALL_BODY_BYTES = 64 * 1024  # the documented cap of every route that takes no image
JSON = {"Content-Type": "application/json"}
SECRET = "A" * 43  # the shape of an upload URL's secret; no draft has it
#: Placeholders of the API's path parameters, for requests that never get past the token.
PARAMS = {"image_id": "x", "variant_id": "v", "signing_key_name": "k", "secret": SECRET}


def operations(srv: Server) -> list[tuple[str, str]]:
    """Every operation the API documents, as (method, path) for ``srv``'s account."""
    spec = httpx.get(f"{srv.base_url}/openapi.json").json()
    found = []
    for template, methods in spec["paths"].items():
        path = template.format(account_id=srv.account_id, **PARAMS)
        found += [(method.upper(), path) for method in methods]
    return found


def others(srv: Server) -> list[tuple[str, str]]:
    """Requests that name no operation: an unknown route, and known routes by other methods."""
    images = f"/accounts/{srv.account_id}/images"
    return [
        ("POST", f"{images}/v9/unknown"),
        ("PUT", f"{images}/v1/config"),
        ("PUT", f"{images}/v1/variants"),
        ("POST", f"{images}/v1/x/blob"),
        ("PATCH", f"/upload/{SECRET}"),
    ]


def head(method: str, path: str, framing: str, token: str | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: x", "Content-Type: application/json", framing]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(srv: Server) -> socket.socket:
    where = urlsplit(srv.base_url)
    return socket.create_connection((where.hostname or "", where.port or 80), timeout=10)


def answer_to_head(srv: Server, request_head: bytes, wait: float = 5.0) -> tuple[int, dict, bytes]:
    """Send a request's head and nothing more; the server's answer (it must come without
    the body), or a failure saying that the server waited for the body."""
    with connect(srv) as sock:
        sock.sendall(request_head)
        data = b""
        deadline = time.monotonic() + wait
        while b"\r\n\r\n" not in data:
            readable, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
            if not readable:
                pytest.fail(f"no answer within {wait} s: the server waits for the body")
            more = sock.recv(65536)
            if not more:
                break
            data += more
        status, headers, rest = parse_head(data)
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            more = sock.recv(65536)
            if not more:
                break
            rest += more
        return status, headers, rest


def parse_head(data: bytes) -> tuple[int, dict[str, str], bytes]:
    top, _, rest = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, rest


def assert_refused(status: int, headers: dict[str, str], body: bytes, expected: int) -> int:
    assert status == expected, (status, body[:200])
    envelope = json.loads(body)
    assert envelope["success"] is False and envelope["result"] is None
    assert headers.get("connection", "").lower() == "close", headers
    code: int = envelope["errors"][0]["code"]
    return code


# --- no body is read before the credentials -----------------------------------------------------


@pytest.mark.parametrize("framing", ["Transfer-Encoding: chunked", "Content-Length: 60000"])
def test_no_body_is_read_before_the_credentials(server: Server, framing: str) -> None:
    """Without a token, every operation (the upload URL with an unknown secret, every route
    that names none) is refused as soon as its head arrives: the body is never waited for,
    and the connection is closed so it is never read after."""
    checked = []
    for method, path in operations(server) + others(server):
        status, headers, body = answer_to_head(server, head(method, path, framing))
        expected = 410 if path.startswith("/upload/") and method == "POST" else 401
        if (method, path) in others(server):
            expected = 404 if path.endswith("/unknown") else 405
        code = assert_refused(status, headers, body, expected)
        checked.append((method, path, code))
    assert len(checked) >= 25
    assert {code for *_, code in checked} == {10000, 5410, 7003, 7000}


def test_a_foreign_token_is_refused_before_the_body(server: Server) -> None:
    images = f"/accounts/{'0' * 32}/images/v1"
    for method, path in [("PATCH", f"{images}/config"), ("POST", f"{images}/variants")]:
        request = head(method, path, "Transfer-Encoding: chunked", server.api_token)
        assert_refused(*answer_to_head(server, request), expected=403)


# --- every body is capped by its route ----------------------------------------------------------


def test_a_declared_length_over_the_cap_is_refused_before_the_body(server: Server) -> None:
    """A token holder too: every route takes at most 64 KB but the two that take an image,
    which take the upload limit (and the form around it); more is refused by its length."""
    limit = server.gate.images.max_upload_bytes  # type: ignore[union-attr]
    uploads = {f"/accounts/{server.account_id}/images/v1", f"/upload/{SECRET}"}
    for method, path in operations(server) + others(server):
        large = method == "POST" and path in uploads
        over = limit + 64 * 1024 + 1 if large else SMALL_BODY_BYTES + 1
        request = head(method, path, f"Content-Length: {over}", server.api_token)
        status, headers, body = answer_to_head(server, request)
        assert assert_refused(status, headers, body, 413) == 5413
    with server.client() as c:
        padded = b'{"browser_ttl": 7200' + b" " * (SMALL_BODY_BYTES - 30) + b"}"
        r = c.patch(f"{server.images_url}/config", content=padded, headers=JSON)
        assert r.status_code == 200 and r.json()["result"]["browser_ttl"] == 7200


def chunks(total: int, piece: bytes) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        sent += len(piece)
    yield b"0\r\n\r\n"


def stream(srv: Server, request_head: bytes, body: Iterator[bytes]) -> tuple[bytes, int]:
    """Send a head and stream a body, reading the answer whenever it comes: the answer, and
    how many body bytes went out before the server stopped taking them."""
    sent = 0
    with connect(srv) as sock:
        sock.sendall(request_head)
        try:
            for piece in body:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass  # the server closed the connection: the rest was never read
        data = b""
        try:
            while more := sock.recv(65536):
                data += more
        except OSError:
            pass
    return data, sent


def test_a_chunked_body_is_cut_at_the_cap(server: Server) -> None:
    """No length, a token, and a JSON body that never ends: 413 once 64 KB are counted, the
    connection closed, nothing changed."""
    images = f"/accounts/{server.account_id}/images/v1"
    with server.client() as c:
        before = c.get(f"{server.images_url}/config").json()["result"]
    for method, path in [("PATCH", f"{images}/config"), ("POST", f"{images}/variants")]:
        request = head(method, path, "Transfer-Encoding: chunked", server.api_token)
        answer, sent = stream(server, request, chunks(64 * 1024 * 1024, b" " * 65536))
        status, headers, body = parse_head(answer)
        assert status == 413, answer[:300]
        assert headers["connection"] == "close"
        assert json.loads(body)["errors"][0]["code"] == 5413
        assert sent < 32 * 1024 * 1024, f"the server read {sent} bytes of a capped body"
    with server.client() as c:
        assert c.get(f"{server.images_url}/config").json()["result"] == before


def test_a_small_body_is_still_read_after_the_credentials(server: Server) -> None:
    """What the cap leaves: JSON bodies up to 64 KB, and uploads up to their own limit."""
    with server.client() as c:
        r = c.post(server.images_url, files={"file": ("a.jpg", jpeg(40, 30))})
        assert r.status_code == 200, r.text
        image_id = r.json()["result"]["id"]
        padded = b'{"creator": "c"' + b" " * (SMALL_BODY_BYTES - 20) + b"}"
        r = c.patch(f"{server.images_url}/{image_id}", content=padded, headers=JSON)
        assert r.status_code == 200 and r.json()["result"]["creator"] == "c"


# --- server memory stays flat -------------------------------------------------------------------


def resident_mb(group: int) -> float:
    """Resident memory of every process in a process group, in MB."""
    total_kb = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != group:
                continue
            status = Path(f"/proc/{entry}/status").read_text()
        except (OSError, ProcessLookupError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def test_unauthenticated_floods_leave_server_memory_flat(tmp_path: Path) -> None:
    """``imagegate serve``, as users run it: 200 MB bodies without a token to every route
    that takes a body (and to a wrong method and an unknown upload URL) are refused
    at once, read no further, and leave the server's memory where it was."""
    flood = 200 * 1024 * 1024
    with serve_cli(tmp_path / "data") as srv:
        images = f"/accounts/{srv.account_id}/images"
        targets = [
            ("PATCH", f"{images}/v1/config"),
            ("POST", f"{images}/v1/variants"),
            ("PATCH", f"{images}/v1/variants/public"),
            ("PATCH", f"{images}/v1/some-image"),
            ("POST", f"{images}/v1/direct_upload"),
            ("POST", f"{images}/v2/direct_upload"),
            ("POST", f"{images}/v1"),
            ("PUT", f"{images}/v1/config"),
            ("POST", f"/upload/{SECRET}"),
        ]
        httpx.get(f"{srv.base_url}/openapi.json")  # warm up what a first request builds
        before = resident_mb(srv.pid)
        answers = {}
        for method, path in targets:
            request = head(method, path, "Transfer-Encoding: chunked")
            answers[method, path] = stream(srv, request, chunks(flood, b"{" * 65536))
        grown = resident_mb(srv.pid) - before
    assert grown < 64, f"the server grew by {grown:.0f} MB"
    for (method, path), (answer, sent) in answers.items():
        assert sent < 32 * 1024 * 1024, f"{method} {path}: the server read {sent} bytes"
        status, _, _ = parse_head(answer)
        assert status in (401, 405, 410), (method, path, answer[:200])
