"""The worker processes of one node pooling their metrics in a directory: each writes its
counts to a file named by its pid (atomically, about once a second and whenever it answers
a scrape), and the one that answers a scrape reads them all. Counting itself stays a
dictionary increment in each process; nothing is shared on the request path.

``imagegate serve`` makes a fresh directory for its workers (``IMAGEGATE_METRICS_DIR``)
and removes it when it stops.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("imagegate.metrics")


class SoloShare:
    """No directory: this process reports for itself alone."""

    def publish(self, counts: dict[str, Any]) -> None:
        pass

    def gather(self) -> list[tuple[dict[str, Any], bool]]:
        return []


class DirectoryShare:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def publish(self, counts: dict[str, Any]) -> None:
        pid = os.getpid()
        final = self.directory / f"{pid}.json"
        temporary = self.directory / f".{pid}.json.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(counts, out, separators=(",", ":"))
            os.replace(temporary, final)
        except OSError as exc:
            log.warning("could not share this worker's metrics: %s", type(exc).__name__)

    def gather(self) -> list[tuple[dict[str, Any], bool]]:
        found = []
        try:
            files = sorted(self.directory.glob("*.json"))
        except OSError:
            return []
        for path in files:
            try:
                counts = json.loads(path.read_text(encoding="utf-8"))
                pid = int(path.stem)
            except (OSError, ValueError):
                continue  # gone meanwhile, or not one of ours
            found.append((counts, pid == os.getpid() or _alive(pid)))
        return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
