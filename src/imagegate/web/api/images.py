"""``/accounts/{account_id}/images/v1`` and ``/{image_id}``: upload, list, details, edit,
delete, original bytes, and (an imagegate extension) signed delivery URLs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from imagegate.core.errors import BadRequest
from imagegate.core.models import Account, Image
from imagegate.web.api.common import (
    EditAccount,
    KeyAccount,
    ReadAccount,
    Runtime,
    RuntimeDep,
    image_json,
    json_body,
    json_request,
    ok,
    path_image_id,
)
from imagegate.web.api.multipart import upload_form
from imagegate.web.api.schemas import Envelope, ImageList, ImageOut, ImagePatch, SignedUrlOut
from imagegate.web.bodies import large_body
from imagegate.web.forms import parse_bool, parse_metadata

router = APIRouter(prefix="/accounts/{account_id}/images/v1", tags=["images"])

#: Originals are data, never documents: an SVG opened from here runs no script, loads nothing.
BLOB_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

UPLOAD_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "id": {"type": "string", "maxLength": 1024},
                    "metadata": {"type": "string", "description": "JSON object, <= 1024 bytes"},
                    "requireSignedURLs": {"type": "string", "enum": ["true", "false"]},
                    "creator": {"type": "string", "maxLength": 1024},
                },
            }
        }
    },
    "required": True,
}


async def _image_out(rt: Runtime, account: Account, image: Image) -> dict[str, Any]:
    variants = await rt.gate.offload.io(rt.gate.variants.all, account)
    return image_json(image, account, variants, rt.public_url)


@router.post(
    "",
    summary="Upload an image",
    response_model=Envelope[ImageOut],
    openapi_extra={"requestBody": UPLOAD_BODY},
)
@large_body
async def upload(request: Request, account: EditAccount, rt: RuntimeDep) -> JSONResponse:
    limit = rt.gate.images.max_upload_bytes
    async with upload_form(request, limit) as form:
        url = form.get("url")
        if url is not None:
            if form.file is not None:
                raise BadRequest("Send either the file or the url field, not both")
            data, filename = await rt.gate.offload.fetch(rt.gate.images.fetch, url)
        else:
            data, filename = await form.read_file(limit)
        image = await rt.gate.offload.io(
            lambda: rt.gate.images.upload(
                account,
                data,
                filename=filename,
                custom_id=form.get("id") or None,
                meta=parse_metadata(form.fields),
                require_signed_urls=parse_bool(form.get("requireSignedURLs"), "requireSignedURLs"),
                creator=form.get("creator"),
            )
        )
    return ok(await _image_out(rt, account, image))


@router.get("", summary="List images (v1, paged)", response_model=Envelope[ImageList])
async def list_images(
    account: ReadAccount,
    rt: RuntimeDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=10, le=10000)] = 1000,
    creator: Annotated[str | None, Query(max_length=1024)] = None,
) -> JSONResponse:
    images = await rt.gate.offload.io(rt.gate.images.by_offset, account, page, per_page, creator)
    variants = await rt.gate.offload.io(rt.gate.variants.all, account)
    return ok({"images": [image_json(i, account, variants, rt.public_url) for i in images]})


@router.get("/{image_id}", summary="Image details", response_model=Envelope[ImageOut])
async def get_image(image_id: str, account: ReadAccount, rt: RuntimeDep) -> JSONResponse:
    image = await rt.gate.offload.io(rt.gate.images.get, account, path_image_id(image_id))
    return ok(await _image_out(rt, account, image))


@router.patch(
    "/{image_id}",
    summary="Edit an image",
    response_model=Envelope[ImageOut],
    openapi_extra={"requestBody": json_request(ImagePatch)},
)
async def edit_image(
    request: Request, image_id: str, account: EditAccount, rt: RuntimeDep
) -> JSONResponse:
    body = await json_body(request, ImagePatch)
    image = await rt.gate.offload.io(
        lambda: rt.gate.images.edit(
            account,
            path_image_id(image_id),
            require_signed_urls=body.requireSignedURLs,
            meta=body.metadata,
            creator=body.creator,
        )
    )
    return ok(await _image_out(rt, account, image))


@router.delete("/{image_id}", summary="Delete an image", response_model=Envelope[dict[str, Any]])
async def delete_image(image_id: str, account: EditAccount, rt: RuntimeDep) -> JSONResponse:
    await rt.gate.offload.io(rt.gate.images.delete, account, path_image_id(image_id))
    return ok({})


@router.get(
    "/{image_id}/blob",
    summary="The original bytes",
    response_class=Response,
    responses={200: {"content": {"image/*": {}}}},
)
async def blob(image_id: str, account: ReadAccount, rt: RuntimeDep) -> Response:
    """The bytes as uploaded, typed by their magic bytes. An SVG original is not sanitised
    (delivery is), so nothing here may run as a page: no sniffing, a sandbox with no
    sources, and anything without an image type goes out as a download."""
    data, fmt = await rt.gate.offload.io(rt.gate.images.original, account, path_image_id(image_id))
    headers = {
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": BLOB_CSP,
    }
    if fmt is None:
        headers["Content-Disposition"] = "attachment"
        return Response(data, media_type="application/octet-stream", headers=headers)
    return Response(data, media_type=fmt.media_type, headers=headers)


@router.get(
    "/{image_id}/signed_url",
    summary="A signed delivery URL (imagegate extension; an edit token that does not expire)",
    response_model=Envelope[SignedUrlOut],
)
async def signed_url(
    image_id: str,
    account: KeyAccount,
    rt: RuntimeDep,
    variant: Annotated[str, Query(min_length=1, max_length=99)] = "public",
    expires_in: Annotated[int, Query(ge=1, le=10 * 365 * 86400)] = 86400,
    key: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
) -> JSONResponse:
    url, exp, used = await rt.gate.offload.io(
        lambda: rt.gate.keys.signed_url(
            account,
            path_image_id(image_id),
            variant,
            expires_in,
            key_name=key,
            public_url=rt.public_url,
        )
    )
    return ok({"url": url, "exp": exp, "key": used})
