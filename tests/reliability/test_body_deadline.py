"""The body deadline on its own, as ASGI: a trickle is cut off with 408, a slow but steady
body is not, and nothing is timed once the body is in."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from imagegate.web.deadlines import BodyDeadline

Message = dict[str, Any]
SCOPE: dict[str, Any] = {"type": "http", "method": "POST", "path": "/up", "headers": []}


def client(chunks: int, size: int, every: float, then_wait: bool = True) -> Any:
    """A client sending ``chunks`` chunks of ``size`` bytes, one every ``every`` seconds."""
    sent = 0

    async def receive() -> Message:
        nonlocal sent
        if sent == chunks:
            if then_wait:
                await asyncio.sleep(3600)  # connected and silent
            return {"type": "http.disconnect"}
        await asyncio.sleep(every)
        sent += 1
        return {"type": "http.request", "body": b"x" * size, "more_body": sent < chunks}

    return receive


async def reading_app(scope: Any, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
    """Reads the body to its end, then answers 200 with its length (400 if the client left)."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"client left"})
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


def run(app: Any, receive: Any, timeout: float, min_rate: int = 500) -> tuple[list[Message], float]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> float:
        started = time.monotonic()
        await asyncio.wait_for(BodyDeadline(app, timeout, min_rate)(SCOPE, receive, send), 10)
        return time.monotonic() - started

    return sent, asyncio.run(main())


def status(sent: list[Message]) -> int:
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    return int(starts[0]["status"])


def test_a_trickle_is_answered_408_and_the_app_sees_the_client_go() -> None:
    sent, took = run(reading_app, client(chunks=1000, size=1, every=0.05), timeout=0.3)
    assert status(sent) == 408
    headers = dict(sent[0]["headers"])
    assert headers[b"connection"] == b"close"
    assert headers[b"cache-control"] == b"no-store"
    error = json.loads(sent[1]["body"])["errors"][0]
    assert error["code"] == 5408
    assert b"client left" not in b"".join(m.get("body", b"") for m in sent)  # dropped
    assert 0.3 <= took < 0.6


def test_the_deadline_grows_with_what_arrives() -> None:
    """Twice the timeout in all, but far above the minimum rate: not cut off."""
    sent, took = run(reading_app, client(chunks=8, size=1000, every=0.1), timeout=0.4)
    assert status(sent) == 200 and sent[1]["body"] == b"8000"
    assert took > 0.75


def test_below_the_minimum_rate_is_cut_off_even_while_bytes_flow() -> None:
    sent, _ = run(
        reading_app, client(chunks=1000, size=10, every=0.05), timeout=0.3, min_rate=1000
    )  # 200 B/s against 1000 B/s
    assert status(sent) == 408


def test_nothing_is_timed_once_the_body_is_in() -> None:
    """A handler that waits long after reading its body (for a render, or for the client to
    go while it streams a response) is not cut off."""

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await asyncio.sleep(0.5)  # past the deadline
        await send({"type": "http.response.start", "status": 200, "headers": []})
        assert (await receive())["type"] == "http.disconnect"  # the real one, not a cut
        await send({"type": "http.response.body", "body": b"done"})

    sent, _ = run(slow_app, client(chunks=2, size=10, every=0.01, then_wait=False), timeout=0.2)
    assert status(sent) == 200 and sent[1]["body"] == b"done"


def test_a_body_already_there_is_taken_however_late_it_is_read() -> None:
    async def late_app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0.4)  # the deadline passes before the first read
        await reading_app(scope, receive, send)

    sent, _ = run(late_app, client(chunks=1, size=100, every=0.0), timeout=0.2)
    assert status(sent) == 200


def test_after_the_response_started_the_client_is_only_let_go() -> None:
    async def eager_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send({"type": "http.response.body", "body": b"partial"})

    sent, _ = run(eager_app, client(chunks=1000, size=1, every=0.05), timeout=0.2)
    assert status(sent) == 200
    assert [m for m in sent if m["type"] == "http.response.body"] == []  # dropped after the cut


def test_other_scopes_pass_through() -> None:
    seen = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope["type"], receive is marker))

    async def marker() -> Message:
        return {}

    async def send(message: Message) -> None: ...

    asyncio.run(BodyDeadline(app, 1.0)({"type": "lifespan"}, marker, send))
    assert seen == [("lifespan", True)]


@pytest.mark.parametrize(("timeout", "rate"), [(0, 500), (-1, 500), (1, 0)])
def test_bounds_must_be_positive(timeout: float, rate: int) -> None:
    with pytest.raises(ValueError):
        BodyDeadline(reading_app, timeout, rate)


@pytest.mark.parametrize(
    ("path", "shared"), [("/upload/" + "A" * 43, True), ("/accounts/x", False)]
)
def test_a_trickled_upload_is_cut_off_with_an_answer_the_page_can_read(
    path: str, shared: bool
) -> None:
    """The body deadline answers 408 on its own, before the application: on the upload URL
    that answer is readable from any origin too (and only there)."""
    sent: list[Message] = []

    async def silent() -> Message:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def reading(_scope: Any, receive: Any, _send: Any) -> None:
        await receive()

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": []}
    asyncio.run(asyncio.wait_for(BodyDeadline(reading, 0.2)(scope, silent, send), 10))
    assert sent[0]["status"] == 408
    headers = dict(sent[0]["headers"])
    assert (headers.get(b"access-control-allow-origin") == b"*") is shared
