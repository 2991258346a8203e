"""The metadata step of a render: what each ``metadata`` mode lets out of the original.

``keep`` keeps everything but the EXIF thumbnail, and GPS only when the account opted in;
``copyright`` keeps the EXIF Copyright tag alone; ``none`` nothing. The byte-level work on
EXIF and the tests for text naming a place are pure (:mod:`imagegate.core.image_bytes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyvips

from imagegate.core.image_bytes import (
    exif_copyright,
    exif_kept,
    exif_with_copyright,
    mentions_location,
)
from imagegate.core.models import MetadataMode

if TYPE_CHECKING:
    from imagegate.adapters.imaging.job import Job


def strip(job: Job) -> None:
    """keep: everything but the EXIF thumbnail (a picture of the original no option touched),
    and GPS only if the account opted in (EXIF GPS, XMP or text naming GPS, a latitude or a
    longitude). copyright: only the EXIF Copyright tag, if the source had one. none: nothing.
    Camera make/model, XMP and IPTC survive only under keep."""
    keep = pyvips.enums.ForeignKeep
    image = job.image.copy()
    if job.options.metadata is MetadataMode.KEEP:
        _keepable(image, gps=job.keep_gps)
        job.keep, job.image = keep.ALL, image
        return
    exif = image.get("exif-data") if image.get_typeof("exif-data") else b""
    for name in image.get_fields():
        if name.startswith("exif-") or name in ("xmp-data", "iptc-data", "jpeg-thumbnail-data"):
            image.remove(name)
    notice = exif_copyright(exif) if job.options.metadata is MetadataMode.COPYRIGHT else None
    job.keep = keep.NONE
    if notice:
        image.set_type(pyvips.GValue.blob_type, "exif-data", exif_with_copyright(notice))
        job.keep = keep.EXIF
    job.image = image


def _keepable(image: Any, *, gps: bool) -> None:
    """Take out of ``image``'s metadata what ``keep`` must not give out.

    libvips writes EXIF from the blob *and* the parsed ``exif-*`` fields (a tag missing
    from either is dropped), so both are cleaned: the blob at the byte level, the fields by
    name. Setting the blob makes libvips parse it again, bringing back fields the pipeline
    had removed (the orientation, once applied): those are removed again.
    """
    exif = bytes(image.get("exif-data")) if image.get_typeof("exif-data") else b""
    kept = exif_kept(exif, gps=gps) if exif else b""
    if kept and kept != exif:
        before = set(image.get_fields())
        image.set_type(pyvips.GValue.blob_type, "exif-data", kept)
        for name in set(image.get_fields()) - before:
            image.remove(name)
    for name in image.get_fields():
        if _withheld(name, image, exif=bool(kept), gps=gps):
            image.remove(name)


def _withheld(name: str, image: Any, *, exif: bool, gps: bool) -> bool:
    """Whether the metadata field ``name`` must go under ``keep`` (``exif``: some EXIF is
    kept at all; ``gps``: the account opted in to GPS)."""
    if name.startswith("exif-ifd1-") or name == "jpeg-thumbnail-data":
        return True
    if name.startswith("exif-"):
        return not exif or (not gps and name.startswith("exif-ifd3-"))
    if gps:
        return False
    if name == "xmp-data":
        return mentions_location(bytes(image.get(name)))
    if name.startswith("png-comment-"):
        return mentions_location(f"{name} {image.get(name)}".encode())
    return False
