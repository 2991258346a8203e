"""Frozen value objects shared by the core and the adapters. No I/O, stdlib only."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """Whole milliseconds since the epoch, in integer arithmetic (``timestamp() * 1000`` is a
    float and truncates some instants to the millisecond before). Naive means local time."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return (moment - _EPOCH) // _MS


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


class OutputFormat(enum.StrEnum):
    """What a variant asks for: ``auto`` negotiates from ``Accept``; the rest force a format."""

    AUTO = "auto"
    AVIF = "avif"
    WEBP = "webp"
    JPEG = "jpeg"
    BASELINE_JPEG = "baseline-jpeg"
    PNG = "png"
    GIF = "gif"


#: Gravity keywords; ``XxY`` focal points are written ``"0.25x0.75"``.
GRAVITY_KEYWORDS = frozenset({"auto", "center", "left", "right", "top", "bottom"})


@dataclass(frozen=True, slots=True)
class VariantOptions:
    """How to render a variant. ``None`` width/height means unconstrained on that axis.

    Named variants store these; flexible variants parse them from the URL. Defaults are
    Cloudflare's: scale-down, quality 85, dpr 1, no sharpen or blur, animation kept,
    metadata reduced to the copyright, format negotiated from ``Accept``.
    """

    fit: Fit = Fit.SCALE_DOWN
    width: int | None = None
    height: int | None = None
    metadata: MetadataMode = MetadataMode.COPYRIGHT
    background: str = "#ffffff"
    browser_ttl: int | None = None
    quality: int = 85
    dpr: float = 1.0
    sharpen: float = 0.0
    blur: float = 0.0
    gravity: str = "center"
    format: OutputFormat = OutputFormat.AUTO
    anim: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The Cloudflare-shaped ``options`` object; settings left at their default are omitted
        beyond Cloudflare's four (fit, metadata, width, height)."""
        data: dict[str, Any] = {"fit": self.fit.value, "metadata": self.metadata.value}
        if self.width is not None:
            data["width"] = self.width
        if self.height is not None:
            data["height"] = self.height
        for name, default in _OPTIONAL_DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                data[name] = value.value if isinstance(value, enum.Enum) else value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariantOptions:
        values: dict[str, Any] = {k: data[k] for k in _FIELDS if k in data}
        values["fit"] = Fit(values.get("fit", Fit.SCALE_DOWN.value))
        values["metadata"] = MetadataMode(values.get("metadata", MetadataMode.COPYRIGHT.value))
        values["format"] = OutputFormat(values.get("format", OutputFormat.AUTO.value))
        return cls(**values)

    def cache_token(self) -> str:
        """A stable string naming everything that affects the rendered bytes."""
        return ",".join(
            f"{name}={getattr(self, name)}" for name in _FIELDS if name != "browser_ttl"
        )


_FIELDS = (
    "fit", "width", "height", "metadata", "background", "browser_ttl", "quality", "dpr",
    "sharpen", "blur", "gravity", "format", "anim",
)  # fmt: skip
_OPTIONAL_DEFAULTS: dict[str, Any] = {
    "background": "#ffffff",
    "browser_ttl": None,
    "quality": 85,
    "dpr": 1.0,
    "sharpen": 0.0,
    "blur": 0.0,
    "gravity": "center",
    "format": OutputFormat.AUTO,
    "anim": True,
}


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
    keep_gps: bool = False  # metadata=keep may give out where a photo was taken


#: Signing keys an account may hold. A URL names no key, so a signature is checked against each
#: key in turn: this bounds the work of refusing a bad one. Delivery tries at most this many
#: keys of an account (its newest), whatever an older store holds.
MAX_SIGNING_KEYS = 10


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
    expires: datetime | None = None  # batch tokens are short-lived
    parent_id: str | None = None  # the token this one was made with; it dies with it
    batch: bool = False  # made by ``GET /batch_token``: makes no tokens itself

    @property
    def reaches_keys(self) -> bool:
        """Whether this token may see or use signing-key values: it needs the edit scope and
        no expiry, since a key (and every URL signed with it) outlives the token that read it."""
        return Scope.EDIT in self.scopes and self.expires is None


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
    upload_expires: datetime | None = None  # drafts: when the upload URL stops working
