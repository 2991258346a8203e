"""The least an ASGI app on granian can do to answer with a cached variant: send the bytes,
held in memory, with no routing, no signature check and no lookup.

Served by ``run.py`` next to imagegate and nginx, with the same workers and load, it tells
how much of the gap to nginx is granian's ASGI bridge and how much is imagegate's own work.
It starts granian the way ``imagegate serve`` does (same API, same defaults)::

    python bench/asgi_floor.py BODY_FILE --port 8081 --workers 2
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

_BODY = Path(os.environ.get("BENCH_FLOOR_FILE", __file__)).read_bytes()
_HEADERS = [(b"content-type", b"image/jpeg"), (b"content-length", str(len(_BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":  # lifespan: nothing to set up
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces

    parser = argparse.ArgumentParser()
    parser.add_argument("body", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    # Workers import this module afresh: they find the body through the environment.
    os.environ["BENCH_FLOOR_FILE"] = str(args.body.resolve())
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")  # as imagegate serve
    Granian(
        "asgi_floor:app",
        address="127.0.0.1",
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        log_access=False,
    ).serve()


if __name__ == "__main__":
    main()
