"""Variants: list, create, edit (fit, size, metadata, always public) with a live preview on
a chosen image, and delete (never ``public``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from imagegate.core.errors import BadRequest, ImagegateError
from imagegate.core.models import Account, Fit, MetadataMode
from imagegate.web.dashboard.base import (
    Dash,
    Form,
    Viewer,
    form_text,
    redirect,
)

PREVIEW_CHOICES = 50  # images offered for the preview
FORM_OPTIONS = ("fit", "width", "height", "metadata")


def routes(dash: Dash) -> list[BaseRoute]:
    pages = VariantPages(dash)
    return [
        Route("/variants", dash.endpoint(pages.index), methods=["GET"]),
        Route("/variants", dash.endpoint(pages.create), methods=["POST"]),
        Route("/variant", dash.endpoint(pages.edit), methods=["GET"]),
        Route("/variant", dash.endpoint(pages.save), methods=["POST"]),
        Route("/variant/delete", dash.endpoint(pages.confirm_delete), methods=["GET"]),
        Route("/variant/delete", dash.endpoint(pages.delete), methods=["POST"]),
    ]


def option_fields(form: Form) -> dict[str, str]:
    """What the variant forms send: fit, width, height and metadata (checked by the use case,
    as the API's are)."""
    return {name: form_text(form, name) for name in FORM_OPTIONS}


class VariantPages:
    def __init__(self, dash: Dash) -> None:
        self.dash = dash
        self.gate = dash.gate
        self.max_side = dash.gate.settings.max_image_side

    async def _images(self, account: Account) -> list[Any]:
        return await self.dash.io(self.gate.images.by_offset, account, 1, PREVIEW_CHOICES)

    async def _render(
        self,
        request: Request,
        viewer: Viewer,
        template: str,
        *,
        status: int = 200,
        error: str = "",
        **context: Any,
    ) -> Response:
        account = viewer.managed()
        images = await self._images(account)
        chosen = request.query_params.get("image", "")
        preview_image = next((i for i in images if i.id == chosen), images[0] if images else None)
        return self.dash.render(
            request,
            template,
            viewer,
            status=status,
            nav="variants",
            error=error,
            images=images,
            preview_image=preview_image,
            fits=[f.value for f in Fit],
            metadata_modes=[m.value for m in MetadataMode],
            max_side=self.max_side,
            **context,
        )

    async def index(self, request: Request) -> Response:
        viewer = await self.dash.viewer(request)
        variants = await self.dash.io(self.gate.variants.all, viewer.managed())
        return await self._render(
            request,
            viewer,
            "variants.html",
            title="Variants",
            variants=variants,
            draft=None,
            variant=None,
        )

    async def create(self, request: Request) -> Response:
        viewer, form = await self.dash.form(request)
        account = viewer.managed()
        name = form_text(form, "name")
        always_public = form_text(form, "always_public") == "on"
        try:
            await self.dash.io(
                self.gate.variants.create, account, name, option_fields(form), always_public
            )
        except ImagegateError as exc:
            variants = await self.dash.io(self.gate.variants.all, account)
            draft = {k: form_text(form, k) for k in ("name", "fit", "width", "height", "metadata")}
            draft["always_public"] = "on" if always_public else ""
            return await self._render(
                request,
                viewer,
                "variants.html",
                status=exc.status,
                error=exc.message,
                title="Variants",
                variants=variants,
                draft=draft,
                variant=None,
            )
        return redirect("/variant", name=name, done="variant-created")

    async def edit(self, request: Request) -> Response:
        viewer = await self.dash.viewer(request)
        name = request.query_params.get("name", "")
        variant = await self.dash.io(self.gate.variants.get, viewer.managed(), name)
        return await self._render(
            request, viewer, "variant.html", title=f"Variant {name}", variant=variant
        )

    async def save(self, request: Request) -> Response:
        viewer, form = await self.dash.form(request)
        account = viewer.managed()
        name = form_text(form, "name")
        variant = await self.dash.io(self.gate.variants.get, account, name)
        always_public = form_text(form, "always_public") == "on"
        try:
            await self.dash.io(
                lambda: self.gate.variants.update(
                    account, name, option_fields(form), always_public, keep_others=True
                )
            )
        except ImagegateError as exc:
            return await self._render(
                request,
                viewer,
                "variant.html",
                status=exc.status,
                error=exc.message,
                title=f"Variant {name}",
                variant=variant,
            )
        return redirect("/variant", name=name, done="variant-saved")

    async def confirm_delete(self, request: Request) -> Response:
        viewer = await self.dash.viewer(request)
        name = request.query_params.get("name", "")
        variant = await self.dash.io(self.gate.variants.get, viewer.managed(), name)
        if variant.name == "public":
            raise BadRequest("The public variant cannot be deleted")
        return self.dash.render(
            request,
            "confirm.html",
            viewer,
            title="Delete variant",
            nav="variants",
            heading=f"Delete the variant {variant.name}?",
            warning=(
                f"Every URL that ends in /{variant.name} stops working at once, signed or not, "
                "and its rendered copies are removed. This cannot be undone."
            ),
            action="/variant/delete",
            fields={"name": variant.name},
            button="Delete the variant",
            cancel=f"/variant?name={variant.name}",
        )

    async def delete(self, request: Request) -> Response:
        viewer, form = await self.dash.form(request)
        await self.dash.io(self.gate.variants.delete, viewer.managed(), form_text(form, "name"))
        return redirect("/variants", done="variant-deleted")
