"""CORS for the one-time upload URL, and for nothing else.

A direct creator upload is sent by a browser page of the customer's own site, on another
origin, to ``/upload/{secret}``. That URL is its own credential (a secret, one use, a window
of minutes) and takes no cookie, so any origin may post to it and read the answer, error or
not: every answer there says ``Access-Control-Allow-Origin: *``, and none says
``Access-Control-Allow-Credentials`` (a browser refuses ``*`` to a request with credentials
anyway). The preflight a page's ``fetch()`` needs once it adds a header of its own is
answered here, ``204``, without reaching the application.

Every other path gets no CORS header at all: no other origin can read an API answer, with
credentials or without.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PREFIX = "/upload/"
ANY_ORIGIN = (b"access-control-allow-origin", b"*")
PREFLIGHT = [
    ANY_ORIGIN,
    (b"access-control-allow-methods", b"POST"),
    (b"access-control-allow-headers", b"*"),
    (b"access-control-max-age", b"7200"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


def is_upload_url(scope: Scope) -> bool:
    path: str = scope["path"]
    return path.startswith(UPLOAD_PREFIX)


class UploadCors:
    """ASGI middleware: CORS for any origin, without credentials, on the upload URL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_upload_url(scope):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return

        async def shared(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), ANY_ORIGIN]}
            await send(message)

        await self.app(scope, receive, shared)


__all__ = ["ANY_ORIGIN", "UploadCors", "is_upload_url"]
