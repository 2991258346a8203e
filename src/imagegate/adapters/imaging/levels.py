"""Deriving the reduced copies of an original (:mod:`imagegate.core.levels` says which).

Each level is made from the original by ``thumbnail`` (shrink-on-load, upright, Lanczos),
turned into 8-bit sRGB the way a render does it, and saved as JPEG at :data:`LEVEL_Q`
without chroma subsampling; as PNG (lossless) when the original has alpha. The only metadata
a level carries is the original's EXIF copyright notice, which ``metadata=copyright``
(the default) gives out; ``keep`` renders read the original.
"""

from __future__ import annotations

import pyvips

from imagegate.adapters.imaging.pipeline import srgb
from imagegate.core.errors import CorruptImage
from imagegate.core.image_bytes import exif_copyright, exif_with_copyright
from imagegate.core.levels import divisors, level_size
from imagegate.core.models import Format

#: JPEG quality of a level: within 1 dB PSNR of the original's render, about 10% of its bytes
#: (``bench/levels.py``).
LEVEL_Q = 95


def derive(data: bytes, source: Format, width: int, height: int) -> list[tuple[int, bytes]]:
    """The levels of ``data`` (an original of ``source``, ``width`` x ``height`` upright),
    as (divisor, encoded bytes), largest first. Raises :class:`CorruptImage` when the
    original cannot be decoded."""
    wanted = divisors(source, width, height)
    if not wanted:
        return []
    try:
        header = pyvips.Image.new_from_buffer(data, "", access="sequential")
        exif = header.get("exif-data") if header.get_typeof("exif-data") else b""
        notice = exif_copyright(bytes(exif)) if exif else None
        out: list[tuple[int, bytes]] = []
        for divisor in wanted:
            w, h = level_size(width, height, divisor)
            image = pyvips.Image.thumbnail_buffer(
                data, w, height=h, size="force", option_string="fail_on=error"
            )
            image = srgb(image)
            for name in image.get_fields():
                if name.startswith("exif-") or name in (
                    "xmp-data", "iptc-data", "icc-profile-data", "jpeg-thumbnail-data",
                    "orientation",
                ):  # fmt: skip
                    image.remove(name)
            keep = pyvips.enums.ForeignKeep.NONE
            if notice:
                image.set_type(pyvips.GValue.blob_type, "exif-data", exif_with_copyright(notice))
                keep = pyvips.enums.ForeignKeep.EXIF
            if image.hasalpha():
                encoded = image.pngsave_buffer(keep=keep, compression=6)
            else:
                encoded = image.jpegsave_buffer(
                    Q=LEVEL_Q, optimize_coding=True, subsample_mode="off", keep=keep
                )
            out.append((divisor, bytes(encoded)))
    except pyvips.Error as exc:
        raise CorruptImage() from exc
    return out
