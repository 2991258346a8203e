"""Pydantic models of the API's bodies, for validation and for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from imagegate.core.models import Fit, MetadataMode, OutputFormat
from imagegate.core.options import RANGES

T = TypeVar("T")


class Message(BaseModel):
    code: int
    message: str


class Envelope(BaseModel, Generic[T]):
    result: T | None
    success: bool
    errors: list[Message]
    messages: list[Message]


class ImageOut(BaseModel):
    id: str
    filename: str
    uploaded: str = Field(description="ISO-8601 with milliseconds")
    requireSignedURLs: bool
    variants: list[str] = Field(description="Full delivery URLs, one per variant")
    meta: dict[str, Any]
    creator: str | None = None
    draft: bool | None = Field(None, description="Present and true for pending direct uploads")


class ImageList(BaseModel):
    images: list[ImageOut]


class KeyOut(BaseModel):
    name: str
    value: str | None = Field(
        None, description="Left out unless the token has the edit scope and does not expire"
    )
    created: str = Field(description="imagegate extension: when the key was made")
    verifications: int = Field(description="imagegate extension: signatures it verified")


class KeyList(BaseModel):
    keys: list[KeyOut]


def _takes(name: str) -> str:
    """An option's range, as :mod:`imagegate.core.options` (which checks it) words it."""
    return RANGES[name].format(max_side="IMAGEGATE_MAX_IMAGE_SIDE (12,000 by default)")


class VariantOptionsIn(BaseModel):
    """A named variant's options, as JSON types; every value is checked by
    :func:`imagegate.core.options.named_options`, the same rules as flexible variants'."""

    model_config = ConfigDict(extra="forbid")

    fit: Fit = Fit.SCALE_DOWN
    metadata: MetadataMode = MetadataMode.COPYRIGHT
    width: float = Field(description="Maximum width: " + _takes("width"))
    height: float = Field(description="Maximum height: " + _takes("height"))
    background: str | None = Field(None, description=_takes("background"))
    browser_ttl: int | None = Field(None, description=_takes("browser_ttl"))
    # imagegate extensions: the flexible-variant options, for named variants too.
    quality: int | None = Field(None, description=_takes("quality"))
    dpr: float | None = Field(None, description=_takes("dpr"))
    sharpen: float | None = Field(None, description=_takes("sharpen"))
    blur: float | None = Field(None, description=_takes("blur"))
    gravity: str | None = Field(None, description=_takes("gravity"))
    format: OutputFormat | None = None
    anim: bool | None = None


class VariantOptionsOut(BaseModel):
    fit: Fit
    metadata: MetadataMode
    width: int
    height: int
    quality: int | None = None
    dpr: float | None = None
    sharpen: float | None = None
    blur: float | None = None
    gravity: str | None = None
    format: OutputFormat | None = None
    anim: bool | None = None
    background: str | None = None
    browser_ttl: int | None = None


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=99, pattern=r"^[A-Za-z0-9]+$")
    options: VariantOptionsIn
    neverRequireSignedURLs: bool = False


class VariantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    options: VariantOptionsIn
    neverRequireSignedURLs: bool | None = None


class VariantOut(BaseModel):
    id: str
    options: VariantOptionsOut
    neverRequireSignedURLs: bool


class VariantResult(BaseModel):
    variant: VariantOut


class VariantMap(BaseModel):
    variants: dict[str, VariantOut]


class ImagePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requireSignedURLs: bool | None = None
    metadata: dict[str, Any] | None = None
    creator: str | None = Field(None, max_length=1024)


class ConfigPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flexible_variants: bool | None = None
    browser_ttl: int | None = Field(None, description=_takes("browser_ttl"))
    keep_gps: bool | None = None  # imagegate: metadata=keep may give out GPS


class ConfigOut(BaseModel):
    flexible_variants: bool
    browser_ttl: int
    keep_gps: bool


class SignedUrlOut(BaseModel):
    url: str
    exp: int
    key: str


class ImageListV2(BaseModel):
    images: list[ImageOut]
    continuation_token: str | None


class Count(BaseModel):
    current: int
    allowed: int


class StatsOut(BaseModel):
    count: Count


class DirectUploadJson(BaseModel):
    """The legacy v1 direct upload's JSON body (its form takes the same fields as text)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, max_length=1024)
    creator: str | None = Field(None, max_length=1024)
    metadata: dict[str, Any] | None = None
    requireSignedURLs: bool = False
    expiry: str | None = Field(None, description="ISO-8601 date and time", max_length=64)


class DirectUploadOut(BaseModel):
    id: str
    uploadURL: str


class BatchTokenOut(BaseModel):
    token: str
    expiresAt: str
