"""Pictures the dashboard itself shows: grid thumbnails and live variant previews.

Both go through the delivery use case (the same caches, render lanes, single-flight and
libvips path as real delivery) for the signed-in account, so the grid can show private
images without handing out a single signed URL. The delivery route itself is untouched:
these are dashboard paths, behind the session cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from imagegate.core.errors import DeliveryNotFound, ImagegateError
from imagegate.core.http_caching import etag_matches
from imagegate.core.models import Account, Fit, Format, Image, MetadataMode, Variant, VariantOptions
from imagegate.usecases.planning import Authorized, Plan
from imagegate.web.dashboard.base import (
    Dash,
)
from imagegate.web.errors import delivery_response

THUMB = VariantOptions(fit=Fit.COVER, width=240, height=240, metadata=MetadataMode.NONE)
#: An SVG is never rasterised: its thumbnail is the sanitised drawing, sized by the page.
VECTOR_THUMB = VariantOptions(metadata=MetadataMode.NONE)
THUMB_ACCEPT = "image/webp,*/*"  # WebP encodes quickly; AVIF is not worth it for a grid
THUMB_NAME = "_dashboard"
PREVIEW_NAME = "_preview"
PREVIEW_FIELDS = ("fit", "width", "height", "metadata")
_Planner = Callable[[Request, Account, Image], Awaitable[Plan]]


def routes(dash: Dash) -> list[BaseRoute]:
    renders = Renders(dash)
    return [
        Route("/thumb", renders.thumb, methods=["GET", "HEAD"]),
        Route("/preview", renders.preview, methods=["GET", "HEAD"]),
    ]


class Renders:
    def __init__(self, dash: Dash) -> None:
        self.dash = dash
        self.gate = dash.gate
        self.delivery = dash.gate.delivery

    async def thumb(self, request: Request) -> Response:
        return await self._answer(request, self._thumb_plan)

    async def preview(self, request: Request) -> Response:
        return await self._answer(request, self._preview_plan)

    async def _thumb_plan(self, request: Request, account: Account, image: Image) -> Plan:
        options = VECTOR_THUMB if image.format is Format.SVG else THUMB
        authorized = Authorized(account, image, Variant(THUMB_NAME, options), False, None)
        return self.delivery.plan(authorized, THUMB_ACCEPT)

    async def _preview_plan(self, request: Request, account: Account, image: Image) -> Plan:
        params = request.query_params
        values = {name: params.get(name, "") for name in PREVIEW_FIELDS}
        options = await self.dash.io(
            self.gate.variants.preview, account, params.get("variant", ""), values
        )
        authorized = Authorized(account, image, Variant(PREVIEW_NAME, options), False, None)
        return self.delivery.plan(authorized, request.headers.get("accept", ""))

    async def _answer(self, request: Request, planner: _Planner) -> Response:
        dash = self.dash
        try:
            viewer = await dash.viewer(request)
            account = viewer.managed()
            image = await dash.io(self.gate.images.get, account, request.query_params.get("id", ""))
            if image.draft or image.format is None:
                raise DeliveryNotFound()
            plan = await planner(request, account, image)
            headers = {"Cache-Control": "private, max-age=3600", "ETag": plan.etag}
            if plan.output.negotiated:
                headers["Vary"] = "Accept"
            if etag_matches(request.headers.get("if-none-match"), plan.etag):
                return Response(status_code=304, headers=headers)
            data = await self.delivery.variant_bytes(plan)
        except ImagegateError as exc:
            return delivery_response(exc)  # an <img> reads it: the delivery path's words
        body = b"" if request.method == "HEAD" else data
        return Response(body, media_type=plan.output.format.media_type, headers=headers)
