"""What every API route shares: imagegate's use cases, authentication, the envelope, and how
models are written out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote_to_bytes

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from imagegate.assembly import Imagegate
from imagegate.core import client_json
from imagegate.core.delivery_urls import delivery_url
from imagegate.core.errors import BadRequest, Unauthenticated
from imagegate.core.models import Account, ApiToken, Image, Scope, SigningKey, Variant


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the API needs at run time; lives on ``app.state.runtime``."""

    gate: Imagegate
    public_url: str


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]


async def _token(request: Request) -> ApiToken:
    rt = runtime(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("Missing or malformed Authorization: Bearer header")
    return await rt.gate.offload.io(rt.gate.tokens.authenticate, value.strip())


async def _account(request: Request, account_id: str, scope: Scope) -> Account:
    rt = runtime(request)
    token = await _token(request)
    account = await rt.gate.offload.io(rt.gate.tokens.account_for, token, account_id, scope)
    request.state.api_token = token
    return account


def caller(request: Request) -> ApiToken:
    """The token that a route's ``ReadAccount`` or ``EditAccount`` authenticated."""
    token: ApiToken = request.state.api_token
    return token


async def editor_token(request: Request, account_id: str) -> ApiToken:
    """The request's token, if it may edit ``account_id``."""
    rt = runtime(request)
    token = await _token(request)
    await rt.gate.offload.io(rt.gate.tokens.account_for, token, account_id, Scope.EDIT)
    return token


async def reader(request: Request, account_id: str) -> Account:
    return await _account(request, account_id, Scope.READ)


async def editor(request: Request, account_id: str) -> Account:
    return await _account(request, account_id, Scope.EDIT)


ReadAccount = Annotated[Account, Depends(reader)]
EditAccount = Annotated[Account, Depends(editor)]

Model = TypeVar("Model", bound=BaseModel)


async def json_body(request: Request, model: type[Model]) -> Model:
    """The request's JSON body, as ``model``.

    Routes call this themselves, after their credentials were checked: FastAPI reads a body
    declared as a parameter before any dependency runs, so anyone could make it read one.
    The body arrives capped by its route (:mod:`imagegate.web.bodies`), is parsed by the
    strict rules of :mod:`imagegate.core.client_json`, and each field takes only its own JSON
    type (``1`` is not ``true``, ``"1"`` is not ``1``)."""
    try:
        raw = await request.body()
    except ClientDisconnect:  # cut off (too large or too slow): the client was answered
        raise BadRequest("The request body was not received") from None
    if not raw.strip():
        raise BadRequest("The body must be a JSON object")
    data = client_json.loads(raw)
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object")
    try:
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def json_request(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads ``model`` with :func:`json_body`."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return {
        "required": True,
        "content": {"application/json": {"schema": _inline(schema, definitions)}},
    }


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(definitions[ref.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


@dataclass(frozen=True, slots=True)
class KeyView:
    """An account whose keys are listed, and whether their values may be shown."""

    account: Account
    values: bool


async def key_reader(request: Request, account_id: str) -> KeyView:
    """Key names need the read scope; their values need what using them needs."""
    account = await reader(request, account_id)
    return KeyView(account, caller(request).reaches_keys)


async def key_keeper(request: Request, account_id: str) -> Account:
    """The account, if the token may see and use its key values (edit, does not expire)."""
    rt = runtime(request)
    token = await _token(request)
    return await rt.gate.offload.io(rt.gate.tokens.account_for_keys, token, account_id)


KeyReader = Annotated[KeyView, Depends(key_reader)]
KeyAccount = Annotated[Account, Depends(key_keeper)]


def path_image_id(raw: str) -> str:
    """The image id from its (percent-encoded) path segment. API paths carry ids fully
    URL-encoded, ``/`` as ``%2F``, so one segment is always one id."""
    try:
        image_id = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("Image id is not valid UTF-8") from None
    if not image_id:
        raise BadRequest("Image id is empty")
    return image_id


#: API answers are per account and may hold key values, tokens or signed URLs: no cache
#: keeps them, and no browser reads them as anything but JSON.
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def ok(result: Any) -> JSONResponse:
    """The success envelope. Routes return responses directly, so their ``response_model``
    documents the shape without re-validating every answer."""
    return JSONResponse(
        {"result": result, "success": True, "errors": [], "messages": []}, headers=API_HEADERS
    )


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def image_json(
    image: Image, account: Account, variants: list[Variant], base: str
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": image.id,
        "filename": image.filename,
        "uploaded": iso(image.uploaded),
        "requireSignedURLs": image.require_signed_urls,
        "variants": [delivery_url(base, account.hash, image.id, v.name) for v in variants],
        "meta": image.meta,
        "creator": image.creator,
    }
    if image.draft:
        data["draft"] = True
    return data


def key_json(key: SigningKey, *, value: bool = True) -> dict[str, Any]:
    """A key as the API shows it; without ``value`` its value is left out (the field is
    optional in Cloudflare's schema)."""
    data: dict[str, Any] = {"name": key.name}
    if value:
        data["value"] = key.value
    data["created"] = iso(key.created)
    data["verifications"] = key.verifications
    return data


def variant_json(variant: Variant) -> dict[str, Any]:
    return {
        "id": variant.name,
        "options": variant.options.to_dict(),
        "neverRequireSignedURLs": variant.never_require_signed_urls,
    }
