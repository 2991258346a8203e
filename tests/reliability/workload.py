"""What the reliability tests drive and how they check it: distinct images, a ledger of what
the server acknowledged, a concurrent upload-and-delete workload, a server killed outright,
and a verification of everything the ledger says must (or must not) be there."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pyvips

from harness import Server, photo, run_cli

# --- images -----------------------------------------------------------------------------------


def distinct_jpeg(n: int, width: int = 64, height: int = 48) -> bytes:
    """A small JPEG whose pixels (so whose bytes) differ for every ``n``."""
    image = photo(width, height).draw_rect(
        [n & 255, (n >> 8) & 255, (n >> 16) & 255], 0, 0, 16, 16, fill=True
    )
    data: bytes = image.jpegsave_buffer(Q=90)
    return data


def noise_jpeg(seed: int, side: int = 512) -> bytes:
    """A JPEG of noise: barely compressible, so a few of them fill a small disk."""
    noise = pyvips.Image.gaussnoise(side, side, sigma=80, mean=128, seed=seed)
    image = noise.bandjoin([noise.rot180(), noise.flip("horizontal")]).cast("uchar")
    data: bytes = image.copy(interpretation="srgb").jpegsave_buffer(Q=95)
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decodes_fully(data: bytes) -> bool:
    """True if every pixel decodes: a truncated or torn file fails (``fail=True``)."""
    try:
        image = pyvips.Image.new_from_buffer(data, "", fail=True)
        image.avg()
    except pyvips.Error:
        return False
    return True


# --- the server process ---------------------------------------------------------------------


def server_group(server: Server) -> int:
    """The process group of a ``serve_cli`` server (its pid leads its own group)."""
    if server.pid:
        return server.pid
    port = int(server.base_url.rsplit(":", 1)[1])
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            for line in handle.readlines()[1:]:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "0A":  # LISTEN
                    inodes.add(f"socket:[{cols[9]}]")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return os.getpgid(int(pid))
    raise RuntimeError(f"no process listens on port {port}")


def kill_server(server: Server) -> None:
    """SIGKILL the server's whole process group: no cleanup, no flush, no goodbye."""
    os.killpg(server_group(server), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{server.base_url}/healthz", timeout=0.2)
        except httpx.TransportError:
            return
        time.sleep(0.02)
    raise RuntimeError("server still answers after SIGKILL")


def run_gc(data_dir: Path, *args: str) -> dict[str, int]:
    """``imagegate gc --json`` on ``data_dir``; its report."""
    out = run_cli("gc", "--json", *args, data_dir=data_dir, check=True)
    report: dict[str, int] = json.loads(out.stdout)
    return report


# --- the ledger -------------------------------------------------------------------------------

ACKED = "acked"  # the upload answered 200: it must be there, intact
UNKNOWN = "unknown"  # the upload got no answer: absent, or there and intact
DELETED = "deleted"  # the delete answered 200: it must be gone
DELETE_UNKNOWN = "delete-unknown"  # the delete got no answer: gone, or there and intact


@dataclass
class Ledger:
    """Every image id the tests sent, the bytes' hash, and what the server answered."""

    sent: dict[str, str] = field(default_factory=dict)  # id -> sha256 of the bytes sent
    state: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, image_id: str, state: str, digest: str | None = None) -> None:
        with self.lock:
            if digest is not None:
                self.sent[image_id] = digest
            self.state[image_id] = state

    def ids(self, *states: str) -> set[str]:
        with self.lock:
            return {i for i, s in self.state.items() if s in states}

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.state.values())


def upload(
    client: httpx.Client, server: Server, ledger: Ledger, image_id: str, data: bytes
) -> bool:
    ledger.record(image_id, UNKNOWN, sha256(data))
    try:
        reply = client.post(
            server.images_url, files={"file": ("i.jpg", data, "image/jpeg")}, data={"id": image_id}
        )
    except httpx.TransportError:
        return False  # killed mid-request: stays unknown
    if reply.status_code != 200:  # an error may come after the commit: stays unknown
        return False
    ledger.record(image_id, ACKED)
    return True


def delete(client: httpx.Client, server: Server, ledger: Ledger, image_id: str) -> None:
    ledger.record(image_id, DELETE_UNKNOWN)
    try:
        reply = client.delete(f"{server.images_url}/{quote(image_id, safe='')}")
    except httpx.TransportError:
        return
    assert reply.status_code == 200, (reply.status_code, reply.text)
    ledger.record(image_id, DELETED)


def workload(server: Server, ledger: Ledger, stop: threading.Event, worker: str) -> None:
    """Upload distinct images until ``stop``; now and then delete one of this worker's
    acknowledged images or fetch a variant of one (a render and a cache write)."""
    rng = random.Random(worker)
    mine: list[str] = []
    n = 0
    with server.client() as client:
        client.timeout = httpx.Timeout(15)
        while not stop.is_set():
            n += 1
            image_id = f"{worker}/{n}"
            side = 640 if n % 4 == 0 else 64  # now and then a bigger body, a longer write
            data = distinct_jpeg(zlib.crc32(image_id.encode()), side, side * 3 // 4)
            if upload(client, server, ledger, image_id, data):
                mine.append(image_id)
            roll = rng.random()
            if mine and roll < 0.25:
                delete(client, server, ledger, mine.pop(rng.randrange(len(mine))))
            elif mine and roll < 0.5:
                with contextlib.suppress(httpx.TransportError):
                    client.get(f"/{server.account_hash}/{rng.choice(mine)}/public")


# --- checking ----------------------------------------------------------------------------------


def listed_ids(client: httpx.Client, server: Server) -> set[str]:
    """Every image id the v2 listing shows, across pages."""
    found: set[str] = set()
    token = None
    v2 = server.images_url.replace("/images/v1", "/images/v2")
    while True:
        params = {"per_page": 1000, **({"continuation_token": token} if token else {})}
        reply = client.get(v2, params=params)
        assert reply.status_code == 200, reply.text
        result = reply.json()["result"]
        found.update(image["id"] for image in result["images"])
        token = result["continuation_token"]
        if not token:
            return found


@dataclass
class Verified:
    listed: int
    acked_intact: int
    unknown_present: int
    deleted_gone: int


def verify(server: Server, ledger: Ledger, *, render: bool = True) -> Verified:
    """Everything acknowledged is there byte for byte, everything deleted is gone, and
    whatever else is there is complete: its original hashes to what was sent, and (with
    ``render``) its ``public`` variant renders to an image that decodes."""
    with server.client() as client:
        listed = listed_ids(client, server)
        acked = ledger.ids(ACKED)
        deleted = ledger.ids(DELETED)
        assert not acked - listed, f"acknowledged uploads lost: {sorted(acked - listed)[:10]}"
        assert not listed & deleted, f"deleted ids listed: {sorted(listed & deleted)}"
        assert listed <= set(ledger.sent), (
            f"unknown ids listed: {sorted(listed - set(ledger.sent))}"
        )
        for image_id in sorted(listed):
            path = quote(image_id, safe="")
            blob = client.get(f"{server.images_url}/{path}/blob")
            assert blob.status_code == 200, (image_id, blob.status_code)
            assert sha256(blob.content) == ledger.sent[image_id], f"{image_id}: torn original"
            if render:
                public = client.get(f"/{server.account_hash}/{image_id}/public")
                assert public.status_code == 200, (image_id, public.status_code)
                assert decodes_fully(public.content), f"{image_id}: variant does not decode"
        for image_id in sorted(deleted)[:50]:
            gone = client.get(f"{server.images_url}/{quote(image_id, safe='')}/blob")
            assert gone.status_code == 404, (image_id, gone.status_code)
    return Verified(
        listed=len(listed),
        acked_intact=len(acked),
        unknown_present=len(listed - acked),
        deleted_gone=len(ledger.ids(DELETED)),
    )


def cached_variants_decode(data_dir: Path) -> int:
    """Every rendered variant on disk decodes; how many there are. Temporary files (a write
    a crash interrupted) are not entries: they are never served."""
    count = 0
    for path in (data_dir / "variants").rglob("*"):
        if path.is_file() and not path.name.endswith(".tmp"):
            assert decodes_fully(path.read_bytes()), f"torn variant on disk: {path}"
            count += 1
    return count


def blob_files(data_dir: Path) -> tuple[set[str], list[Path]]:
    """The stored blob keys under ``data_dir`` and the temporary files beside them."""
    root = data_dir / "blobs"
    keys = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }
    return keys, [p for p in root.rglob(".*.tmp")]


def raw_upload(server: Server, image_id: str, data: bytes) -> tuple[bytes, bytes]:
    """An upload as bytes for a socket, so a test controls its pace: (head, body)."""
    boundary = "reliability-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="id"\r\n\r\n{image_id}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    path = server.images_url.removeprefix(server.base_url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Bearer {server.api_token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and whole body of the one response on ``sock`` (the server closes after)."""
    received = bytearray()
    while chunk := sock.recv(65536):
        received.extend(chunk)
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    if not head:
        raise ConnectionError("closed without an answer")
    return int(head.split(b" ", 2)[1]), body
