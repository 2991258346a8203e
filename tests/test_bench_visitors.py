"""The visitor benchmarks' own pieces (bench/visitors.py): the corpus is distinct and stable,
and the figures read from the servers are read right."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from imagegate.core.models import Format, OutputFormat, VariantOptions
from imagegate.core.negotiation import choose_output, output_side
from imagegate.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import visitors


def _digest(index: int) -> str:
    image = visitors.corpus_image(index, scale=0.05)
    return hashlib.sha256(image.write_to_memory()).hexdigest()


def test_corpus_originals_are_distinct_and_stable() -> None:
    digests = [_digest(i) for i in range(visitors.CORPUS)]
    assert len(set(digests)) == visitors.CORPUS  # no two originals share their pixels
    assert _digest(5) == digests[5]  # seeded: the same corpus on every machine


def test_corpus_mixes_photos_line_art_and_portraits() -> None:
    shapes = [visitors.corpus_image(i, scale=0.05) for i in range(visitors.CORPUS)]
    portraits = [image for image in shapes if image.height > image.width]
    assert 0 < len(portraits) < len(shapes)
    # line art is mostly white paper; photos are not
    whites = [
        image.colourspace("b-w").relational_const("more", 240).avg() / 255 for image in shapes
    ]
    line_art = [i for i, white in enumerate(whites) if white > 0.5]
    assert line_art == [i for i in range(visitors.CORPUS) if i % visitors.LINE_ART_EVERY == 3]
    assert all(image.bands == 3 and image.interpretation == "srgb" for image in shapes)


def test_metric_total_sums_labels_and_tells_absence() -> None:
    text = (
        "# HELP imagegate_copies_pending originals waiting\n"
        "# TYPE imagegate_copies_pending gauge\n"
        'imagegate_copies_pending{worker="1"} 2\n'
        'imagegate_copies_pending{worker="2"} 3.0\n'
        "imagegate_copies_pending_seconds 9\n"
        "imagegate_requests_total 7\n"
    )
    assert visitors.metric_total(text, "imagegate_copies_pending") == 5.0
    assert visitors.metric_total(text, "imagegate_requests_total") == 7.0
    assert visitors.metric_total(text, "imagegate_renders_total") is None


@pytest.mark.parametrize(
    ("share", "expected"), [(0.5, 12.0), (0.99, 24.0), (0.01, 1.0), (0.75, 18.0)]
)
def test_percentile_is_nearest_rank(share: float, expected: float) -> None:
    values = [float(v) for v in range(24, 0, -1)]
    assert visitors.percentile(values, share) == expected


@pytest.mark.parametrize("width", visitors.SIZES)
@pytest.mark.parametrize("client", list(visitors.CLIENTS))
@pytest.mark.parametrize("shape", [(4000, 3000), (3000, 4000)])
def test_thumbor_is_asked_for_the_format_imagegate_negotiates(
    width: int, client: str, shape: tuple[int, int]
) -> None:
    options = VariantOptions.from_dict(visitors.variant_options(width, client))
    side = output_side(*shape, options)
    chosen = choose_output(
        OutputFormat.AUTO, visitors.CLIENTS[client], Format.JPEG, side, Settings().avif_max_side
    )
    path = visitors.thumbor_path(width, client, Path("original-00.jpg"))
    assert path.startswith(f"/unsafe/{width}x0/")
    if chosen.format is Format.JPEG:
        assert "format(" not in path
    else:
        assert f"filters:format({chosen.format.value})/" in path
    # Chrome gets AVIF wherever the output is small enough for it, portraits included
    if client == "chrome" and width <= visitors.AVIF_MAX_SIDE:
        assert chosen.format is Format.AVIF


def test_each_client_has_its_own_variant_of_the_same_output() -> None:
    for width in visitors.SIZES:
        names = {visitors.variant_name(width, client) for client in visitors.CLIENTS}
        assert len(names) == len(visitors.CLIENTS)
        assert all(name.isalnum() for name in names)
        boxes = [visitors.variant_options(width, client) for client in visitors.CLIENTS]
        assert {box["width"] for box in boxes} == {width}
        assert len({box["height"] for box in boxes}) == len(boxes)
        # tall enough that a 3:4 portrait is still width-bound: the same output for all
        assert all(int(str(box["height"])) >= width * 4 / 3 for box in boxes)
