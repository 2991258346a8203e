"""Size limits: a 100-megapixel image is accepted at the limit, refused past it, and never
costs memory in proportion to its pixels."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import httpx
import pyvips

from harness import Server, dimensions


def flat_png(width: int, height: int) -> bytes:
    data: bytes = (
        (pyvips.Image.black(width, height) + 128).cast("uchar").pngsave_buffer(compression=1)
    )
    return data


def test_100_megapixel_png_is_accepted_and_rendered(server: Server) -> None:
    with server.client() as c:
        r = c.post(
            server.images_url,
            files={"file": ("big.png", flat_png(10000, 10000))},
            data={"id": "big"},
        )
    assert r.status_code == 200, r.text
    out = httpx.get(f"{server.base_url}/{server.account_hash}/big/public", timeout=60)
    assert out.status_code == 200
    assert dimensions(out.content) == (5000, 5000)  # shrunk to IMAGEGATE_MAX_OUTPUT_PIXELS
    with server.client() as c:
        c.patch(f"{server.images_url}/config", json={"flexible_variants": True})
    small = httpx.get(f"{server.base_url}/{server.account_hash}/big/w=800", timeout=60)
    assert small.status_code == 200 and dimensions(small.content) == (800, 800)


def test_past_100_megapixels_is_refused_before_decoding(server: Server) -> None:
    with server.client() as c:
        r = c.post(server.images_url, files={"file": ("big.png", flat_png(10001, 10000))})
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == 5455


def test_rendering_100_megapixels_stays_small_in_memory() -> None:
    script = textwrap.dedent(
        """
        import resource, pyvips
        from imagegate.adapters import imaging
        from imagegate.core.models import Format, VariantOptions
        data = (pyvips.Image.black(10000, 10000) + 90).cast("uchar").pngsave_buffer(compression=1)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        imaging.render(data, Format.PNG, VariantOptions(width=800, height=800), Format.JPEG)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    grown_mb = int(done.stdout.strip()) / 1024
    assert grown_mb < 150, f"peak memory grew by {grown_mb:.0f} MB for a 100 MP render"
