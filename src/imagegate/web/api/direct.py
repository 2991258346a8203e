"""Direct creator uploads (v2 and the legacy v1), their unauthenticated upload URL, and
batch tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from imagegate.core.errors import BadRequest
from imagegate.core.models import Account, ApiToken
from imagegate.web.api.common import (
    EditAccount,
    Runtime,
    RuntimeDep,
    caller,
    editor_token,
    image_json,
    iso,
    json_body,
    json_request,
    ok,
)
from imagegate.web.api.multipart import Form, upload_form
from imagegate.web.api.schemas import (
    BatchTokenOut,
    DirectUploadJson,
    DirectUploadOut,
    Envelope,
    ImageOut,
)
from imagegate.web.bodies import large_body
from imagegate.web.forms import parse_bool, parse_metadata

router = APIRouter(tags=["direct creator upload"])
ACCOUNT = "/accounts/{account_id}/images"
DIRECT_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "maxLength": 1024},
                    "creator": {"type": "string", "maxLength": 1024},
                    "metadata": {"type": "string", "description": "JSON object"},
                    "requireSignedURLs": {"type": "string", "enum": ["true", "false"]},
                    "expiry": {"type": "string", "format": "date-time"},
                },
            }
        }
    }
}


def _expiry(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest("expiry must be an ISO-8601 date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _create(request: Request, account: Account, rt: Runtime) -> JSONResponse:
    if not request.headers.get("content-type"):  # no body: every field takes its default
        return await _draft(Form([], None), account, rt, caller(request))
    async with upload_form(request, 0) as form:
        if form.file is not None:
            raise BadRequest("A direct upload is requested without a file")
        return await _draft(form, account, rt, caller(request))


async def _draft(form: Form, account: Account, rt: Runtime, issuer: ApiToken) -> JSONResponse:
    draft, secret = await rt.gate.offload.io(
        lambda: rt.gate.uploads.create(
            account,
            custom_id=form.get("id") or None,
            meta=parse_metadata(form.fields),
            require_signed_urls=parse_bool(form.get("requireSignedURLs"), "requireSignedURLs"),
            creator=form.get("creator"),
            expiry=_expiry(form.get("expiry")),
            issuer=issuer,
        )
    )
    return ok({"id": draft.id, "uploadURL": f"{rt.public_url}/upload/{secret}"})


@router.post(
    f"{ACCOUNT}/v2/direct_upload",
    summary="Create a one-time upload URL (the image is a draft until it is used)",
    response_model=Envelope[DirectUploadOut],
    openapi_extra={"requestBody": DIRECT_BODY},
)
async def direct_upload_v2(request: Request, account: EditAccount, rt: RuntimeDep) -> JSONResponse:
    return await _create(request, account, rt)


DIRECT_BODY_V1 = {
    "content": {
        **DIRECT_BODY["content"],
        "application/json": json_request(DirectUploadJson)["content"]["application/json"],
    }
}


@router.post(
    f"{ACCOUNT}/v1/direct_upload",
    summary="Create a one-time upload URL (legacy v1)",
    response_model=Envelope[DirectUploadOut],
    openapi_extra={"requestBody": DIRECT_BODY_V1},
)
async def direct_upload_v1(request: Request, account: EditAccount, rt: RuntimeDep) -> JSONResponse:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await json_body(request, DirectUploadJson)
        draft, secret = await rt.gate.offload.io(
            lambda: rt.gate.uploads.create(
                account,
                custom_id=body.id or None,
                meta=body.metadata,
                require_signed_urls=body.requireSignedURLs,
                creator=body.creator,
                expiry=_expiry(body.expiry),
                issuer=caller(request),
            )
        )
        return ok({"id": draft.id, "uploadURL": f"{rt.public_url}/upload/{secret}"})
    return await _create(request, account, rt)


@router.post(
    "/upload/{secret}",
    summary="Complete a direct upload: POST the file here, no credentials (one use)",
    response_model=Envelope[ImageOut],
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
            "required": True,
        }
    },
)
@large_body
async def complete_upload(
    request: Request,
    rt: RuntimeDep,
    secret: Annotated[str, Path(min_length=20, max_length=100)],
) -> JSONResponse:
    await rt.gate.offload.io(rt.gate.uploads.check_open, secret)  # its credential, before its body
    limit = rt.gate.images.max_upload_bytes
    async with upload_form(request, limit) as form:
        data, filename = await form.read_file(limit)
        image = await rt.gate.offload.io(rt.gate.uploads.complete, secret, data, filename)
    account = await rt.gate.offload.io(rt.gate.accounts.get, image.account_id)
    assert account is not None
    variants = await rt.gate.offload.io(rt.gate.variants.all, account)
    return ok(image_json(image, account, variants, rt.public_url))


@router.get(
    f"{ACCOUNT}/v1/batch_token",
    summary="A 15-minute token with the caller's scopes; it dies with the caller's token",
    response_model=Envelope[BatchTokenOut],
)
async def batch_token(request: Request, account_id: str, rt: RuntimeDep) -> JSONResponse:
    token = await editor_token(request, account_id)
    value, expires = await rt.gate.offload.io(rt.gate.tokens.create_batch, token)
    return ok({"token": value, "expiresAt": iso(expires)})
