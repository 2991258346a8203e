"""The visitor benchmarks' own pieces (bench/visitors.py): the corpus is distinct and stable,
and the figures read from the servers are read right."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

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
