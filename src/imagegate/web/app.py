"""The composition root: ``create_app(settings)`` builds the stores, the service and the
HTTP app. Nothing else in the package holds state at module level."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from imagegate import imaging
from imagegate.errors import ImagegateError, UnsafeConfiguration
from imagegate.fetch import FetchPolicy
from imagegate.gc import sweep_at_start
from imagegate.keyseal import KeySeal
from imagegate.metadata.sql import SqlMetadataStore
from imagegate.service import Limits, Service
from imagegate.serving import Caches, Deliverer
from imagegate.settings import Settings
from imagegate.signing import Policy
from imagegate.storage.local import LocalBlobStore
from imagegate.storage.variant_cache import LocalVariantCache
from imagegate.uploads import DirectUploads
from imagegate.web import api_docs
from imagegate.web.api import direct, images, keys, listing, variants
from imagegate.web.api.common import Runtime
from imagegate.web.api.multipart import FORM_OVERHEAD
from imagegate.web.bodies import BodyLimits
from imagegate.web.cors import UploadCors
from imagegate.web.dashboard import create_dashboard
from imagegate.web.deadlines import BodyDeadline
from imagegate.web.delivery import Delivery
from imagegate.web.errors import api_error, api_error_response, internal_error
from imagegate.web.observe import (
    Latency,
    Observed,
    configure_logging,
    metrics_endpoint,
    registry_for,
)
from imagegate.web.offload import Offload

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


@dataclass(frozen=True, slots=True)
class Core:
    """The two use-case objects, over one set of stores and caches."""

    service: Service
    deliverer: Deliverer


def build_core(settings: Settings, clock: Callable[[], float] = time.time) -> Core:
    meta = SqlMetadataStore(settings.resolved_database_url())
    blobs = LocalBlobStore(settings.data_dir / "blobs")
    limits = imaging.Limits(
        max_side=settings.max_image_side,
        max_pixels=settings.max_image_pixels,
        max_output_pixels=settings.max_output_pixels,
        render_seconds=settings.render_timeout,
    )
    processor = imaging.Processor(limits)
    master = settings.master_key.get_secret_value() if settings.master_key else None
    keyseal = KeySeal(master)
    caches = Caches(
        LocalVariantCache(settings.data_dir / "variants", settings.variant_cache_bytes),
        memory_bytes=settings.memory_cache_bytes,
        context_ttl=settings.metadata_cache_ttl,
    )
    service = Service(
        meta,
        blobs,
        processor,
        caches,
        keyseal=keyseal,
        limits=Limits(
            max_upload_bytes=settings.max_upload_bytes,
            max_image_side=settings.max_image_side,
            default_image_quota=settings.default_image_quota,
        ),
        clock=clock,
    )
    deliverer = Deliverer(
        meta,
        blobs,
        processor,
        caches,
        policy=Policy(
            clock_skew=settings.clock_skew,
            allow_no_expiry=settings.allow_non_expiring,
            max_lifetime=settings.max_url_lifetime,
        ),
        max_side=settings.max_image_side,
        avif_max_side=settings.avif_max_side,
        max_output_pixels=settings.max_output_pixels,
        heavy_pixels=settings.heavy_render_pixels,
        keyseal=keyseal,
        clock=clock,
    )
    return Core(service, deliverer)


def check_safety(settings: Settings) -> None:
    """Refuse a configuration that would let private images leak, unless acknowledged."""
    reasons = settings.unsafe_reasons()
    if reasons and not settings.allow_unsafe_config:
        raise UnsafeConfiguration(
            "refusing to start: "
            + "; ".join(reasons)
            + " (IMAGEGATE_ALLOW_UNSAFE_CONFIG=true starts anyway)"
        )


def fetch_policy(settings: Settings) -> FetchPolicy:
    """The upload-by-URL policy; a malformed entry is a configuration error at start."""

    def csv(value: str) -> list[str]:
        return [item.strip() for item in value.split(",") if item.strip()]

    return FetchPolicy(
        allowed_ports=frozenset(int(p) for p in csv(settings.fetch_allowed_ports)),
        allowlist=tuple(csv(settings.fetch_allowlist)),
        max_bytes=settings.max_upload_bytes,
        total_timeout=settings.fetch_timeout,
        connect_timeout=min(5.0, settings.fetch_timeout),
    )


class Imagegate:
    """Routes delivery paths to the lean handler and everything else to the API app."""

    def __init__(self, api: ASGIApp, delivery: Delivery) -> None:
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


def create_app(settings: Settings, core: Core | None = None) -> ASGIApp:
    check_safety(settings)
    core = core or build_core(settings)
    service, deliverer = core.service, core.deliverer
    offload = Offload(
        io_threads=max(8, settings.render_concurrency * 4),
        render_slots=settings.render_concurrency,
        render_queue=settings.render_queue,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await offload.io(service.meta.migrate)
        await offload.io(sweep_at_start, service.blobs)
        flusher = asyncio.create_task(_flush_key_usage(deliverer, offload))
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(BaseException):
                await flusher
            with contextlib.suppress(ImagegateError):
                await offload.io(deliverer.flush_key_usage)
            service.meta.close()

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
    api.state.runtime = Runtime(
        service,
        DirectUploads(service),
        offload,
        settings.resolved_public_url(),
        fetch_policy(settings),
    )
    routers = (keys.router, variants.router, listing.router, direct.router, images.router)
    for router in routers:
        api.include_router(router)
    _install_error_handlers(api)
    _install_health(api, service, offload)
    latency = Latency()
    registry = registry_for(service, deliverer, latency)

    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    api.add_api_route(
        "/metrics", metrics_endpoint(registry, token), methods=["GET"], include_in_schema=False
    )

    api.mount("/dashboard", create_dashboard(settings, service, deliverer, offload))
    routes = [*api.routes, *(route for router in routers for route in router.routes)]
    capped = BodyLimits(api, routes, settings.max_upload_bytes + FORM_OVERHEAD)
    app = Imagegate(UploadCors(capped), Delivery(deliverer, offload))
    guarded = BodyDeadline(app, settings.body_timeout)
    return Observed(guarded, latency, log_requests=settings.access_log)


async def _flush_key_usage(deliverer: Deliverer, offload: Offload) -> None:
    while True:
        await asyncio.sleep(KEY_USAGE_FLUSH_SECONDS)
        try:
            await offload.io(deliverer.flush_key_usage)
        except ImagegateError:
            log.warning("could not record key usage; will retry")


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(ImagegateError)
    async def _imagegate(_r: Request, exc: ImagegateError) -> Response:
        return api_error(exc)

    @api.exception_handler(RequestValidationError)
    async def _validation(_r: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else "Invalid request"
        return api_error_response(400, 5400, message)

    @api.exception_handler(HTTPException)
    async def _http(_r: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return api_error_response(404, 7003, "No route for the URI")
        if exc.status_code == 405:
            return api_error_response(405, 7000, "Method not allowed for this route")
        return api_error_response(exc.status_code, 5400, str(exc.detail))

    @api.exception_handler(Exception)
    async def _internal(_r: Request, exc: Exception) -> Response:
        return internal_error(exc)


def _install_health(api: FastAPI, service: Service, offload: Offload) -> None:
    @api.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})

    @api.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        checks: dict[str, Any] = {}
        for name, ping in (("metadata", service.meta.ping), ("blobs", service.blobs.ping)):
            try:
                await offload.io(ping)
                checks[name] = "ok"
            except ImagegateError:
                checks[name] = "unavailable"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"ready": ready, "checks": checks},
            status_code=200 if ready else 503,
            headers={"Cache-Control": "no-store"},
        )


def app_from_env() -> ASGIApp:
    """Factory for servers started with an import string (granian, uvicorn --factory)."""
    configure_logging()
    return create_app(Settings())
