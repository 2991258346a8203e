"""Images made for the render tests: animations, and files that say where they were taken
(EXIF GPS and XMP), in every format that can carry them. Made with pyvips, in the test."""

from __future__ import annotations

from typing import Any

import pyvips

#: A place: the tests look for these in what is served.
LATITUDE, LONGITUDE = "51/1 30/1 2661/100", "0/1 7/1 4000/100"
XMP_GPS = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'exif:GPSLatitude="51,30.4435N" exif:GPSLongitude="0,7.6667W">'
    b"<dc:creator><rdf:Seq><rdf:li>Jane Doe</rdf:li></rdf:Seq></dc:creator>"
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    b'<?xpacket end="w"?>'
)
XMP_PLAIN = XMP_GPS.replace(b' exif:GPSLatitude="51,30.4435N" exif:GPSLongitude="0,7.6667W"', b"")


def gradient(width: int, height: int, shift: int = 0) -> pyvips.Image:
    xyz = pyvips.Image.xyz(width, height)
    red = ((xyz[0] * 255 / max(1, width - 1) + shift) % 256).cast("uchar")
    green = (xyz[1] * 255 / max(1, height - 1)).cast("uchar")
    blue = ((xyz[0] + xyz[1] + shift) % 256).cast("uchar")
    return red.bandjoin([green, blue]).copy(interpretation="srgb")


def animation(width: int, height: int, frames: int) -> pyvips.Image:
    """A strip of flat frames, each its own colour (cheap to encode at any size)."""
    tiles = [
        pyvips.Image.black(width, height).new_from_image([(60 * i) % 256, 120, 200])
        for i in range(frames)
    ]
    strip = pyvips.Image.arrayjoin(tiles, across=1).cast("uchar").copy(interpretation="srgb")
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100] * frames)
    strip.set_type(pyvips.GValue.gint_type, "loop", 0)
    return strip


def located(image: pyvips.Image, *, exif: bool = True, xmp: bytes | None = XMP_GPS) -> pyvips.Image:
    """``image`` with a camera, a copyright, GPS coordinates in EXIF and ``xmp`` (by default
    an XMP packet with GPS coordinates too)."""
    image = image.copy()
    if exif:
        for name, value in {
            "exif-ifd0-Make": "Canon",
            "exif-ifd0-Copyright": "Jane Doe",
            "exif-ifd3-GPSLatitudeRef": "N",
            "exif-ifd3-GPSLatitude": LATITUDE,
            "exif-ifd3-GPSLongitudeRef": "W",
            "exif-ifd3-GPSLongitude": LONGITUDE,
        }.items():
            image.set_type(pyvips.GValue.gstr_type, name, value)
    if xmp is not None:
        image.set_type(pyvips.GValue.blob_type, "xmp-data", xmp)
    return image


def save(image: pyvips.Image, fmt: str, **options: Any) -> bytes:
    """``image`` encoded as ``fmt`` (jpeg, png, webp, avif, gif) with its metadata."""
    savers = {
        "jpeg": lambda: image.jpegsave_buffer(Q=90, **options),
        "png": lambda: image.pngsave_buffer(**options),
        "webp": lambda: image.webpsave_buffer(**options),
        "avif": lambda: image.heifsave_buffer(compression="av1", effort=0, **options),
        "gif": lambda: image.gifsave_buffer(effort=1, dither=0, bitdepth=2, **options),
    }
    data: bytes = savers[fmt]()
    return data


def fields(data: bytes) -> dict[str, Any]:
    """Every metadata field libvips finds in ``data``, with its value."""
    image = pyvips.Image.new_from_buffer(data, "")
    return {name: image.get(name) for name in image.get_fields()}


def has_gps(data: bytes) -> bool:
    """GPS anywhere: a parsed EXIF GPS tag, XMP naming GPS, or the coordinates' bytes."""
    found = fields(data)
    if any(name.startswith("exif-ifd3-GPS") for name in found):
        return True
    xmp = found.get("xmp-data", b"")
    return b"GPS" in bytes(xmp) or b"30.4435" in data


def frames_of(data: bytes) -> int:
    image = pyvips.Image.new_from_buffer(data, "")
    return int(image.get("n-pages")) if image.get_typeof("n-pages") else 1


def heic_branded(avif: bytes) -> bytes:
    """An AVIF file re-branded ``heic``: this libvips cannot encode HEVC, and a HEIF file is
    read by the same loader whatever its codec, so this stands in for a phone's HEIC."""
    size = int.from_bytes(avif[:4], "big")
    return avif[:8] + b"heic" + avif[12:size].replace(b"avif", b"heic") + avif[size:]


def sources_with_gps() -> dict[str, bytes]:
    """A 300x200 picture with EXIF GPS and XMP GPS in each format that carries both."""
    image = located(gradient(300, 200))
    made = {fmt: save(image, fmt) for fmt in ("jpeg", "png", "webp", "avif")}
    made["heic"] = heic_branded(made["avif"])
    return made
