"""Section G of spec/security-cases.md (what trusted projects do), where it makes a test:
G.73, damaged images through the whole upload-and-render path of a running server, and
G.76, the dependency floors. G.72, G.74 and G.75 are mapped in docs/security.md."""

from __future__ import annotations

import ast
import ipaddress
import random
import sys
from importlib.metadata import version

import httpx
import pyvips
from sec_common import check

from harness import ROOT, Server, add_account, jpeg, png
from imagegate.adapters import imaging
from imagegate.core.url_guard import blocked_reason


def as_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def seeds() -> dict[str, bytes]:
    strip = pyvips.Image.black(40, 30).new_from_image([200, 40, 90]).copy(interpretation="srgb")
    return {
        "jpeg": jpeg(60, 40),
        "png": png(60, 40),
        "gif": bytes(strip.gifsave_buffer()),
        "webp": bytes(strip.webpsave_buffer()),
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9">'
        b'<rect width="9" height="9" fill="#c33"/><text x="1" y="8">a&amp;b</text></svg>',
    }


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One of: flip bytes, cut the tail, repeat a slice, or splice in random bytes."""
    buf = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(buf))
            buf[at] ^= 1 << rng.randrange(8)
    elif kind == 1:
        del buf[rng.randrange(8, len(buf)) :]
    elif kind == 2:
        start = rng.randrange(len(buf))
        buf[start:start] = buf[start : start + rng.randint(1, 64)] * rng.randint(2, 50)
    else:
        start = rng.randrange(len(buf))
        buf[start : start + 4] = rng.randbytes(rng.randint(1, 32))
    return bytes(buf)


def test_g73_damaged_images_end_in_client_errors(shared: Server) -> None:
    """G.73 (and C.36) end to end: 120 seeded mutations of valid JPEG, PNG, GIF, WebP and
    SVG files are each accepted and rendered, or refused with 415/422 at upload or 422 at
    render; never a 5xx, never an unclean answer. (tests/test_fuzz_properties.py fuzzes the
    parsers themselves, and fuzz/ runs them under atheris.)"""
    srv = add_account(shared, "g73")
    rng = random.Random(73)
    files = seeds()
    outcomes: dict[int, int] = {}
    with srv.client() as api, httpx.Client() as viewer:
        for n in range(120):
            name = list(files)[n % len(files)]
            data = mutate(files[name], rng)
            r = api.post(srv.images_url, files={"file": (name, data)})
            check(r, srv)
            assert r.status_code in (200, 415, 422), (name, n, r.status_code, r.text)
            outcomes[r.status_code] = outcomes.get(r.status_code, 0) + 1
            if r.status_code != 200:
                continue
            image_id = r.json()["result"]["id"]
            served = viewer.get(f"{srv.base_url}/{srv.account_hash}/{image_id}/public")
            check(served, srv)
            assert served.status_code in (200, 422), (name, n, served.status_code)
    assert outcomes.get(200, 0) > 10 and sum(outcomes.values()) == 120, outcomes


def test_g76_dependency_floors() -> None:
    """G.76: python-multipart >= 0.0.27 (part-header, boundary and preamble DoS fixes), a
    current Starlette, a Python with the CVE-2023-24329 and CVE-2021-23336 fixes, libvips
    >= 8.7.4. Pillow and ImageMagick are not used: imagegate imports no PIL, and calls only
    the libvips loaders of its allowlist, by name. CPython 3.11.7 predates the CVE-2024-4032
    fix of ``is_private``/``is_global``; the upload-by-URL guard does not rely on them for
    the ranges that fix corrected (it lists them itself), as checked here."""
    assert as_tuple(version("python-multipart")) >= (0, 0, 27)
    assert as_tuple(version("starlette")) >= (0, 47, 2)
    assert sys.version_info >= (3, 11, 4)
    vips = tuple(pyvips.version(i) for i in range(3))
    assert vips >= (8, 7, 4)
    assert set(imaging._LOADERS.values()) == {
        "jpegload_buffer",
        "pngload_buffer",
        "gifload_buffer",
        "webpload_buffer",
        "heifload_buffer",
        "svgload_buffer",
    }
    for source in (ROOT / "src" / "imagegate").rglob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [n for n in names if n.split(".")[0] in ("PIL", "wand", "magick")], source
        assert "magickload" not in source.read_text(encoding="utf-8"), source
    for address in (
        "0.0.0.1",
        "192.0.0.8",
        "192.0.0.9",
        "192.0.0.170",
        "192.88.99.1",
        "100.64.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b:1::1",
        "2001:2::1",
        "2001:10::1",
        "2002:a00:1::1",
        "fc00::1",
    ):
        assert blocked_reason(ipaddress.ip_address(address)) is not None, address
