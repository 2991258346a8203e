"""Image files read at the byte level, with no decoder: the format from the magic bytes, the
EXIF Copyright tag kept by ``metadata=copyright``, and what ``metadata=keep`` may keep (no
EXIF thumbnail, and GPS only when the account opted in). Pure, stdlib only.

A file is never handed to a decoder chosen by its name or ``Content-Type``: only the formats
:func:`detect_format` recognises are ever decoded, each by its own loader.
"""

from __future__ import annotations

import re
import struct

from imagegate.core.models import Format

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


# --- What metadata=keep keeps -----------------------------------------------------------------

_GPS_IFD, _JPEG_THUMB, _JPEG_THUMB_LENGTH = 0x8825, 0x0201, 0x0202
_STRIP_OFFSETS, _STRIP_COUNTS = 0x0111, 0x0117
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_LOCATION = re.compile(rb"gps|latitude|longitude", re.IGNORECASE)


class _Malformed(Exception):
    """An EXIF structure this module will not guess about."""


def exif_kept(exif: bytes, *, gps: bool) -> bytes:
    """An EXIF blob as ``metadata=keep`` may give it out: without the thumbnail (IFD1, a
    picture of the original that no crop, blur or resize touched) and, unless ``gps``,
    without the GPS IFD. What is removed is zeroed in place, so every other offset holds.
    A blob too damaged to walk comes back empty: nothing is kept rather than a guess.
    """
    prefix = b"Exif\x00\x00" if exif.startswith(b"Exif\x00\x00") else b""
    tiff = bytearray(exif[len(prefix) :])
    order = {b"II": "<", b"MM": ">"}.get(bytes(tiff[:2]))
    if order is None:
        return b""
    try:
        (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
        if not gps:
            _drop_sub_ifd(tiff, order, ifd0, _GPS_IFD)
        _drop_next_ifd(tiff, order, ifd0)
    except (struct.error, _Malformed):
        return b""
    return prefix + bytes(tiff)


def mentions_location(text: bytes) -> bool:
    """Whether XMP or a text chunk names GPS, a latitude or a longitude (in any case, and in
    UTF-16 too: the NULs of its ASCII letters are ignored)."""
    return _LOCATION.search(text.replace(b"\x00", b"")) is not None


Entry = tuple[int, int, int, int]  # position, tag, type, count


def _entries(tiff: bytearray, order: str, ifd: int) -> list[Entry]:
    """(position, tag, type, count) of each entry of the IFD at ``ifd``."""
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    if ifd < 8 or ifd + 2 + 12 * count + 4 > len(tiff):
        raise _Malformed()
    found = []
    for i in range(count):
        at = ifd + 2 + 12 * i
        tag, kind, n = struct.unpack_from(order + "HHI", tiff, at)
        if kind not in _TYPE_SIZES:
            raise _Malformed()
        found.append((at, tag, kind, n))
    return found


def _where(tiff: bytearray, order: str, entry: Entry) -> tuple[int, int]:
    """Where an entry's value lies, and its length in bytes (inline values: in the entry)."""
    at, _tag, kind, n = entry
    size = _TYPE_SIZES[kind] * n
    if size <= 4:
        return at + 8, size
    (offset,) = struct.unpack_from(order + "I", tiff, at + 8)
    return offset, size


def _numbers(tiff: bytearray, order: str, entry: Entry) -> list[int]:
    """The values of a SHORT, LONG or IFD entry (offsets and lengths are one of these)."""
    start, size = _where(tiff, order, entry)
    if entry[2] not in (3, 4, 13) or start + size > len(tiff):
        raise _Malformed()
    code = "H" if entry[2] == 3 else "I"
    return list(struct.unpack_from(f"{order}{entry[3]}{code}", tiff, start))


def _zero(tiff: bytearray, start: int, length: int) -> None:
    if start < 8 or length < 0 or start + length > len(tiff):
        raise _Malformed()
    tiff[start : start + length] = bytes(length)


def _clear_ifd(tiff: bytearray, order: str, ifd: int) -> None:
    """Zero an IFD, every value it stores out of line and any picture it points to."""
    entries = _entries(tiff, order, ifd)
    by_tag = {entry[1]: entry for entry in entries}
    for starts, lengths in ((_JPEG_THUMB, _JPEG_THUMB_LENGTH), (_STRIP_OFFSETS, _STRIP_COUNTS)):
        if starts in by_tag and lengths in by_tag:
            offsets = _numbers(tiff, order, by_tag[starts])
            sizes = _numbers(tiff, order, by_tag[lengths])
            for start, length in zip(offsets, sizes, strict=False):
                _zero(tiff, start, min(length, len(tiff) - start))
    for entry in entries:
        start, size = _where(tiff, order, entry)
        if size > 4:
            _zero(tiff, start, size)
    _zero(tiff, ifd, 2 + 12 * len(entries) + 4)


def _drop_sub_ifd(tiff: bytearray, order: str, ifd: int, pointer: int) -> None:
    """Clear the sub-IFD that the ``pointer`` tag of ``ifd`` names, and take that entry out."""
    entries = _entries(tiff, order, ifd)
    kept = [entry for entry in entries if entry[1] != pointer]
    if len(kept) == len(entries):
        return
    for entry in entries:
        if entry[1] == pointer:
            for sub_ifd in _numbers(tiff, order, entry):
                _clear_ifd(tiff, order, sub_ifd)
    length = 2 + 12 * len(entries) + 4
    (next_ifd,) = struct.unpack_from(order + "I", tiff, ifd + length - 4)
    rows = b"".join(bytes(tiff[at : at + 12]) for at, *_ in kept)
    body = struct.pack(order + "H", len(kept)) + rows + struct.pack(order + "I", next_ifd)
    tiff[ifd : ifd + length] = body.ljust(length, b"\x00")


def _drop_next_ifd(tiff: bytearray, order: str, ifd: int) -> None:
    """Clear IFD1 (the thumbnail) and unlink it from IFD0."""
    at = ifd + 2 + 12 * len(_entries(tiff, order, ifd))
    (next_ifd,) = struct.unpack_from(order + "I", tiff, at)
    if next_ifd:
        _clear_ifd(tiff, order, next_ifd)
        struct.pack_into(order + "I", tiff, at, 0)
