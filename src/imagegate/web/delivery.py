"""The delivery hot path: ``GET``/``HEAD /<hash>/<id>/<variant>`` (and under
``/cdn-cgi/imagedelivery/``). A bare ASGI handler, no validation machinery: it hands the raw
path and query to the service, then renders off the event loop."""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from imagegate.errors import (
    AccessDenied,
    DeliveryError,
    DeliveryOverloaded,
    ImagegateError,
    Overloaded,
)
from imagegate.http_cache import cache_control
from imagegate.service import Service
from imagegate.web.errors import delivery_error
from imagegate.web.offload import Offload

log = logging.getLogger("imagegate.delivery")


class Delivery:
    def __init__(self, service: Service, offload: Offload) -> None:
        self.service = service
        self.offload = offload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.respond(scope)
        await response(scope, receive, send)

    async def respond(self, scope: Scope) -> Response:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            return delivery_error(AccessDenied("Method not allowed"))
        raw_path: bytes = scope.get("raw_path") or quote(scope["path"]).encode("ascii")
        raw_path = raw_path.split(b"?", 1)[0]
        try:
            authorized = await self.offload.io(
                self.service.authorize, raw_path, scope.get("query_string", b"")
            )
            data, fmt = await self.offload.render(self.service.render, authorized)
        except Overloaded:
            return delivery_error(DeliveryOverloaded())
        except DeliveryError as exc:
            return delivery_error(exc)
        except ImagegateError as exc:
            log.warning("delivery failed: %s", type(exc).__name__)
            return delivery_error(exc)
        ttl = authorized.variant.options.browser_ttl or authorized.account.browser_ttl
        headers = {
            "Cache-Control": cache_control(
                private=authorized.signed,
                browser_ttl=ttl,
                exp=authorized.exp,
                now=int(self.service.clock()),
            ),
            "X-Content-Type-Options": "nosniff",
        }
        if method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return Response(None, media_type=fmt.media_type, headers=headers)
        return Response(data, media_type=fmt.media_type, headers=headers)
