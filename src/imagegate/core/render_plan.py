"""The arithmetic of rendering, kept pure so it can be tested by tables: fit geometry (with
``dpr`` and the output pixel cap), crop windows from ``gravity``, filter strengths, encoder
settings, what a render costs, and when an original keeps its own form (an SVG served as
SVG, an animation kept whole).

:mod:`imagegate.adapters.imaging` asks these functions what to do and has libvips do it. Option
values are validated by the options parser; out-of-range or odd values are clamped here so
that rendering never fails on them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from imagegate.core.errors import BadRequest
from imagegate.core.models import Fit, Format, OutputFormat, VariantOptions

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


def plan_geometry(
    src_width: int, src_height: int, options: VariantOptions, max_pixels: int | None = None
) -> Geometry:
    """Resolve a fit mode against an upright source size.

    ``width`` and ``height`` are multiplied by ``dpr`` first; the fit rules then apply as
    usual, so ``scale-down`` and ``crop`` still never enlarge. A missing width or height
    leaves that axis unconstrained: the size follows the aspect ratio, so ``cover`` acts like
    ``contain`` and ``crop`` like ``scale-down``, and ``pad`` adds no border on that axis.
    No width and no height means no resize.

    An output over ``max_pixels`` is shrunk as a whole (resized image and canvas alike, so
    crops and borders keep their proportions) until it fits: the cap bounds what one render
    may cost, whatever the options ask.
    """
    geometry = _fit(src_width, src_height, options)
    area = geometry.width * geometry.height
    if max_pixels is None or area <= max_pixels:
        return geometry
    cap = max(1, max_pixels)
    factor = math.sqrt(cap / area)
    width = max(1, math.floor(geometry.width * factor))
    height = max(1, math.floor(geometry.height * factor))
    # A side cannot go below one pixel: then the other one gives up the rest.
    width = max(1, min(width, cap // height))
    height = max(1, min(height, cap // width))
    return Geometry(
        max(1, geometry.scaled_width * width // geometry.width),
        max(1, geometry.scaled_height * height // geometry.height),
        width,
        height,
    )


def _fit(src_width: int, src_height: int, options: VariantOptions) -> Geometry:
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


@dataclass(frozen=True, slots=True)
class Blur:
    """A gaussian blur run on a copy ``shrink`` times smaller, then enlarged back."""

    shrink: float  # 1: at full size
    sigma: float  # on the reduced copy


#: Sigmas up to this are blurred at full size; wider ones on a reduced copy.
DIRECT_BLUR_SIGMA = 6.0
#: The reduced copy keeps at least this many pixels on its shorter side.
MIN_BLUR_SIDE = 8


def blur_plan(amount: float, width: int, height: int) -> Blur | None:
    """How to blur a ``width`` x ``height`` image by ``amount`` (see :func:`blur_sigma`).

    A blur removes every detail finer than its sigma, so a wide one loses nothing if it is
    computed on a copy reduced until the sigma is :data:`DIRECT_BLUR_SIGMA` pixels and then
    enlarged back: the cost then follows the output size alone, not size x sigma (a
    ``blur=250`` on a 25 MP output took seconds at full size).
    """
    sigma = blur_sigma(amount)
    if sigma is None:
        return None
    room = max(1.0, min(width, height) / MIN_BLUR_SIDE)
    shrink = min(max(1.0, sigma / DIRECT_BLUR_SIGMA), room)
    return Blur(shrink, sigma / shrink)


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


# --- what an original keeps, and what a render costs ------------------------------------------

_ANIMATED = frozenset({Format.GIF, Format.WEBP})


def may_animate(source: Format, output: Format, options: VariantOptions) -> bool:
    """Whether a render may keep the frames of an animation: ``anim`` on, and both the
    original and the output are formats that animate (GIF, WebP)."""
    return options.anim and source in _ANIMATED and output in _ANIMATED


def keeps_vector(width: int, height: int, options: VariantOptions) -> bool:
    """Whether an SVG of ``width`` x ``height`` may be served as the (sanitised) SVG itself.

    Only when the options ask for nothing a vector copy would not honour: the same size
    (``scale-down`` to a box it fits in, or no box), no blur or sharpen, no raster format.
    Anything else is refused, so a small or blurred variant never hands out the drawing.
    """
    if options.format is not OutputFormat.AUTO or options.blur > 0 or options.sharpen > 0:
        return False
    g = plan_geometry(width, height, options)
    return (g.scaled_width, g.scaled_height, g.width, g.height) == (width, height) * 2


#: A GIF frame may have this share of the output cap: libvips cannot interrupt the
#: quantisation of one frame (about 10 µs a pixel on a busy core), so its size is its bound.
GIF_FRAME_SHARE = 25


def output_pixel_cap(output: Format, frames: int, max_output_pixels: int) -> int:
    """The most pixels one frame of a ``frames``-frame output may have: the output cap
    shared by the frames, and for GIF at most 1/:data:`GIF_FRAME_SHARE` of it (1 MP a frame
    under the default 25 MP)."""
    cap = max_output_pixels // max(1, frames)
    if output is Format.GIF:
        cap = min(cap, max_output_pixels // GIF_FRAME_SHARE)
    return max(1, cap)


#: GIF frames larger than this are quantised at libvips' lowest effort: at its default, a
#: 1 MP frame took 7 to 13 s on a busy 2-core machine, at the lowest about 1.2 s, for a file
#: 8% larger.
GIF_CAREFUL_PIXELS = 250_000


def gif_effort(width: int, height: int) -> int:
    """libvips' GIF quantisation effort for a ``width`` x ``height`` frame (1 fastest,
    7 its default)."""
    return 7 if width * height <= GIF_CAREFUL_PIXELS else 1


#: How many times fewer pixels each format's loader may decode than the original holds
#: (JPEG shrinks by up to 8 on each side while decoding; WebP and SVG render at any size);
#: the other formats decode every pixel.
_DECODE_SHRINK = {Format.JPEG: 64.0, Format.WEBP: math.inf, Format.SVG: math.inf}
_ENCODE_WEIGHT = {Format.AVIF: 4, Format.PNG: 2, Format.GIF: 3, Format.WEBP: 2}


def render_cost(
    src_width: int, src_height: int, source: Format, output: Format, geometry: Geometry,
    options: VariantOptions,
) -> int:  # fmt: skip
    """A rough count of the pixels one render touches, to tell heavy renders from light.

    Decoding (after shrink-on-load), resizing, then each output pixel once per filter and
    encoder weight (AVIF costs most). For one frame; the caller knows whether frames may
    follow (:func:`may_animate`).
    """
    source_area = src_width * src_height
    scaled_area = geometry.scaled_width * geometry.scaled_height
    shrink = min(_DECODE_SHRINK.get(source, 1.0), max(1.0, source_area / max(1, scaled_area)))
    decoded = source_area / shrink
    weight = _ENCODE_WEIGHT.get(output, 1)
    if sharpen_settings(options.sharpen) is not None:
        weight += 2
    if blur_sigma(options.blur) is not None:
        weight += 1
    return int(decoded + scaled_area + geometry.width * geometry.height * weight)
