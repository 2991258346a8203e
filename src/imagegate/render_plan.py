"""The arithmetic of rendering, kept pure so it can be tested by tables: fit geometry (with
``dpr``), crop windows from ``gravity``, filter strengths, encoder settings, and when an
original keeps its own form (an SVG served as SVG, an animation kept whole).

:mod:`imagegate.imaging` asks these functions what to do and has libvips do it. Option
values are validated by the options parser; out-of-range or odd values are clamped here so
that rendering never fails on them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from imagegate.errors import BadRequest
from imagegate.models import Fit, Format, OutputFormat, VariantOptions

MAX_DPR = 2.0
MAX_SHARPEN = 10.0
MAX_BLUR = 250.0
#: JPEG outputs smaller than 50x50 or larger than 3000x3000 pixels are encoded baseline.
PROGRESSIVE_MIN_AREA, PROGRESSIVE_MAX_AREA = 50 * 50, 3000 * 3000


@dataclass(frozen=True, slots=True)
class Geometry:
    """What a fit mode asks for: the resized image, then the canvas it is cropped or padded to."""

    scaled_width: int
    scaled_height: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Sharpen:
    """Arguments of libvips' ``sharpen`` (an unsharp mask on the lightness channel)."""

    sigma: float
    m1: float  # slope for flat areas
    m2: float  # slope for jagged areas (edges)


def effective_dpr(dpr: float) -> float:
    """``dpr`` clamped to (0, 2]; anything not a positive number counts as 1."""
    if not (isinstance(dpr, int | float) and math.isfinite(dpr) and dpr > 0):
        return 1.0
    return min(float(dpr), MAX_DPR)


def plan_geometry(src_width: int, src_height: int, options: VariantOptions) -> Geometry:
    """Resolve a fit mode against an upright source size.

    ``width`` and ``height`` are multiplied by ``dpr`` first; the fit rules then apply as
    usual, so ``scale-down`` and ``crop`` still never enlarge. A missing width or height
    leaves that axis unconstrained: the size follows the aspect ratio, so ``cover`` acts like
    ``contain`` and ``crop`` like ``scale-down``, and ``pad`` adds no border on that axis.
    No width and no height means no resize.
    """
    dpr = effective_dpr(options.dpr)
    box_w = max(1, round(options.width * dpr)) if options.width else None
    box_h = max(1, round(options.height * dpr)) if options.height else None
    fit = options.fit
    ratios = [box / size for box, size in ((box_w, src_width), (box_h, src_height)) if box]
    if not ratios:
        return Geometry(src_width, src_height, src_width, src_height)
    covers = fit in (Fit.COVER, Fit.CROP)
    scale = max(ratios) if covers else min(ratios)
    if fit in (Fit.SCALE_DOWN, Fit.CROP):
        scale = min(scale, 1.0)
    scaled_w = max(1, int(src_width * scale + 0.5))
    scaled_h = max(1, int(src_height * scale + 0.5))
    width, height = scaled_w, scaled_h
    if fit in (Fit.COVER, Fit.PAD):
        width, height = box_w or scaled_w, box_h or scaled_h
    elif fit is Fit.CROP:
        width, height = min(box_w or scaled_w, scaled_w), min(box_h or scaled_h, scaled_h)
    return Geometry(scaled_w, scaled_h, width, height)


# --- gravity ---------------------------------------------------------------------------------

_SIDES = {
    "center": (0.5, 0.5),
    "left": (0.0, 0.5),
    "right": (1.0, 0.5),
    "top": (0.5, 0.0),
    "bottom": (0.5, 1.0),
}
_FOCAL = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*x\s*([0-9]*\.?[0-9]+)\s*", re.IGNORECASE)


def focal_point(gravity: str) -> tuple[float, float] | None:
    """Where to keep when cropping, as fractions of the width and height (0..1).

    ``center`` and the four sides are fixed points (a side is a point on that edge);
    ``XxY`` is that point, clamped to the image; ``auto`` is None: the caller finds the
    most interesting region. Anything unrecognised counts as ``center``.
    """
    keyword = gravity.strip().lower()
    if keyword == "auto":
        return None
    if keyword in _SIDES:
        return _SIDES[keyword]
    match = _FOCAL.fullmatch(keyword)
    if match is None:
        return _SIDES["center"]
    x, y = (min(1.0, max(0.0, float(value))) for value in match.groups())
    return x, y


def crop_window(geometry: Geometry, focus: tuple[float, float]) -> tuple[int, int]:
    """Left and top of the ``width`` x ``height`` window inside the scaled image whose centre
    is as close to ``focus`` (fractions of the scaled size) as the image edges allow."""

    def offset(fraction: float, scaled: int, size: int) -> int:
        start = math.floor(fraction * scaled - size / 2 + 0.5)
        return min(max(0, start), max(0, scaled - size))

    fx, fy = focus
    return (
        offset(fx, geometry.scaled_width, geometry.width),
        offset(fy, geometry.scaled_height, geometry.height),
    )


# --- filters and encoders ---------------------------------------------------------------------


def sharpen_settings(amount: float) -> Sharpen | None:
    """Cloudflare's ``sharpen`` 0-10 as an unsharp mask; 0 (or less) is off.

    The mask widens and strengthens with the amount: sigma = 0.5 + 0.15 x amount (0.65 at 1,
    2.0 at 10), jagged-area slope m2 = 0.6 x amount (libvips' default 3 at amount 5), and a
    gentle flat-area slope m1 = 0.1 x amount so that fine texture is sharpened too.
    """
    if not (math.isfinite(amount) and amount > 0):
        return None
    amount = min(amount, MAX_SHARPEN)
    return Sharpen(sigma=0.5 + 0.15 * amount, m1=0.1 * amount, m2=0.6 * amount)


def blur_sigma(amount: float) -> float | None:
    """Cloudflare's ``blur`` 1-250 as a gaussian sigma of amount / 2 (so at most 125);
    0 (or less) is off."""
    if not (math.isfinite(amount) and amount > 0):
        return None
    return min(amount, MAX_BLUR) / 2


def encoder_quality(quality: int) -> int:
    """``quality`` clamped to libvips' 1..100, used as is for JPEG and WebP."""
    return min(100, max(1, int(quality)))


def avif_quality(quality: int) -> int:
    """AVIF's Q for a JPEG-like ``quality``: AV1 at Q 60 looks like JPEG at 85, so 1..85
    maps linearly onto 1..60 and 85..100 onto 60..100 (100 stays near-lossless)."""
    q = encoder_quality(quality)
    if q <= 85:
        return max(1, round(q * 60 / 85))
    return round(60 + (q - 85) * 40 / 15)


def progressive_jpeg(width: int, height: int, baseline: bool) -> bool:
    """Progressive unless asked for baseline, or the output is under 50x50 or over
    3000x3000 pixels in area (where Cloudflare also encodes baseline)."""
    area = width * height
    return not baseline and PROGRESSIVE_MIN_AREA <= area <= PROGRESSIVE_MAX_AREA


def parse_colour(value: str) -> tuple[int, int, int]:
    """``#rgb`` or ``#rrggbb`` to an RGB triple; anything else is a :class:`BadRequest`."""
    match = re.fullmatch(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", value.strip())
    if match is None:
        raise BadRequest(f"Invalid background colour: {value!r}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return r, g, b


# --- what an original keeps ---------------------------------------------------------------------

_ANIMATED = frozenset({Format.GIF, Format.WEBP})


def may_animate(source: Format, output: Format, options: VariantOptions) -> bool:
    """Whether a render may keep the frames of an animation: ``anim`` on, and both the
    original and the output are formats that animate (GIF, WebP)."""
    return options.anim and source in _ANIMATED and output in _ANIMATED


def keeps_vector(width: int, height: int, options: VariantOptions) -> bool:
    """Whether an SVG of ``width`` x ``height`` may be served as the (sanitised) SVG itself.

    Only when the options ask for nothing a vector copy would not honour: the same size
    (``scale-down`` to a box it fits in, or no box), no blur or sharpen, no raster format.
    Anything else is rasterised, so a small or blurred variant never hands out the drawing.
    """
    if options.format is not OutputFormat.AUTO or options.blur > 0 or options.sharpen > 0:
        return False
    g = plan_geometry(width, height, options)
    return (g.scaled_width, g.scaled_height, g.width, g.height) == (width, height) * 2
