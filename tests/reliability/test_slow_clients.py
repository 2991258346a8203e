"""Slow clients: slowloris connections (headers sent a byte at a time, never finished) and
trickled uploads are cut off, while everyone else keeps getting fast answers.

Every load here is bounded: a fixed number of connections, a fixed time, loopback only.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from workload import distinct_jpeg, raw_upload, read_response

from harness import Server, jpeg, serve_cli
from imagegate.settings import Settings

SLOWLORIS = 500  # connections, as in the spec's case 69
FAST = 1.0  # seconds: the most a normal request may take during an attack


@dataclass
class Slowloris:
    """``count`` connections that send their headers one byte every ``interval`` seconds
    and never finish them; a connection the server closes is replaced by a new one."""

    port: int
    count: int
    interval: float = 1.0
    closed_after: list[float] = field(default_factory=list)  # lifetimes the server ended
    opened: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def _open(self) -> tuple[socket.socket, float]:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.setblocking(False)
        sock.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        self.opened += 1
        return sock, time.monotonic()

    def run(self) -> None:
        conns = [self._open() for _ in range(self.count)]
        while not self.stop.wait(self.interval):
            for n, (sock, since) in enumerate(conns):
                try:
                    if sock.send(b"a") == 1 and _closed(sock):
                        raise ConnectionResetError
                except OSError:
                    self.closed_after.append(time.monotonic() - since)
                    sock.close()
                    conns[n] = self._open()
        for sock, _ in conns:
            sock.close()

    @contextmanager
    def running(self) -> Iterator[Slowloris]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            thread.join(timeout=30)


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""  # an answer (a 408) or an end of stream
    except BlockingIOError:
        return False


def port_of(server: Server) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def timed(call: object) -> float:
    started = time.monotonic()
    reply = call()  # type: ignore[operator]
    elapsed = time.monotonic() - started
    assert reply.status_code == 200, (reply.status_code, reply.text[:200])
    return elapsed


def normal_traffic(server: Server, seconds: float) -> list[float]:
    """An ordinary client's requests for ``seconds``: each on a new connection, so the
    server must keep accepting; a cached variant, an API read, an upload. Their latencies."""
    latencies = []
    hot = f"{server.base_url}/{server.account_hash}/hot/public"
    auth = {"Authorization": f"Bearer {server.api_token}"}
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        latencies.append(timed(lambda: httpx.get(hot, timeout=10)))
        latencies.append(
            timed(lambda: httpx.get(f"{server.images_url}/hot", headers=auth, timeout=10))
        )
        image = ("a.jpg", distinct_jpeg(n))
        latencies.append(
            timed(
                lambda: httpx.post(
                    server.images_url, headers=auth, files={"file": image}, timeout=10
                )
            )
        )
    return latencies


def prepare(server: Server) -> None:
    with server.client() as client:
        reply = client.post(
            server.images_url, files={"file": ("a.jpg", jpeg(800, 600))}, data={"id": "hot"}
        )
        assert reply.status_code == 200, reply.text
        assert client.get(f"/{server.account_hash}/hot/public").status_code == 200


def test_slowloris_leaves_everyone_else_fast(tmp_path: Path) -> None:
    with serve_cli(tmp_path / "data") as server:
        prepare(server)
        quiet = normal_traffic(server, 0.5)
        with Slowloris(port_of(server), SLOWLORIS).running() as attack:
            time.sleep(1.0)  # every connection is open and trickling
            loud = normal_traffic(server, 3.0)
        assert attack.opened >= SLOWLORIS
        assert max(loud) < FAST, f"slowest normal request under attack: {max(loud):.3f} s"
    print(
        f"\nFIGURES slowloris: connections={SLOWLORIS} requests={len(loud)} "
        f"p50_ms={statistics.median(loud) * 1000:.1f} max_ms={max(loud) * 1000:.1f} "
        f"quiet_p50_ms={statistics.median(quiet) * 1000:.1f} "
        f"quiet_max_ms={max(quiet) * 1000:.1f}"
    )


def test_slow_headers_and_idle_connections_are_cut_off(tmp_path: Path) -> None:
    timeout = 2.0
    env = {"IMAGEGATE_HEADER_TIMEOUT": str(timeout)}
    with serve_cli(tmp_path / "data", env) as server:
        idle = socket.create_connection(("127.0.0.1", port_of(server)))
        with Slowloris(port_of(server), 50, interval=0.25).running() as attack:
            # Under load the attacker's own thread may notice closures late: allow slack
            # in when they are seen, not in whether they happen.
            deadline = time.monotonic() + timeout + 10
            while len(attack.closed_after) < 50 and time.monotonic() < deadline:
                time.sleep(0.25)
        assert len(attack.closed_after) >= 50, "slow connections were not closed"
        # Closed by the header timeout, not earlier (a stray reset under load may be).
        assert statistics.median(attack.closed_after) >= timeout - 0.5, attack.closed_after
        idle.settimeout(1.0)
        assert idle.recv(100) == b""  # closed too, having sent nothing
        idle.close()
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200
    print(
        f"\nFIGURES slow-headers: header_timeout={timeout} s, {len(attack.closed_after)} "
        f"connections closed after {min(attack.closed_after):.2f}-{max(attack.closed_after):.2f} s"
    )


def test_a_trickled_upload_is_cut_off_and_a_slow_honest_one_is_not(tmp_path: Path) -> None:
    timeout = 2.0
    env = {"IMAGEGATE_BODY_TIMEOUT": str(timeout)}
    with serve_cli(tmp_path / "data", env) as server:
        prepare(server)
        head, body = raw_upload(server, "trickled", jpeg(200, 150))
        answer: dict[str, object] = {}

        def trickle() -> None:
            with socket.create_connection(("127.0.0.1", port_of(server)), timeout=15) as sock:
                started = time.monotonic()
                sock.sendall(head)
                try:
                    for offset in range(0, len(body), 4):  # 4 bytes every 0.5 s: 8 B/s
                        sock.sendall(body[offset : offset + 4])
                        if _answered(sock) or time.monotonic() - started > timeout + 3:
                            break
                        time.sleep(0.5)
                except OSError:
                    pass
                answer["after"] = time.monotonic() - started
                sock.settimeout(2)
                try:
                    answer["status"], answer["body"] = read_response(sock)
                except (OSError, ValueError):
                    answer["status"] = None  # no answer at all

        thread = threading.Thread(target=trickle)
        thread.start()
        latencies = normal_traffic(server, timeout + 1.5)
        thread.join(timeout=20)
        assert answer["status"] == 408, answer
        assert json.loads(answer["body"])["errors"][0]["code"] == 5408  # type: ignore[arg-type]
        assert answer["after"] < timeout + 1.5, answer["after"]  # type: ignore[operator]
        assert max(latencies) < FAST

        # Slow but steady: longer than the timeout in all, far above the minimum rate.
        head, body = raw_upload(server, "steady", jpeg(1200, 800))
        with socket.create_connection(("127.0.0.1", port_of(server)), timeout=15) as sock:
            sock.sendall(head)
            step = len(body) // 10 + 1
            for offset in range(0, len(body), step):
                sock.sendall(body[offset : offset + step])
                time.sleep((timeout + 1) / 10)
            status, reply = read_response(sock)
        assert status == 200, reply[:300]
    print(
        f"\nFIGURES trickle: body_timeout={timeout} s, 408 after {answer['after']:.2f} s; "
        f"normal requests meanwhile max_ms={max(latencies) * 1000:.1f}; "
        f"a steady {len(body)} B upload over {timeout + 1:.0f} s: 200"
    )


def _answered(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return False
    finally:
        sock.setblocking(True)
        sock.settimeout(15)


@pytest.mark.slow
def test_slowloris_is_cut_off_with_the_default_settings(tmp_path: Path) -> None:
    """Whatever the configuration, a connection never finishing its headers is closed by
    the header timeout (``header_timeout``, 10 s by default)."""
    limit = Settings.model_fields["header_timeout"].default
    with serve_cli(tmp_path / "data") as server:
        with Slowloris(port_of(server), 100).running() as attack:
            deadline = time.monotonic() + limit + 5
            while len(attack.closed_after) < 100 and time.monotonic() < deadline:
                time.sleep(0.5)
        assert len(attack.closed_after) >= 100
        assert max(attack.closed_after) < limit + 2, max(attack.closed_after)
    print(
        f"\nFIGURES slowloris-default: header_timeout={limit} s, 100 connections closed "
        f"after {min(attack.closed_after):.1f}-{max(attack.closed_after):.1f} s"
    )
