"""The interactive API documentation, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served
entirely by imagegate: no CDN, no web font, no validator badge, nothing from any other
origin, so it works offline and under a Content-Security-Policy that names only ``'self'``.

Swagger UI's and ReDoc's files come from the ``fastapi-offline`` distribution (which packages
both), served from ``/docs/static/`` with an ETag. The pages hold no inline script: Swagger
UI starts from ``/docs/swagger-init.js``, which reads the OpenAPI URL from the page, with
its validator badge off. ReDoc styles itself by injecting ``<style>`` elements, so
``/redoc`` alone allows inline styles (still no other origin, and no inline script); the
one remote file it names, its vendor's logo, is taken out of the script as it is served.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from html import escape
from importlib.resources import files

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response

from imagegate.core.http_caching import etag_matches

STATIC = "/docs/static"
FAVICON = "/dashboard/static/favicon.svg"


def _policy(style: str) -> str:
    return "; ".join(
        (
            "default-src 'self'",
            "img-src 'self' data:",
            "script-src 'self'",
            f"style-src {style}",
            "font-src 'self'",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


SWAGGER_POLICY = _policy("'self'")
REDOC_POLICY = _policy("'self' 'unsafe-inline'")

SWAGGER_INIT = """\
"use strict";
// Starts Swagger UI on the element that names the OpenAPI document (no inline script).
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
"""


def _page(title: str, head: str, body: str, policy: str) -> Response:
    html = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="icon" href="{FAVICON}" type="image/svg+xml">\n{head}</head>\n'
        f"<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": policy,
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache",
        },
    )


#: The packaged files served, with their types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
}
#: ReDoc's sidebar shows a logo from its vendor's CDN; an empty data URL instead fails to
#: load, and ReDoc then leaves the logo out (it hides it on error).
_REDOC_LOGO = (b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"data:,")


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@functools.cache
def asset(name: str) -> Asset:
    """A packaged file, read once per process (about 2.8 MB for the three)."""
    body = (files("fastapi_offline") / "static" / name).read_bytes()
    if name == "redoc.standalone.js":
        body = body.replace(*_REDOC_LOGO)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, ASSETS[name], etag)


def install(api: FastAPI, title: str) -> None:
    """Serve ``/docs``, ``/redoc`` and their files on ``api`` (built with ``docs_url`` and
    ``redoc_url`` set to None, so FastAPI's CDN pages are not there)."""
    openapi = escape(api.openapi_url or "/openapi.json")

    @api.get("/docs", include_in_schema=False)
    async def swagger_ui() -> Response:
        return _page(
            f"{title}: API",
            f'<link rel="stylesheet" href="{STATIC}/swagger-ui.css">\n',
            f'<div id="swagger-ui" data-openapi="{openapi}"></div>\n'
            f'<script src="{STATIC}/swagger-ui-bundle.js"></script>\n'
            '<script src="/docs/swagger-init.js"></script>\n',
            SWAGGER_POLICY,
        )

    @api.get("/docs/swagger-init.js", include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(
            SWAGGER_INIT, media_type="text/javascript", headers={"Cache-Control": "no-cache"}
        )

    @api.get("/redoc", include_in_schema=False)
    async def redoc() -> Response:
        return _page(
            f"{title}: API",
            "",
            f'<redoc spec-url="{openapi}"></redoc>\n'
            f'<script src="{STATIC}/redoc.standalone.js"></script>\n',
            REDOC_POLICY,
        )

    @api.get(STATIC + "/{name}", include_in_schema=False)
    async def static(name: str, request: Request) -> Response:
        if name not in ASSETS:
            raise HTTPException(404)
        found = asset(name)
        headers = {"Cache-Control": "no-cache", "ETag": found.etag}
        if etag_matches(request.headers.get("if-none-match"), found.etag):
            return Response(status_code=304, headers=headers)
        return Response(found.body, media_type=found.media_type, headers=headers)
