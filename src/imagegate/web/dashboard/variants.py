"""Variants: list, create, edit (fit, size, metadata, always public) with a live preview on
a chosen image, and delete (never ``public``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from imagegate.errors import BadRequest, ImagegateError
from imagegate.models import Account, Fit, MetadataMode, Variant, VariantOptions
from imagegate.web.dashboard.base import Dash, Form, Viewer, form_text, redirect

PREVIEW_CHOICES = 50  # images offered for the preview


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


def options_from(form: Form, base: VariantOptions, max_side: int) -> VariantOptions:
    """Fit, width, height and metadata from the form; other options of ``base`` are kept."""
    try:
        fit = Fit(form_text(form, "fit"))
    except ValueError:
        raise BadRequest("Choose a fit") from None
    try:
        metadata = MetadataMode(form_text(form, "metadata"))
    except ValueError:
        raise BadRequest("Choose what metadata to keep") from None
    sizes = []
    for name in ("width", "height"):
        text = form_text(form, name)
        if not text.isdigit() or not 1 <= int(text) <= max_side:
            raise BadRequest(f"The {name} must be a whole number of pixels from 1 to {max_side}")
        sizes.append(int(text))
    return replace(base, fit=fit, width=sizes[0], height=sizes[1], metadata=metadata)


class VariantPages:
    def __init__(self, dash: Dash) -> None:
        self.dash = dash
        self.service = dash.service
        self.max_side = dash.service.limits.max_image_side

    async def _images(self, account: Account) -> list[Any]:
        return await self.dash.io(self.service.list_images, account, 1, PREVIEW_CHOICES)

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
        variants = await self.dash.io(self.service.list_variants, viewer.managed())
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
            options = options_from(form, VariantOptions(), self.max_side)
            variant = Variant(name, options, always_public)
            await self.dash.io(self.service.create_variant, account, variant)
        except ImagegateError as exc:
            variants = await self.dash.io(self.service.list_variants, account)
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
        variant = await self.dash.io(self.service.get_variant, viewer.managed(), name)
        return await self._render(
            request, viewer, "variant.html", title=f"Variant {name}", variant=variant
        )

    async def save(self, request: Request) -> Response:
        viewer, form = await self.dash.form(request)
        account = viewer.managed()
        name = form_text(form, "name")
        variant = await self.dash.io(self.service.get_variant, account, name)
        always_public = form_text(form, "always_public") == "on"
        try:
            options = options_from(form, variant.options, self.max_side)
            await self.dash.io(self.service.update_variant, account, name, options, always_public)
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
        variant = await self.dash.io(self.service.get_variant, viewer.managed(), name)
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
        await self.dash.io(self.service.delete_variant, viewer.managed(), form_text(form, "name"))
        return redirect("/variants", done="variant-deleted")
