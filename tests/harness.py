"""Running imagegate for tests: real servers on loopback ports, and real images.

Two ways to run a server, both speaking real HTTP over a socket:

* :func:`serve_in_thread` runs ``create_app`` under uvicorn in this process, so a test can
  hand it imagegate built with a frozen clock, or seed its store (:func:`store_of`).
* :func:`serve_cli` runs ``imagegate serve`` (granian) as a subprocess, exactly as a user does.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyvips
import uvicorn

from imagegate.adapters.metadata import SqlMetadata
from imagegate.assembly import Imagegate, build
from imagegate.settings import Settings
from imagegate.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass
class Recorded:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes


#: Every error response any in-process test server sent (tests/conftest.py inspects them).
RECORDED_ERRORS: list[Recorded] = []


class Recording:
    """ASGI wrapper that keeps a copy of every 4xx/5xx response the server sends."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, headers, body = 0, {}, bytearray()

        async def keep(message: Any) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in message["headers"]}
            elif message["type"] == "http.response.body" and status >= 400:
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    RECORDED_ERRORS.append(
                        Recorded(scope["method"], scope["path"], status, headers, bytes(body))
                    )
            await send(message)

        await self.app(scope, receive, keep)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(base_url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server at {base_url} did not come up")


@dataclass
class Server:
    base_url: str
    data_dir: Path
    account_id: str = ""
    account_hash: str = ""
    api_token: str = ""
    signing_key: str = ""
    gate: Imagegate | None = None
    pid: int = 0  # serve_cli: the server's process, leader of its own process group

    @property
    def images_url(self) -> str:
        return f"{self.base_url}/accounts/{self.account_id}/images/v1"

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.api_token}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def url(self, path: str) -> str:
        return self.base_url + path


@functools.cache
def _stores(database_url: str) -> SqlMetadata:
    return SqlMetadata.open(database_url)


def store_of(holder: Imagegate | Server) -> SqlMetadata:
    """The metadata stores under a server, for a test that seeds or inspects rows directly
    (fixed ids, dates or key values the use cases would never make). The server itself only
    goes through its use cases; this reaches below them on purpose."""
    gate = holder.gate if isinstance(holder, Server) else holder
    assert gate is not None, "a server started in this process"
    return _stores(gate.settings.resolved_database_url())


def init_store(data_dir: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(BIN / "imagegate"), "init", "--data-dir", str(data_dir), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    creds: dict[str, str] = json.loads(out.stdout)
    return creds


@contextlib.contextmanager
def serve_in_thread(settings: Settings, gate: Imagegate | None = None) -> Iterator[Server]:
    port = free_port()
    settings = settings.model_copy(update={"port": port, "host": "127.0.0.1"})
    gate = gate or build(settings)
    app = Recording(create_app(settings, gate))
    # proxy_headers=False: the app sees the peer address, as under granian (which reads no
    # X-Forwarded-* header); imagegate itself decides which proxies to believe.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)
        yield Server(base, settings.data_dir, gate=gate)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_cli(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``imagegate init`` (if new) then ``imagegate serve`` in a subprocess."""
    creds = init_store(data_dir) if not (data_dir / "imagegate.db").exists() else {}
    port = free_port()
    log = (data_dir / "server.log").open("ab")
    proc = subprocess.Popen(
        [str(BIN / "imagegate"), "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)
        yield Server(base, data_dir, pid=proc.pid, **creds)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


# --- images ---------------------------------------------------------------------------------


def photo(width: int = 1200, height: int = 800) -> pyvips.Image:
    """A colourful test picture: gradients in three channels, no flat areas."""
    xyz = pyvips.Image.xyz(width, height)
    red = (xyz[0] * (255 / max(1, width - 1))).cast("uchar")
    green = (xyz[1] * (255 / max(1, height - 1))).cast("uchar")
    blue = ((xyz[0] + xyz[1]) % 256).cast("uchar")
    return red.bandjoin([green, blue]).copy(interpretation="srgb")


def jpeg(width: int = 1200, height: int = 800, **save: Any) -> bytes:
    data: bytes = photo(width, height).jpegsave_buffer(Q=90, **save)
    return data


def png(width: int = 640, height: int = 480) -> bytes:
    data: bytes = photo(width, height).pngsave_buffer()
    return data


def dimensions(data: bytes) -> tuple[int, int]:
    image = pyvips.Image.new_from_buffer(data, "")
    return image.width, image.height


def image_format(data: bytes) -> str:
    image = pyvips.Image.new_from_buffer(data, "")
    loader: str = image.get("vips-loader")
    return loader.removesuffix("load_buffer").removesuffix("load")


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def raw_request(base_url: str, target: str, method: str = "GET") -> RawResponse:
    """Send ``target`` byte for byte (HTTP clients normalise dot segments; this does not)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return RawResponse(response.status, headers, response.read())
    finally:
        conn.close()
