"""Running imagegate for tests: real servers on loopback ports, the command, a clock the
test moves, and real images.

Two ways to run a server, both speaking real HTTP over a socket:

* :func:`serve_account` runs ``create_app`` under uvicorn in this process, over a fresh store
  with one account whose credentials the :class:`Server` carries. It takes the settings, a
  :class:`Clock`, the account's name and the dashboard's admin password; the test can reach
  the use cases behind it (:func:`in_process`), add accounts (:func:`add_account`) or seed
  its store (:func:`store_of`). :func:`serve_in_thread` is the same server over a store the
  test has prepared itself.
* :func:`serve_cli` runs ``imagegate serve`` (granian) as a subprocess, exactly as a user does.

:func:`run_cli` runs any other ``imagegate`` command, in an environment of its own.
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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pyvips
import uvicorn

from imagegate.adapters.metadata import SqlMetadata
from imagegate.assembly import Imagegate, build
from imagegate.core.models import Account
from imagegate.core.passwords import hash_password
from imagegate.settings import Settings
from imagegate.usecases.accounts import NewAccount
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


# --- the clock ------------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand: built into imagegate (``build(settings, clock)``, or
    :func:`serve_account`), it is the server's ``now``."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- the imagegate command ------------------------------------------------------------------


def cli_command(*args: str) -> list[str]:
    """``imagegate ARGS``, the installed command, as an argument list."""
    return [str(BIN / "imagegate"), *args]


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a command runs in: this process's without any ``IMAGEGATE*``
    variable (the test names the settings it means in ``extra``), with lines too wide to
    wrap, so that output is matched line by line."""
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("IMAGEGATE")}
    return {**clean, "COLUMNS": "1000", **(extra or {})}


def run_cli(
    *args: str,
    data_dir: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = False,
    timeout: float = 120,
    umask: int = -1,
) -> subprocess.CompletedProcess[str]:
    """``imagegate ARGS [--data-dir DATA_DIR]`` as a user runs it, in :func:`cli_env` plus
    ``env``: its exit status and output as text. Nothing is on its standard input, so a
    command that would prompt fails instead of waiting. ``umask`` is the shell's (-1: this
    process's)."""
    where = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return subprocess.run(
        cli_command(*args, *where),
        capture_output=True,
        text=True,
        env=cli_env(env),
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=check,
        umask=umask,
    )


def init_store(data_dir: Path) -> dict[str, str]:
    """``imagegate init --json``: a new store, and its first account's credentials."""
    out = run_cli("init", "--json", data_dir=data_dir, check=True)
    creds: dict[str, str] = json.loads(out.stdout)
    return creds


# --- servers --------------------------------------------------------------------------------


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


@functools.cache
def admin_hash(password: str) -> str:
    """scrypt is slow on purpose: each test password is hashed once per run."""
    return hash_password(password)


@contextlib.contextmanager
def serve_account(
    settings: Settings,
    *,
    clock: Callable[[], float] | None = None,
    name: str = "test",
    admin_password: str | None = None,
    flexible: bool = False,
) -> Iterator[Server]:
    """A real server on a loopback port over a fresh store with one account, ``name``; the
    :class:`Server` carries its id, hash, API token and signing key.

    ``clock`` is the server's ``now`` (a :class:`Clock` the test moves); ``admin_password``
    sets the dashboard's; ``flexible`` turns on the account's flexible variants. The store
    makes its own directory under ``settings.data_dir``, private, as it does in production.
    """
    gate = build(settings, clock) if clock is not None else build(settings)
    gate.migrate()
    new = gate.accounts.create(name)
    if flexible:
        gate.accounts.configure(new.account, flexible_variants=True)
    if admin_password is not None:
        store_of(gate).sessions.set_admin_password(admin_hash(admin_password), 0)
    with serve_in_thread(settings, gate) as srv:
        yield as_account(srv, new)


def as_account(srv: Server, new: NewAccount) -> Server:
    """The same running server, seen as the account ``new`` (its credentials)."""
    return replace(
        srv,
        account_id=new.account.id,
        account_hash=new.account.hash,
        api_token=new.api_token,
        signing_key=new.signing_key,
    )


def add_account(srv: Server, name: str = "other") -> Server:
    """The same running server, seen as a freshly created account (its own key and token)."""
    gate, _ = in_process(srv)
    return as_account(srv, gate.accounts.create(name))


def in_process(srv: Server) -> tuple[Imagegate, Account]:
    """The imagegate behind a server started in this process, and the server's account: for
    a test that prepares what it needs through the use cases."""
    assert srv.gate is not None, "a server started in this process"
    account = srv.gate.accounts.get(srv.account_id)
    assert account is not None, "a server with an account"
    return srv.gate, account


@contextlib.contextmanager
def serve_cli(
    data_dir: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """``imagegate init`` (if new) then ``imagegate serve [ARGS]`` in a subprocess."""
    creds = init_store(data_dir) if not (data_dir / "imagegate.db").exists() else {}
    port = free_port()
    log = (data_dir / "server.log").open("ab")
    proc = subprocess.Popen(
        cli_command("serve", "--data-dir", str(data_dir), "--port", str(port), *args),
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
