"""What a reduced copy of an original buys a cold render, in one process, before any server.

Compares, for the bench's 12 MP photo-like JPEG (``prepare.photo``, quality 90) resized to
200, 800 and 1600 px wide and encoded as imagegate encodes JPEG:

- ``original``: ``thumbnail_buffer`` of the original (JPEG shrink-on-load does 1/2, 1/4, 1/8);
- ``tiff``: one pyramidal tiled TIFF with JPEG tiles, which ``thumbnail`` picks a level from;
- ``jpeg-levels``: separate JPEG files at 1/2, 1/4, ... down to about 256 px, the smallest
  level still at least the size asked for decoded with shrink-on-load;
- ``jpeg-levels-q4``: the same from 1/4 down (no 1/2 level: less storage);
- ``imagegate``: the copies imagegate derives (``imagegate.adapters.imaging.levels``).

For each: the median time of a render (decode, resize, encode), the storage the copy takes
as a share of the original's bytes, and the PSNR against a float Lanczos resize of the
decoded original, of the resized pixels (before encoding) and of what is served (JPEG at
imagegate's default quality 85, decoded)::

    .venv/bin/python bench/levels.py [--runs 7] [--level-q 90]

Prints a table (markdown) on stdout.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyvips

sys.path.insert(0, str(Path(__file__).parent))
from prepare import PHOTO_SIZE, photo

from imagegate.adapters.imaging.levels import derive
from imagegate.core.models import Format

WIDTHS = (200, 800, 1600)
MIN_LEVEL = 256


def psnr(a: pyvips.Image, b: pyvips.Image) -> float:
    diff = (a.cast("float") - b.cast("float")) ** 2
    mse = diff.avg()
    return math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)


def reference(original: bytes, width: int) -> pyvips.Image:
    image = pyvips.Image.new_from_buffer(original, "").cast("float")
    return image.resize(width / image.width, kernel="lanczos3").cast("uchar")


def level_widths(width: int, first: int) -> list[int]:
    out, w = [], width // first
    while w >= MIN_LEVEL:
        out.append(w)
        w //= 2
    return out


def jpeg_levels(original: bytes, first: int, q: int) -> dict[int, bytes]:
    full = pyvips.Image.new_from_buffer(original, "")
    levels = {}
    for w in level_widths(full.width, first):
        img = pyvips.Image.thumbnail_buffer(original, w, height=100000)
        levels[img.width] = bytes(img.jpegsave_buffer(Q=q, optimize_coding=True, keep=0))
    return levels


def pick(levels: dict[int, bytes], original: bytes, width: int) -> bytes:
    fits = [w for w in levels if w >= width]
    return levels[min(fits)] if fits else original


def resize(data: bytes, width: int) -> pyvips.Image:
    return pyvips.Image.thumbnail_buffer(data, width, height=100000)


def encode(image: pyvips.Image) -> bytes:
    return bytes(image.jpegsave_buffer(Q=85, interlace=True, optimize_coding=True, keep=0))


def timed(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--level-q", type=int, default=90)
    args = parser.parse_args()
    pyvips.cache_set_max(0)
    original = bytes(photo(*PHOTO_SIZE).jpegsave_buffer(Q=90))
    size = len(original)
    tiff = bytes(
        pyvips.Image.new_from_buffer(original, "").tiffsave_buffer(
            tile=True, pyramid=True, compression="jpeg", Q=args.level_q, tile_width=256,
            tile_height=256,
        )
    )  # fmt: skip
    forms: dict[str, tuple[Callable[[int], bytes], int]] = {
        "original": (lambda w: original, 0),
        "tiff": (lambda w: tiff, len(tiff)),
    }
    for name, first in (("jpeg-levels", 2), ("jpeg-levels-q4", 4)):
        levels = jpeg_levels(original, first, args.level_q)
        forms[name] = (
            (lambda lv: lambda w: pick(lv, original, w))(levels),
            sum(map(len, levels.values())),
        )
    shipped = {
        PHOTO_SIZE[0] // d: data
        for d, data in derive(original, Format.JPEG, PHOTO_SIZE[0], PHOTO_SIZE[1])
    }
    forms["imagegate (1/4 down, Q95)"] = (
        lambda w: pick(shipped, original, w),
        sum(map(len, shipped.values())),
    )
    print(f"original: {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG Q90, {size / 1e6:.2f} MB; "
          f"levels at Q{args.level_q}; median of {args.runs} renders\n")  # fmt: skip
    cols = " | ".join(f"{w} px ms | {w} px dB (pixels / served)" for w in WIDTHS)
    print(f"| form | storage | {cols} |")
    print("|---|---:|" + "---:|---:|" * len(WIDTHS))
    refs = {w: reference(original, w) for w in WIDTHS}
    for name, (source, stored) in forms.items():
        cells = [name, f"{100 * stored / size:.0f}%"]
        for w in WIDTHS:
            data = source(w)
            ms = timed(lambda data=data, w=w: encode(resize(data, w)), args.runs)
            out = resize(data, w).copy_memory()
            ref = refs[w]
            if (out.width, out.height) != (ref.width, ref.height):
                out = out.resize(ref.width / out.width, vscale=ref.height / out.height)
            served = pyvips.Image.new_from_buffer(encode(out), "")
            cells += [f"{ms:.1f}", f"{psnr(out, ref):.2f} / {psnr(served, ref):.2f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
