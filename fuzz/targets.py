"""Coverage-guided fuzz targets for atheris, for long runs by hand (the suite runs the same
properties with hypothesis on every ``make test``).

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/targets.py verify -max_total_time=600
    .venv/bin/python fuzz/targets.py delivery_path | options | probe | svg  [libFuzzer flags]

A target returns normally for any input its function accepts or refuses with its own
documented error; anything else is a finding, and libFuzzer saves the input as ``crash-*``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

import atheris

with atheris.instrument_imports():
    from imagegate.adapters import imaging
    from imagegate.core import svg
    from imagegate.core.delivery_urls import BadDeliveryPath, parse_delivery_path
    from imagegate.core.errors import CorruptImage, ImageTooLarge, UnsupportedFormat
    from imagegate.core.options import InvalidOptions, parse_flexible
    from imagegate.core.signing import verify


def fuzz_verify(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    path = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))
    query = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
    key = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
    now = fdp.ConsumeIntInRange(0, 2**40)
    verify(path, query, [("k", key)], now)  # must never raise


def fuzz_delivery_path(data: bytes) -> None:
    with contextlib.suppress(BadDeliveryPath):
        parse_delivery_path(data)


def fuzz_options(data: bytes) -> None:
    with contextlib.suppress(InvalidOptions):
        parse_flexible(data.decode("utf-8", "replace"))


def fuzz_probe(data: bytes) -> None:
    with contextlib.suppress(UnsupportedFormat, ImageTooLarge, CorruptImage):
        imaging.probe(data)


def fuzz_svg(data: bytes) -> None:
    with contextlib.suppress(CorruptImage):
        svg.sanitize(data)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "verify": fuzz_verify,
    "delivery_path": fuzz_delivery_path,
    "options": fuzz_options,
    "probe": fuzz_probe,
    "svg": fuzz_svg,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer flags]")
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
