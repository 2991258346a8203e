"""Decoding, resizing and encoding with libvips: the only package that imports :mod:`pyvips`
(the steps of a render are in :mod:`.pipeline`, the metadata step in :mod:`.metadata`).

Two entry points, both synchronous (callers run them in a worker thread):

- :func:`probe` sniffs the format from the magic bytes and reads only the header, so a
  100-megapixel upload is measured and refused without a single pixel being decoded. An SVG
  must also pass the sanitiser's parse (:mod:`imagegate.core.svg`), so a hostile one is refused.
- :func:`render` runs a pipeline of steps over a :class:`~.job.Job`: shrink-on-load
  resize, sRGB, crop (gravity), sharpen/blur, pad, flatten, metadata, encode. The caller
  picks the output format.

The numbers come from the pure :mod:`imagegate.core.render_plan`; libvips only executes them:

- ``dpr`` (clamped to 0..2) multiplies width and height before the fit is planned, so
  ``scale-down`` and ``crop`` still never enlarge past the source.
- ``quality`` 1..100 is libvips' Q for JPEG and WebP. AVIF maps it piecewise onto AV1's Q
  (1..85 onto 1..60, 85..100 onto 60..100: Q 60 looks like JPEG 85) at effort 0
  (as small as effort 2, five times faster: ``bench/avif_effort.py``).
- ``sharpen`` 0..10 is an unsharp mask after resizing: sigma = 0.5 + 0.15 x value,
  m2 = 0.6 x value, m1 = 0.1 x value; 0 is off.
- ``blur`` 1..250 is a gaussian blur after resizing with sigma = value / 2 (alpha
  premultiplied, so transparent pixels do not bleed colour); 0 is off.
- ``gravity`` places the ``cover``/``crop`` window: ``auto`` centres it on libvips'
  attention point (of the first frame for animations), the sides push it to that edge,
  ``XxY`` centres it on that point, clamped to the image. ``pad`` ignores gravity.
- JPEG is progressive, but baseline for ``baseline`` (``format=baseline-jpeg``) and for
  outputs under 50x50 or over 3000x3000 pixels in area.
- ``anim=false`` keeps the first frame only, and so does an animation whose frames sum to
  over ``Limits.max_animation_pixels`` (50 MP): where Cloudflare serves such an animation
  untransformed, imagegate never hands out bytes the options did not make (a 16 px blurred
  preview of a private animation must not be the animation itself).
- An SVG is served as SVG (sanitised, ``<metadata>`` dropped unless ``metadata=keep``)
  only when the options keep its size and ask for no filter or raster format; any other
  options are refused. It is never rasterised: librsvg's rendering cannot be interrupted
  (a filter-laden 160 KB SVG drew for over two minutes for a 240 px thumbnail) and decodes
  embedded rasters whole (a 116 KB PNG inside an SVG took 856 MB).
- Cost is bounded: an output over ``Limits.max_output_pixels`` (frames summed) is shrunk to
  fit (a GIF frame gets a 25th of it: its quantisation cannot be interrupted), a wide blur
  runs on a reduced copy, and a :class:`~imagegate.adapters.imaging.budget.Watchdog` stops a render
  past ``Limits.render_seconds``.

Every ``pyvips.Error`` is turned into :class:`~imagegate.core.errors.CorruptImage`, or into
:class:`~imagegate.core.errors.RenderTimedOut` when the watchdog stopped the render.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyvips

from imagegate.adapters.imaging.budget import Budget, Watchdog
from imagegate.adapters.imaging.job import Job
from imagegate.adapters.imaging.levels import derive as derive_levels
from imagegate.adapters.imaging.pipeline import ENCODERS, STEPS
from imagegate.core import svg
from imagegate.core.errors import (
    CorruptImage,
    ImageTooLarge,
    RenderTimedOut,
    SvgNotTransformable,
    UnsupportedFormat,
)
from imagegate.core.image_bytes import detect_format
from imagegate.core.models import Format, MetadataMode, OutputFormat, VariantOptions
from imagegate.core.render_plan import (
    Geometry,
    keeps_vector,
    may_animate,
    output_pixel_cap,
    parse_colour,
    plan_geometry,
    progressive_jpeg,
)

__all__ = [
    "Geometry",
    "Limits",
    "Probe",
    "Processor",
    "Rendered",
    "detect_format",
    "parse_colour",
    "plan_geometry",
    "probe",
    "render",
]


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
    max_animation_pixels: int = 50_000_000  # above: only the first frame is rendered
    max_output_pixels: int = 25_000_000  # frames summed; a larger output is shrunk to fit
    render_seconds: float = 0.0  # Processor: past this a render is cancelled; 0: never


@dataclass(frozen=True, slots=True)
class Rendered:
    data: bytes
    format: Format
    width: int
    height: int  # of one frame


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
    """Detect the format and read the header only. An SVG is measured after sanitising (so a
    malformed or entity-laden one is a :class:`CorruptImage`); being vector, it skips
    ``limits``."""
    fmt = detect_format(data)
    if fmt is None:
        raise UnsupportedFormat()
    if fmt is Format.SVG:
        return _probe_header(svg.sanitize(data), fmt)
    result = _probe_header(data, fmt)
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


# --- Render -------------------------------------------------------------------------------------

_OUTPUTS = frozenset({Format.JPEG, Format.PNG, Format.GIF, Format.WEBP, Format.AVIF})


def render(
    data: bytes,
    source: Format,
    options: VariantOptions,
    output: Format | None = None,
    *,
    baseline: bool = False,
    keep_gps: bool = False,
    limits: Limits = _DEFAULT_LIMITS,
    budget: Budget | None = None,
    original: tuple[int, int] | None = None,
    level: tuple[int, int] | None = None,
) -> Rendered:
    """Resize ``data`` (stored as ``source``) per ``options`` and encode it as ``output``.

    ``output`` None keeps the source format (HEIC and AVIF sources become JPEG).
    ``baseline`` (or ``options.format`` ``baseline-jpeg``) makes JPEG non-progressive.
    ``keep_gps`` lets ``metadata=keep`` give out GPS (the account opted in). ``limits``
    bound the source, the resized image and the output, frames included: past ``max_side``
    or ``max_pixels`` a render is refused (:class:`ImageTooLarge`); within them, an output
    over ``max_output_pixels`` is shrunk to fit.
    ``budget`` (from a :class:`Watchdog`, closed by the caller) cancels the render at its
    deadline with :class:`RenderTimedOut`.
    ``original`` and ``level``: ``data`` is a reduced copy, of size ``level``, of an original
    of upright size ``original``; the output is planned against the original (so it is the
    size it would be from the original), and a copy of another size is a
    :class:`CorruptImage`.

    What comes back is always made by the options, in ``output``: never the original. An SVG
    is only sanitised, and only for options that keep it as it is (:func:`keeps_vector`);
    any other options, or another output format, are a :class:`SvgNotTransformable`. An
    animation whose frames sum to over ``limits.max_animation_pixels`` is rendered from its
    first frame.
    """
    detected = detect_format(data)
    if detected is None:
        raise UnsupportedFormat()
    if detected is not source:
        raise CorruptImage(f"The image is {detected.value}, not {source.value}")
    if source is Format.SVG:
        data = svg.sanitize(data, keep_metadata=options.metadata is MetadataMode.KEEP)
        header = _probe_header(data, source)
        if output not in (None, Format.SVG) or not keeps_vector(
            header.width, header.height, options
        ):
            raise SvgNotTransformable()
        return Rendered(data, Format.SVG, header.width, header.height)
    header = _probe_header(data, source)
    _check_limits(header.width, header.height, header.frames, limits)
    if original is not None:
        if level is not None and (header.width, header.height) != level:
            raise CorruptImage("The reduced copy is not of the size expected")
        header = Probe(header.format, original[0], original[1], 1)
    out = output or _DEFAULT_OUTPUT.get(source, source)
    if out not in _OUTPUTS:
        raise UnsupportedFormat(f"Cannot encode {out.value}")
    animated = may_animate(source, out, options) and header.frames > 1
    if animated and header.width * header.height * header.frames > limits.max_animation_pixels:
        animated = False  # too many pixels to transform every frame: the first one only
    frames = header.frames if animated else 1
    asked = plan_geometry(header.width, header.height, options)  # past the limits: refused
    _check_limits(asked.scaled_width, asked.scaled_height, frames, limits)
    _check_limits(asked.width, asked.height, frames, limits)
    cap = output_pixel_cap(out, frames, limits.max_output_pixels)
    geometry = plan_geometry(header.width, header.height, options, cap)  # within: shrunk
    baseline = baseline or options.format is OutputFormat.BASELINE_JPEG
    progressive = progressive_jpeg(geometry.width, geometry.height, baseline)
    background = parse_colour(options.background)
    budget = budget or Budget()
    job = Job(data, out, options, background, geometry, animated, progressive, keep_gps, budget)
    try:
        for step in STEPS:
            budget.check()
            step(job)
        budget.check()
        budget.watch(job.image)  # the encoder's input: the WebP encoder checks it too
        encoded: bytes = ENCODERS[out](job)
    except pyvips.Error as exc:
        if budget.expired:  # killed by the watchdog
            raise RenderTimedOut() from None
        raise CorruptImage() from exc
    return Rendered(encoded, out, geometry.width, geometry.height)


_DEFAULT_OUTPUT = {Format.HEIC: Format.JPEG, Format.AVIF: Format.JPEG}


# --- Port adapter -----------------------------------------------------------------------------


class Processor:
    """The :class:`~imagegate.usecases.ports.ImageProcessor` port over :func:`probe` and
    :func:`render`."""

    def __init__(self, limits: Limits = _DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.watchdog = Watchdog()
        # libvips keeps recent operations and their pixels in a process-wide cache. imagegate
        # never asks libvips the same question twice (rendered variants have caches of their
        # own), so that cache would only hold memory: turn it off.
        pyvips.cache_set_max(0)
        pyvips.cache_set_max_mem(0)

    def probe(self, data: bytes) -> tuple[Format, int, int]:
        found = probe(data, self.limits)
        return found.format, found.width, found.height

    def render(
        self,
        data: bytes,
        source: Format,
        options: VariantOptions,
        output: Format | None = None,
        *,
        keep_gps: bool = False,
        original: tuple[int, int] | None = None,
        level: tuple[int, int] | None = None,
    ) -> tuple[bytes, Format]:
        """See :meth:`~imagegate.usecases.ports.ImageProcessor.render`. ``output`` None (same as the
        source) is kept for callers that do not negotiate a format yet."""
        baseline = options.format is OutputFormat.BASELINE_JPEG
        with self.watchdog.budget(self.limits.render_seconds) as budget:
            done = render(
                data,
                source,
                options,
                output,
                baseline=baseline,
                keep_gps=keep_gps,
                limits=self.limits,
                budget=budget,
                original=original,
                level=level,
            )
        return done.data, done.format

    def levels(
        self, data: bytes, source: Format, width: int, height: int
    ) -> list[tuple[int, bytes]]:
        """See :meth:`~imagegate.usecases.ports.ImageProcessor.levels`."""
        _check_limits(width, height, 1, self.limits)
        return derive_levels(data, source, width, height)


def libvips_report(operations: Iterable[str]) -> tuple[str, dict[str, bool]]:
    """The libvips version, and which of ``operations`` this build has (for ``doctor``)."""
    version = ".".join(str(pyvips.version(i)) for i in range(3))
    found = {}
    for name in operations:
        try:
            pyvips.Operation.new_from_name(name)
            found[name] = True
        except pyvips.Error:
            found[name] = False
    return version, found
