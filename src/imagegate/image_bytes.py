"""Image files read at the byte level, with no decoder: the format from the magic bytes, and
the EXIF Copyright tag kept by ``metadata=copyright``. Pure, stdlib only.

A file is never handed to a decoder chosen by its name or ``Content-Type``: only the formats
:func:`detect_format` recognises are ever decoded, each by its own loader.
"""

from __future__ import annotations

import re
import struct

from imagegate.models import Format

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


# --- EXIF copyright -------------------------------------------------------------------------

_COPYRIGHT_TAG, _ASCII = 0x8298, 2


def exif_copyright(exif: bytes) -> bytes | None:
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


def exif_with_copyright(notice: bytes) -> bytes:
    """A minimal little-endian EXIF blob whose IFD0 holds only the Copyright tag."""
    if not notice.endswith(b"\x00"):
        notice += b"\x00"
    inline = len(notice) <= 4
    value = notice.ljust(4, b"\x00") if inline else struct.pack("<I", 8 + 18)
    ifd0 = struct.pack("<HHHI4sI", 1, _COPYRIGHT_TAG, _ASCII, len(notice), value, 0)
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + (b"" if inline else notice)
