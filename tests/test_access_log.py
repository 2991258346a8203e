"""The access log's line and its buffered writer: the same text the logging module wrote,
for less work per request."""

from __future__ import annotations

import io
import json
import logging

import pytest

from imagegate.web.access_log import BufferedAccessLog, access_line
from imagegate.web.observe import LOG_FORMAT
from imagegate.web.redaction import RedactingFormatter

FIELDS = [
    ("GET", "/h/id/public", "exp=1&sig=REDACTED", 200, 1234, 0.42, "127.0.0.1"),
    ("HEAD", '/h/"quoted"\\back/\x00\x1f', "n=\xe9\xff", 304, 0, 12.0, "::1"),
    ("POST", "/upload/REDACTED", "", 413, 0, 1e-05, ""),
    ("GET", "/h/\u00e9\u4e2d\U0001f600/x", "a=b;c", 500, 7, 1234567.89, "10.0.0.1"),
]


@pytest.mark.parametrize("fields", FIELDS)
def test_the_line_is_what_json_dumps_writes(fields: tuple[object, ...]) -> None:
    method, path, query, status, sent, ms, client = fields
    expected = json.dumps(
        {
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "bytes": sent,
            "ms": ms,
            "client": client,
        },
        separators=(",", ":"),
    )
    assert access_line(*fields) == expected  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def through_logging(messages: list[str]) -> str:
    """What a server process's log handler wrote for these access lines before."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(LOG_FORMAT, skip=("imagegate.access",)))
    logger = logging.getLogger("test.access-format")
    for message in messages:
        record = logger.makeRecord("imagegate.access", logging.INFO, __file__, 1, message, (), None)
        handler.handle(record)
    return stream.getvalue()


def test_buffered_lines_are_written_as_the_log_handler_wrote_them() -> None:
    messages = [access_line(*fields) for fields in FIELDS]  # type: ignore[arg-type]
    stream = io.StringIO()
    writer = BufferedAccessLog(stream, clock=Clock())
    for message in messages:
        writer(message)
    assert stream.getvalue() == ""  # kept, not written per request
    writer.flush()
    assert stream.getvalue() == through_logging(messages)
    writer.flush()  # nothing more to write
    assert stream.getvalue() == through_logging(messages)


def test_lines_go_out_when_the_buffer_fills_or_the_oldest_is_a_second_old() -> None:
    clock = Clock()
    stream = io.StringIO()
    writer = BufferedAccessLog(stream, limit=1000, interval=1.0, clock=clock)
    line = access_line(*FIELDS[0])  # type: ignore[arg-type]
    writer(line)
    clock.now += 0.9
    writer(line)
    assert stream.getvalue() == "" and writer.pending() == 2
    clock.now += 0.1  # the first is a second old
    writer(line)
    assert stream.getvalue().count("\n") == 3 and writer.pending() == 0
    size = len(line) + len("INFO imagegate.access \n")
    for count in range(1, 20):
        writer(line)
        if writer.pending() == 0:
            break
    assert count == -(-1000 // size)  # written once 1000 characters had gathered
    assert stream.getvalue().count("\n") == 3 + count


def test_a_broken_stream_does_not_break_requests() -> None:
    stream = io.StringIO()
    writer = BufferedAccessLog(stream, clock=Clock())
    writer(access_line(*FIELDS[0]))  # type: ignore[arg-type]
    stream.close()
    writer.flush()  # as a logging handler, it carries on
    writer(access_line(*FIELDS[0]))  # type: ignore[arg-type]
    assert writer.pending() == 1
