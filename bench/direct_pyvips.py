"""The in-process reference for a cold resize: pyvips called directly, no HTTP, no storage.

Run as a child process by ``run.py`` (so it starts as fresh as the servers do)::

    python bench/direct_pyvips.py IMAGE... --threads 4 --seconds 10 --encoder plain

``threads`` threads resize in-memory JPEGs in a loop, thread ``i`` cycling through images
``i, i + threads, ...`` (as the HTTP load does), for ``seconds`` after a one-second warm-up;
prints one JSON line ``{"calls", "seconds", "rps", "cpu_seconds"}`` (CPU of all threads during
the measured part).
Encoders: ``plain`` is ``jpegsave_buffer(Q=85)``; ``imagegate`` uses the options imagegate's
JPEG encoder uses (progressive, optimised Huffman tables, no metadata), to tell library cost
from server overhead.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyvips


def resize_plain(data: bytes, width: int) -> bytes:
    image = pyvips.Image.thumbnail_buffer(data, width, height=12000)
    out: bytes = image.jpegsave_buffer(Q=85)
    return out


def resize_like_imagegate(data: bytes, width: int) -> bytes:
    image = pyvips.Image.thumbnail_buffer(data, width, height=12000)
    out: bytes = image.jpegsave_buffer(
        Q=85, interlace=True, optimize_coding=True, keep=pyvips.enums.ForeignKeep.NONE
    )
    return out


ENCODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "plain": resize_plain,
    "imagegate": resize_like_imagegate,
}


def measure(
    fn: Callable[[bytes, int], bytes],
    images: list[bytes],
    width: int,
    threads: int,
    seconds: float,
) -> tuple[int, float]:
    counts = [0] * threads
    start = time.perf_counter()
    deadline = start + seconds

    def loop(slot: int) -> None:
        mine = images[slot::threads] or [images[slot % len(images)]]
        while time.perf_counter() < deadline:
            fn(mine[counts[slot] % len(mine)], width)
            counts[slot] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("images", type=Path, nargs="+")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--encoder", choices=sorted(ENCODERS), default="plain")
    args = parser.parse_args()
    images = [path.read_bytes() for path in args.images]
    fn = ENCODERS[args.encoder]
    measure(fn, images, args.width, args.threads, 1.0)
    cpu = time.process_time()
    calls, seconds = measure(fn, images, args.width, args.threads, args.seconds)
    cpu = time.process_time() - cpu
    print(
        json.dumps({"calls": calls, "seconds": seconds, "rps": calls / seconds, "cpu_seconds": cpu})
    )


if __name__ == "__main__":
    main()
