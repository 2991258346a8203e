"""``/images/v2`` (cursor paging with creator and metadata filters) and ``/images/v1/stats``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from imagegate.core.errors import BadRequest
from imagegate.core.listing import InvalidListing, parse_filters
from imagegate.web.api.common import ReadAccount, RuntimeDep, image_json, ok
from imagegate.web.api.schemas import Envelope, ImageListV2, StatsOut

router = APIRouter(prefix="/accounts/{account_id}/images", tags=["images"])


@router.get(
    "/v2",
    summary="List images (v2): newest first by default, paged with continuation_token",
    response_model=Envelope[ImageListV2],
)
async def list_v2(
    request: Request,
    account: ReadAccount,
    rt: RuntimeDep,
    continuation_token: Annotated[str | None, Query(max_length=32)] = None,
    per_page: Annotated[int, Query(ge=10, le=1000)] = 1000,
    sort_order: Literal["asc", "desc"] = "desc",
    creator: Annotated[str | None, Query(max_length=1024)] = None,
) -> JSONResponse:
    params = request.query_params.multi_items()
    if any("\x00" in name or "\x00" in value for name, value in params):
        raise BadRequest("Query parameters must not contain NUL characters")
    try:
        filters = parse_filters(params)
    except InvalidListing as exc:
        raise BadRequest(str(exc)) from None
    images, token = await rt.gate.offload.io(
        lambda: rt.gate.images.by_cursor(
            account,
            continuation_token=continuation_token,
            per_page=per_page,
            descending=sort_order == "desc",
            creator=creator,
            filters=filters,
        )
    )
    variants = await rt.gate.offload.io(rt.gate.variants.all, account)
    return ok(
        {
            "images": [image_json(i, account, variants, rt.public_url) for i in images],
            "continuation_token": token,
        }
    )


@router.get("/v1/stats", summary="Images held and allowed", response_model=Envelope[StatsOut])
async def stats(account: ReadAccount, rt: RuntimeDep) -> JSONResponse:
    current, allowed = await rt.gate.offload.io(rt.gate.images.stats, account)
    return ok({"count": {"current": current, "allowed": allowed}})
