"""A deadline on request bodies, so a client that trickles its upload is cut off.

granian bounds the time a client may take to send a request's headers
(``HTTP1Settings.header_read_timeout``, which also closes idle connections) but not its body:
a client sending a byte a second would hold a connection and a half-read upload form for as
long as it liked, and a few hundred such clients would hold the server's memory and file
descriptors. :class:`BodyDeadline` gives every request body a deadline that grows with what
has arrived, as Apache's ``mod_reqtimeout`` does (``body=20,MinRate=500``): ``timeout``
seconds, plus one second for every ``min_rate`` bytes received. An honest upload on a slow
link gets the time its size needs; a trickle is cut off after about ``timeout`` seconds.

Past the deadline the client is answered ``408`` (code 5408) with ``Connection: close``, and
the application sees the client as gone (``http.disconnect``), so it stops reading and what
it then sends is dropped. Once a body has been read in full, nothing more is timed: a
response that streams for long is the application's business.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagegate.core.errors import RequestTimeout
from imagegate.web.cors import is_upload_url
from imagegate.web.errors import api_response

#: Bytes per second a body must average, past the initial allowance (as mod_reqtimeout).
MIN_RATE = 500
#: However late it is, a chunk the server already holds is still taken: a handler that
#: reads its body late (after a wait of its own) must not lose a body that has arrived.
LATE_READ = 0.05
_DISCONNECT: Message = {"type": "http.disconnect"}


class BodyDeadline:
    """ASGI middleware: the body of each HTTP request must arrive within its deadline."""

    def __init__(
        self,
        app: ASGIApp,
        timeout: float,
        min_rate: int = MIN_RATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout <= 0 or min_rate <= 0:
            raise ValueError("timeout and min_rate must be positive")
        self.app = app
        self.timeout = timeout
        self.min_rate = min_rate
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = _Guard(self, scope, receive, send)
        await self.app(scope, guard.receive, guard.send)


class _Guard:
    """One request's body clock, and the gate on what the application sends."""

    def __init__(self, owner: BodyDeadline, scope: Scope, receive: Receive, send: Send) -> None:
        self.owner = owner
        self.scope = scope
        self._receive = receive
        self._send = send
        self.start = owner.clock()
        self.received = 0
        self.complete = False  # the whole body has been read
        self.responding = False  # a response has started
        self.cut = False  # the deadline passed: the client has been answered 408

    def deadline(self) -> float:
        return self.start + self.owner.timeout + self.received / self.owner.min_rate

    async def receive(self) -> Message:
        if self.cut:
            return _DISCONNECT
        if self.complete:
            return await self._receive()
        remaining = max(self.deadline() - self.owner.clock(), LATE_READ)
        try:
            async with asyncio.timeout(remaining):
                message = await self._receive()
        except TimeoutError:
            await self._cut_off()
            return _DISCONNECT
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        elif message["type"] == "http.disconnect":
            self.complete = True
        return message

    async def send(self, message: Message) -> None:
        if self.cut:
            return  # the client was answered already and is being let go
        if message["type"] == "http.response.start":
            self.responding = True
        await self._send(message)

    async def _cut_off(self) -> None:
        self.cut = True
        if self.responding:
            return  # too late for a status: the connection closes with the unread body
        response = api_response(RequestTimeout())
        response.headers["Connection"] = "close"
        if is_upload_url(self.scope):  # a browser page on another origin may read it
            response.headers["Access-Control-Allow-Origin"] = "*"
        await response(self.scope, _never_receive, self._send)


async def _never_receive() -> Message:
    return _DISCONNECT


__all__ = ["MIN_RATE", "BodyDeadline"]
