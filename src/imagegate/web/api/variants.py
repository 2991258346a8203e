"""``/accounts/{account_id}/images/v1/variants`` and the account's image ``config``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from imagegate.core.models import Account
from imagegate.web.api.common import (
    EditAccount,
    ReadAccount,
    RuntimeDep,
    json_body,
    json_request,
    ok,
    variant_json,
)
from imagegate.web.api.schemas import (
    ConfigOut,
    ConfigPatch,
    Envelope,
    VariantIn,
    VariantMap,
    VariantPatch,
    VariantResult,
)

router = APIRouter(prefix="/accounts/{account_id}/images/v1", tags=["variants"])


@router.post(
    "/variants",
    summary="Create a variant",
    response_model=Envelope[VariantResult],
    openapi_extra={"requestBody": json_request(VariantIn)},
)
async def create_variant(request: Request, account: EditAccount, rt: RuntimeDep) -> JSONResponse:
    body = await json_body(request, VariantIn)
    created = await rt.gate.offload.io(
        rt.gate.variants.create,
        account,
        body.id,
        body.options.model_dump(exclude_none=True),
        body.neverRequireSignedURLs,
    )
    return ok({"variant": variant_json(created)})


@router.get("/variants", summary="List variants", response_model=Envelope[VariantMap])
async def list_variants(account: ReadAccount, rt: RuntimeDep) -> JSONResponse:
    variants = await rt.gate.offload.io(rt.gate.variants.all, account)
    return ok({"variants": {v.name: variant_json(v) for v in variants}})


@router.get(
    "/variants/{variant_id}", summary="Variant details", response_model=Envelope[VariantResult]
)
async def get_variant(variant_id: str, account: ReadAccount, rt: RuntimeDep) -> JSONResponse:
    variant = await rt.gate.offload.io(rt.gate.variants.get, account, variant_id)
    return ok({"variant": variant_json(variant)})


@router.patch(
    "/variants/{variant_id}",
    summary="Edit a variant",
    response_model=Envelope[VariantResult],
    openapi_extra={"requestBody": json_request(VariantPatch)},
)
async def edit_variant(
    request: Request, variant_id: str, account: EditAccount, rt: RuntimeDep
) -> JSONResponse:
    body = await json_body(request, VariantPatch)
    variant = await rt.gate.offload.io(
        rt.gate.variants.update,
        account,
        variant_id,
        body.options.model_dump(exclude_none=True),
        body.neverRequireSignedURLs,
    )
    return ok({"variant": variant_json(variant)})


@router.delete(
    "/variants/{variant_id}",
    summary="Delete a variant (not public)",
    response_model=Envelope[dict[str, Any]],
)
async def delete_variant(variant_id: str, account: EditAccount, rt: RuntimeDep) -> JSONResponse:
    await rt.gate.offload.io(rt.gate.variants.delete, account, variant_id)
    return ok({})


@router.patch(
    "/config",
    summary="Account image settings",
    response_model=Envelope[ConfigOut],
    openapi_extra={"requestBody": json_request(ConfigPatch)},
)
async def patch_config(request: Request, account: EditAccount, rt: RuntimeDep) -> JSONResponse:
    body = await json_body(request, ConfigPatch)
    updated = await rt.gate.offload.io(
        lambda: rt.gate.accounts.configure(
            account,
            flexible_variants=body.flexible_variants,
            browser_ttl=body.browser_ttl,
            keep_gps=body.keep_gps,
        )
    )
    return ok(_config(updated))


@router.get("/config", summary="Account image settings", response_model=Envelope[ConfigOut])
async def get_config(account: ReadAccount) -> JSONResponse:
    return ok(_config(account))


def _config(account: Account) -> dict[str, Any]:
    return {
        "flexible_variants": account.flexible_variants,
        "browser_ttl": account.browser_ttl,
        "keep_gps": account.keep_gps,
    }
