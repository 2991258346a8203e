"""The delivery hot path over HTTP: ``GET``/``HEAD /<hash>/<id>/<variant>`` (and under
``/cdn-cgi/imagedelivery/``). A bare ASGI handler with no validation machinery: it hands the
raw path, the raw query and ``Accept`` to the delivery use case
(:class:`~imagegate.usecases.delivery.Delivery`), and writes what comes back as raw ASGI
messages, headers already encoded, so a cached variant costs no per-request objects here.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from imagegate.core.errors import AccessDenied, DeliveryError, ImagegateError
from imagegate.core.http_caching import etag_matches
from imagegate.usecases.delivery import Delivery
from imagegate.web.errors import delivery_response, unexpected

log = logging.getLogger("imagegate.delivery")

SANDBOX = b"default-src 'none'; style-src 'unsafe-inline'; sandbox"
#: status, raw headers, body
Raw = tuple[int, list[tuple[bytes, bytes]], bytes]


class DeliveryHandler:
    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = await self.respond(scope)
        if isinstance(answer, Response):
            await answer(scope, receive, send)
            return
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def respond(self, scope: Scope) -> Response | Raw:
        """An error as a Response, or a success as raw ASGI parts (no per-request objects)."""
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            return delivery_response(AccessDenied())
        raw_path: bytes = scope.get("raw_path") or quote(scope["path"]).encode("ascii")
        raw_path = raw_path.split(b"?", 1)[0]
        accept, if_none_match = _headers(scope)
        try:
            plan = await self.delivery.request(raw_path, scope.get("query_string", b""), accept)
            data = None
            if plan.target.stand_in is not None and not etag_matches(if_none_match, plan.etag):
                plan, data = await self.delivery.settle(plan)  # the AVIF, or a stand-in
            answer = [
                (b"cache-control", plan.cache_control.encode("latin-1")),
                (b"etag", plan.etag.encode("latin-1")),
                (b"x-content-type-options", b"nosniff"),
                # An SVG opened directly (not through <img>) must not run or fetch anything.
                (b"content-security-policy", SANDBOX),
            ]
            if plan.output.negotiated:
                answer.append((b"vary", b"Accept"))
            if etag_matches(if_none_match, plan.etag):
                return 304, answer, b""
            if data is None:
                data = await self.delivery.variant_bytes(plan)
        except DeliveryError as exc:
            return delivery_response(exc)
        except ImagegateError as exc:  # storage, overload: the node's trouble, not the URL's
            log.warning("delivery failed: %s", type(exc).__name__)
            return delivery_response(exc)
        except Exception as exc:
            return delivery_response(unexpected(exc, "delivery"))
        # Every byte served was rendered as planned (the use case checks it), so the plan
        # names the type; the bytes are never sniffed.
        answer.append((b"content-type", plan.output.format.media_type.encode("latin-1")))
        answer.append((b"content-length", str(len(data)).encode("latin-1")))
        return 200, answer, b"" if method == "HEAD" else data


def _headers(scope: Scope) -> tuple[str, str | None]:
    """``Accept`` and ``If-None-Match``, as sent (or empty and None)."""
    accept, if_none_match = "", None
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered == b"accept":
            accept = value.decode("latin-1")
        elif lowered == b"if-none-match":
            if_none_match = value.decode("latin-1")
    return accept, if_none_match
