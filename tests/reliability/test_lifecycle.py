"""Start and stop: SIGTERM drains the requests in flight and takes no new ones; a start
clears the temporary files a crash left."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
from workload import blob_files, raw_upload, read_response, server_group, sha256

from harness import jpeg, serve_cli
from imagegate.assembly import build
from imagegate.settings import Settings
from imagegate.usecases.maintenance import TEMP_GRACE


def exited(pid: int, within: float) -> bool:
    """Whether ``pid`` ends (is gone, or a zombie waiting for its parent) within the time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("to_group", [False, True], ids=["main-process", "process-group"])
def test_sigterm_finishes_the_upload_in_flight(tmp_path: Path, to_group: bool) -> None:
    """SIGTERM to granian's main process (``docker stop``) or to all of its processes
    (systemd's default): the upload being streamed completes with 200 and is stored, new
    connections are refused, and the server exits."""
    data = jpeg(1200, 800)
    with serve_cli(tmp_path / "data") as server:
        head, body = raw_upload(server, "in-flight", data)
        port = int(server.base_url.rsplit(":", 1)[1])
        pid = server.pid or server_group(server)  # granian's main process
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(head + body[: len(body) // 2])
            time.sleep(0.3)  # the request is being handled: headers read, body half there
            if to_group:
                os.killpg(os.getpgid(pid), signal.SIGTERM)
            else:
                os.kill(pid, signal.SIGTERM)
            time.sleep(0.5)
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            sock.sendall(body[len(body) // 2 :])
            status, reply = read_response(sock)
        assert status == 200, reply[:300]
        assert exited(pid, within=15), "the server did not exit after draining"
    gate = build(Settings(data_dir=tmp_path / "data"))
    account = gate.accounts.all()[0]
    stored, _ = gate.images.original(account, "in-flight")
    assert sha256(stored) == sha256(data)
    assert not blob_files(tmp_path / "data")[1]


def test_a_start_sweeps_the_temporary_files_a_crash_left(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serve_cli(data_dir):
        pass  # initialise the store
    leftovers = data_dir / "blobs" / "originals" / "x"
    leftovers.mkdir(parents=True)
    stale, fresh = leftovers / ".stale.1.tmp", leftovers / ".fresh.2.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"half a write")
    old = time.time() - 2 * TEMP_GRACE
    os.utime(stale, (old, old))
    with serve_cli(data_dir):
        assert not stale.exists(), "the start left a crash's temporary file"
        assert fresh.exists(), "the start took a temporary file a live write may own"
