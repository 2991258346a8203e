"""What a delivery URL asks for: flexible options parsed from its last segment, and the
output format negotiated from ``Accept``. Pure."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from imagegate.models import (
    GRAVITY_KEYWORDS,
    Fit,
    Format,
    MetadataMode,
    OutputFormat,
    VariantOptions,
)


class InvalidOptions(ValueError):
    """The options segment cannot be parsed; the message names the option, never the value."""


ALIASES = {"w": "width", "h": "height", "q": "quality", "f": "format", "g": "gravity"}
#: Cloudflare's named qualities, as imagegate maps them.
NAMED_QUALITY = {"high": 90, "medium-high": 80, "medium-low": 70, "low": 60}
_FOCAL = re.compile(r"(0(?:\.\d+)?|1(?:\.0+)?)x(0(?:\.\d+)?|1(?:\.0+)?)")
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_NUMBER = re.compile(r"\d{1,5}(?:\.\d{1,4})?")
MAX_SEGMENT = 512


def looks_flexible(segment: str) -> bool:
    """Named variants are alphanumeric; anything with ``=`` is a list of options."""
    return "=" in segment


def parse_flexible(segment: str, max_side: int = 12000) -> VariantOptions:
    """``w=400,h=300,fit=cover,f=auto`` (Cloudflare's names and aliases) -> options."""
    if len(segment) > MAX_SEGMENT:
        raise InvalidOptions("options segment too long")
    try:
        text = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise InvalidOptions("options are not UTF-8") from None
    values: dict[str, Any] = {}
    for item in text.split(","):
        name, eq, raw = item.partition("=")
        name = ALIASES.get(name, name)
        if not eq or name not in _PARSERS:
            raise InvalidOptions("unknown option")
        if name in values:
            raise InvalidOptions(f"{name} given twice")
        try:
            values[name] = _PARSERS[name](raw, max_side)
        except (ValueError, KeyError):
            raise InvalidOptions(f"invalid value for {name}") from None
    return VariantOptions(**values)


def _int_in(low: int, high: int) -> Any:
    def parse(raw: str, _max: int) -> int:
        if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
            raise ValueError(raw)
        return int(raw)

    return parse


def _float_in(low: float, high: float, *, open_low: bool = False) -> Any:
    def parse(raw: str, _max: int) -> float:
        if _NUMBER.fullmatch(raw) is None:
            raise ValueError(raw)
        value = float(raw)
        if value < low or value > high or (open_low and value == low):
            raise ValueError(raw)
        return value

    return parse


def _side(raw: str, max_side: int) -> int:
    parsed: int = _int_in(1, max_side)(raw, max_side)
    return parsed


def _quality(raw: str, _max: int) -> int:
    if raw in NAMED_QUALITY:
        return NAMED_QUALITY[raw]
    parsed: int = _int_in(1, 100)(raw, _max)
    return parsed


def parse_gravity(raw: str) -> str:
    """A gravity keyword, or an ``XxY`` focal point written canonically; else ValueError."""
    if raw in GRAVITY_KEYWORDS:
        return raw
    match = _FOCAL.fullmatch(raw)
    if match is None:
        raise ValueError(raw)
    return f"{float(match.group(1)):g}x{float(match.group(2)):g}"


def _background(raw: str, _max: int) -> str:
    match = _HEX.fullmatch(raw)
    if match is None:
        raise ValueError(raw)
    digits = match.group(1).lower()
    return "#" + (digits if len(digits) == 6 else "".join(c * 2 for c in digits))


def _bool(raw: str, _max: int) -> bool:
    return {"true": True, "1": True, "false": False, "0": False}[raw]


_PARSERS: dict[str, Any] = {
    "width": _side,
    "height": _side,
    "fit": lambda raw, _m: Fit(raw),
    "gravity": lambda raw, _m: parse_gravity(raw),
    "quality": _quality,
    "format": lambda raw, _m: OutputFormat(raw),
    "dpr": _float_in(0, 2, open_low=True),
    "sharpen": _float_in(0, 10),
    "blur": _float_in(0, 250),
    "metadata": lambda raw, _m: MetadataMode(raw),
    "anim": _bool,
    "background": _background,
}


# --- Output format ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Output:
    format: Format
    baseline: bool = False  # JPEG without progressive scans
    negotiated: bool = False  # chosen from Accept: answer with ``Vary: Accept``


_FORCED = {
    OutputFormat.AVIF: Format.AVIF,
    OutputFormat.WEBP: Format.WEBP,
    OutputFormat.JPEG: Format.JPEG,
    OutputFormat.BASELINE_JPEG: Format.JPEG,
    OutputFormat.PNG: Format.PNG,
    OutputFormat.GIF: Format.GIF,
}


@functools.lru_cache(maxsize=512)
def accepted_types(accept: str) -> frozenset[str]:
    """Media types an ``Accept`` header admits (``q=0`` excludes; wildcards kept as given)."""
    admitted = set()
    for part in accept.lower().split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media and not any(
            p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params
        ):
            admitted.add(media)
    return frozenset(admitted)


def choose_output(
    requested: OutputFormat,
    accept: str,
    source: Format,
    output_side: int,
    avif_max_side: int,
) -> Output:
    """AVIF, then WebP, then the source's own format, as ``Accept`` allows.

    SVG is always SVG (the caller refuses options that would transform one). A format
    named in the options wins over ``Accept``. AVIF is used only
    up to ``avif_max_side`` (it is slow to encode); past that, WebP. GIF sources (which may be
    animated) never become AVIF or JPEG when negotiated.
    """
    if source is Format.SVG:
        return Output(Format.SVG)
    if requested is not OutputFormat.AUTO:
        forced = _FORCED[requested]
        if forced is Format.AVIF and output_side > avif_max_side:
            forced = Format.WEBP
        return Output(forced, baseline=requested is OutputFormat.BASELINE_JPEG)
    types = accepted_types(accept)
    if source is not Format.GIF and "image/avif" in types and output_side <= avif_max_side:
        return Output(Format.AVIF, negotiated=True)
    if "image/webp" in types:
        return Output(Format.WEBP, negotiated=True)
    fallback = {Format.HEIC: Format.JPEG, Format.AVIF: Format.JPEG}.get(source, source)
    return Output(fallback, negotiated=True)


def output_side(width: int, height: int, options: VariantOptions) -> int:
    """The longest side a render of a ``width`` by ``height`` image will have, at most."""
    longest = max(width, height)
    boxes = [b * options.dpr for b in (options.width, options.height) if b is not None]
    if not boxes:
        return longest
    box = int(max(boxes) + 0.5)
    return box if options.fit in (Fit.COVER, Fit.PAD, Fit.CONTAIN) else min(longest, box)
