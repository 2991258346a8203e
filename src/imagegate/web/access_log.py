"""The access log's line, and how a server process writes it without slowing its requests.

:func:`access_line` is the JSON object of one request, the same text ``json.dumps`` with
compact separators gives, built by one f-string around the standard library's C string
escaper (about a tenth of ``json.dumps``'s time).

Through :mod:`logging`, a line costs a ``LogRecord``, a formatter and a ``write`` and
``flush`` on the stream: a system call per request, and with it a release of the GIL that
the server's own threads then take, so the event loop waits to get it back. That was most of
a cached answer's cost. A server process therefore writes its access lines through a
:class:`BufferedAccessLog`, as nginx's ``access_log ... buffer=64k flush=1s`` does: the
lines, exactly as the logging format would have written them, gather in memory and go out
in one write when 64 KiB have gathered, when the oldest is a second old, or when the
process stops. Everywhere else (tests, a process whose logging someone else set up) the
lines are ``INFO`` records of the ``imagegate.access`` logger, as always.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _quote
from typing import TextIO

access_log = logging.getLogger("imagegate.access")

#: What ``LOG_FORMAT`` (:mod:`imagegate.web.observe`) puts before an access line's message.
PREFIX = "INFO imagegate.access "
BUFFER_BYTES = 64 * 1024
FLUSH_SECONDS = 1.0


def access_line(
    method: str, path: str, query: str, status: int, sent: int, ms: float, client: str
) -> str:
    """``{"method", "path", "query", "status", "bytes", "ms", "client"}`` as compact JSON,
    character for character what ``json.dumps(..., separators=(",", ":"))`` writes."""
    return (
        f'{{"method":{_quote(method)},"path":{_quote(path)},"query":{_quote(query)},'
        f'"status":{status:d},"bytes":{sent:d},"ms":{ms!r},"client":{_quote(client)}}}'
    )


class BufferedAccessLog:
    """Access lines written to ``stream`` in batches, under ``lock`` (the lock of the handler
    that writes the process's other lines to the same stream, so no line is cut in two)."""

    def __init__(
        self,
        stream: TextIO,
        lock: threading.RLock | None = None,
        *,
        limit: int = BUFFER_BYTES,
        interval: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.stream_lock = lock or threading.RLock()
        self.limit = limit
        self.interval = interval
        self.clock = clock
        self._lines: list[str] = []
        self._size = 0
        self._oldest = 0.0
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        """Keep one access line (the JSON message, without the prefix)."""
        line = PREFIX + message + "\n"
        with self._lock:
            if not self._lines:
                self._oldest = self.clock()
            self._lines.append(line)
            self._size += len(line)
            due = self._size >= self.limit or self.clock() - self._oldest >= self.interval
        if due:
            self.flush()

    def flush(self) -> None:
        """Write what has gathered (nothing when nothing has)."""
        with self._lock:
            lines, self._lines, self._size = self._lines, [], 0
        if not lines:
            return
        with self.stream_lock:
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except (OSError, ValueError):  # a closed or broken stream: as logging, go on
                pass

    def pending(self) -> int:
        """Lines kept and not written yet."""
        return len(self._lines)


def through_logging(message: str) -> None:
    """An access line as an ``INFO`` record of the ``imagegate.access`` logger."""
    access_log.info(message)


__all__ = ["BufferedAccessLog", "access_line", "access_log", "through_logging"]
