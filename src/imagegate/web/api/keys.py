"""``/accounts/{account_id}/images/v1/keys``: the signing keys of the account.

Names, dates and counts need the read scope. Values, and changing keys, need an edit token
that does not expire: a key outlives any token that reads it, and signs URLs for as long as
it exists."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from imagegate.web.api.common import KeyAccount, KeyReader, RuntimeDep, key_json, ok
from imagegate.web.api.schemas import Envelope, KeyList

router = APIRouter(prefix="/accounts/{account_id}/images/v1/keys", tags=["signing keys"])


@router.get(
    "",
    summary="List signing keys (values only to an edit token that does not expire)",
    response_model=Envelope[KeyList],
)
async def list_keys(view: KeyReader, rt: RuntimeDep) -> JSONResponse:
    keys = await rt.gate.offload.io(rt.gate.keys.all, view.account)
    return ok({"keys": [key_json(k, value=view.values) for k in keys]})


@router.put(
    "/{signing_key_name}",
    summary="Create a key, or regenerate it if it exists; returns all keys",
    response_model=Envelope[KeyList],
)
async def put_key(signing_key_name: str, account: KeyAccount, rt: RuntimeDep) -> JSONResponse:
    keys = await rt.gate.offload.io(rt.gate.keys.put, account, signing_key_name)
    return ok({"keys": [key_json(k) for k in keys]})


@router.delete(
    "/{signing_key_name}",
    summary="Delete a key; deleting the last one generates a new default",
    response_model=Envelope[KeyList],
)
async def delete_key(signing_key_name: str, account: KeyAccount, rt: RuntimeDep) -> JSONResponse:
    keys = await rt.gate.offload.io(rt.gate.keys.delete, account, signing_key_name)
    return ok({"keys": [key_json(k) for k in keys]})
