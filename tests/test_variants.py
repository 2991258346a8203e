"""Flexible options and format negotiation: pure functions, table-driven."""

from __future__ import annotations

import pytest

from imagegate.core.models import Fit, Format, MetadataMode, OutputFormat, VariantOptions
from imagegate.core.negotiation import accepted_types, choose_output, output_side
from imagegate.core.options import InvalidOptions, looks_flexible, parse_flexible


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("w=400", VariantOptions(width=400)),
        ("width=400,height=300", VariantOptions(width=400, height=300)),
        ("w=400,h=300,fit=cover,f=auto", VariantOptions(width=400, height=300, fit=Fit.COVER)),
        (
            "fit=pad,w=10,h=10,background=%23000",
            VariantOptions(fit=Fit.PAD, width=10, height=10, background="#000000"),
        ),
        ("background=ABCDEF,w=1", VariantOptions(width=1, background="#abcdef")),
        ("q=50", VariantOptions(quality=50)),
        ("quality=high", VariantOptions(quality=90)),
        ("q=low", VariantOptions(quality=60)),
        ("f=avif", VariantOptions(format=OutputFormat.AVIF)),
        ("format=baseline-jpeg", VariantOptions(format=OutputFormat.BASELINE_JPEG)),
        ("dpr=2,w=100", VariantOptions(width=100, dpr=2.0)),
        ("dpr=1.5", VariantOptions(dpr=1.5)),
        ("sharpen=3", VariantOptions(sharpen=3.0)),
        ("blur=250", VariantOptions(blur=250.0)),
        (
            "g=auto,fit=cover,w=5,h=5",
            VariantOptions(gravity="auto", fit=Fit.COVER, width=5, height=5),
        ),
        ("gravity=left", VariantOptions(gravity="left")),
        ("gravity=0.25x0.75", VariantOptions(gravity="0.25x0.75")),
        ("gravity=0x1", VariantOptions(gravity="0x1")),
        ("gravity=0.500x1.0", VariantOptions(gravity="0.5x1")),
        ("metadata=keep", VariantOptions(metadata=MetadataMode.KEEP)),
        ("anim=false", VariantOptions(anim=False)),
        ("w=12000", VariantOptions(width=12000)),
    ],
)
def test_flexible_options(segment: str, expected: VariantOptions) -> None:
    assert parse_flexible(segment) == expected


@pytest.mark.parametrize(
    "segment",
    [
        "w=0",
        "w=12001",
        "w=-1",
        "w=4e2",
        "w=٤٠٠",
        "w=400.5",
        "w=",
        "w",
        "w=1,w=2",
        "w=1,width=2",
        "zoom=2",
        "fit=squeeze",
        "fit=aspect-crop",
        "q=0",
        "q=101",
        "q=best",
        "f=json",
        "f=tiff",
        "dpr=0",
        "dpr=3",
        "dpr=1e0",
        "sharpen=11",
        "blur=251",
        "blur=-1",
        "gravity=face",
        "gravity=1.5x0",
        "gravity=0.5",
        "metadata=all",
        "anim=yes",
        "background=red",
        "background=%23ggg",
        "w=1,,h=2",
        "%ff=1",
        "w=" + "1" * 600,
        "w=1%2C h=2",
    ],
)
def test_invalid_flexible_options(segment: str) -> None:
    with pytest.raises(InvalidOptions):
        parse_flexible(segment)


def test_invalid_options_never_echo_the_value() -> None:
    with pytest.raises(InvalidOptions) as info:
        parse_flexible("w=<script>")
    assert "<script>" not in str(info.value)


@pytest.mark.parametrize(
    ("segment", "flexible"), [("public", False), ("w=1", True), ("thumb2", False)]
)
def test_looks_flexible(segment: str, flexible: bool) -> None:
    assert looks_flexible(segment) is flexible


@pytest.mark.parametrize(
    ("accept", "types"),
    [
        ("", set()),
        ("image/avif,image/webp,*/*", {"image/avif", "image/webp", "*/*"}),
        ("image/webp;q=0, image/png", {"image/png"}),
        ("IMAGE/AVIF ; q=0.5", {"image/avif"}),
        ("image/avif;q=0.0", set()),
    ],
)
def test_accepted_types(accept: str, types: set[str]) -> None:
    assert accepted_types(accept) == types


CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
OLD = "image/png,image/*;q=0.8,*/*;q=0.5"


@pytest.mark.parametrize(
    ("requested", "accept", "source", "side", "expected", "negotiated"),
    [
        (OutputFormat.AUTO, CHROME, Format.JPEG, 800, Format.AVIF, True),
        (OutputFormat.AUTO, CHROME, Format.JPEG, 1201, Format.WEBP, True),
        (OutputFormat.AUTO, "image/webp,*/*", Format.PNG, 800, Format.WEBP, True),
        (OutputFormat.AUTO, "*/*", Format.PNG, 800, Format.PNG, True),
        (OutputFormat.AUTO, OLD, Format.JPEG, 800, Format.JPEG, True),
        (OutputFormat.AUTO, "", Format.HEIC, 800, Format.JPEG, True),
        (OutputFormat.AUTO, "*/*", Format.AVIF, 800, Format.JPEG, True),
        (OutputFormat.AUTO, CHROME, Format.GIF, 100, Format.WEBP, True),
        (OutputFormat.AUTO, "*/*", Format.GIF, 100, Format.GIF, True),
        (OutputFormat.AUTO, CHROME, Format.SVG, 100, Format.SVG, False),
        (OutputFormat.PNG, CHROME, Format.JPEG, 100, Format.PNG, False),
        (OutputFormat.AVIF, "", Format.JPEG, 100, Format.AVIF, False),
        (OutputFormat.AVIF, "", Format.JPEG, 5000, Format.WEBP, False),
        (OutputFormat.BASELINE_JPEG, CHROME, Format.PNG, 100, Format.JPEG, False),
    ],
)
def test_choose_output(
    requested: OutputFormat,
    accept: str,
    source: Format,
    side: int,
    expected: Format,
    negotiated: bool,
) -> None:
    out = choose_output(requested, accept, source, side, avif_max_side=1200)
    assert (out.format, out.negotiated) == (expected, negotiated)
    assert out.baseline is (requested is OutputFormat.BASELINE_JPEG)


@pytest.mark.parametrize(
    ("size", "options", "side"),
    [
        ((4000, 3000), VariantOptions(), 4000),
        ((4000, 3000), VariantOptions(width=800), 800),
        ((400, 300), VariantOptions(width=800), 400),
        ((400, 300), VariantOptions(width=800, fit=Fit.CONTAIN), 800),
        ((400, 300), VariantOptions(width=500, height=500, fit=Fit.COVER, dpr=2), 1000),
        ((4000, 3000), VariantOptions(width=100, height=900), 100),
        # A tall box does not make a wide output tall: 800 x 600, AVIF-sized.
        ((4000, 3000), VariantOptions(width=800, height=12000), 800),
        ((3000, 4000), VariantOptions(width=800, height=12000), 1067),
        ((4000, 3000), VariantOptions(width=800, height=12000, fit=Fit.PAD), 12000),
        ((4000, 3000), VariantOptions(width=300, height=300, fit=Fit.CROP), 300),
    ],
)
def test_output_side(size: tuple[int, int], options: VariantOptions, side: int) -> None:
    assert output_side(*size, options) == side


def test_cache_token_changes_with_every_rendering_option() -> None:
    base = VariantOptions()
    variants = [
        VariantOptions(fit=Fit.COVER),
        VariantOptions(width=1),
        VariantOptions(height=1),
        VariantOptions(metadata=MetadataMode.KEEP),
        VariantOptions(background="#000000"),
        VariantOptions(quality=50),
        VariantOptions(dpr=2),
        VariantOptions(sharpen=1),
        VariantOptions(blur=1),
        VariantOptions(gravity="auto"),
        VariantOptions(format=OutputFormat.PNG),
        VariantOptions(anim=False),
    ]
    tokens = {base.cache_token(), *(v.cache_token() for v in variants)}
    assert len(tokens) == len(variants) + 1
    assert VariantOptions(browser_ttl=60).cache_token() == base.cache_token()


@pytest.mark.parametrize(
    "options",
    [
        VariantOptions(),
        VariantOptions(
            fit=Fit.PAD,
            width=3,
            height=4,
            background="#123456",
            quality=10,
            dpr=1.5,
            sharpen=2,
            blur=3,
            gravity="0.1x0.9",
            format=OutputFormat.WEBP,
            anim=False,
            browser_ttl=3600,
        ),
    ],
)
def test_options_round_trip_through_dicts(options: VariantOptions) -> None:
    assert VariantOptions.from_dict(options.to_dict()) == options
