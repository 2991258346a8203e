"""Reduced copies of the originals ("levels"): which one a render reads (a table of the pure
rule), and, on a real store (SQLite and the local disk) through the use cases, that they are
derived in the background, read by renders, rebuilt when missing or damaged, deleted with
their image and known to gc; then the quality corpus (photos, line art, text screenshots made
here) within 1 dB PSNR of the original's render at 200, 800 and 1600 px, the storage they take,
and EXIF orientation and colour profiles giving the same render either way."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest
import pyvips

from imagegate.assembly import Imagegate, build
from imagegate.core import levels
from imagegate.core.models import Account, Fit, Format, Image, MetadataMode, Variant, VariantOptions
from imagegate.core.render_plan import Geometry, plan_geometry
from imagegate.settings import Settings
from imagegate.usecases.delivery import FLEXIBLE
from imagegate.usecases.planning import Authorized

# --- the pure rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "width", "height", "expected"),
    [
        (Format.JPEG, 4000, 3000, (4, 8)),  # 1000, 500 (250 < 256: no 1/16)
        (Format.JPEG, 6000, 4000, (4, 8, 16)),  # 1500, 750, 375
        (Format.JPEG, 3000, 4000, (4, 8)),  # the longest side counts, portrait too
        (Format.PNG, 4000, 3000, ()),  # lossless line art and text: see core/levels.py
        (Format.JPEG, 1024, 100, (4,)),
        (Format.JPEG, 1023, 1023, ()),  # 255.75 < 256
        (Format.WEBP, 2048, 2048, (4, 8)),
        (Format.HEIC, 2048, 1536, (4, 8)),
        (Format.GIF, 4000, 3000, ()),
        (Format.SVG, 4000, 3000, ()),
        (None, 4000, 3000, ()),
    ],
)
def test_divisors(
    source: Format | None, width: int, height: int, expected: tuple[int, ...]
) -> None:
    assert levels.divisors(source, width, height) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("originals/a/bc/bcdef.levels/4", "originals/a/bc/bcdef"),
        ("originals/a/bc/bcdef.levels/16", "originals/a/bc/bcdef"),
        ("originals/a/bc/bcdef", None),
        ("originals/a/bc/bcdef.levels/x", None),
        ("originals/a/bc/bcdef.levels/", None),
        (".levels/4", None),
    ],
)
def test_original_key(key: str, expected: str | None) -> None:
    assert levels.original_key(key) == expected
    if expected is not None:
        assert levels.level_key(expected, int(key.rsplit("/", 1)[1])) == key


def _opts(**kw: object) -> VariantOptions:
    return VariantOptions(**kw)  # type: ignore[arg-type]


W, H = 4000, 3000  # levels 1000x750 (4) and 500x375 (8)


@pytest.mark.parametrize(
    ("source", "output", "options", "expected"),
    [
        (Format.JPEG, Format.JPEG, _opts(width=200), 8),  # the smallest still >= 200x150
        (Format.JPEG, Format.JPEG, _opts(width=500), 8),  # exactly the level's size
        (Format.JPEG, Format.JPEG, _opts(width=501), 4),
        (Format.JPEG, Format.JPEG, _opts(width=800), 4),
        (Format.JPEG, Format.JPEG, _opts(width=1000), 4),
        (Format.JPEG, Format.JPEG, _opts(width=1001), None),  # no level big enough
        (Format.JPEG, Format.JPEG, _opts(width=1600), None),
        (Format.JPEG, Format.JPEG, _opts(width=400, dpr=2), 4),  # 800 px after dpr
        (Format.JPEG, Format.JPEG, _opts(), None),  # no resize: the original's size
        (Format.JPEG, Format.JPEG, _opts(width=200, metadata=MetadataMode.KEEP), None),
        (Format.JPEG, Format.JPEG, _opts(width=200, metadata=MetadataMode.NONE), 8),
        (Format.JPEG, Format.JPEG, _opts(width=200, metadata=MetadataMode.COPYRIGHT), 8),
        (Format.JPEG, Format.AVIF, _opts(width=200), 8),
        # cover 200x200 resizes to 267x200 first: the level must hold that
        (Format.JPEG, Format.JPEG, _opts(width=200, height=200, fit=Fit.COVER), 8),
        (Format.JPEG, Format.JPEG, _opts(width=600, height=600, fit=Fit.COVER), 4),
        # auto gravity studies a 400 px preview: the 500 px level still holds it ...
        (Format.JPEG, Format.JPEG, _opts(width=100, height=100, fit=Fit.COVER, gravity="auto"), 8),
        # ... and without a crop, gravity does nothing
        (Format.JPEG, Format.JPEG, _opts(width=100, gravity="auto"), 8),
        (Format.GIF, Format.GIF, _opts(width=200), None),
        (Format.WEBP, Format.WEBP, _opts(width=200), None),  # may keep an animation's frames
        (Format.WEBP, Format.WEBP, _opts(width=200, anim=False), 8),  # the first frame only
        (Format.WEBP, Format.JPEG, _opts(width=200), 8),  # JPEG keeps one frame anyway
        (Format.SVG, Format.SVG, _opts(width=200), None),
        (Format.PNG, Format.PNG, _opts(width=200), None),
        (Format.JPEG, Format.PNG, _opts(width=200, height=10, fit=Fit.SCALE_DOWN), 8),
    ],
)
def test_choose(
    source: Format, output: Format, options: VariantOptions, expected: int | None
) -> None:
    geometry = plan_geometry(W, H, options, 25_000_000)
    assert levels.choose(source, W, H, output, options, geometry) == expected


def test_choose_auto_gravity_needs_the_preview() -> None:
    """A 1100x1100 original has one level, 275x275: too small for the 400 px preview that
    places an auto crop, though big enough for the crop itself."""
    options = _opts(width=100, height=50, fit=Fit.COVER, gravity="auto")
    geometry = plan_geometry(1100, 1100, options)
    assert levels.choose(Format.JPEG, 1100, 1100, Format.JPEG, options, geometry) is None
    centred = _opts(width=100, height=50, fit=Fit.COVER)
    assert levels.choose(Format.JPEG, 1100, 1100, Format.JPEG, centred, geometry) == 4
    assert isinstance(geometry, Geometry)


# --- on a real store ------------------------------------------------------------------------


def photo(width: int, height: int, seed: int = 42) -> pyvips.Image:
    """Photo-like: gradients, blurred noise as texture, fine grain."""
    xy = pyvips.Image.xyz(width, height)
    x, y = xy[0], xy[1]
    red = x * (200 / width) + 30
    green = y * (180 / height) + 40
    blue = (x * (1080 / width)).sin() * 60 + (y * (720 / height)).cos() * 50 + 120
    texture = pyvips.Image.gaussnoise(width, height, sigma=28, seed=seed).gaussblur(1.2)
    grain = pyvips.Image.gaussnoise(width, height, sigma=6, seed=seed + 1)
    return (red.bandjoin([green, blue]) + texture + grain).cast("uchar").copy(interpretation="srgb")


def line_art(width: int, height: int) -> pyvips.Image:
    """Thin dark lines and circles on white, antialiased, as a diagram or drawing."""
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    svg.append(f'<rect width="{width}" height="{height}" fill="white"/>')
    for i in range(0, width, max(1, width // 60)):
        svg.append(
            f'<line x1="{i}" y1="0" x2="{width - i}" y2="{height}" stroke="#123" stroke-width="3"/>'
        )
    for r in range(20, min(width, height) // 2, max(1, min(width, height) // 40)):
        svg.append(
            f'<circle cx="{width // 2}" cy="{height // 2}" r="{r}" fill="none" '
            f'stroke="#c22" stroke-width="4"/>'
        )
    svg.append("</svg>")
    return pyvips.Image.svgload_buffer("".join(svg).encode())[:3].copy(interpretation="srgb")


def screenshot(width: int, height: int) -> pyvips.Image:
    """Rows of dark text on a light background under a coloured title bar."""
    page = pyvips.Image.black(width, height).new_from_image([246, 246, 246]).cast("uchar")
    bar = pyvips.Image.black(width, height // 12).new_from_image([40, 90, 200]).cast("uchar")
    page = page.insert(bar, 0, 0).copy(interpretation="srgb")
    words = "imagegate renders reduced copies of each original " * 6
    mask = pyvips.Image.text(words, dpi=max(72, width // 12), width=width - 40)
    ink = pyvips.Image.black(mask.width, mask.height).new_from_image([20, 20, 20]).cast("uchar")
    ink = ink.bandjoin(mask).copy(interpretation="srgb")
    top = height // 10
    while top + mask.height < height:
        page = page.composite2(ink, "over", x=20, y=top)[:3].cast("uchar")
        top += mask.height + mask.height // 3
    return page.copy(interpretation="srgb")


class Store:
    """imagegate over SQLite and the local disk, with one account."""

    def __init__(self, data_dir: Path, **settings: object) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.gate: Imagegate = build(Settings(data_dir=data_dir, **settings))  # type: ignore[arg-type]
        self.gate.migrate()
        self.account: Account = self.gate.accounts.create("levels").account
        assert self.gate.levels is not None
        self.levels = self.gate.levels

    def upload(self, data: bytes) -> Image:
        return self.gate.images.upload(self.account, data)

    def render(self, image: Image, options: VariantOptions, accept: str = "image/jpeg") -> bytes:
        authorized = Authorized(self.account, image, Variant(FLEXIBLE, options), False, None)
        plan = self.gate.delivery.plan(authorized, accept)
        return self.gate.delivery.render(plan)

    def level_path(self, image: Image, divisor: int) -> Path:
        return self.data_dir / "blobs" / levels.level_key(image.blob_key, divisor)

    def close(self) -> None:
        self.gate.close()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    made = Store(tmp_path / "data")
    yield made  # type: ignore[misc]
    made.close()


def _jpeg(image: pyvips.Image, q: int = 90) -> bytes:
    return bytes(image.jpegsave_buffer(Q=q))


def test_upload_derives_levels_in_the_background(store: Store) -> None:
    image = store.upload(_jpeg(photo(2400, 1600)))
    assert store.levels.wait_idle(60)
    for divisor in (4, 8):  # 600x400, 300x200
        level = pyvips.Image.new_from_file(str(store.level_path(image, divisor)))
        assert (level.width, level.height) == levels.level_size(2400, 1600, divisor)
    assert not store.level_path(image, 16).exists()
    used = store.levels.used
    out = pyvips.Image.new_from_buffer(store.render(image, _opts(width=300)), "")
    assert (out.width, out.height) == (300, 200)
    assert store.levels.used == used + 1


@pytest.mark.parametrize("damage", ["missing", "truncated", "other size", "not an image"])
def test_missing_or_damaged_level_renders_from_the_original_and_is_rebuilt(
    store: Store, damage: str
) -> None:
    image = store.upload(_jpeg(photo(2400, 1600)))
    assert store.levels.wait_idle(60)
    path = store.level_path(image, 8)
    good = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 3])
    elif damage == "other size":
        path.write_bytes(_jpeg(photo(310, 200)))
    else:
        path.write_bytes(b"\x00" * 100)
    used = store.levels.used
    from_original = pyvips.Image.new_from_buffer(store.render(image, _opts(width=200)), "")
    assert (from_original.width, from_original.height) == (200, 133)
    assert store.levels.used == used  # not from the level
    assert store.levels.wait_idle(60)
    rebuilt = pyvips.Image.new_from_file(str(path))
    assert (rebuilt.width, rebuilt.height) == (600 // 2, 400 // 2)
    store.render(image, _opts(width=201))
    assert store.levels.used == used + 1


def test_delete_and_gc(store: Store) -> None:
    kept = store.upload(_jpeg(photo(2048, 1536)))
    gone = store.upload(_jpeg(photo(2048, 1536, seed=5)))
    assert store.levels.wait_idle(60)
    store.gate.images.delete(store.account, gone.id)
    assert not store.level_path(gone, 4).exists() and not store.level_path(gone, 8).exists()
    # a crash between a delete's steps leaves a level whose original is gone: gc takes it
    orphan = store.level_path(gone, 4)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(store.level_path(kept, 4).read_bytes())
    past = time.time() - 7200
    for path in (orphan, store.level_path(kept, 4), store.level_path(kept, 8)):
        os.utime(path, (past, past))
    report = store.gate.gc.collect(grace=3600)
    assert report.orphans_removed == 1
    assert not orphan.exists()
    assert store.level_path(kept, 4).exists() and store.level_path(kept, 8).exists()


def test_levels_build_for_images_stored_before(tmp_path: Path) -> None:
    """Images stored with copies turned off get theirs from ``build_missing`` (``imagegate
    levels build``), which skips those that have them."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    off = build(Settings(data_dir=data_dir, levels_queue=0))
    off.migrate()
    assert off.levels is None
    account = off.accounts.create("before").account
    old = [off.images.upload(account, _jpeg(photo(1200, 1200, seed=s))) for s in (1, 2)]
    off.close()
    on = Store(data_dir / ".." / "data")
    try:
        assert not on.level_path(old[0], 4).exists()
        images = [on.gate.images.store.get(account.id, i.id) for i in old]
        assert on.levels.build_missing([i for i in images if i]) == (2, 0)
        assert on.level_path(old[0], 4).exists() and on.level_path(old[1], 4).exists()
        assert on.levels.build_missing([i for i in images if i]) == (0, 0)
    finally:
        on.close()


# --- quality, storage, orientation and colour ------------------------------------------------


def psnr(a: pyvips.Image, b: pyvips.Image) -> float:
    mse = ((a.cast("float") - b.cast("float")) ** 2).avg()
    return math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)


def lanczos(original: pyvips.Image, width: int) -> pyvips.Image:
    image = original.cast("float")
    return image.resize(width / image.width, kernel="lanczos3").cast("uchar")


CORPUS_SIZE = (6400, 4800)  # 1600 px reads the 1/4 level, 800 the 1/8, 200 the 1/16


def corpus() -> list[tuple[str, pyvips.Image, bytes]]:
    w, h = CORPUS_SIZE
    return [
        ("photo", (p := photo(w, h).copy_memory()), _jpeg(p, 90)),
        ("line art", (a := line_art(w, h).copy_memory()), bytes(a.pngsave_buffer())),
        ("screenshot", (s := screenshot(w, h).copy_memory()), bytes(s.pngsave_buffer())),
    ]


def test_quality_and_storage_of_the_corpus(store: Store) -> None:
    """Served as each would be (the photo as JPEG, the PNGs as PNG), a render is within 1 dB
    PSNR of the render from the original, both against a float Lanczos resize of the
    original's pixels; and the levels take at most 35% of the originals' bytes. The PNGs
    (line art, text) have no levels, and render from their originals (through a level they
    lost about 6 dB at 200 and 800 px)."""
    originals = levels_bytes = 0
    figures = []
    for name, pixels, data in corpus():
        image = store.upload(data)
        assert store.levels.wait_idle(300)
        originals += len(data)
        levels_bytes += sum(
            store.level_path(image, d).stat().st_size
            for d in levels.divisors(image.format, image.width, image.height)
        )
        accept = "image/jpeg" if image.format is Format.JPEG else "image/png"
        decoded = pyvips.Image.new_from_buffer(data, "")
        for width in (200, 800, 1600):
            options = _opts(width=width, metadata=MetadataMode.NONE)
            reference = lanczos(decoded, width)
            used = store.levels.used
            from_level = pyvips.Image.new_from_buffer(store.render(image, options, accept), "")
            assert store.levels.used == used + (image.format is Format.JPEG), (name, width)
            original = store.gate.images.blobs.get(image.blob_key)
            direct, _ = store.gate.delivery.processor.render(
                original, image.format, options, Format(accept.split("/")[1])
            )
            from_original = pyvips.Image.new_from_buffer(direct, "")
            loss = psnr(from_original, reference) - psnr(from_level, reference)
            figures.append(f"{name} {width}: {loss:.2f} dB")
            assert loss <= 1.0, figures
    share = levels_bytes / originals
    print(figures, f"levels: {levels_bytes} bytes, {share:.1%} of the originals' bytes")
    assert share <= 0.35, share


def _profiled(pixels: pyvips.Image) -> pyvips.Image:
    """``pixels`` in Display P3 with the profile embedded: a render must convert it to sRGB."""
    return pixels.icc_export(output_profile="p3")


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("profile", [False, True])
def test_orientation_and_colour_profile_give_the_same_render(
    store: Store, orientation: int, profile: bool
) -> None:
    """A level is stored upright and in sRGB: a render from it has the original's upright
    size and, within JPEG's noise, its colours."""
    pixels = photo(2400, 1600, seed=orientation)
    if profile:
        pixels = _profiled(pixels)
    pixels = pixels.copy()
    pixels.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    image = store.upload(_jpeg(pixels, 92))
    assert store.levels.wait_idle(60)
    options = _opts(width=300, metadata=MetadataMode.NONE)
    used = store.levels.used
    from_level = pyvips.Image.new_from_buffer(store.render(image, options), "")
    assert store.levels.used == used + 1
    original = store.gate.images.blobs.get(image.blob_key)
    direct, _ = store.gate.delivery.processor.render(original, Format.JPEG, options, Format.JPEG)
    from_original = pyvips.Image.new_from_buffer(direct, "")
    upright = (1600, 2400) if orientation in (6, 8) else (2400, 1600)
    assert (image.width, image.height) == upright
    assert (from_level.width, from_level.height) == (from_original.width, from_original.height)
    assert from_level.width == 300
    assert psnr(from_level, from_original) > 38  # the same picture, the same way up
