"""image_bytes: what ``metadata=keep`` may keep of an EXIF blob, and text naming a place.

EXIF blobs are built here byte by byte (both byte orders), then read back two ways: by a
walk of their IFDs, and by libvips, which is what writes them into served images.
"""

from __future__ import annotations

import struct

import pytest
import pyvips

from imagegate.core.image_bytes import exif_kept, mentions_location

MAKE, COPYRIGHT, GPS_POINTER, THUMB, THUMB_LENGTH = 0x010F, 0x8298, 0x8825, 0x0201, 0x0202
LATITUDE = ((51, 1), (30, 1), (2661, 100))
THUMBNAIL = b"\xff\xd8\xff\xdb" + b"ORIGINAL-PICTURE" * 8 + b"\xff\xd9"


def build_exif(order: str, *, gps: bool = True, thumbnail: bool = True) -> bytes:
    """``Exif\\0\\0`` + TIFF: IFD0 (Make, Copyright, GPS pointer), a GPS IFD (latitude), and
    IFD1 with a JPEG thumbnail."""
    mark = b"II" if order == "<" else b"MM"
    make, notice = b"Canon\x00", b"Jane Doe\x00"
    entries = 2 + int(gps)
    ifd0 = 8
    data = ifd0 + 2 + 12 * entries + 4  # out-of-line values follow IFD0
    make_at, notice_at = data, data + len(make)
    gps_ifd = notice_at + len(notice)
    gps_len = 2 + 12 * 2 + 4
    lat_at = gps_ifd + gps_len
    ifd1 = lat_at + 24 if gps else gps_ifd
    thumb_at = ifd1 + 2 + 12 * 2 + 4

    def entry(tag: int, kind: int, count: int, value: bytes) -> bytes:
        return struct.pack(order + "HHI", tag, kind, count) + value.ljust(4, b"\x00")

    def long(n: int) -> bytes:
        return struct.pack(order + "I", n)

    rows = [
        entry(MAKE, 2, len(make), long(make_at)),
        entry(COPYRIGHT, 2, len(notice), long(notice_at)),
    ]
    if gps:
        rows.append(entry(GPS_POINTER, 4, 1, long(gps_ifd)))
    out = mark + struct.pack(order + "HI", 42, ifd0)
    out += struct.pack(order + "H", entries) + b"".join(rows) + long(ifd1 if thumbnail else 0)
    out += make + notice
    if gps:
        out += struct.pack(order + "H", 2)
        out += entry(0x0001, 2, 2, b"N\x00")
        out += entry(0x0002, 5, 3, long(lat_at)) + long(0)
        out += b"".join(struct.pack(order + "II", *pair) for pair in LATITUDE)
    if thumbnail:
        out += struct.pack(order + "H", 2)
        out += entry(THUMB, 4, 1, long(thumb_at)) + entry(THUMB_LENGTH, 4, 1, long(len(THUMBNAIL)))
        out += long(0) + THUMBNAIL
    return b"Exif\x00\x00" + out


def ifd_tags(exif: bytes) -> tuple[list[int], int]:
    """IFD0's tags, and where it says IFD1 is."""
    tiff = exif.removeprefix(b"Exif\x00\x00")
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
    (count,) = struct.unpack_from(order + "H", tiff, ifd0)
    tags = [struct.unpack_from(order + "H", tiff, ifd0 + 2 + 12 * i)[0] for i in range(count)]
    (ifd1,) = struct.unpack_from(order + "I", tiff, ifd0 + 2 + 12 * count)
    return tags, ifd1


def latitude_bytes(order: str) -> bytes:
    return b"".join(struct.pack(order + "II", *pair) for pair in LATITUDE)


def read_by_libvips(exif: bytes) -> list[str]:
    image = pyvips.Image.black(8, 8).copy()
    image.set_type(pyvips.GValue.blob_type, "exif-data", exif)
    saved = image.jpegsave_buffer(keep=pyvips.enums.ForeignKeep.EXIF)
    back = pyvips.Image.new_from_buffer(saved, "")
    return [name for name in back.get_fields() if name.startswith(("exif-ifd", "jpeg-thumb"))]


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("gps", [False, True])
def test_keep_drops_the_thumbnail_and_gps_unless_asked(order: str, gps: bool) -> None:
    exif = build_exif(order)
    assert latitude_bytes(order) in exif and THUMBNAIL in exif  # the fixture holds both
    kept = exif_kept(exif, gps=gps)
    assert len(kept) == len(exif) and kept.startswith(b"Exif\x00\x00")
    tags, ifd1 = ifd_tags(kept)
    assert tags == ([MAKE, COPYRIGHT, GPS_POINTER] if gps else [MAKE, COPYRIGHT])
    assert ifd1 == 0 and b"ORIGINAL-PICTURE" not in kept
    assert (latitude_bytes(order) in kept) is gps
    assert b"Canon" in kept and b"Jane Doe" in kept
    seen = read_by_libvips(kept)
    assert "exif-ifd0-Make" in seen and "exif-ifd0-Copyright" in seen
    assert any(name.startswith("exif-ifd3-GPSLatitude") for name in seen) is gps
    assert not any(name.startswith(("exif-ifd1", "jpeg-thumb")) for name in seen)


def test_the_fixture_is_real_exif() -> None:
    seen = read_by_libvips(build_exif("<"))
    assert "exif-ifd3-GPSLatitude" in seen and "jpeg-thumbnail-data" in seen


@pytest.mark.parametrize(
    "exif",
    [
        build_exif("<", gps=False, thumbnail=False),
        build_exif(">", gps=False, thumbnail=False),
    ],
)
def test_nothing_to_drop_leaves_the_blob_as_it_was(exif: bytes) -> None:
    assert exif_kept(exif, gps=False) == exif


def damaged(exif: bytes, at: int, value: bytes) -> bytes:
    return exif[:at] + value + exif[at + len(value) :]


GOOD = build_exif("<")


@pytest.mark.parametrize(
    "exif",
    [
        b"",
        b"Exif\x00\x00",
        b"Exif\x00\x00XX*\x00\x08\x00\x00\x00",  # no byte order
        GOOD[:20],  # cut inside IFD0
        damaged(GOOD, 6 + 4, struct.pack("<I", 60_000)),  # IFD0 beyond the end
        damaged(GOOD, 6 + 8, struct.pack("<H", 5000)),  # more entries than bytes
        damaged(GOOD, 6 + 10 + 24 + 8, struct.pack("<I", 3)),  # GPS IFD inside the header
        damaged(GOOD, 6 + 10 + 24 + 2, struct.pack("<H", 99)),  # a type no one defines
    ],
    ids=["empty", "prefix", "order", "cut", "far", "count", "low", "type"],
)
def test_a_damaged_blob_is_dropped_whole(exif: bytes) -> None:
    assert exif_kept(exif, gps=False) == b""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'<rdf:Description exif:GPSLatitude="51,30.4N"/>', True),
        (b"<exif:GPSAltitude>12/1</exif:GPSAltitude>", True),
        (b'drone-dji:GpsLongitude="-0.12"', True),
        (b"<Iptc4xmpExt:Latitude>51.5</Iptc4xmpExt:Latitude>", True),
        (b"longitude=0.12", True),
        ('<exif:GPSLatitude x="1"/>'.encode("utf-16-le"), True),
        (b"<dc:creator>Jane Doe</dc:creator><dc:rights>CC-BY</dc:rights>", False),
        (b"Comment: a day at the seaside", False),
    ],
)
def test_mentions_location(text: bytes, expected: bool) -> None:
    assert mentions_location(text) is expected
