"""The one map from imagegate errors to HTTP responses.

The management API answers with Cloudflare's JSON envelope; the delivery path answers in
plain text, ``ERROR <code>: <message>`` with a ``Cf-Resized: err=<code>`` header. Neither ever
carries a traceback, a path, or key material, no error response may be cached, and every
one says ``X-Content-Type-Options: nosniff`` so no browser reads it as anything but its type.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse, Response

from imagegate.errors import ImagegateError, Overloaded
from imagegate.http_cache import NO_STORE

log = logging.getLogger("imagegate.web")

RETRY_AFTER_SECONDS = "1"


def envelope_error(code: int, message: str) -> dict[str, object]:
    return {
        "result": None,
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
    }


def api_error(exc: ImagegateError) -> JSONResponse:
    return api_error_response(
        exc.status, exc.code, exc.message, overloaded=isinstance(exc, Overloaded)
    )


def api_error_response(
    status: int, code: int, message: str, *, overloaded: bool = False
) -> JSONResponse:
    headers = {"Cache-Control": NO_STORE, "X-Content-Type-Options": "nosniff"}
    if overloaded or status == 503:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    elif 400 <= status < 500:
        headers["x-should-retry"] = "false"
    return JSONResponse(envelope_error(code, message), status_code=status, headers=headers)


def internal_error(exc: BaseException) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return api_error_response(500, 5500, "Internal error")


def delivery_error(exc: ImagegateError) -> Response:
    status = 500 if exc.status >= 500 and exc.status != 503 and exc.status != 507 else exc.status
    headers = {
        "Cache-Control": NO_STORE,
        "Cf-Resized": f"err={exc.code}",
        "X-Content-Type-Options": "nosniff",
    }
    if status == 503:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    body = f"ERROR {exc.code}: {exc.message}"
    return Response(body, status_code=status, media_type="text/plain", headers=headers)
