"""Decoding, resizing and encoding with libvips: the only module that imports :mod:`pyvips`.

Two entry points, both synchronous (callers run them in a worker thread):

- :func:`probe` sniffs the format from the magic bytes and reads only the header, so a
  100-megapixel upload is measured and refused without a single pixel being decoded.
- :func:`render` runs a small pipeline of steps (resize, colour, crop, pad, flatten, metadata,
  encode) over a :class:`_Job`. Later options (dpr, gravity, sharpen...) slot in as more steps.

The fit geometry is a pure function, :func:`plan_geometry`; libvips only executes its answer.
Every ``pyvips.Error`` is turned into :class:`~imagegate.errors.CorruptImage`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyvips

from imagegate.errors import BadRequest, CorruptImage, ImageTooLarge, UnsupportedFormat
from imagegate.models import Fit, Format, MetadataMode, VariantOptions


@dataclass(frozen=True, slots=True)
class Probe:
    format: Format
    width: int  # upright (EXIF orientation applied); one frame of an animation
    height: int
    frames: int  # 1 for still images


@dataclass(frozen=True, slots=True)
class Limits:
    max_side: int = 12000
    max_pixels: int = 100_000_000  # summed over all frames of an animation


@dataclass(frozen=True, slots=True)
class Rendered:
    data: bytes
    format: Format
    width: int
    height: int  # of one frame


@dataclass(frozen=True, slots=True)
class Geometry:
    """What a fit mode asks for: the resized image, then the canvas it is cropped or padded to."""

    scaled_width: int
    scaled_height: int
    width: int
    height: int


# --- Format detection -------------------------------------------------------------------------

_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_BRANDS = _HEVC_BRANDS | {b"mif1", b"msf1"}  # plain HEIF: HEVC unless it says AVIF
_SVG_ROOT = re.compile(
    rb"\s*(?:<\?xml[^>]*>\s*)?(?:(?:<!--.*?-->|<!DOCTYPE\s+svg[^>\[]*>)\s*)*<svg[\s>/:]",
    re.DOTALL,
)


def detect_format(data: bytes) -> Format | None:
    """The format named by the file's magic bytes (SVG: an ``<svg`` root in the first KB)."""
    if data.startswith(b"\xff\xd8\xff"):
        return Format.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Format.PNG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return Format.GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Format.WEBP
    if data[4:8] == b"ftyp":
        return _isobmff_format(data)
    head = data[:1024].removeprefix(b"\xef\xbb\xbf")
    if _SVG_ROOT.match(head):
        return Format.SVG
    return None


def _isobmff_format(data: bytes) -> Format | None:
    box_size = int.from_bytes(data[:4], "big")
    major = data[8:12]
    brands = [major] + [data[i : i + 4] for i in range(16, min(box_size, len(data), 256) - 3, 4)]
    if major in _HEVC_BRANDS:
        return Format.HEIC
    if major in _AVIF_BRANDS or _AVIF_BRANDS.intersection(brands):
        return Format.AVIF
    return Format.HEIC if _HEIF_BRANDS.intersection(brands) else None


# --- Probe ------------------------------------------------------------------------------------

_LOADERS = {
    Format.JPEG: "jpegload_buffer",
    Format.PNG: "pngload_buffer",
    Format.GIF: "gifload_buffer",
    Format.WEBP: "webpload_buffer",
    Format.AVIF: "heifload_buffer",
    Format.HEIC: "heifload_buffer",
    Format.SVG: "svgload_buffer",
}

_DEFAULT_LIMITS = Limits()


def probe(data: bytes, limits: Limits = _DEFAULT_LIMITS) -> Probe:
    """Detect the format and read the header only. SVG is vector, so ``limits`` skip it."""
    fmt = detect_format(data)
    if fmt is None:
        raise UnsupportedFormat()
    result = _probe_header(data, fmt)
    if fmt is not Format.SVG:
        _check_limits(result.width, result.height, result.frames, limits)
    return result


def _probe_header(data: bytes, fmt: Format) -> Probe:
    try:
        header = pyvips.Operation.call(_LOADERS[fmt], data, access="sequential")
        width, height = header.width, header.height
        frames = header.get("n-pages") if header.get_typeof("n-pages") else 1
        orientation = header.get("orientation") if header.get_typeof("orientation") else 1
    except pyvips.Error as exc:
        raise CorruptImage() from exc
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return Probe(fmt, int(width), int(height), max(1, int(frames)))


def _check_limits(width: int, height: int, frames: int, limits: Limits) -> None:
    if max(width, height) > limits.max_side or width * height * frames > limits.max_pixels:
        raise ImageTooLarge()


# --- Geometry (pure) --------------------------------------------------------------------------


def plan_geometry(src_width: int, src_height: int, options: VariantOptions) -> Geometry:
    """Resolve a fit mode against an upright source size.

    A missing width or height leaves that axis unconstrained: the size follows the aspect
    ratio, so ``cover`` acts like ``contain`` and ``crop`` like ``scale-down``, and ``pad`` adds
    no border on that axis. No width and no height means no resize.
    """
    box_w, box_h, fit = options.width, options.height, options.fit
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


# --- Render pipeline --------------------------------------------------------------------------

_OUTPUTS = frozenset({Format.JPEG, Format.PNG, Format.GIF, Format.WEBP, Format.AVIF})
_ANIMATED = frozenset({Format.GIF, Format.WEBP})


@dataclass(slots=True)
class _Job:
    """The state the render steps pass along. ``image`` is a ``pyvips.Image``."""

    data: bytes
    output: Format
    options: VariantOptions
    background: tuple[int, int, int]
    geometry: Geometry
    animated: bool  # frames kept: a strip of ``page-height`` tall frames
    image: Any = None
    keep: int = 0


def render(
    data: bytes,
    source: Format,
    options: VariantOptions,
    output: Format | None = None,
    *,
    limits: Limits = _DEFAULT_LIMITS,
) -> Rendered:
    """Resize ``data`` (stored as ``source``) per ``options`` and encode it as ``output``.

    ``output`` None keeps the source format (HEIC and AVIF sources become JPEG). SVG is
    returned unchanged. ``limits`` bound the source and the output, frames included.
    """
    detected = detect_format(data)
    if detected is None:
        raise UnsupportedFormat()
    if detected is not source:
        raise CorruptImage(f"The image is {detected.value}, not {source.value}")
    header = _probe_header(data, source)
    if source is Format.SVG:
        return Rendered(data, Format.SVG, header.width, header.height)
    _check_limits(header.width, header.height, header.frames, limits)
    out = output or (Format.JPEG if source in (Format.HEIC, Format.AVIF) else source)
    if out not in _OUTPUTS:
        raise UnsupportedFormat(f"Cannot encode {out.value}")
    geometry = plan_geometry(header.width, header.height, options)
    animated = header.frames > 1 and source in _ANIMATED and out in _ANIMATED
    frames = header.frames if animated else 1
    _check_limits(geometry.width, geometry.height, frames, limits)
    job = _Job(data, out, options, parse_colour(options.background), geometry, animated)
    try:
        for step in _STEPS:
            step(job)
        encoded: bytes = _ENCODERS[out](job.image, job.keep)
    except pyvips.Error as exc:
        raise CorruptImage() from exc
    return Rendered(encoded, out, geometry.width, geometry.height)


def _resize(job: _Job) -> None:
    """Shrink-on-load to the scaled size; libvips turns the image upright on the way."""
    options = "n=-1,fail_on=error" if job.animated else "fail_on=error"
    g = job.geometry
    job.image = pyvips.Image.thumbnail_buffer(
        job.data, g.scaled_width, height=g.scaled_height, size="force", option_string=options
    )


def _to_srgb(job: _Job) -> None:
    """8-bit sRGB out, whatever came in (CMYK, grey, 16-bit, an embedded wide-gamut profile)."""
    image = job.image
    if image.get_typeof("icc-profile-data"):
        image = image.icc_transform("srgb", embedded=True)
    if image.interpretation != "srgb":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    job.image = image


def _crop(job: _Job) -> None:
    g = job.geometry
    if g.width > g.scaled_width or g.height > g.scaled_height or _unchanged(g):
        return
    left, top = (g.scaled_width - g.width) // 2, (g.scaled_height - g.height) // 2
    job.image = _per_frame(job, lambda frame: frame.crop(left, top, g.width, g.height))


def _pad(job: _Job) -> None:
    g = job.geometry
    if g.width < g.scaled_width or g.height < g.scaled_height or _unchanged(g):
        return
    colour = [*job.background, 255] if job.image.hasalpha() else list(job.background)
    left, top = (g.width - g.scaled_width) // 2, (g.height - g.scaled_height) // 2

    def embed(frame: Any) -> Any:
        return frame.embed(left, top, g.width, g.height, extend="background", background=colour)

    job.image = _per_frame(job, embed)


def _flatten(job: _Job) -> None:
    if job.output is Format.JPEG and job.image.hasalpha():
        job.image = job.image.flatten(background=list(job.background))


def _metadata(job: _Job) -> None:
    """keep: everything. copyright: only the EXIF Copyright tag, if the source had one. none:
    nothing. GPS, camera make/model, XMP and IPTC survive only under keep."""
    keep = pyvips.enums.ForeignKeep
    mode = job.options.metadata
    if mode is MetadataMode.KEEP:
        job.keep = keep.ALL
        return
    image = job.image.copy()
    exif = image.get("exif-data") if image.get_typeof("exif-data") else b""
    for name in image.get_fields():
        if name.startswith("exif-") or name in ("xmp-data", "iptc-data"):
            image.remove(name)
    notice = _exif_copyright(exif) if mode is MetadataMode.COPYRIGHT else None
    job.keep = keep.NONE
    if notice:
        image.set_type(pyvips.GValue.blob_type, "exif-data", _exif_with_copyright(notice))
        job.keep = keep.EXIF
    job.image = image


def _unchanged(g: Geometry) -> bool:
    return (g.width, g.height) == (g.scaled_width, g.scaled_height)


def _per_frame(job: _Job, op: Callable[[Any], Any]) -> Any:
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


_STEPS: tuple[Callable[[_Job], None], ...] = (_resize, _to_srgb, _crop, _pad, _flatten, _metadata)

_ENCODERS: dict[Format, Callable[[Any, int], bytes]] = {
    Format.JPEG: lambda im, keep: im.jpegsave_buffer(
        Q=85, interlace=True, optimize_coding=True, keep=keep
    ),
    Format.PNG: lambda im, keep: im.pngsave_buffer(keep=keep),
    Format.WEBP: lambda im, keep: im.webpsave_buffer(Q=85, keep=keep),
    Format.GIF: lambda im, keep: im.gifsave_buffer(keep=keep),
    # AVIF reaches JPEG-85-like quality at a lower Q; effort 2 keeps encoding fast.
    Format.AVIF: lambda im, keep: im.heifsave_buffer(compression="av1", Q=60, effort=2, keep=keep),
}


# --- EXIF copyright -------------------------------------------------------------------------

_COPYRIGHT_TAG, _ASCII = 0x8298, 2


def _exif_copyright(exif: bytes) -> bytes | None:
    """The raw Copyright (0x8298) value of IFD0 in an EXIF blob, or None."""
    tiff = exif.removeprefix(b"Exif\x00\x00")
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return None
    try:
        (ifd,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, ifd)
        for i in range(count):
            tag, kind, n, value = struct.unpack_from(order + "HHI4s", tiff, ifd + 2 + 12 * i)
            if tag != _COPYRIGHT_TAG or kind != _ASCII:
                continue
            start = 0 if n <= 4 else struct.unpack(order + "I", value)[0]
            raw = value[:n] if n <= 4 else tiff[start : start + n]
            return raw if len(raw) == n and raw.strip(b"\x00 ") else None
    except struct.error:
        return None
    return None


def _exif_with_copyright(notice: bytes) -> bytes:
    """A minimal little-endian EXIF blob whose IFD0 holds only the Copyright tag."""
    if not notice.endswith(b"\x00"):
        notice += b"\x00"
    inline = len(notice) <= 4
    value = notice.ljust(4, b"\x00") if inline else struct.pack("<I", 8 + 18)
    ifd0 = struct.pack("<HHHI4sI", 1, _COPYRIGHT_TAG, _ASCII, len(notice), value, 0)
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + (b"" if inline else notice)


# --- Port adapter -----------------------------------------------------------------------------


class Processor:
    """The :class:`~imagegate.ports.ImageProcessor` seam over :func:`probe` and :func:`render`."""

    def __init__(self, limits: Limits = _DEFAULT_LIMITS) -> None:
        self.limits = limits

    def probe(self, data: bytes) -> tuple[Format, int, int]:
        found = probe(data, self.limits)
        return found.format, found.width, found.height

    def render(self, data: bytes, source: Format, options: VariantOptions) -> tuple[bytes, Format]:
        done = render(data, source, options, limits=self.limits)
        return done.data, done.format
