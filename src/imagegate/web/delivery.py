"""The delivery hot path: ``GET``/``HEAD /<hash>/<id>/<variant>`` (and under
``/cdn-cgi/imagedelivery/``). A bare ASGI handler with no validation machinery.

A request costs, at best, a dictionary lookup, a signature check and a memory copy, all on
the event loop. Only what blocks goes to threads: metadata the process has not seen within
``metadata_cache_ttl``, variant-cache reads from disk, and renders, which wait behind their
own bounded limiter. Concurrent requests for the same cold variant share one render.
"""

from __future__ import annotations

import asyncio
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
from imagegate.http_cache import etag_matches
from imagegate.ports import CacheKey
from imagegate.serving import Deliverer, Plan
from imagegate.web.errors import delivery_error
from imagegate.web.offload import Offload

log = logging.getLogger("imagegate.delivery")

SANDBOX = b"default-src 'none'; style-src 'unsafe-inline'; sandbox"
#: status, raw headers, body
Raw = tuple[int, list[tuple[bytes, bytes]], bytes]


class Delivery:
    def __init__(self, deliverer: Deliverer, offload: Offload) -> None:
        self.deliverer = deliverer
        self.offload = offload
        self._inflight: dict[CacheKey, asyncio.Future[bytes]] = {}

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
            return delivery_error(AccessDenied())
        raw_path: bytes = scope.get("raw_path") or quote(scope["path"]).encode("ascii")
        raw_path = raw_path.split(b"?", 1)[0]
        headers = _headers(scope)
        try:
            plan = await self._plan(raw_path, scope.get("query_string", b""), headers)
            answer = [
                (b"cache-control", plan.cache_control.encode("latin-1")),
                (b"etag", plan.etag.encode("latin-1")),
                (b"x-content-type-options", b"nosniff"),
                # An SVG opened directly (not through <img>) must not run or fetch anything.
                (b"content-security-policy", SANDBOX),
            ]
            if plan.output.negotiated:
                answer.append((b"vary", b"Accept"))
            if etag_matches(headers.get("if-none-match"), plan.etag):
                return 304, answer, b""
            data = await self._bytes(plan)
        except Overloaded:
            return delivery_error(DeliveryOverloaded())
        except DeliveryError as exc:
            return delivery_error(exc)
        except ImagegateError as exc:
            log.warning("delivery failed: %s", type(exc).__name__)
            return delivery_error(exc)
        except Exception:
            log.exception("delivery failed unexpectedly")
            return delivery_error(ImagegateError())
        # Every byte served was rendered as planned (Deliverer.render checks it), so the plan
        # names the type; the bytes are never sniffed.
        answer.append((b"content-type", plan.output.format.media_type.encode("latin-1")))
        answer.append((b"content-length", str(len(data)).encode("latin-1")))
        return 200, answer, b"" if method == "HEAD" else data

    async def _plan(self, raw_path: bytes, raw_query: bytes, headers: dict[str, str]) -> Plan:
        d = self.deliverer
        path = d.parse(raw_path)
        resolved = d.cached_context(path)
        if resolved is None:
            resolved = await self.offload.io(d.load_context, path)
        authorized = d.authorize(resolved, path, raw_path, raw_query)
        return d.plan(authorized, headers.get("accept", ""))

    async def _bytes(self, plan: Plan) -> bytes:
        data = self.deliverer.from_memory(plan)
        if data is not None:
            return data
        pending = self._inflight.get(plan.key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[plan.key] = future
        try:
            data = await self.offload.io(self.deliverer.from_disk, plan)
            if data is None:
                data = await self.offload.render(
                    self.deliverer.render, plan, heavy=plan.target.heavy
                )
            future.set_result(data)
            return data
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters, if any, get it through shield
            raise
        finally:
            del self._inflight[plan.key]


def _headers(scope: Scope) -> dict[str, str]:
    wanted = (b"accept", b"if-none-match")
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
        if name.lower() in wanted
    }
