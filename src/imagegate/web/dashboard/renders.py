"""Pictures the dashboard itself shows: grid thumbnails and live variant previews.

Both go through the delivery renderer (the same caches, limiter and libvips path as real
delivery) for the signed-in account, so the grid can show private images without handing
out a single signed URL. The delivery route itself is untouched: these are dashboard paths,
behind the session cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from imagegate.errors import BadRequest, ImagegateError, Overloaded
from imagegate.http_cache import etag_matches
from imagegate.models import Account, Fit, Format, Image, MetadataMode, Variant, VariantOptions
from imagegate.serving import Authorized, Plan
from imagegate.web.dashboard.base import Dash, NoAccount, SignInRequired

THUMB = VariantOptions(fit=Fit.COVER, width=240, height=240, metadata=MetadataMode.NONE)
#: An SVG is never rasterised: its thumbnail is the sanitised drawing, sized by the page.
VECTOR_THUMB = VariantOptions(metadata=MetadataMode.NONE)
THUMB_ACCEPT = "image/webp,*/*"  # WebP encodes quickly; AVIF is not worth it for a grid
THUMB_NAME = "_dashboard"
PREVIEW_NAME = "_preview"
_Planner = Callable[[Request, Account, Image], Awaitable[Plan]]


def routes(dash: Dash) -> list[BaseRoute]:
    renders = Renders(dash)
    return [
        Route("/thumb", renders.thumb, methods=["GET", "HEAD"]),
        Route("/preview", renders.preview, methods=["GET", "HEAD"]),
    ]


def preview_options(
    base: VariantOptions, fit: str, width: str, height: str, metadata: str, max_side: int
) -> VariantOptions:
    """A variant's options with the form's fit, size and metadata applied (the rest kept)."""
    try:
        chosen_fit = Fit(fit) if fit else base.fit
        chosen_meta = MetadataMode(metadata) if metadata else base.metadata
    except ValueError:
        raise BadRequest("Unknown fit or metadata") from None
    sizes = []
    for name, text in (("width", width), ("height", height)):
        if not text:
            sizes.append(getattr(base, name))
            continue
        if not text.isdigit() or not 1 <= int(text) <= max_side:
            raise BadRequest(f"{name} must be a whole number from 1 to {max_side}")
        sizes.append(int(text))
    return replace(base, fit=chosen_fit, width=sizes[0], height=sizes[1], metadata=chosen_meta)


class Renders:
    def __init__(self, dash: Dash) -> None:
        self.dash = dash
        self.service = dash.service
        self.deliverer = dash.deliverer

    async def thumb(self, request: Request) -> Response:
        return await self._answer(request, self._thumb_plan)

    async def preview(self, request: Request) -> Response:
        return await self._answer(request, self._preview_plan)

    async def _thumb_plan(self, request: Request, account: Account, image: Image) -> Plan:
        options = VECTOR_THUMB if image.format is Format.SVG else THUMB
        authorized = Authorized(account, image, Variant(THUMB_NAME, options), False, None)
        return self.deliverer.plan(authorized, THUMB_ACCEPT)

    async def _preview_plan(self, request: Request, account: Account, image: Image) -> Plan:
        params = request.query_params
        name = params.get("variant", "")
        base = VariantOptions()
        if name:
            base = (await self.dash.io(self.service.get_variant, account, name)).options
        options = preview_options(
            base,
            params.get("fit", ""),
            params.get("width", ""),
            params.get("height", ""),
            params.get("metadata", ""),
            self.service.limits.max_image_side,
        )
        authorized = Authorized(account, image, Variant(PREVIEW_NAME, options), False, None)
        return self.deliverer.plan(authorized, request.headers.get("accept", ""))

    async def _answer(self, request: Request, planner: _Planner) -> Response:
        dash = self.dash
        try:
            viewer = await dash.viewer(request)
            account = viewer.managed()
            image = await dash.io(
                self.service.get_image, account, request.query_params.get("id", "")
            )
            if image.draft or image.format is None:
                return _plain(404, "Not found")
            plan = await planner(request, account, image)
            headers = {"Cache-Control": "private, max-age=3600", "ETag": plan.etag}
            if plan.output.negotiated:
                headers["Vary"] = "Accept"
            if etag_matches(request.headers.get("if-none-match"), plan.etag):
                return Response(status_code=304, headers=headers)
            data = await self._bytes(plan)
        except SignInRequired:
            return _plain(401, "Sign in to see this image")
        except NoAccount:
            return _plain(404, "Not found")
        except Overloaded:
            return _plain(503, "Busy; retry shortly", {"Retry-After": "1"})
        except ImagegateError as exc:
            retry = {"Retry-After": "1"} if exc.status == 503 else None
            return _plain(exc.status, exc.message, retry)
        body = b"" if request.method == "HEAD" else data
        return Response(body, media_type=plan.output.format.media_type, headers=headers)

    async def _bytes(self, plan: Plan) -> bytes:
        d = self.deliverer
        data = d.from_memory(plan)
        if data is None:
            data = await self.dash.io(d.from_disk, plan)
        if data is None:
            data = await self.dash.offload.render(d.render, plan, heavy=plan.target.heavy)
        return data


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(
        text, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})}
    )
