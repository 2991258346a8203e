"""Signature verification as a pure, in-process micro-benchmark, against HMAC-SHA256 alone."""

from __future__ import annotations

import hashlib
import hmac
import statistics
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from report import Micro

from imagegate.core.signing import sign_url, verify


def best_of(fn: Callable[[], object], number: int, repeat: int = 7) -> float:
    """Seconds per call: the median of ``repeat`` runs of ``number`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


def bench_verify(number: int = 50_000) -> list[Micro]:
    key = "Oix0bbNaT8Rge9PuyxUBrjI6zrgnsyJ5="
    url = sign_url(
        "https://img.example/ZWd9g1K7eljCn_KDTu_MWA/products/shoes/red.jpg/public",
        key,
        exp=4102444800,
    )
    parts = urlsplit(url)
    path, query = parts.path.encode(), parts.query.encode()
    message = f"{parts.path}?{parts.query.rsplit('&sig=', 1)[0]}".encode()
    one = [("default", key.encode())]
    two = [("old", b"x" * 44), ("default", key.encode())]

    hmac_s = best_of(lambda: hmac.digest(key.encode(), message, hashlib.sha256), number)
    rows = [Micro("HMAC-SHA256 alone (reference)", hmac_s * 1e6, 1.0)]
    for label, keys in (("verify, 1 key", one), ("verify, 2 keys (2nd matches)", two)):
        seconds = best_of(lambda keys=keys: verify(path, query, keys, 1_700_000_000), number)
        rows.append(Micro(label, seconds * 1e6, seconds / hmac_s))
    return rows
