"""Every request body to the management API is capped by its route, before it is read.

:class:`BodyLimits` sits in front of the API app. It finds the route a request is for and
gives its body a cap: routes marked :func:`large_body` (the two that take an image) may
receive an upload, every other route, and every path that names no route, at most
:data:`SMALL_BODY_BYTES`. A ``Content-Length`` over the cap is answered ``413`` (code 5413)
at once, before a byte of the body is read; a body without one (chunked) is counted as it
streams and cut off at the cap the same way. The answer says ``Connection: close``, and the
application sees the client as gone (``http.disconnect``), so what the client still sends is
never read, and anything the application then tries to answer is dropped.

The cap is one half of the rule; the other is that routes read their bodies only after
their credentials were checked (:func:`imagegate.web.api.common.json_body`), so a client with
no token gets ``401`` without the server reading its body at all. Whenever the answer starts
before the body was read to its end (refused credentials, an unknown route, a wrong method),
it says ``Connection: close``, so the server does not read the rest either to find the next
request. Mounted apps (the dashboard) cap their own bodies: they are passed through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagegate.core.errors import PayloadTooLarge
from imagegate.web.api.multipart import FORM_OVERHEAD
from imagegate.web.errors import api_response

#: The cap of every route that takes no upload: JSON bodies, direct-upload forms, and the
#: routes that take no body at all (a client may still send an empty one).
SMALL_BODY_BYTES = 64 * 1024
_LARGE = "imagegate_large_body"
_DISCONNECT: Message = {"type": "http.disconnect"}
_CLOSE = (b"connection", b"close")

Endpoint = TypeVar("Endpoint", bound=Callable[..., object])


def large_body(endpoint: Endpoint) -> Endpoint:
    """Mark a route whose body may be as large as an upload."""
    setattr(endpoint, _LARGE, True)
    return endpoint


class BodyLimits:
    """ASGI middleware: each request body is refused past its route's cap: an image's
    ``upload_bytes`` plus the form around it on the routes that take one, ``small_bytes``
    elsewhere."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        upload_bytes: int,
        small_bytes: int = SMALL_BODY_BYTES,
    ) -> None:
        self.app = app
        self.large = [
            r for r in routes if isinstance(r, Route) and getattr(r.endpoint, _LARGE, False)
        ]
        self.mounts = [r for r in routes if isinstance(r, Mount)]
        self.upload = _Cap(upload_bytes + FORM_OVERHEAD, PayloadTooLarge.over(upload_bytes))
        self.small = _Cap(
            small_bytes,
            PayloadTooLarge(f"The request body is over this route's limit of {small_bytes} bytes"),
        )

    def cap(self, scope: Scope) -> _Cap | None:
        """The route's cap, or None for a mounted app (which caps its own bodies)."""
        if any(route.matches(scope)[0] is Match.FULL for route in self.large):
            return self.upload
        if any(mount.matches(scope)[0] is not Match.NONE for mount in self.mounts):
            return None
        return self.small

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap(scope)
        if cap is None:
            await self.app(scope, receive, send)
            return
        declared, chunked = _framing(scope)
        if declared is not None and declared > cap.limit:
            await _too_large(scope, send, cap.error)
            return
        gate = _Gate(scope, receive, send, cap, pending=chunked or bool(declared))
        await self.app(scope, gate.receive, gate.send)


@dataclass(frozen=True, slots=True)
class _Cap:
    limit: int
    error: PayloadTooLarge


class _Gate:
    """One request's count of body bytes, and the gate on what the application sends."""

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, cap: _Cap, *, pending: bool
    ) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.cap = cap
        self.pending = pending  # body bytes the application has not read yet
        self.seen = 0
        self.responding = False
        self.cut = False

    async def receive(self) -> Message:
        if self.cut:
            return _DISCONNECT
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            self.pending = bool(message.get("more_body", False))
            if self.seen > self.cap.limit:
                self.cut = True
                if not self.responding:  # else the connection closes with the unread body
                    await _too_large(self.scope, self._send, self.cap.error)
                return _DISCONNECT
        elif message["type"] == "http.disconnect":
            self.pending = False
        return message

    async def send(self, message: Message) -> None:
        if self.cut:
            return  # the client was answered already
        if message["type"] == "http.response.start":
            self.responding = True
            if self.pending:  # answered without reading the body: never read it after
                message = {**message, "headers": [*message.get("headers", ()), _CLOSE]}
        await self._send(message)


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared ``Content-Length`` (None if absent), and whether the body is chunked."""
    length, chunked = None, False
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    return length, chunked


async def _too_large(scope: Scope, send: Send, error: PayloadTooLarge) -> None:
    response = api_response(error)
    response.headers["Connection"] = "close"
    await response(scope, _gone, send)


async def _gone() -> Message:
    return _DISCONNECT


__all__ = ["SMALL_BODY_BYTES", "BodyLimits", "large_body"]
