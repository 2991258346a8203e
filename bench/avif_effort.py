"""AVIF encoder effort, measured: bytes and encode time of 800 px photos at each effort.

    .venv/bin/python bench/avif_effort.py [--efforts 0-9] [--repeat 5] [--threads 1]

Three generated photo-like pictures (the 12 MP bench photo, a smooth one with soft shapes, a
busy one with fine texture), each reduced once to 800 px on its longest side and held in
memory, so only the encoder is timed. Each effort encodes each picture ``repeat`` times at
the Q imagegate uses for quality 85 (``avif_quality(85)``); the table gives the median time,
the bytes, and PSNR against the 800 px picture (so a smaller file that looks worse shows).
WebP at efforts 0, 2 and 4 (libvips' default) and JPEG at imagegate's settings are timed the
same way, for scale. ``--threads`` sets
libvips' concurrency (the AV1 encoder's threads): 1 is what a render slot is worth on a
loaded server.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import pyvips
from prepare import photo

from imagegate.core.render_plan import avif_quality, encoder_quality

SIDE = 800


def pictures() -> dict[str, pyvips.Image]:
    """800 px pictures, decoded and in memory."""
    bench = photo(4000, 3000)
    xy = pyvips.Image.xyz(1600, 1200)
    x, y = xy[0], xy[1]
    smooth = (
        (x * (180 / 1600) + 40)
        .bandjoin([y * (150 / 1200) + 60, ((x - 800) ** 2 + (y - 600) ** 2) ** 0.5 * 0.2 + 50])
        .gaussblur(6)
    )
    busy = (
        pyvips.Image.gaussnoise(1600, 1200, sigma=45, mean=128, seed=3)
        .gaussblur(0.8)
        .bandjoin(
            [
                pyvips.Image.gaussnoise(1600, 1200, sigma=40, mean=110, seed=4).gaussblur(2.0),
                (x * (360 * 9 / 1600)).sin() * 70 + 120,
            ]
        )
    )
    out = {}
    for name, image in (("bench photo", bench), ("smooth", smooth), ("busy", busy)):
        srgb = image.cast("uchar").copy(interpretation="srgb")
        jpeg = srgb.jpegsave_buffer(Q=92)
        out[name] = pyvips.Image.thumbnail_buffer(jpeg, SIDE).copy_memory()
    return out


def psnr(reference: pyvips.Image, data: bytes) -> float:
    decoded = pyvips.Image.new_from_buffer(data, "")
    if decoded.bands > reference.bands:
        decoded = decoded[: reference.bands]
    mse = ((reference.cast("float") - decoded.cast("float")) ** 2).avg()
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def timed(encode: Callable[[], bytes], repeat: int) -> tuple[float, bytes]:
    times, data = [], b""
    for _ in range(repeat):
        start = time.perf_counter()
        data = encode()
        times.append(time.perf_counter() - start)
    return statistics.median(times), data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--efforts", default="0-9", help="a range such as 0-9, or 0,2,4")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if "-" in args.efforts:
        low, high = (int(p) for p in args.efforts.split("-"))
        efforts = list(range(low, high + 1))
    else:
        efforts = [int(p) for p in args.efforts.split(",")]
    pyvips.concurrency_set(args.threads)
    pyvips.cache_set_max(0)
    images = pictures()
    q_avif, q = avif_quality(85), encoder_quality(85)
    names = list(images)
    print(
        f"800 px, AVIF Q {q_avif} (quality 85), WebP/JPEG Q {q}, libvips {pyvips.version(0)}."
        f"{pyvips.version(1)}, {args.threads} thread(s), median of {args.repeat}\n"
    )
    head = " | ".join(f"{n}: ms, KB, dB" for n in names)
    print(f"| encoder | {head} | mean ms | mean KB |")
    print("|---|" + "---:|" * (len(names) + 2), flush=True)
    for effort in efforts:
        cells = []
        for image in images.values():
            seconds, data = timed(
                lambda image=image, effort=effort: bytes(
                    image.heifsave_buffer(compression="av1", Q=q_avif, effort=effort, keep="none")
                ),
                args.repeat,
            )
            cells.append((seconds, len(data), psnr(image, data)))
        row(f"AVIF effort {effort}", cells)
    for name, encode in (
        *(
            (
                f"WebP effort {e}",
                lambda image, e=e: bytes(image.webpsave_buffer(Q=q, effort=e, keep="none")),
            )
            for e in (0, 2, 4)
        ),
        ("JPEG", lambda image: bytes(image.jpegsave_buffer(Q=q, interlace=True, keep="none"))),
    ):
        cells = []
        for image in images.values():
            seconds, data = timed(lambda image=image, encode=encode: encode(image), args.repeat)
            cells.append((seconds, len(data), psnr(image, data)))
        row(name, cells)


def row(label: str, cells: list[tuple[float, int, float]]) -> None:
    text = " | ".join(f"{s * 1000:.0f}, {b / 1024:.1f}, {p:.1f}" for s, b, p in cells)
    mean_ms = statistics.mean(s for s, _, _ in cells) * 1000
    mean_kb = statistics.mean(b for _, b, _ in cells) / 1024
    print(f"| {label} | {text} | {mean_ms:.0f} | {mean_kb:.1f} |", flush=True)


if __name__ == "__main__":
    main()
