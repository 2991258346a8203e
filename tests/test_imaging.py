"""imaging: format sniffing, header-only probing, fit geometry, orientation, metadata, errors.

Images are generated with pyvips; outputs are checked by probing and by pixels, never by bytes.
"""

from __future__ import annotations

import struct
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Sequence

import pytest
import pyvips

from imagegate.adapters.imaging import (
    Geometry,
    Limits,
    Probe,
    Processor,
    detect_format,
    plan_geometry,
    probe,
    render,
)
from imagegate.core.errors import (
    BadRequest,
    CorruptImage,
    ImageTooLarge,
    RenderTimedOut,
    SvgNotTransformable,
    UnsupportedFormat,
)
from imagegate.core.models import Fit, Format, MetadataMode, OutputFormat, VariantOptions

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)
SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- logo -->\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">'
    b'<rect width="120" height="80" fill="red"/></svg>'
)

# --- image makers -----------------------------------------------------------------------------


def solid(width: int, height: int, colour: Sequence[int]) -> pyvips.Image:
    return (
        pyvips.Image.black(width, height).new_from_image(list(colour)).copy(interpretation="srgb")
    )


def bands(width: int, height: int) -> pyvips.Image:
    """Three vertical bands, red | green | blue, so a crop's position shows in its pixels."""
    third = width // 3
    return (
        solid(third, height, RED)
        .join(solid(third, height, GREEN), "horizontal")
        .join(solid(width - 2 * third, height, BLUE), "horizontal")
    )


def animation(colours: Sequence[Sequence[int]], width: int = 120, height: int = 80) -> pyvips.Image:
    strip = pyvips.Image.arrayjoin([solid(width, height, c) for c in colours], across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100] * len(colours))
    strip.set_type(pyvips.GValue.gint_type, "loop", 0)
    return strip


def png_header(width: int, height: int) -> bytes:
    """A PNG with a real IHDR and an empty IDAT: valid header, undecodable pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def load(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def near(pixel: Sequence[float], colour: Sequence[int], tolerance: int = 40) -> bool:
    return all(abs(p - c) <= tolerance for p, c in zip(pixel, colour, strict=False))


def exif_fields(image: pyvips.Image, prefix: str) -> list[str]:
    return [f for f in image.get_fields() if f.startswith(prefix)]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    return bytes(bands(1200, 800).jpegsave_buffer(Q=90))


@pytest.fixture(scope="module")
def small_jpeg() -> bytes:
    return bytes(bands(300, 200).jpegsave_buffer(Q=90))


@pytest.fixture(scope="module")
def alpha_png() -> bytes:
    """200x100: left half transparent, right half opaque green."""
    rgb = solid(200, 100, GREEN)
    alpha = pyvips.Image.black(100, 100).join(pyvips.Image.black(100, 100) + 255, "horizontal")
    return bytes(rgb.bandjoin(alpha.cast("uchar")).pngsave_buffer())


@pytest.fixture(scope="module")
def gif2() -> bytes:
    return bytes(animation([RED, BLUE]).gifsave_buffer())


@pytest.fixture(scope="module")
def samples(big_jpeg: bytes, gif2: bytes) -> dict[Format, bytes]:
    image = bands(120, 80)
    return {
        Format.JPEG: big_jpeg,
        Format.PNG: bytes(image.pngsave_buffer()),
        Format.GIF: gif2,
        Format.WEBP: bytes(image.webpsave_buffer()),
        Format.AVIF: bytes(image.heifsave_buffer(compression="av1", effort=0)),
        Format.SVG: SVG,
    }


@pytest.fixture(scope="module")
def gps_jpeg() -> bytes:
    image = bands(300, 200).copy()
    for name, value in {
        "exif-ifd0-Make": "Canon",
        "exif-ifd0-Model": "EOS 5D",
        "exif-ifd0-Copyright": "Jane Doe",
        "exif-ifd3-GPSLatitudeRef": "N",
        "exif-ifd3-GPSLatitude": "51/1 30/1 0/1",
        "exif-ifd3-GPSLongitudeRef": "W",
        "exif-ifd3-GPSLongitude": "0/1 7/1 0/1",
    }.items():
        image.set_type(pyvips.GValue.gstr_type, name, value)
    return bytes(image.jpegsave_buffer())


# --- format detection and probe --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "width", "height", "frames"),
    [
        (Format.JPEG, 1200, 800, 1),
        (Format.PNG, 120, 80, 1),
        (Format.GIF, 120, 80, 2),
        (Format.WEBP, 120, 80, 1),
        (Format.AVIF, 120, 80, 1),
        (Format.SVG, 120, 80, 1),
    ],
)
def test_probe_detects_format_from_bytes(
    samples: dict[Format, bytes], fmt: Format, width: int, height: int, frames: int
) -> None:
    assert probe(samples[fmt]) == Probe(fmt, width, height, frames)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", Format.HEIC),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", Format.HEIC),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00mif1avifmiaf", Format.AVIF),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", Format.AVIF),
        (b"\x00\x00\x00\x14ftypisom\x00\x00\x00\x00isom", None),  # an MP4
        (b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'/>", Format.SVG),
        (b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN">\n<svg>', Format.SVG),
        (b'<!DOCTYPE svg [<!ENTITY a "b">]><svg>&a;</svg>', None),
        (b"<html><body><svg></svg></body></html>", None),
        (b"This text mentions <svg> late.", None),
        (b"II*\x00\x08\x00\x00\x00", None),  # TIFF
        (b"BM\x00\x00", None),
        (b"", None),
    ],
)
def test_detect_format(head: bytes, expected: Format | None) -> None:
    assert detect_format(head) is expected


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 4,
        b"Just a text file.\nNothing to see.\n",
        bytes(solid(64, 64, RED).tiffsave_buffer()),
        b"",
    ],
    ids=["random", "text", "tiff", "empty"],
)
def test_probe_refuses_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat):
        probe(data)


@pytest.mark.parametrize(
    ("width", "height"),
    [(20000, 20000), (10005, 10005), (12001, 10), (100_000, 100_000)],
)
def test_probe_refuses_oversize_from_header_alone(width: int, height: int) -> None:
    # The IDAT is empty: decoding pixels would fail with CorruptImage, not ImageTooLarge.
    started = time.process_time()
    with pytest.raises(ImageTooLarge):
        probe(png_header(width, height))
    assert time.process_time() - started < 0.5


def test_probe_reads_100_megapixels_without_decoding() -> None:
    assert probe(png_header(10000, 10000)) == Probe(Format.PNG, 10000, 10000, 1)


def test_probe_limits_count_every_frame(gif2: bytes) -> None:
    assert probe(gif2, Limits(max_pixels=19200)).frames == 2
    with pytest.raises(ImageTooLarge):
        probe(gif2, Limits(max_pixels=19199))


def test_probe_custom_side_limit(big_jpeg: bytes) -> None:
    with pytest.raises(ImageTooLarge):
        probe(big_jpeg, Limits(max_side=1000))


@pytest.mark.parametrize(
    "data",
    [b"\xff\xd8\xff\xe0" + b"\x00" * 64, b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, b"GIF89a\x01"],
    ids=["jpeg", "png", "gif"],
)
def test_probe_corrupt_header(data: bytes) -> None:
    with pytest.raises(CorruptImage):
        probe(data)


def test_probe_reports_upright_size_of_rotated_jpeg(rotated_jpeg: bytes) -> None:
    assert probe(rotated_jpeg) == Probe(Format.JPEG, 200, 400, 1)


# --- fit geometry ----------------------------------------------------------------------------

BIG, SMALL = "big", "small"
S, C, CV, CR, P = Fit.SCALE_DOWN, Fit.CONTAIN, Fit.COVER, Fit.CROP, Fit.PAD

# (source, fit, box width, box height, expected output width, height); sources are 1200x800 and
# 300x200. Expected sizes worked out by hand from the fit rules.
FIT_TABLE = [
    (BIG, S, 600, 600, 600, 400),
    (SMALL, S, 600, 600, 300, 200),  # never enlarges
    (BIG, S, 2400, 2400, 1200, 800),
    (BIG, S, 600, None, 600, 400),
    (BIG, S, None, 100, 150, 100),
    (SMALL, S, 600, None, 300, 200),
    (BIG, S, None, None, 1200, 800),
    (BIG, C, 600, 600, 600, 400),
    (SMALL, C, 600, 600, 600, 400),  # enlarges
    (SMALL, C, 1200, 1200, 1200, 800),
    (SMALL, C, 600, None, 600, 400),
    (BIG, C, None, 100, 150, 100),
    (BIG, CV, 600, 600, 600, 600),  # 900x600, centre-cropped
    (SMALL, CV, 600, 600, 600, 600),  # enlarged to 900x600 first
    (BIG, CV, 500, 100, 500, 100),
    (SMALL, CV, 100, 100, 100, 100),
    (BIG, CV, 600, None, 600, 400),  # one axis: follows the aspect ratio
    (SMALL, CV, None, 400, 600, 400),
    (BIG, CR, 600, 600, 600, 600),
    (SMALL, CR, 600, 600, 300, 200),  # smaller in both: as is
    (SMALL, CR, 400, 100, 300, 100),  # not enlarged, cropped to at most the box
    (BIG, CR, 400, 100, 400, 100),  # 400x267, cropped
    (BIG, CR, 600, None, 600, 400),
    (SMALL, CR, 600, None, 300, 200),
    (BIG, P, 600, 600, 600, 600),
    (SMALL, P, 600, 600, 600, 600),
    (BIG, P, 100, 100, 100, 100),  # 100x67 + border
    (BIG, P, 600, None, 600, 400),  # nothing to pad on a free axis
    (SMALL, P, None, None, 300, 200),
]


@pytest.mark.parametrize(("source", "fit", "box_w", "box_h", "out_w", "out_h"), FIT_TABLE)
def test_fit_output_size(
    big_jpeg: bytes,
    small_jpeg: bytes,
    source: str,
    fit: Fit,
    box_w: int | None,
    box_h: int | None,
    out_w: int,
    out_h: int,
) -> None:
    data = big_jpeg if source == BIG else small_jpeg
    result = render(data, Format.JPEG, VariantOptions(fit=fit, width=box_w, height=box_h))
    assert (result.format, result.width, result.height) == (Format.JPEG, out_w, out_h)
    assert probe(result.data) == Probe(Format.JPEG, out_w, out_h, 1)


@pytest.mark.parametrize(
    ("size", "fit", "box", "expected"),
    [
        ((1200, 800), CR, (400, 100), Geometry(400, 267, 400, 100)),
        ((1200, 800), P, (100, 100), Geometry(100, 67, 100, 100)),
        ((1, 1), CV, (7, 3), Geometry(7, 7, 7, 3)),
        ((5000, 10), S, (100, 100), Geometry(100, 1, 100, 1)),  # never below one pixel
    ],
)
def test_plan_geometry(
    size: tuple[int, int], fit: Fit, box: tuple[int, int], expected: Geometry
) -> None:
    options = VariantOptions(fit=fit, width=box[0], height=box[1])
    assert plan_geometry(*size, options) == expected


def test_cover_crops_the_centre(big_jpeg: bytes) -> None:
    # 1200x800 -> 600x400, then x 100..500 kept: red | green | blue all still visible.
    out = load(render(big_jpeg, Format.JPEG, VariantOptions(fit=CV, width=400, height=400)).data)
    assert (out.width, out.height) == (400, 400)
    assert near(out(5, 200), RED) and near(out(200, 200), GREEN) and near(out(394, 200), BLUE)


@pytest.mark.parametrize(("background", "rgb"), [("#ff0000", (255, 0, 0)), ("#fff", (255,) * 3)])
def test_pad_fills_border_and_keeps_centre(
    big_jpeg: bytes, background: str, rgb: tuple[int, int, int]
) -> None:
    options = VariantOptions(fit=P, width=600, height=600, background=background)
    out = load(render(big_jpeg, Format.JPEG, options).data)
    assert (out.width, out.height) == (600, 600)
    assert near(out(0, 0), rgb, 8) and near(out(599, 599), rgb, 8)
    assert near(out(300, 300), GREEN) and near(out(5, 300), RED)  # image rows 100..500


def test_pad_border_is_opaque_on_alpha_output(alpha_png: bytes) -> None:
    options = VariantOptions(fit=P, width=200, height=200, background="#0000ff")
    out = load(render(alpha_png, Format.PNG, options).data)
    assert (out.width, out.height, out.bands) == (200, 200, 4)
    assert out(0, 0) == [0, 0, 255, 255]  # padding: opaque background
    assert out(10, 100)[3] == 0  # the image's own transparency is kept
    assert near(out(150, 100), (*GREEN, 255), 2)


def test_alpha_flattened_onto_background_for_jpeg(alpha_png: bytes) -> None:
    result = render(alpha_png, Format.PNG, VariantOptions(background="#000000"), Format.JPEG)
    out = load(result.data)
    assert out.bands == 3 and near(out(10, 50), (0, 0, 0), 8) and near(out(150, 50), GREEN)


def test_invalid_background(big_jpeg: bytes) -> None:
    with pytest.raises(BadRequest):
        render(big_jpeg, Format.JPEG, VariantOptions(fit=P, width=9, height=9, background="red"))


# --- orientation --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rotated_jpeg() -> bytes:
    """Stored 400x200 with a red top-left corner, tagged orientation 6 (turn 90 deg clockwise)."""
    image = solid(400, 200, BLUE).insert(solid(50, 50, RED), 0, 0).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    return bytes(image.jpegsave_buffer(Q=95))


@pytest.mark.parametrize("metadata", list(MetadataMode))
def test_exif_orientation_comes_out_upright(rotated_jpeg: bytes, metadata: MetadataMode) -> None:
    result = render(rotated_jpeg, Format.JPEG, VariantOptions(metadata=metadata))
    out = load(result.data)
    assert (result.width, result.height, out.width, out.height) == (200, 400, 200, 400)
    orientation = out.get("orientation") if out.get_typeof("orientation") else 1
    assert orientation == 1
    assert near(out(190, 10), RED) and near(out(10, 10), BLUE) and near(out(190, 390), BLUE)


@pytest.mark.parametrize("keep_gps", [False, True])
def test_a_rotated_photo_with_gps_comes_out_upright_under_keep(keep_gps: bool) -> None:
    """Taking GPS out of the EXIF must not bring back the orientation already applied."""
    image = solid(400, 200, BLUE).insert(solid(50, 50, RED), 0, 0).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    for name, value in {
        "exif-ifd3-GPSLatitudeRef": "N",
        "exif-ifd3-GPSLatitude": "51/1 30/1 0/1",
    }.items():
        image.set_type(pyvips.GValue.gstr_type, name, value)
    source = bytes(image.jpegsave_buffer(Q=95))
    options = VariantOptions(metadata=MetadataMode.KEEP)
    out = load(render(source, Format.JPEG, options, keep_gps=keep_gps).data)
    assert (out.width, out.height) == (200, 400)
    assert (out.get("orientation") if out.get_typeof("orientation") else 1) == 1
    assert near(out(190, 10), RED)
    assert bool(exif_fields(out, "exif-ifd3-GPSLatitude")) is keep_gps


def test_orientation_applied_before_fit(rotated_jpeg: bytes) -> None:
    result = render(rotated_jpeg, Format.JPEG, VariantOptions(width=100, height=100))
    assert (result.width, result.height) == (50, 100)


# --- metadata -----------------------------------------------------------------------------------


def test_gps_fixture_really_has_gps(gps_jpeg: bytes) -> None:
    image = load(gps_jpeg)
    assert exif_fields(image, "exif-ifd3-GPSLatitude") and b"Canon" in gps_jpeg


@pytest.mark.parametrize("output", [Format.JPEG, Format.PNG, Format.WEBP, Format.AVIF])
@pytest.mark.parametrize("metadata", [MetadataMode.COPYRIGHT, MetadataMode.NONE])
def test_gps_and_camera_stripped(gps_jpeg: bytes, metadata: MetadataMode, output: Format) -> None:
    result = render(gps_jpeg, Format.JPEG, VariantOptions(metadata=metadata, width=100), output)
    out = load(result.data)
    assert exif_fields(out, "exif-ifd3") == []
    assert b"Canon" not in result.data and b"EOS 5D" not in result.data
    assert not out.get_typeof("icc-profile-data")
    has_copyright = b"Jane Doe" in (out.get("exif-data") if out.get_typeof("exif-data") else b"")
    assert has_copyright is (metadata is MetadataMode.COPYRIGHT)


@pytest.mark.parametrize("output", [Format.JPEG, Format.PNG, Format.WEBP, Format.AVIF])
@pytest.mark.parametrize("keep_gps", [False, True])
def test_keep_keeps_everything_but_gps_unless_opted_in(
    gps_jpeg: bytes, output: Format, keep_gps: bool
) -> None:
    options = VariantOptions(metadata=MetadataMode.KEEP, width=100)
    result = render(gps_jpeg, Format.JPEG, options, output, keep_gps=keep_gps)
    out = load(result.data)
    assert bool(exif_fields(out, "exif-ifd3-GPSLatitude")) is keep_gps
    assert b"Canon" in result.data and b"Jane Doe" in out.get("exif-data")


def test_keep_never_keeps_the_exif_thumbnail() -> None:
    """A thumbnail in EXIF is a picture of the original: a cropped, blurred variant that kept
    it would give out what its options took away."""
    thumbnail = bytes(bands(40, 30).jpegsave_buffer(Q=50))
    make = b"Canon\x00"
    ifd0 = struct.pack("<HHHII", 1, 0x010F, 2, len(make), 26) + struct.pack("<I", 32)
    ifd1 = struct.pack("<HHHIIHHII", 2, 0x0201, 4, 1, 62, 0x0202, 4, 1, len(thumbnail))
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + make + ifd1
    exif += struct.pack("<I", 0) + thumbnail
    image = bands(300, 200).copy()
    image.set_type(pyvips.GValue.blob_type, "exif-data", exif)
    source = bytes(image.jpegsave_buffer())
    assert load(source).get_typeof("jpeg-thumbnail-data")
    for metadata in MetadataMode:
        options = VariantOptions(fit=CV, width=50, height=50, blur=10, metadata=metadata)
        out = render(source, Format.JPEG, options, Format.JPEG, keep_gps=True).data
        assert thumbnail[-64:] not in out and not load(out).get_typeof("jpeg-thumbnail-data")
    kept = render(source, Format.JPEG, VariantOptions(metadata=MetadataMode.KEEP)).data
    assert b"Canon" in kept


def test_copyright_mode_without_copyright_strips_all(rotated_jpeg: bytes) -> None:
    result = render(rotated_jpeg, Format.JPEG, VariantOptions(metadata=MetadataMode.COPYRIGHT))
    assert not load(result.data).get_typeof("exif-data")


@pytest.mark.parametrize("space", ["p3", "cmyk", "grey"])
@pytest.mark.parametrize("metadata", [MetadataMode.KEEP, MetadataMode.NONE])
def test_converted_to_srgb(space: str, metadata: MetadataMode) -> None:
    image = solid(64, 64, GREEN)
    if space == "grey":
        image = image.colourspace("b-w")
    else:  # pixels in the profile's space, the profile embedded
        image = image.icc_transform(space, input_profile="srgb")
    result = render(
        bytes(image.jpegsave_buffer(Q=95)), Format.JPEG, VariantOptions(metadata=metadata)
    )
    out = load(result.data)
    assert (out.interpretation, out.bands, out.format) == ("srgb", 3, "uchar")
    r, g, b = out(32, 32)
    if space == "p3":
        assert near((r, g, b), GREEN, 16)
    elif space == "cmyk":  # CMYK's gamut dulls the green, but green it stays
        assert g > r + 40 and g > b + 40
    else:
        assert abs(r - g) < 4 and abs(g - b) < 4


# --- formats and animation ---------------------------------------------------------------------


@pytest.mark.parametrize("output", [Format.JPEG, Format.PNG, Format.WEBP, Format.GIF, Format.AVIF])
def test_encodes_each_output(big_jpeg: bytes, output: Format) -> None:
    result = render(big_jpeg, Format.JPEG, VariantOptions(width=300), output)
    assert result.format is output
    assert probe(result.data) == Probe(output, 300, 200, 1)


@pytest.mark.parametrize(
    ("source", "output", "expected"),
    [
        (Format.AVIF, None, Format.JPEG),
        (Format.PNG, None, Format.PNG),
        (Format.WEBP, None, Format.WEBP),
    ],
)
def test_default_output_format(
    samples: dict[Format, bytes], source: Format, output: Format | None, expected: Format
) -> None:
    assert render(samples[source], source, VariantOptions(width=60), output).format is expected


def test_svg_at_its_own_size_is_only_sanitised() -> None:
    hostile = SVG.replace(b"<rect", b'<script>alert(1)</script><rect onclick="alert(2)"')
    result = render(hostile, Format.SVG, VariantOptions(width=200, height=200))
    assert (result.format, result.width, result.height) == (Format.SVG, 120, 80)
    root = ET.fromstring(result.data)
    assert [child.tag.rpartition("}")[2] for child in root] == ["rect"]
    assert root[0].attrib == {"width": "120", "height": "80", "fill": "red"}
    assert b"alert" not in result.data and b"<!--" not in result.data
    assert probe(result.data) == Probe(Format.SVG, 120, 80, 1)


SVG_TRANSFORMS = [
    VariantOptions(fit=CV, width=10, height=10, dpr=2),
    VariantOptions(width=60),
    VariantOptions(fit=C, width=240),  # larger too: it would have to be drawn
    VariantOptions(blur=10),
    VariantOptions(sharpen=2),
    VariantOptions(format=OutputFormat.PNG),
]


@pytest.mark.parametrize("options", SVG_TRANSFORMS, ids=repr)
@pytest.mark.parametrize("output", [None, Format.SVG, Format.PNG, Format.WEBP])
def test_an_svg_is_never_transformed_nor_passed_through(
    options: VariantOptions, output: Format | None
) -> None:
    """A variant that resizes, blurs or names a raster format never hands out the drawing,
    and imagegate does not rasterise SVG (librsvg cannot be stopped or bounded)."""
    with pytest.raises(SvgNotTransformable):
        render(SVG, Format.SVG, options, output)


def test_an_svg_is_not_converted_even_at_its_own_size() -> None:
    with pytest.raises(SvgNotTransformable):
        render(SVG, Format.SVG, VariantOptions(), Format.PNG)


SVG_WITH_METADATA = SVG.replace(
    b"<rect",
    b"<metadata>Jane Doe, 51.5N 0.12W</metadata><title>Logo</title><rect",
)


@pytest.mark.parametrize(
    ("metadata", "kept"),
    [(MetadataMode.KEEP, True), (MetadataMode.COPYRIGHT, False), (MetadataMode.NONE, False)],
)
def test_svg_metadata_element_only_under_keep(metadata: MetadataMode, kept: bool) -> None:
    result = render(SVG_WITH_METADATA, Format.SVG, VariantOptions(metadata=metadata))
    assert result.format is Format.SVG
    tags = [child.tag.rpartition("}")[2] for child in ET.fromstring(result.data)]
    assert ("metadata" in tags) is kept and "title" in tags
    assert (b"Jane Doe" in result.data) is kept


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><g></svg>', CorruptImage),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>', CorruptImage),
        (b'<!DOCTYPE svg [<!ENTITY a "b">]><svg>&a;</svg>', UnsupportedFormat),
    ],
    ids=["malformed", "undeclared-entity", "internal-subset"],
)
def test_probe_refuses_hostile_svg(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        probe(data)


@pytest.fixture(scope="module")
def animations(gif2: bytes) -> dict[Format, bytes]:
    return {Format.GIF: gif2, Format.WEBP: bytes(animation([RED, BLUE]).webpsave_buffer())}


@pytest.mark.parametrize("source", [Format.GIF, Format.WEBP])
@pytest.mark.parametrize(
    ("output", "fit", "box", "frame", "frames"),
    [
        (Format.GIF, S, (60, None), (60, 40), 2),
        (Format.GIF, CV, (50, 50), (50, 50), 2),
        (Format.GIF, P, (100, 100), (100, 100), 2),
        (Format.WEBP, CR, (60, 20), (60, 20), 2),
        (Format.WEBP, C, (240, 240), (240, 160), 2),
        (Format.PNG, S, (60, None), (60, 40), 1),  # still outputs get the first frame
        (Format.JPEG, CV, (30, 30), (30, 30), 1),
    ],
)
def test_animation_kept_for_animated_outputs(
    animations: dict[Format, bytes],
    source: Format,
    output: Format,
    fit: Fit,
    box: tuple[int, int | None],
    frame: tuple[int, int],
    frames: int,
) -> None:
    options = VariantOptions(fit=fit, width=box[0], height=box[1])
    result = render(animations[source], source, options, output)
    assert probe(result.data) == Probe(output, *frame, frames)
    assert (result.width, result.height) == frame
    strip = pyvips.Image.new_from_buffer(result.data, "n=-1" if frames > 1 else "")
    w, h = frame
    assert near(strip(w // 2, h // 2), RED)
    if frames == 2:
        assert near(strip(w // 2, h + h // 2), BLUE)


# --- errors --------------------------------------------------------------------------------------


def test_truncated_jpeg_is_corrupt(big_jpeg: bytes) -> None:
    with pytest.raises(CorruptImage):
        render(big_jpeg[: len(big_jpeg) // 2], Format.JPEG, VariantOptions(width=100))


@pytest.mark.parametrize(
    ("data", "source", "error"),
    [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, Format.JPEG, CorruptImage),
        (b"not an image at all", Format.JPEG, UnsupportedFormat),
        (SVG, Format.PNG, CorruptImage),  # stored format disagrees with the bytes
    ],
)
def test_render_errors(data: bytes, source: Format, error: type[Exception]) -> None:
    with pytest.raises(error):
        render(data, source, VariantOptions(width=10))


@pytest.mark.parametrize("output", [Format.HEIC, Format.SVG])
def test_unencodable_output(small_jpeg: bytes, output: Format) -> None:
    with pytest.raises(UnsupportedFormat):
        render(small_jpeg, Format.JPEG, VariantOptions(), output)


@pytest.mark.parametrize(
    ("options", "output", "size"),
    [
        (VariantOptions(fit=P, width=3000, height=3000, dpr=2), Format.JPEG, (1000, 1000)),
        (VariantOptions(fit=CV, width=4000, height=1000), Format.WEBP, (2000, 500)),
        (VariantOptions(width=1000), Format.GIF, (244, 163)),  # a 25th of the cap a frame
        (VariantOptions(width=100), Format.JPEG, (100, 67)),
    ],
)
def test_outputs_over_the_cap_are_shrunk_to_fit(
    small_jpeg: bytes, options: VariantOptions, output: Format, size: tuple[int, int]
) -> None:
    result = render(
        small_jpeg, Format.JPEG, options, output, limits=Limits(max_output_pixels=10**6)
    )
    assert (result.width, result.height) == size
    assert probe(result.data) == Probe(output, *size, 1)


def test_the_output_cap_is_shared_by_the_frames(gif2: bytes) -> None:
    limits = Limits(max_output_pixels=20_000)  # 2 frames of at most 10,000 pixels
    result = render(gif2, Format.GIF, VariantOptions(fit=C, width=240), Format.WEBP, limits=limits)
    assert probe(result.data) == Probe(Format.WEBP, 122, 81, 2)


def test_a_render_past_its_deadline_is_stopped_and_the_processor_goes_on(big_jpeg: bytes) -> None:
    slow = Processor(Limits(render_seconds=0.3))
    unbounded = Processor(Limits())
    heavy = VariantOptions(fit=P, width=3000, height=3000, dpr=2, quality=91)
    started = time.monotonic()
    unbounded.render(big_jpeg, Format.JPEG, heavy, Format.WEBP)
    full = time.monotonic() - started
    started = time.monotonic()
    with pytest.raises(RenderTimedOut):
        slow.render(big_jpeg, Format.JPEG, heavy, Format.WEBP)
    stopped = time.monotonic() - started
    assert stopped < full / 2 or stopped < 0.3 + 1.0, (stopped, full)
    assert slow.watchdog.watching == 0
    data, fmt = slow.render(big_jpeg, Format.JPEG, VariantOptions(width=100), Format.JPEG)
    assert fmt is Format.JPEG and probe(data) == Probe(Format.JPEG, 100, 67, 1)


def test_render_refuses_oversize_output(small_jpeg: bytes) -> None:
    options = VariantOptions(fit=C, width=2400, height=2400)
    with pytest.raises(ImageTooLarge):
        render(small_jpeg, Format.JPEG, options, limits=Limits(max_pixels=1_000_000))


@pytest.mark.parametrize(
    ("output", "options", "expected", "progressive"),
    [
        (Format.JPEG, VariantOptions(width=30), Format.JPEG, False),  # under 50x50: baseline
        (Format.JPEG, VariantOptions(width=90), Format.JPEG, True),
        (
            Format.JPEG,
            VariantOptions(width=90, format=OutputFormat.BASELINE_JPEG),
            Format.JPEG,
            False,
        ),
        (Format.WEBP, VariantOptions(width=90, format=OutputFormat.WEBP), Format.WEBP, None),
        (Format.AVIF, VariantOptions(width=90), Format.AVIF, None),
        (None, VariantOptions(width=90), Format.JPEG, True),  # same as the source
    ],
)
def test_processor_port(
    small_jpeg: bytes,
    output: Format | None,
    options: VariantOptions,
    expected: Format,
    progressive: bool | None,
) -> None:
    processor = Processor(Limits(max_side=1000))
    assert processor.probe(small_jpeg) == (Format.JPEG, 300, 200)
    data, fmt = processor.render(small_jpeg, Format.JPEG, options, output)
    assert fmt is expected and probe(data).format is expected and probe(data).width == options.width
    if progressive is not None:
        assert jpeg_is_progressive(data) is progressive


# --- Cloudflare options: dpr, quality, sharpen, blur, gravity, anim, output formats -----------


def photo(width: int, height: int) -> pyvips.Image:
    """Soft noise in three bands: texture with real high frequencies, like a photograph."""
    planes = [pyvips.Image.gaussnoise(width, height, mean=128, sigma=45, seed=i) for i in (1, 2, 3)]
    return planes[0].bandjoin(planes[1:]).gaussblur(1.2).cast("uchar").copy(interpretation="srgb")


def detail(image: pyvips.Image) -> float:
    """High-frequency energy: mean absolute difference between horizontal neighbours."""
    grey = image.colourspace("b-w")[0].cast("float")
    w, h = grey.width, grey.height
    return float((grey.crop(1, 0, w - 1, h) - grey.crop(0, 0, w - 1, h)).abs().avg())


def jpeg_is_progressive(data: bytes) -> bool:
    """From libvips' ``interlaced`` field, cross-checked with the SOF marker (C2 vs C0)."""
    image = load(data)
    interlaced = bool(image.get("interlaced")) if image.get_typeof("interlaced") else False
    assert (b"\xff\xc2" in data) is interlaced and (b"\xff\xc0" in data) is not interlaced
    return interlaced


def everywhere(image: pyvips.Image, colour: Sequence[int]) -> bool:
    """The colour at the four corners and the centre."""
    w, h = image.width - 1, image.height - 1
    points = [(1, 1), (w - 1, 1), (1, h - 1), (w - 1, h - 1), (w // 2, h // 2)]
    return all(near(image(x, y), colour) for x, y in points)


@pytest.fixture(scope="module")
def photo_jpeg() -> bytes:
    return bytes(photo(600, 400).jpegsave_buffer(Q=95))


@pytest.fixture(scope="module")
def stripes() -> dict[str, bytes]:
    """900x100 red | green | blue side by side, and the same turned upright (red on top)."""
    wide = bands(900, 100)
    return {"wide": bytes(wide.pngsave_buffer()), "tall": bytes(wide.rot90().pngsave_buffer())}


DPR_RENDER = [
    (BIG, S, (300, None), 2.0, (600, 400)),
    (BIG, S, (800, None), 2.0, (1200, 800)),  # scale-down: not beyond the source
    (SMALL, S, (200, None), 2.0, (300, 200)),
    (SMALL, C, (300, None), 2.0, (600, 400)),  # contain may enlarge
    (BIG, CV, (100, 100), 2.0, (200, 200)),
    (SMALL, CR, (200, 200), 2.0, (300, 200)),  # crop: not beyond the source either
    (BIG, P, (100, 100), 1.5, (150, 150)),
]


@pytest.mark.parametrize(("source", "fit", "box", "dpr", "size"), DPR_RENDER)
def test_dpr_multiplies_output_size(
    big_jpeg: bytes,
    small_jpeg: bytes,
    source: str,
    fit: Fit,
    box: tuple[int, int | None],
    dpr: float,
    size: tuple[int, int],
) -> None:
    data = big_jpeg if source == BIG else small_jpeg
    options = VariantOptions(fit=fit, width=box[0], height=box[1], dpr=dpr)
    result = render(data, Format.JPEG, options, Format.JPEG)
    assert (result.width, result.height) == size
    assert probe(result.data) == Probe(Format.JPEG, *size, 1)


@pytest.mark.parametrize("output", [Format.JPEG, Format.WEBP, Format.AVIF])
def test_lower_quality_is_smaller(photo_jpeg: bytes, output: Format) -> None:
    low, high = (
        render(photo_jpeg, Format.JPEG, VariantOptions(width=300, quality=q), output)
        for q in (30, 90)
    )
    assert probe(low.data) == probe(high.data) == Probe(output, 300, 200, 1)
    assert len(low.data) < 0.8 * len(high.data)


# (sharpen, blur, how the detail compares with the plain resize)
FILTERS = [
    (0, 0, 1.0, 1.0),
    (1, 0, 1.02, 1.6),
    (10, 0, 1.3, 4.0),
    (0, 2, 0.2, 0.9),
    (0, 40, 0.0, 0.1),
    (10, 40, 0.0, 0.2),  # blur comes last
]


@pytest.mark.parametrize(("sharpen", "blur", "low", "high"), FILTERS)
def test_sharpen_and_blur_change_the_detail(
    photo_jpeg: bytes, sharpen: float, blur: float, low: float, high: float
) -> None:
    def rendered(options: VariantOptions) -> pyvips.Image:
        return load(render(photo_jpeg, Format.JPEG, options, Format.PNG).data)

    plain = rendered(VariantOptions(width=300))
    out = rendered(VariantOptions(width=300, sharpen=sharpen, blur=blur))
    assert (out.width, out.height) == (300, 200)
    ratio = detail(out) / detail(plain)
    assert low <= ratio <= high
    assert abs(out.avg() - plain.avg()) < 3  # filters move detail, not brightness


@pytest.mark.parametrize("blur", [30, 100, 250])
def test_a_wide_blur_on_a_reduced_copy_looks_like_the_full_one(blur: float) -> None:
    """Blurring a reduced copy and enlarging it back gives the picture a full-size blur
    gives (within a few levels), at a cost that no longer grows with the sigma."""
    source = bands(1200, 800).insert(solid(300, 300, (250, 250, 250)), 450, 250)
    data = bytes(source.jpegsave_buffer(Q=95))
    out = load(render(data, Format.JPEG, VariantOptions(blur=blur), Format.PNG).data)
    reference = load(bytes(source.jpegsave_buffer(Q=95))).gaussblur(blur / 2)
    assert (out.width, out.height) == (1200, 800)
    difference = (out.cast("float") - reference.cast("float")).abs()
    assert difference.avg() < 3 and difference.max() < 24, (difference.avg(), difference.max())


def test_blur_premultiplies_alpha(alpha_png: bytes) -> None:
    out = load(render(alpha_png, Format.PNG, VariantOptions(blur=20), Format.PNG).data)
    assert out.bands == 4 and out(5, 50)[3] < 10 and out(195, 50)[3] > 245
    edge = out(100, 50)
    assert 60 < edge[3] < 200 and near(edge[:3], GREEN, 12)  # no dark fringe from the clear side


def test_filters_apply_to_every_frame(gif2: bytes) -> None:
    result = render(gif2, Format.GIF, VariantOptions(width=60, blur=6, sharpen=3), Format.GIF)
    assert probe(result.data) == Probe(Format.GIF, 60, 40, 2)
    strip = pyvips.Image.new_from_buffer(result.data, "n=-1")
    assert near(strip(30, 20), RED) and near(strip(30, 60), BLUE)


# (image, fit, gravity, colour everywhere in the 100x100 result)
GRAVITY = [
    ("wide", CV, "center", GREEN),
    ("wide", CV, "left", RED),
    ("wide", CV, "right", BLUE),
    ("wide", CV, "top", GREEN),  # nothing to crop vertically
    ("wide", CR, "left", RED),
    ("wide", CR, "right", BLUE),
    ("wide", CV, "0.17x0.5", RED),  # centred at x=153: window 103..203
    ("wide", CV, "0.83x0.2", BLUE),
    ("wide", CV, "0x0", RED),  # clamped to the image
    ("wide", CV, "1x1", BLUE),
    ("tall", CV, "top", RED),
    ("tall", CV, "bottom", BLUE),
    ("tall", CV, "center", GREEN),
    ("tall", CR, "0.5x0.9", BLUE),
    ("tall", CV, "left", GREEN),
]


@pytest.mark.parametrize(("shape", "fit", "gravity", "colour"), GRAVITY)
def test_gravity_places_the_crop(
    stripes: dict[str, bytes], shape: str, fit: Fit, gravity: str, colour: tuple[int, int, int]
) -> None:
    options = VariantOptions(fit=fit, width=100, height=100, gravity=gravity)
    result = render(stripes[shape], Format.PNG, options)
    out = load(result.data)
    assert (out.width, out.height) == (100, 100)
    assert everywhere(out, colour)


@pytest.mark.parametrize("patch_x", [40, 300, 520])
@pytest.mark.parametrize("gravity", ["auto", "center"])
def test_auto_gravity_finds_the_interesting_part(patch_x: int, gravity: str) -> None:
    patch = bands(40, 40).bandjoin(255).cast("uchar")[:3]
    stripes_ = solid(40, 40, (255, 230, 0)).insert(patch.crop(0, 0, 13, 40), 0, 0)
    image = solid(600, 200, (128, 128, 128)).insert(stripes_, patch_x, 80)
    options = VariantOptions(fit=CV, width=200, height=200, gravity=gravity)
    out = load(render(bytes(image.pngsave_buffer()), Format.PNG, options).data)
    assert (out.width, out.height) == (200, 200)
    found = (out[0] - out[2]).max() > 150  # the saturated patch is in the crop
    assert found is (gravity == "auto" or 200 <= patch_x <= 360)


@pytest.mark.parametrize("gravity", ["left", "0x0", "auto", "bottom"])
def test_pad_ignores_gravity(big_jpeg: bytes, gravity: str) -> None:
    options = VariantOptions(fit=P, width=600, height=600, gravity=gravity)
    out = load(render(big_jpeg, Format.JPEG, options).data)
    assert near(out(300, 50), (255, 255, 255), 8) and near(out(300, 550), (255, 255, 255), 8)
    assert near(out(5, 300), RED) and near(out(300, 300), GREEN) and near(out(594, 300), BLUE)


def test_auto_gravity_on_an_animation(gif2: bytes) -> None:
    options = VariantOptions(fit=CV, width=50, height=50, gravity="auto")
    assert probe(render(gif2, Format.GIF, options).data) == Probe(Format.GIF, 50, 50, 2)


@pytest.mark.parametrize("output", [Format.GIF, Format.WEBP])
@pytest.mark.parametrize("source", [Format.GIF, Format.WEBP])
def test_anim_false_keeps_the_first_frame(
    animations: dict[Format, bytes], source: Format, output: Format
) -> None:
    options = VariantOptions(width=60, anim=False)
    result = render(animations[source], source, options, output)
    assert probe(result.data) == Probe(output, 60, 40, 1)
    assert near(load(result.data)(30, 20), RED)


# gif2 is 120x80 x 2 frames = 19,200 pixels of animation.
# (area limit, anim, output, frames)
ANIMATION_LIMIT = [
    (19_199, True, Format.GIF, 1),  # over the limit: the first frame, transformed
    (19_199, True, Format.WEBP, 1),
    (19_199, False, Format.GIF, 1),
    (19_199, True, Format.PNG, 1),
    (19_200, True, Format.GIF, 2),  # at the limit: every frame
    (19_200, True, Format.WEBP, 2),
]


@pytest.mark.parametrize(("limit", "anim", "output", "frames"), ANIMATION_LIMIT)
def test_big_animations_are_transformed_from_their_first_frame(
    gif2: bytes, limit: int, anim: bool, output: Format, frames: int
) -> None:
    """Never the original: over the animation limit, the options still shape the output."""
    options = VariantOptions(fit=CV, width=30, height=30, blur=4, anim=anim)
    limits = Limits(max_animation_pixels=limit)
    result = render(gif2, Format.GIF, options, output, limits=limits)
    assert (result.format, (result.width, result.height)) == (output, (30, 30))
    assert probe(result.data) == Probe(output, 30, 30, frames)
    assert near(load(result.data)(15, 15), RED)


def test_animation_over_the_pixel_limit_is_still_refused(gif2: bytes) -> None:
    with pytest.raises(ImageTooLarge):
        render(gif2, Format.GIF, VariantOptions(), Format.GIF, limits=Limits(max_pixels=19_199))


@pytest.mark.parametrize(
    ("options", "baseline", "progressive"),
    [
        (VariantOptions(width=300), False, True),
        (VariantOptions(width=300), True, False),
        (VariantOptions(width=300, format=OutputFormat.BASELINE_JPEG), False, False),
        (VariantOptions(width=40), False, False),  # 40x27: under 50x50
        (VariantOptions(width=300, height=40, fit=CV), False, True),  # 12,000 pixels
    ],
)
def test_jpeg_progressive_or_baseline(
    big_jpeg: bytes, options: VariantOptions, baseline: bool, progressive: bool
) -> None:
    result = render(big_jpeg, Format.JPEG, options, Format.JPEG, baseline=baseline)
    assert probe(result.data).format is Format.JPEG
    assert jpeg_is_progressive(result.data) is progressive


@pytest.mark.parametrize("source", [Format.JPEG, Format.PNG, Format.GIF, Format.WEBP])
@pytest.mark.parametrize("output", [Format.AVIF, Format.WEBP])
def test_modern_outputs_from_every_source(
    samples: dict[Format, bytes], source: Format, output: Format
) -> None:
    options = VariantOptions(fit=CV, width=40, height=40, anim=False)
    result = render(samples[source], source, options, output)
    assert probe(result.data) == Probe(output, 40, 40, 1)
    assert near(load(result.data)(20, 20), RED if source is Format.GIF else GREEN)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "odd",
    [
        {"quality": 0},
        {"quality": 1000},
        {"dpr": NAN},
        {"dpr": INF},
        {"dpr": -1.0},
        {"sharpen": NAN},
        {"sharpen": 1e9},
        {"blur": NAN},
        {"blur": 1e9},
        {"blur": -3.0},
        {"gravity": "nonsense"},
        {"gravity": "9x-9"},
        {"gravity": ""},
    ],
    ids=repr,
)
@pytest.mark.parametrize("output", [Format.JPEG, Format.AVIF])
def test_odd_option_values_never_crash(
    small_jpeg: bytes, odd: dict[str, object], output: Format
) -> None:
    options = VariantOptions(fit=CV, width=50, height=50, **odd)  # type: ignore[arg-type]
    result = render(small_jpeg, Format.JPEG, options, output)
    assert probe(result.data) == Probe(output, 50, 50, 1)
