"""The steps of a render, in order, over a :class:`Job`: shrink-on-load resize, sRGB, crop
(gravity), sharpen/blur, pad, flatten, metadata; then the encoder of the output format.

Every number comes from the pure :mod:`imagegate.core.render_plan`; these functions only have
libvips carry it out, lazily: the pixels are computed by the encoder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyvips

from imagegate.adapters.imaging import metadata
from imagegate.adapters.imaging.job import Job
from imagegate.core.models import Format
from imagegate.core.render_plan import (
    Blur,
    Geometry,
    avif_quality,
    blur_plan,
    blur_sigma,
    crop_window,
    encoder_quality,
    focal_point,
    gif_effort,
    sharpen_settings,
)

_PREVIEW = 400  # side of the preview that auto gravity studies


def _resize(job: Job) -> None:
    """Shrink-on-load to the scaled size; libvips turns the image upright on the way."""
    options = "n=-1,fail_on=error" if job.animated else "fail_on=error"
    g = job.geometry
    job.image = job.budget.watch(
        pyvips.Image.thumbnail_buffer(
            job.data, g.scaled_width, height=g.scaled_height, size="force", option_string=options
        )
    )


def _to_srgb(job: Job) -> None:
    job.image = srgb(job.image)


def srgb(image: Any) -> Any:
    """8-bit sRGB out, whatever came in (CMYK, grey, 16-bit, an embedded wide-gamut profile)."""
    if image.get_typeof("icc-profile-data"):
        image = image.icc_transform("srgb", embedded=True)
    if image.interpretation != "srgb":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def _crop(job: Job) -> None:
    """Cut the ``cover``/``crop`` window where ``gravity`` says (``pad`` never gets here)."""
    g = job.geometry
    if g.width > g.scaled_width or g.height > g.scaled_height or _unchanged(g):
        return
    focus = focal_point(job.options.gravity)
    if focus is None:
        focus = _attention(job)
    left, top = crop_window(g, focus)
    job.image = _per_frame(job, lambda frame: frame.crop(left, top, g.width, g.height))


def _attention(job: Job) -> tuple[float, float]:
    """libvips' attention point (edges, skin tones, saturation) of the first frame.

    It is found on a small preview decoded apart, since the scaled image may be streamed
    from a sequential decoder that cannot be read twice, and need not be held in memory.
    """
    g = job.geometry
    preview = srgb(
        job.budget.watch(
            pyvips.Image.thumbnail_buffer(
                job.data, _PREVIEW, height=_PREVIEW, size="down", option_string="fail_on=error"
            )
        )
    )
    width = min(preview.width, max(1, round(g.width * preview.width / g.scaled_width)))
    height = min(preview.height, max(1, round(g.height * preview.height / g.scaled_height)))
    _, found = preview.smartcrop(
        width, height, interesting="attention", attention_x=True, attention_y=True
    )
    return found["attention_x"] / preview.width, found["attention_y"] / preview.height


def _filters(job: Job) -> None:
    """``sharpen`` then ``blur``, on the cropped image and before any padding."""
    sharpen = sharpen_settings(job.options.sharpen)
    amount = job.options.blur
    if sharpen is None and blur_sigma(amount) is None:
        return

    def apply(frame: Any) -> Any:
        if sharpen is not None:
            frame = frame.sharpen(sigma=sharpen.sigma, m1=sharpen.m1, m2=sharpen.m2)
        blur = blur_plan(amount, frame.width, frame.height)
        if blur is not None:
            if frame.hasalpha():
                blurred = _blur(frame.premultiply(), blur).unpremultiply()
                frame = blurred.cast("uchar").copy(interpretation="srgb")
            else:
                frame = _blur(frame, blur)
        return frame

    job.image = _per_frame(job, apply)


def _blur(frame: Any, blur: Blur) -> Any:
    """A gaussian blur, on a reduced copy enlarged back when ``blur.shrink`` says so."""
    if blur.shrink <= 1:
        return frame.gaussblur(blur.sigma)
    width, height = frame.width, frame.height
    small = frame.resize(1 / blur.shrink).gaussblur(blur.sigma)
    back = small.resize(width / small.width, vscale=height / small.height, kernel="linear")
    return back.gravity("north-west", width, height, extend="copy")


def _pad(job: Job) -> None:
    g = job.geometry
    if g.width < g.scaled_width or g.height < g.scaled_height or _unchanged(g):
        return
    colour = [*job.background, 255] if job.image.hasalpha() else list(job.background)
    left, top = (g.width - g.scaled_width) // 2, (g.height - g.scaled_height) // 2

    def embed(frame: Any) -> Any:
        return frame.embed(left, top, g.width, g.height, extend="background", background=colour)

    job.image = _per_frame(job, embed)


def _flatten(job: Job) -> None:
    if job.output is Format.JPEG and job.image.hasalpha():
        job.image = job.image.flatten(background=list(job.background))


def _unchanged(g: Geometry) -> bool:
    return (g.width, g.height) == (g.scaled_width, g.scaled_height)


def _per_frame(job: Job, op: Callable[[Any], Any]) -> Any:
    """Apply ``op`` to each frame of an animation (a strip of ``page-height`` tall frames)."""
    image = job.image
    if not job.animated or not image.get_typeof("page-height"):
        return op(image)
    height = image.get("page-height")
    count = image.height // height
    frames = [op(image.crop(0, i * height, image.width, height)) for i in range(count)]
    joined = pyvips.Image.arrayjoin(frames, across=1).copy()
    joined.set_type(pyvips.GValue.gint_type, "page-height", frames[0].height)
    return joined


STEPS: tuple[Callable[[Job], None], ...] = (
    _resize, _to_srgb, _crop, _filters, _pad, _flatten, metadata.strip,
)  # fmt: skip


def _jpeg(job: Job) -> bytes:
    q = encoder_quality(job.options.quality)
    return bytes(
        job.image.jpegsave_buffer(
            Q=q, interlace=job.progressive, optimize_coding=True, keep=job.keep
        )
    )


#: libvips' AV1 effort (0 fastest .. 9): measured by ``bench/avif_effort.py`` on 800 px photos,
#: effort 0 makes files within 1% of effort 2's, at the same PSNR, in a fifth of the time;
#: effort 3 and up save 5-8% for 4-20 times the time (docs/benchmarks.md).
AVIF_EFFORT = 0
#: libvips' WebP effort (0 fastest .. 6, default 4): WebP is also the stand-in served while
#: an AVIF is encoded, so it must be quick; effort 2 makes files within 3% of effort 4's in
#: half the time (same bench).
WEBP_EFFORT = 2


def _avif(job: Job) -> bytes:
    q = avif_quality(job.options.quality)
    return bytes(
        job.image.heifsave_buffer(compression="av1", Q=q, effort=AVIF_EFFORT, keep=job.keep)
    )


ENCODERS: dict[Format, Callable[[Job], bytes]] = {
    Format.JPEG: _jpeg,
    Format.AVIF: _avif,
    Format.PNG: lambda job: bytes(job.image.pngsave_buffer(keep=job.keep)),
    Format.GIF: lambda job: bytes(
        job.image.gifsave_buffer(
            effort=gif_effort(job.geometry.width, job.geometry.height), keep=job.keep
        )
    ),
    Format.WEBP: lambda job: bytes(
        job.image.webpsave_buffer(
            Q=encoder_quality(job.options.quality), effort=WEBP_EFFORT, keep=job.keep
        )
    ),
}
