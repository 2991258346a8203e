"""Property-based fuzzing of everything that parses what a client sends: delivery paths,
flexible options, list filters and cursors, upload headers, SVG. Each may accept or refuse
its input, but only with its own documented error: never anything else, never a crash.
(``fuzz/`` has the same targets for atheris, for longer runs by hand.)"""

from __future__ import annotations

import pyvips
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegate.adapters import imaging
from imagegate.core import svg
from imagegate.core.delivery_urls import BadDeliveryPath, delivery_path, parse_delivery_path
from imagegate.core.errors import CorruptImage, ImageTooLarge, UnsupportedFormat
from imagegate.core.listing import InvalidListing, decode_cursor, parse_filters
from imagegate.core.options import InvalidOptions, parse_flexible

FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

OPTION_WORDS = st.sampled_from(
    ["w", "h", "width", "height", "fit", "q", "quality", "f", "format", "g", "gravity", "dpr",
     "sharpen", "blur", "metadata", "anim", "background", "cover", "pad", "auto", "0.5x0.5",
     "=", ",", "%23", "%", "1", "400", "12001", "-1", "1e3", "true", "avif", " "]
)  # fmt: skip


@FAST
@given(st.binary(max_size=300))
def test_delivery_paths_parse_or_are_refused(raw: bytes) -> None:
    try:
        parse_delivery_path(raw)
    except BadDeliveryPath:
        pass


@FAST
@given(
    st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True),
    st.text(min_size=1, max_size=60).filter(
        lambda s: (
            not s.startswith("/")
            and not s.endswith("/")
            and all(p not in ("", ".", "..") for p in s.split("/"))
        )
    ),
    st.from_regex(r"[A-Za-z0-9]{1,20}", fullmatch=True),
)
def test_delivery_urls_round_trip(account_hash: str, image_id: str, variant: str) -> None:
    try:
        path = delivery_path(account_hash, image_id, variant)
        parsed = parse_delivery_path(path.encode("ascii"))
    except (UnicodeEncodeError, BadDeliveryPath):
        # Lone surrogates cannot be written in UTF-8, so no URL can name such an id.
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in image_id)
        return
    assert (parsed.account_hash, parsed.image_id, parsed.last) == (account_hash, image_id, variant)


@FAST
@given(st.lists(OPTION_WORDS, max_size=12).map("".join) | st.text(max_size=80))
def test_flexible_options_parse_or_are_refused(segment: str) -> None:
    try:
        parse_flexible(segment)
    except InvalidOptions:
        pass


@FAST
@given(st.lists(st.tuples(st.text(max_size=40), st.text(max_size=40)), max_size=8), st.text())
def test_list_filters_and_cursors_parse_or_are_refused(
    params: list[tuple[str, str]], token: str
) -> None:
    try:
        parse_filters([(f"meta.{k}", v) for k, v in params] + params)
    except InvalidListing:
        pass
    try:
        decode_cursor(token)
    except InvalidListing:
        pass


def _seeds() -> list[bytes]:
    image = pyvips.Image.black(40, 30) + 100
    return [
        image.jpegsave_buffer(),
        image.pngsave_buffer(),
        image.webpsave_buffer(),
        image.cast("uchar").gifsave_buffer(),
        b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect/></svg>',
    ]


SEEDS = _seeds()


@FAST
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    st.integers(0, 2000),
)
def test_upload_headers_probe_or_are_refused(seed: bytes, flips: list, cut: int) -> None:
    data = bytearray(seed[: max(1, len(seed) - cut)])
    for where, value in flips:
        if where < len(data):
            data[where] = value
    try:
        imaging.probe(bytes(data))
    except (UnsupportedFormat, ImageTooLarge, CorruptImage):
        pass


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_are_never_an_image(data: bytes) -> None:
    try:
        imaging.probe(data)
    except (UnsupportedFormat, ImageTooLarge, CorruptImage):
        pass


@FAST
@given(st.text(max_size=300))
def test_svg_sanitiser_accepts_or_refuses(text: str) -> None:
    try:
        svg.sanitize(('<svg xmlns="http://www.w3.org/2000/svg">' + text + "</svg>").encode())
    except CorruptImage:
        pass
