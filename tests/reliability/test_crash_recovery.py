"""Crash safety: the server is killed with SIGKILL in the middle of concurrent uploads,
deletes and renders, then restarted on the same store, again and again.

After every restart: each upload that was acknowledged (200) is listed and its original
hashes to the bytes sent; each acknowledged delete stays deleted; whatever else is listed (an
upload whose answer the kill swallowed) is complete, never torn; every variant on disk and
every variant served decodes in full. Then ``imagegate gc`` removes what the crashes left
(orphan blobs, temporary files) and nothing acknowledged is lost by it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from workload import (
    ACKED,
    DELETED,
    UNKNOWN,
    Ledger,
    blob_files,
    cached_variants_decode,
    kill_server,
    run_gc,
    verify,
    workload,
)

from harness import Server, serve_cli

THREADS = 8


def adopt(server: Server, first: Server) -> Server:
    """A restarted server has no credentials of its own to show: use the first start's."""
    server.account_id, server.account_hash = first.account_id, first.account_hash
    server.api_token, server.signing_key = first.api_token, first.signing_key
    return server


def check_and_collect(server: Server, ledger: Ledger, totals: Counter[str]) -> None:
    """Verify the store after a crash, run gc, verify again."""
    found = verify(server, ledger)
    totals["checks_of_acked"] += found.acked_intact
    totals["acked_verified_last"] = found.acked_intact
    totals["unanswered_present_last"] = found.unknown_present
    totals["variants_on_disk"] = cached_variants_decode(server.data_dir)
    report = run_gc(server.data_dir, "--grace", "0")  # nothing is in flight now
    totals["orphans_removed"] += report["orphans_removed"]
    totals["temp_files_removed"] += report["temp_files"]
    keys, temps = blob_files(server.data_dir)
    assert not temps, temps
    assert report["orphans_young"] == 0 and report["orphans_failed"] == 0, report
    assert len(keys) == report["referenced"], "blobs on disk and records disagree after gc"
    verify(server, ledger, render=False)  # gc took nothing that was acknowledged


def crash_loop(data_dir: Path, iterations: int, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    ledger = Ledger()
    totals: Counter[str] = Counter()
    first: Server | None = None
    for round_ in range(iterations + 1):
        with serve_cli(data_dir) as server:
            if first is None:
                first = server
            else:
                check_and_collect(adopt(server, first), ledger, totals)
            if round_ == iterations:
                break
            stop = threading.Event()
            workers = [
                threading.Thread(target=workload, args=(server, ledger, stop, f"r{round_}w{k}"))
                for k in range(THREADS)
            ]
            for worker in workers:
                worker.start()
            time.sleep(rng.uniform(0.4, 1.2))
            stop.set()  # workers finish the request they are in; the kill cuts it short
            kill_server(server)
            for worker in workers:
                worker.join(timeout=30)
            totals["kills"] += 1
    counts = ledger.counts()
    totals["uploads_sent"] = len(ledger.sent)
    totals["acked_alive"] = counts[ACKED]
    totals["deleted"] = counts[DELETED]
    totals["unanswered"] = counts[UNKNOWN]
    return totals


@pytest.mark.parametrize(
    "iterations",
    [pytest.param(3, id="3-kills"), pytest.param(25, id="25-kills", marks=pytest.mark.slow)],
)
def test_sigkill_loses_nothing_acknowledged(tmp_path: Path, iterations: int) -> None:
    started = time.monotonic()
    totals = crash_loop(tmp_path / "data", iterations, seed=iterations)
    assert totals["kills"] == iterations
    assert totals["acked_alive"] > 0
    assert totals["acked_verified_last"] == totals["acked_alive"]
    figures = " ".join(f"{k}={v}" for k, v in sorted(totals.items()))
    print(f"\nFIGURES crash: {figures} seconds={time.monotonic() - started:.0f}")
