"""Reduced copies of an original ("levels"), and which one a render reads.

Beside each raster original the blob store keeps copies at 1/4, 1/8, 1/16, ... of its upright
size, down to about :data:`MIN_SIDE` pixels on the longest side, each a separate file under
``<original key>.levels/<divisor>`` (JPEG, or PNG where the original has alpha), for
lossy originals only (:data:`SOURCES`). They are
derived once, off the request path, turned upright and into 8-bit sRGB, and carry no
metadata but the original's EXIF copyright notice.

Which level a render reads is decided here, from the original's size and the planned
geometry alone: the smallest level whose both sides are still at least the resized size.
The original itself is read when no level is big enough, when the output keeps the original's
metadata (``metadata=keep``), for PNG, GIF and SVG, and for any render that may keep an
animation's frames.

Why separate JPEG files from 1/4 down (``bench/levels.py``, ``docs/benchmarks.md``): JPEG's
shrink-on-load already decodes 1/2, 1/4 and 1/8 of the original, but it still reads every
byte of it; a 1/4 level is 1/16 of the bytes. A 1/2 level would cost about a third of the
original's bytes again at a quality that keeps the PSNR within 1 dB, and buys little; a
pyramidal tiled TIFF with JPEG tiles costs several times the original.
"""

from __future__ import annotations

import math

from imagegate.core.models import Format, MetadataMode, VariantOptions
from imagegate.core.render_plan import Geometry, may_animate

#: The first level is the original divided by this; each next one halves it.
FIRST_DIVISOR = 4
#: No level is made whose longest side would be under this.
MIN_SIDE = 256
#: A render whose crop is placed by ``gravity=auto`` studies a preview this big: a level
#: must hold one at least as big, so the crop falls where it would from the original.
ATTENTION_SIDE = 400
#: The part of a level's blob key after the original's.
MARK = ".levels/"
#: Originals of these formats get levels: the lossy ones. A PNG (line art, text, screenshots)
#: does not: resizing it twice, through a level, costs its sharp edges about 6 dB of PSNR
#: (``tests/test_levels.py``), and GIF and SVG never have levels.
SOURCES = frozenset({Format.JPEG, Format.WEBP, Format.AVIF, Format.HEIC})


def level_size(width: int, height: int, divisor: int) -> tuple[int, int]:
    """The size of the level of an upright ``width`` x ``height`` original at ``divisor``."""
    return max(1, round(width / divisor)), max(1, round(height / divisor))


def divisors(source: Format | None, width: int, height: int) -> tuple[int, ...]:
    """The levels an original of that format and upright size has, largest first."""
    if source not in SOURCES:
        return ()
    found = []
    divisor = FIRST_DIVISOR
    while max(width, height) / divisor >= MIN_SIDE:
        found.append(divisor)
        divisor *= 2
    return tuple(found)


def level_key(blob_key: str, divisor: int) -> str:
    return f"{blob_key}{MARK}{divisor}"


def original_key(key: str) -> str | None:
    """The original a level's blob key belongs to; None when ``key`` names no level."""
    head, mark, tail = key.rpartition(MARK)
    if not mark or not head or not tail.isdigit():
        return None
    return head


def choose(
    source: Format | None,
    width: int,
    height: int,
    output: Format,
    options: VariantOptions,
    geometry: Geometry,
) -> int | None:
    """The divisor of the level a render reads, or None for the original.

    ``width`` x ``height`` is the original's upright size; ``geometry`` the render's plan
    against it. A level must be at least the resized size on both sides (never enlarged
    from a level where the original would have been reduced)."""
    if options.metadata is MetadataMode.KEEP:
        return None
    if source is None or may_animate(source, output, options):
        return None
    need_w, need_h = geometry.scaled_width, geometry.scaled_height
    if options.gravity == "auto" and (geometry.width, geometry.height) != (need_w, need_h):
        side = min(ATTENTION_SIDE, max(width, height))
        need_w = max(need_w, math.ceil(side * width / max(width, height)))
        need_h = max(need_h, math.ceil(side * height / max(width, height)))
    chosen = None
    for divisor in divisors(source, width, height):
        w, h = level_size(width, height, divisor)
        if w < need_w or h < need_h:
            break
        chosen = divisor
    return chosen
