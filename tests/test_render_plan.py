"""render_plan: the pure numbers behind rendering (dpr, gravity, filters, encoder settings)."""

from __future__ import annotations

import math

import pytest

from imagegate.core.models import Fit, Format, MetadataMode, OutputFormat, VariantOptions
from imagegate.core.render_plan import (
    Blur,
    Geometry,
    Sharpen,
    avif_quality,
    blur_plan,
    blur_sigma,
    crop_window,
    effective_dpr,
    encoder_quality,
    focal_point,
    gif_effort,
    keeps_vector,
    may_animate,
    output_pixel_cap,
    plan_geometry,
    progressive_jpeg,
    render_cost,
    sharpen_settings,
)

S, C, CV, CR, P = Fit.SCALE_DOWN, Fit.CONTAIN, Fit.COVER, Fit.CROP, Fit.PAD
NAN, INF = math.nan, math.inf


# (source size, fit, box, dpr, expected geometry)
DPR_TABLE = [
    ((1200, 800), S, (300, None), 2.0, Geometry(600, 400, 600, 400)),
    ((1200, 800), S, (800, None), 2.0, Geometry(1200, 800, 1200, 800)),  # never enlarges
    ((1200, 800), S, (300, 300), 1.5, Geometry(450, 300, 450, 300)),
    ((300, 200), C, (300, None), 2.0, Geometry(600, 400, 600, 400)),  # contain may enlarge
    ((1200, 800), CV, (100, 100), 2.0, Geometry(300, 200, 200, 200)),
    ((300, 200), CR, (200, 200), 2.0, Geometry(300, 200, 300, 200)),  # crop never enlarges
    ((1200, 800), CR, (200, 200), 2.0, Geometry(600, 400, 400, 400)),
    ((1200, 800), P, (100, 100), 2.0, Geometry(200, 133, 200, 200)),
    ((1200, 800), S, (300, None), 5.0, Geometry(600, 400, 600, 400)),  # dpr capped at 2
    ((1200, 800), S, (300, None), 0.0, Geometry(300, 200, 300, 200)),  # nonsense: dpr 1
    ((1200, 800), S, (300, None), -1.0, Geometry(300, 200, 300, 200)),
    ((1200, 800), S, (300, None), NAN, Geometry(300, 200, 300, 200)),
    ((1200, 800), S, (300, None), INF, Geometry(300, 200, 300, 200)),
    ((1200, 800), S, (1, 1), 0.1, Geometry(1, 1, 1, 1)),  # never below one pixel
    ((1200, 800), S, (None, None), 2.0, Geometry(1200, 800, 1200, 800)),  # no box: no resize
]


@pytest.mark.parametrize(("size", "fit", "box", "dpr", "expected"), DPR_TABLE)
def test_dpr_scales_the_box_before_the_fit(
    size: tuple[int, int],
    fit: Fit,
    box: tuple[int | None, int | None],
    dpr: float,
    expected: Geometry,
) -> None:
    options = VariantOptions(fit=fit, width=box[0], height=box[1], dpr=dpr)
    assert plan_geometry(*size, options) == expected


@pytest.mark.parametrize(
    ("dpr", "expected"), [(1.0, 1.0), (1.5, 1.5), (2.0, 2.0), (3.0, 2.0), (0.5, 0.5), (0, 1.0)]
)
def test_effective_dpr(dpr: float, expected: float) -> None:
    assert effective_dpr(dpr) == expected


@pytest.mark.parametrize(
    ("gravity", "expected"),
    [
        ("auto", None),
        ("center", (0.5, 0.5)),
        ("left", (0.0, 0.5)),
        ("right", (1.0, 0.5)),
        ("top", (0.5, 0.0)),
        ("bottom", (0.5, 1.0)),
        (" Left ", (0.0, 0.5)),
        ("0.25x0.75", (0.25, 0.75)),
        ("0x1", (0.0, 1.0)),
        ("1X.5", (1.0, 0.5)),
        ("1.5x2", (1.0, 1.0)),  # clamped to the image
        ("-0.5x0.5", (0.5, 0.5)),  # not a focal point: centre
        ("face", (0.5, 0.5)),
        ("", (0.5, 0.5)),
        ("0.5x", (0.5, 0.5)),
    ],
)
def test_focal_point(gravity: str, expected: tuple[float, float] | None) -> None:
    assert focal_point(gravity) == expected


# (scaled w, h, window w, h, focus, expected left, top)
WINDOW_TABLE = [
    (900, 100, 100, 100, (0.5, 0.5), (400, 0)),
    (900, 100, 100, 100, (0.0, 0.5), (0, 0)),
    (900, 100, 100, 100, (1.0, 0.5), (800, 0)),
    (900, 100, 100, 100, (1 / 6, 0.5), (100, 0)),
    (900, 100, 100, 100, (0.01, 0.5), (0, 0)),  # clamped to the left edge
    (900, 100, 100, 100, (0.99, 0.5), (800, 0)),  # and to the right edge
    (100, 900, 100, 100, (0.5, 0.0), (0, 0)),
    (100, 900, 100, 100, (0.5, 1.0), (0, 800)),
    (300, 200, 200, 200, (0.5, 0.5), (50, 0)),
    (300, 200, 300, 200, (0.9, 0.9), (0, 0)),  # nothing to crop
]


@pytest.mark.parametrize(("sw", "sh", "w", "h", "focus", "expected"), WINDOW_TABLE)
def test_crop_window(
    sw: int, sh: int, w: int, h: int, focus: tuple[float, float], expected: tuple[int, int]
) -> None:
    assert crop_window(Geometry(sw, sh, w, h), focus) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, None),
        (-3, None),
        (NAN, None),
        (1, Sharpen(sigma=0.65, m1=0.1, m2=0.6)),
        (5, Sharpen(sigma=1.25, m1=0.5, m2=3.0)),
        (10, Sharpen(sigma=2.0, m1=1.0, m2=6.0)),
        (40, Sharpen(sigma=2.0, m1=1.0, m2=6.0)),  # capped at 10
    ],
)
def test_sharpen_settings(amount: float, expected: Sharpen | None) -> None:
    got = sharpen_settings(amount)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert (got.sigma, got.m1, got.m2) == pytest.approx(
            (expected.sigma, expected.m1, expected.m2)
        )


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(0, None), (-1, None), (NAN, None), (1, 0.5), (20, 10.0), (250, 125.0), (1000, 125.0)],
)
def test_blur_sigma(amount: float, expected: float | None) -> None:
    assert blur_sigma(amount) == expected


@pytest.mark.parametrize(("quality", "expected"), [(-5, 1), (0, 1), (1, 1), (85, 85), (400, 100)])
def test_encoder_quality_clamped(quality: int, expected: int) -> None:
    assert encoder_quality(quality) == expected


@pytest.mark.parametrize(
    ("quality", "expected"), [(1, 1), (30, 21), (50, 35), (85, 60), (90, 73), (100, 100)]
)
def test_avif_quality(quality: int, expected: int) -> None:
    assert avif_quality(quality) == expected


def test_avif_quality_is_monotonic_and_in_range() -> None:
    values = [avif_quality(q) for q in range(-10, 120)]
    assert values == sorted(values) and min(values) == 1 and max(values) == 100


@pytest.mark.parametrize(
    ("width", "height", "baseline", "progressive"),
    [
        (800, 600, False, True),
        (800, 600, True, False),
        (49, 50, False, False),  # under 50x50
        (50, 50, False, True),
        (10, 400, False, True),  # 4000 pixels: not under 50x50
        (3000, 3000, False, True),
        (3001, 3000, False, False),  # over 3000x3000
    ],
)
def test_progressive_jpeg(width: int, height: int, baseline: bool, progressive: bool) -> None:
    assert progressive_jpeg(width, height, baseline) is progressive


# (size, options, served as SVG?)
VECTOR_TABLE = [
    ((120, 80), VariantOptions(), True),
    ((120, 80), VariantOptions(width=12000, height=12000), True),  # the public variant
    ((120, 80), VariantOptions(fit=CR, width=500, height=500), True),  # crop never enlarges
    ((120, 80), VariantOptions(width=60), False),
    ((120, 80), VariantOptions(fit=C, width=240), False),  # larger is a raster too
    ((120, 80), VariantOptions(fit=CV, width=120, height=80), True),  # its own size
    ((120, 80), VariantOptions(fit=P, width=120, height=120), False),  # a border
    ((120, 80), VariantOptions(width=100, dpr=2), True),  # 200 wide: scale-down keeps 120
    ((120, 80), VariantOptions(blur=1), False),
    ((120, 80), VariantOptions(sharpen=1), False),
    ((120, 80), VariantOptions(format=OutputFormat.PNG), False),
    ((120, 80), VariantOptions(metadata=MetadataMode.NONE, quality=10), True),
]


@pytest.mark.parametrize(("size", "options", "expected"), VECTOR_TABLE, ids=repr)
def test_keeps_vector(size: tuple[int, int], options: VariantOptions, expected: bool) -> None:
    assert keeps_vector(*size, options) is expected


@pytest.mark.parametrize("source", list(Format))
@pytest.mark.parametrize("output", list(Format))
@pytest.mark.parametrize("anim", [True, False])
def test_may_animate(source: Format, output: Format, anim: bool) -> None:
    animated = {Format.GIF, Format.WEBP}
    expected = anim and source in animated and output in animated
    assert may_animate(source, output, VariantOptions(anim=anim)) is expected


# --- the output cap ------------------------------------------------------------------------------

# (source size, options, cap, expected geometry)
CAP_TABLE = [
    ((4000, 3000), VariantOptions(width=800), 25_000_000, Geometry(800, 600, 800, 600)),
    ((4000, 3000), VariantOptions(), 3_000_000, Geometry(2000, 1500, 2000, 1500)),
    ((10000, 10000), VariantOptions(), 25_000_000, Geometry(5000, 5000, 5000, 5000)),
    # pad: the picture and its border shrink together
    ((4000, 3000), VariantOptions(fit=P, width=6000, height=6000, dpr=2), 25_000_000,
     Geometry(5000, 3750, 5000, 5000)),
    # cover: the crop window keeps its place in the resized image
    ((4000, 3000), VariantOptions(fit=CV, width=6000, height=3000, dpr=2), 18_000_000,
     Geometry(6000, 4500, 6000, 3000)),
    ((4000, 3000), VariantOptions(fit=CV, width=6000, height=3000, dpr=2), 4_500_000,
     Geometry(3000, 2250, 3000, 1500)),
    ((100, 100), VariantOptions(fit=C, width=5000), 1, Geometry(1, 1, 1, 1)),
]  # fmt: skip


@pytest.mark.parametrize(("size", "options", "cap", "expected"), CAP_TABLE)
def test_the_output_cap_shrinks_the_whole_geometry(
    size: tuple[int, int], options: VariantOptions, cap: int, expected: Geometry
) -> None:
    found = plan_geometry(*size, options, cap)
    assert found == expected
    assert found.width * found.height <= cap


@pytest.mark.parametrize("cap", [1, 7, 1000, 999_999, 25_000_000])
@pytest.mark.parametrize("fit", list(Fit))
@pytest.mark.parametrize("box", [(None, None), (12000, None), (12000, 12000), (7, 11999)])
def test_no_output_is_over_the_cap(cap: int, fit: Fit, box: tuple[int | None, int | None]) -> None:
    options = VariantOptions(fit=fit, width=box[0], height=box[1], dpr=2)
    for size in [(1, 1), (12000, 1), (10000, 10000), (333, 7777)]:
        g = plan_geometry(*size, options, cap)
        assert g.width * g.height <= cap and min(g.width, g.height, g.scaled_width) >= 1


@pytest.mark.parametrize(
    ("output", "frames", "expected"),
    [
        (Format.JPEG, 1, 25_000_000),
        (Format.WEBP, 10, 2_500_000),
        (Format.GIF, 1, 1_000_000),  # one GIF frame: a 25th of the cap
        (Format.GIF, 100, 250_000),
        (Format.PNG, 10**9, 1),
    ],
)
def test_output_pixel_cap(output: Format, frames: int, expected: int) -> None:
    assert output_pixel_cap(output, frames, 25_000_000) == expected


@pytest.mark.parametrize(("size", "effort"), [((500, 500), 7), ((501, 500), 1), ((1, 1), 7)])
def test_gif_effort(size: tuple[int, int], effort: int) -> None:
    assert gif_effort(*size) == effort


# --- blur on a reduced copy ----------------------------------------------------------------------

# (amount, size, expected plan)
BLUR_TABLE = [
    (0, (1000, 1000), None),
    (-1, (1000, 1000), None),
    (NAN, (1000, 1000), None),
    (2, (1000, 1000), Blur(1.0, 1.0)),
    (12, (1000, 1000), Blur(1.0, 6.0)),  # up to sigma 6: at full size
    (24, (1000, 1000), Blur(2.0, 6.0)),
    (250, (5000, 5000), Blur(125 / 6, 6.0)),  # the widest blur: on a copy 21x smaller
    (250, (80, 4000), Blur(10.0, 12.5)),  # the copy keeps 8 px on its shorter side
    (250, (4, 4), Blur(1.0, 125.0)),  # too small to reduce: cheap anyway
    (1e9, (5000, 5000), Blur(125 / 6, 6.0)),
]


@pytest.mark.parametrize(("amount", "size", "expected"), BLUR_TABLE)
def test_blur_plan(amount: float, size: tuple[int, int], expected: Blur | None) -> None:
    found = blur_plan(amount, *size)
    assert found == (expected if expected is None else pytest.approx(expected))
    if found is not None:  # the same blur, in full-size pixels
        assert found.shrink * found.sigma == pytest.approx(min(amount, 250) / 2)


# --- what a render costs -------------------------------------------------------------------------

HEAVY = 10_000_000
JPG, PNGF = Format.JPEG, Format.PNG


def cost(size: tuple[int, int], source: Format, output: Format, options: VariantOptions) -> int:
    geometry = plan_geometry(*size, options, 25_000_000)
    return render_cost(*size, source, output, geometry, options)


@pytest.mark.parametrize(
    ("size", "source", "output", "options", "heavy"),
    [
        ((4000, 3000), JPG, JPG, VariantOptions(width=800), False),  # shrink-on-load
        ((4000, 3000), JPG, Format.AVIF, VariantOptions(width=800), False),
        ((4000, 3000), Format.WEBP, Format.WEBP, VariantOptions(width=800), False),
        ((800, 600), JPG, JPG, VariantOptions(width=200, blur=250), False),
        ((4000, 3000), JPG, JPG, VariantOptions(), True),  # 12 MP out
        ((4000, 3000), PNGF, JPG, VariantOptions(width=800), True),  # PNG decodes it all
        ((4000, 3000), JPG, JPG, VariantOptions(fit=P, width=3000, height=3000, dpr=2), True),
        ((2000, 1500), JPG, JPG, VariantOptions(width=1000), False),
        ((2000, 1500), JPG, JPG, VariantOptions(width=1000, sharpen=5, blur=9), False),
    ],
)
def test_render_cost_tells_heavy_from_light(
    size: tuple[int, int], source: Format, output: Format, options: VariantOptions, heavy: bool
) -> None:
    assert (cost(size, source, output, options) > HEAVY) is heavy


def test_render_cost_grows_with_the_work() -> None:
    base = VariantOptions(width=1600)
    plain = cost((4000, 3000), JPG, JPG, base)
    assert cost((4000, 3000), JPG, JPG, VariantOptions(width=1600, blur=5)) > plain
    assert cost((4000, 3000), JPG, JPG, VariantOptions(width=1600, sharpen=5)) > plain
    assert cost((4000, 3000), JPG, Format.AVIF, base) > cost((4000, 3000), JPG, Format.WEBP, base)
    assert cost((4000, 3000), PNGF, JPG, base) > plain
    assert cost((4000, 3000), JPG, JPG, VariantOptions(width=3200)) > plain
