"""Images: the paged grid with filters, uploads (one request per file, so the browser can
show each file's progress), the private/public toggle, and delete with confirmation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from imagegate.core.errors import BadRequest, ReadOnlySession
from imagegate.core.listing import InvalidListing, MetaFilter, parse_filters
from imagegate.web.api.multipart import upload_form
from imagegate.web.dashboard import image_detail, renders
from imagegate.web.dashboard.base import (
    Dash,
    form_text,
    form_value,
    redirect,
)
from imagegate.web.dashboard.security import (
    CSRF_FIELD,
    check_csrf_token,
)
from imagegate.web.forms import parse_metadata

Endpoint = Callable[[Request], Awaitable[Response]]
PAGE_SIZE = 24
_TRUE = frozenset({"true", "on", "1", "yes"})


def routes(dash: Dash) -> list[BaseRoute]:
    pages = ImagePages(dash)
    return [
        Route("/images", dash.endpoint(pages.grid), methods=["GET"]),
        Route("/images/upload", dash.json_endpoint(pages.upload), methods=["POST"]),
        Route("/image/access", dash.endpoint(pages.access), methods=["POST"]),
        Route("/image/delete", dash.endpoint(pages.confirm_delete), methods=["GET"]),
        Route("/image/delete", dash.endpoint(pages.delete), methods=["POST"]),
        *image_detail.routes(dash),
        *renders.routes(dash),
    ]


def filters_from(creator: str, meta_key: str, meta_value: str) -> list[MetaFilter]:
    """The grid's filters as the v2 listing takes them: one metadata field equal to a value."""
    if not meta_key:
        return []
    try:
        return parse_filters([(f"meta.{meta_key}[eq]", meta_value)])
    except InvalidListing as exc:
        raise BadRequest(f"Metadata filter: {exc}") from None


class ImagePages:
    def __init__(self, dash: Dash) -> None:
        self.dash = dash
        self.gate = dash.gate

    async def grid(self, request: Request) -> Response:
        dash = self.dash
        viewer = await dash.viewer(request)
        account = viewer.managed()
        params = request.query_params
        creator = params.get("creator", "").strip()
        meta_key = params.get("meta_key", "").strip()
        meta_value = params.get("meta_value", "").strip()
        after = params.get("after", "").strip() or None
        error = ""
        images: list[Any] = []
        next_token: str | None = None
        filtered = bool(creator or meta_key)
        try:
            filters = filters_from(creator, meta_key, meta_value)
            images, next_token = await dash.io(
                lambda: self.gate.images.by_cursor(
                    account,
                    continuation_token=after,
                    per_page=PAGE_SIZE,
                    descending=True,
                    creator=creator or None,
                    filters=filters,
                )
            )
        except BadRequest as exc:
            error = exc.message
        held, allowed = await dash.io(self.gate.images.stats, account)
        query = {"creator": creator, "meta_key": meta_key, "meta_value": meta_value}
        return dash.render(
            request,
            "images.html",
            viewer,
            status=400 if error else 200,
            title="Images",
            nav="images",
            images=images,
            next_token=next_token,
            paged=after is not None,
            filtered=filtered,
            query=query,
            error=error,
            held=held,
            allowed=allowed,
            max_upload=self.gate.images.max_upload_bytes,
        )

    async def upload(self, request: Request) -> Response:
        """One file per request (the page's script sends each file on its own, with its own
        progress); the CSRF token comes in a header from scripts or a field from a plain form."""
        dash = self.dash
        header = dash.header_token(request)
        viewer = await dash.checked(request, header)
        account = viewer.managed()
        limit = self.gate.images.max_upload_bytes
        async with upload_form(request, limit) as form:
            if header is None:
                check_csrf_token(viewer.csrf, form.get(CSRF_FIELD))
            if not viewer.can_edit:
                raise ReadOnlySession()
            data, filename = await form.read_file(limit)
            if not data:
                raise BadRequest(f"{filename or 'The file'} is empty")
            fields = [(k, v) for k, v in form.fields if k != CSRF_FIELD]
            meta = parse_metadata(fields)
            private = (form.get("private") or "").lower() in _TRUE
            image = await dash.io(
                lambda: self.gate.images.upload(
                    account,
                    data,
                    filename=filename,
                    custom_id=(form.get("id") or "").strip() or None,
                    meta=meta,
                    require_signed_urls=private,
                    creator=(form.get("creator") or "").strip() or None,
                )
            )
        if header is None and "application/json" not in request.headers.get("accept", ""):
            return redirect("/images", done="uploaded")
        return JSONResponse(
            {"ok": True, "id": image.id, "filename": image.filename, "private": private}
        )

    async def access(self, request: Request) -> Response:
        dash = self.dash
        viewer, form = await dash.form(request)
        account = viewer.managed()
        image_id = form_value(form, "id")
        private = form_text(form, "private") in _TRUE
        await dash.io(lambda: self.gate.images.edit(account, image_id, require_signed_urls=private))
        done = "private" if private else "public"
        if form_text(form, "back") == "detail":
            return redirect("/image", id=image_id, done=done)
        return redirect("/images", done=done)

    async def confirm_delete(self, request: Request) -> Response:
        dash = self.dash
        viewer = await dash.viewer(request)
        account = viewer.managed()
        image = await dash.io(self.gate.images.get, account, request.query_params.get("id", ""))
        return dash.render(
            request,
            "confirm.html",
            viewer,
            title="Delete image",
            nav="images",
            heading=f"Delete the image {image.id}?",
            warning=(
                "The image, its original and every variant of it are deleted at once. "
                "Its URLs, signed or not, stop working. This cannot be undone."
            ),
            action="/image/delete",
            fields={"id": image.id},
            button="Delete the image",
            cancel="/image?id=" + quote(image.id, safe=""),
        )

    async def delete(self, request: Request) -> Response:
        dash = self.dash
        viewer, form = await dash.form(request)
        await dash.io(self.gate.images.delete, viewer.managed(), form_value(form, "id"))
        return redirect("/images", done="deleted-image")
