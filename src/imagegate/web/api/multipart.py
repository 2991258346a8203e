"""Reading upload forms: the body is counted as it streams in and refused past the limit,
so an oversized upload costs no more than the limit, whatever it claims or omits."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.types import Message as AsgiMessage
from starlette.types import Receive

from imagegate.core.errors import BadRequest, NotMultipart, PayloadTooLarge

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small text fields
#: Unicode categories of characters a filename loses: controls, format marks, surrogates.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs"})


@dataclass(frozen=True, slots=True)
class Form:
    fields: list[tuple[str, str]]  # text fields, in order, repeats kept
    file: UploadFile | None

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.fields if k == name), None)

    async def read_file(self, limit: int) -> tuple[bytes, str]:
        """The ``file`` part's bytes and filename; refused past ``limit`` bytes."""
        if self.file is None:
            raise BadRequest("The file field is required")
        data = await self.file.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge.over(limit)
        return data, clean_filename(self.file.filename or "")


def clean_filename(name: str) -> str:
    """The client's filename as a label only: control and format characters (NUL, CR/LF,
    bidi overrides such as U+202E, zero-width marks) removed, at most 255 characters. It
    never names a file: originals are stored under generated keys."""
    kept = "".join(c for c in name if unicodedata.category(c) not in _INVISIBLE)
    return kept.strip()[:255]


def _limited(receive: Receive, limit: int, too_large: PayloadTooLarge) -> Receive:
    seen = 0

    async def wrapped() -> AsgiMessage:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large
        return message

    return wrapped


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


@asynccontextmanager
async def upload_form(request: Request, limit: int) -> AsyncIterator[Form]:
    """A form body (multipart, or URL-encoded when there is no file); anything else, such
    as raw image bytes, is refused with 5415."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(FORM_TYPES):
        raise NotMultipart()
    declared = request.headers.get("content-length", "")
    too_large = PayloadTooLarge.over(limit)
    if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise too_large
    limited = Request(request.scope, _limited(request.receive, limit + FORM_OVERHEAD, too_large))
    try:
        form = await limited.form(max_files=1, max_fields=200, max_part_size=64 * 1024)
    except PayloadTooLarge:
        raise
    except Exception:
        raise BadRequest("Malformed form body") from None
    try:
        upload = form.get("file")
        fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        yield Form(fields, upload if isinstance(upload, UploadFile) else None)
    finally:
        await form.close()
