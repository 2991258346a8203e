"""The HTTP app: ``create_app(settings)`` serves what :func:`imagegate.assembly.build` made,
the management API, the dashboard and the delivery path on one port. Nothing here holds
state at module level, and nothing below the use cases is touched."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from imagegate.assembly import Imagegate, build, check_safety
from imagegate.core.errors import ImagegateError
from imagegate.lifeline import die_with_parent
from imagegate.settings import Settings
from imagegate.web import api_docs
from imagegate.web.access_log import BufferedAccessLog
from imagegate.web.api import direct, images, keys, listing, variants
from imagegate.web.api.common import Runtime
from imagegate.web.bodies import BodyLimits
from imagegate.web.cors import UploadCors
from imagegate.web.dashboard import create_dashboard
from imagegate.web.deadlines import BodyDeadline
from imagegate.web.delivery import DeliveryHandler
from imagegate.web.errors import install_api_errors
from imagegate.web.observe import (
    ImagegateCollector,
    Latency,
    Observed,
    configure_logging,
    metrics_endpoint,
    registry_for,
)

log = logging.getLogger("imagegate")

#: Cloudflare's API base path: its SDKs and documentation put every API call under it.
CLOUDFLARE_BASE = "/client/v4"
#: Paths the management app owns (and "/"); every other path is a delivery path.
API_PREFIXES = (
    "/accounts/",
    CLOUDFLARE_BASE,
    "/upload/",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/dashboard",
)
KEY_USAGE_FLUSH_SECONDS = 5.0
METRICS_SHARE_SECONDS = 1.0  # how stale another worker's counts may be in a scrape


class Dispatch:
    """Routes delivery paths to the lean handler and everything else to the API app."""

    def __init__(self, api: ASGIApp, delivery: DeliveryHandler) -> None:
        self.api = api
        self.delivery = delivery

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path != "/" and not path.startswith(API_PREFIXES):
                scope["imagegate.delivery"] = True
                await self.delivery(scope, receive, send)
                return
            if path.startswith("/accounts/"):
                scope = _route_on_raw_path(scope)
            elif path.startswith(CLOUDFLARE_BASE + "/accounts/"):
                scope = _under_cloudflare_base(scope)
        await self.api(scope, receive, send)


def _under_cloudflare_base(scope: Scope) -> Scope:
    """Serve the API under Cloudflare's base path too, through the same routes: the base
    becomes the request's root path. Nothing else lives there: any other path under it is
    an unknown route (7003), never a delivery path."""
    scope = _route_on_raw_path(scope)
    return {**scope, "root_path": scope.get("root_path", "") + CLOUDFLARE_BASE}


def _route_on_raw_path(scope: Scope) -> Scope:
    """Route API requests on the raw path, so an image id with ``%2F`` stays one segment."""
    raw = scope.get("raw_path")
    if not raw:
        return scope
    try:
        path = raw.split(b"?", 1)[0].decode("ascii")
    except UnicodeDecodeError:
        return scope
    return {**scope, "path": path}


def create_app(
    settings: Settings,
    gate: Imagegate | None = None,
    *,
    access_writer: BufferedAccessLog | None = None,
) -> ASGIApp:
    """The ASGI app over ``gate`` (built from ``settings`` when not given). Access lines go
    through ``access_writer`` when given (a server process: see ``configure_logging``),
    else to the ``imagegate.access`` logger."""
    check_safety(settings)
    gate = gate or build(settings)
    latency = Latency()
    collector = ImagegateCollector(gate.observer, latency, gate.metrics_share, settings.node_name)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await gate.offload.io(gate.health.require_current_schema)
        gate.follow_changes()
        await gate.offload.io(gate.gc.sweep_at_start)
        flusher = asyncio.create_task(_flush_key_usage(gate))
        sharer = asyncio.create_task(_share_metrics(gate, collector))
        tasks = [flusher, sharer]
        if access_writer is not None:
            tasks.append(asyncio.create_task(_write_access_lines(access_writer)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            collector.publish()
            if access_writer is not None:
                access_writer.flush()
            with contextlib.suppress(ImagegateError):
                await gate.offload.io(gate.delivery.flush_key_usage)
            gate.close()

    api = FastAPI(
        title="imagegate",
        version="0.1.0",
        description="Cloudflare Images-compatible API with private images behind signed URLs.",
        lifespan=lifespan,
        docs_url=None,  # served by api_docs, from imagegate's own files
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    api_docs.install(api, "imagegate")
    api.state.runtime = Runtime(gate, settings.resolved_public_url())
    routers = (keys.router, variants.router, listing.router, direct.router, images.router)
    for router in routers:
        api.include_router(router)
    install_api_errors(api)
    _install_health(api, gate)
    registry = registry_for(collector)

    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    api.add_api_route(
        "/metrics", metrics_endpoint(registry, token), methods=["GET"], include_in_schema=False
    )

    api.mount("/dashboard", create_dashboard(settings, gate))
    routes = [*api.routes, *(route for router in routers for route in router.routes)]
    capped = BodyLimits(api, routes, settings.max_upload_bytes)
    app = Dispatch(UploadCors(capped), DeliveryHandler(gate.delivery))
    guarded = BodyDeadline(app, settings.body_timeout)
    return Observed(guarded, latency, log_requests=settings.access_log, write=access_writer)


async def _flush_key_usage(gate: Imagegate) -> None:
    while True:
        await asyncio.sleep(KEY_USAGE_FLUSH_SECONDS)
        try:
            await gate.offload.io(gate.delivery.flush_key_usage)
        except ImagegateError:
            log.warning("could not record key usage; will retry")


async def _write_access_lines(writer: BufferedAccessLog) -> None:
    """Access lines out within their interval even when no request comes to push them."""
    while True:
        await asyncio.sleep(writer.interval)
        writer.flush()


async def _share_metrics(gate: Imagegate, collector: ImagegateCollector) -> None:
    while True:
        await asyncio.sleep(METRICS_SHARE_SECONDS)
        await gate.offload.io(collector.publish)


def _install_health(api: FastAPI, gate: Imagegate) -> None:
    @api.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})

    @api.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        checks = await gate.offload.io(gate.health.checks)
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"ready": ready, "checks": checks},
            status_code=200 if ready else 503,
            headers={"Cache-Control": "no-store"},
        )


def app_from_env() -> ASGIApp:
    """Factory for servers started with an import string (granian, uvicorn --factory): in
    a worker process, which ends when the process that started it does."""
    die_with_parent()
    writer = configure_logging()
    return create_app(Settings(), access_writer=writer)
