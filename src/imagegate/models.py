"""Frozen value objects shared by the core and the adapters. No I/O, stdlib only."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Fit(enum.StrEnum):
    SCALE_DOWN = "scale-down"
    CONTAIN = "contain"
    COVER = "cover"
    CROP = "crop"
    PAD = "pad"


class MetadataMode(enum.StrEnum):
    KEEP = "keep"
    COPYRIGHT = "copyright"
    NONE = "none"


class Format(enum.StrEnum):
    """Stored and output formats. ``value`` is the short name used in options and logs."""

    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    WEBP = "webp"
    AVIF = "avif"
    HEIC = "heic"
    SVG = "svg"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]


_MEDIA_TYPES = {
    Format.JPEG: "image/jpeg",
    Format.PNG: "image/png",
    Format.GIF: "image/gif",
    Format.WEBP: "image/webp",
    Format.AVIF: "image/avif",
    Format.HEIC: "image/heic",
    Format.SVG: "image/svg+xml",
}


class Scope(enum.StrEnum):
    READ = "read"
    EDIT = "edit"


@dataclass(frozen=True, slots=True)
class VariantOptions:
    """How to render a variant. ``None`` width/height means unconstrained on that axis."""

    fit: Fit = Fit.SCALE_DOWN
    width: int | None = None
    height: int | None = None
    metadata: MetadataMode = MetadataMode.COPYRIGHT
    background: str = "#ffffff"
    browser_ttl: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The Cloudflare-shaped ``options`` object; defaults beyond Cloudflare's are omitted."""
        data: dict[str, Any] = {"fit": self.fit.value, "metadata": self.metadata.value}
        if self.width is not None:
            data["width"] = self.width
        if self.height is not None:
            data["height"] = self.height
        if self.background != "#ffffff":
            data["background"] = self.background
        if self.browser_ttl is not None:
            data["browser_ttl"] = self.browser_ttl
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariantOptions:
        return cls(
            fit=Fit(data.get("fit", Fit.SCALE_DOWN.value)),
            width=data.get("width"),
            height=data.get("height"),
            metadata=MetadataMode(data.get("metadata", MetadataMode.COPYRIGHT.value)),
            background=data.get("background", "#ffffff"),
            browser_ttl=data.get("browser_ttl"),
        )

    def cache_token(self) -> str:
        """A stable string naming what the options render, for cache keys."""
        return (
            f"fit={self.fit.value},w={self.width or ''},h={self.height or ''},"
            f"m={self.metadata.value},bg={self.background}"
        )


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    options: VariantOptions
    never_require_signed_urls: bool = False


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    hash: str
    name: str
    created: datetime
    flexible_variants: bool = False
    browser_ttl: int = 172800
    image_quota: int = 100000


@dataclass(frozen=True, slots=True)
class SigningKey:
    name: str
    value: str
    created: datetime
    verifications: int = 0


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    account_id: str
    name: str
    scopes: frozenset[Scope]
    created: datetime
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class Image:
    account_id: str
    id: str
    filename: str
    uploaded: datetime
    require_signed_urls: bool
    meta: dict[str, Any] = field(default_factory=dict)
    creator: str | None = None
    draft: bool = False
    format: Format | None = None
    width: int = 0
    height: int = 0
    size: int = 0
    blob_key: str = ""
    sha256: str = ""
