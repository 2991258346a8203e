"""The output format of a rendered variant, negotiated from ``Accept``. Pure."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from imagegate.core.models import Format, OutputFormat, VariantOptions
from imagegate.core.render_plan import plan_geometry


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
    return _without_avif(types, source)


def avif_stand_in(accept: str, source: Format) -> Output:
    """What to serve, at once, to a client whose ``Accept`` negotiated AVIF while that AVIF
    is not made yet: what the client would get if it did not take AVIF (WebP if accepted,
    else the source's format, JPEG for HEIC and AVIF sources). Negotiated, so ``Vary``."""
    return _without_avif(accepted_types(accept), source)


def _without_avif(types: frozenset[str], source: Format) -> Output:
    if "image/webp" in types:
        return Output(Format.WEBP, negotiated=True)
    fallback = {Format.HEIC: Format.JPEG, Format.AVIF: Format.JPEG}.get(source, source)
    return Output(fallback, negotiated=True)


def output_side(width: int, height: int, options: VariantOptions) -> int:
    """The longest side a render of a ``width`` by ``height`` (upright) image will have: the
    fit rules resolved as the render resolves them, so a box larger than the output on one
    axis (``width=800, height=12000``) does not count. The output cap only shrinks it."""
    geometry = plan_geometry(width, height, options)
    return max(geometry.width, geometry.height)
