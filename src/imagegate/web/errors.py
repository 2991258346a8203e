"""The one place where imagegate's errors become HTTP answers, each surface in its shape.

Every error class says its code, status and message once (:mod:`imagegate.core.errors`);
here each surface renders those three:

* the management API: Cloudflare's JSON envelope, ``{"result": null, "success": false,
  "errors": [{"code", "message"}], "messages": []}``, with ``x-should-retry: false`` on a 4xx;
* the delivery path (and the dashboard's pictures, which ``<img>`` tags read): plain text,
  ``ERROR <code>: <message>`` with a ``Cf-Resized: err=<code>`` header;
* the dashboard: the status and the message, for a page or its scripts' JSON.

None ever carries a traceback, a path or key material; no error answer may be cached; every
one says ``X-Content-Type-Options: nosniff``, and one that may be retried says when in
``Retry-After``. An unexpected exception is logged and answered as ``ImagegateError`` (500).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from imagegate.core.errors import (
    BadRequest,
    DeliveryOverloaded,
    ImagegateError,
    MethodNotAllowed,
    NoRoute,
    Overloaded,
)
from imagegate.core.http_caching import NO_STORE

log = logging.getLogger("imagegate.web")

_NOSNIFF = {"Cache-Control": NO_STORE, "X-Content-Type-Options": "nosniff"}


def _retry(exc: ImagegateError) -> dict[str, str]:
    return {} if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}


def envelope(exc: ImagegateError) -> dict[str, object]:
    """Cloudflare's error envelope for ``exc``."""
    return {
        "result": None,
        "success": False,
        "errors": [{"code": exc.code, "message": exc.message}],
        "messages": [],
    }


def api_response(exc: ImagegateError) -> JSONResponse:
    """``exc`` as the management API answers it."""
    headers = {**_NOSNIFF, **_retry(exc)}
    if 400 <= exc.status < 500:
        headers["x-should-retry"] = "false"
    return JSONResponse(envelope(exc), status_code=exc.status, headers=headers)


def delivery_response(exc: ImagegateError) -> Response:
    """``exc`` as the delivery path answers it (``Overloaded`` in its own words, 9503)."""
    if isinstance(exc, Overloaded):
        exc = DeliveryOverloaded()
    headers = {**_NOSNIFF, "Cf-Resized": f"err={exc.code}", **_retry(exc)}
    body = f"ERROR {exc.code}: {exc.message}"
    return Response(body, status_code=exc.status, media_type="text/plain", headers=headers)


def dashboard_error(exc: ImagegateError) -> tuple[int, str, dict[str, str]]:
    """``exc`` as the dashboard shows it: its status, its words, and ``Retry-After``."""
    return exc.status, exc.message, {**_NOSNIFF, **_retry(exc)}


def unexpected(exc: BaseException, where: str) -> ImagegateError:
    """Log an exception nobody raised on purpose; answer it as an internal error."""
    log.error("unexpected error in %s", where, exc_info=exc)
    return ImagegateError()


def install_api_errors(api: FastAPI) -> None:
    """Render every failure of the management app as the API does."""

    @api.exception_handler(ImagegateError)
    async def _imagegate(_r: Request, exc: ImagegateError) -> Response:
        return api_response(exc)

    @api.exception_handler(RequestValidationError)
    async def _validation(_r: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else "Invalid request"
        return api_response(BadRequest(message))

    @api.exception_handler(HTTPException)
    async def _http(_r: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return api_response(NoRoute())
        if exc.status_code == 405:
            return api_response(MethodNotAllowed())
        return api_response(BadRequest(str(exc.detail)))

    @api.exception_handler(Exception)
    async def _internal(_r: Request, exc: Exception) -> Response:
        return api_response(unexpected(exc, "the API"))
