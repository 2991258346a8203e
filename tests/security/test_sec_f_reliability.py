"""Security cases F.63-F.65 and F.71 of spec/security-cases.md, the ones that run in
seconds. Crashes, a full disk, overload, deadlines, slow clients and shutdown (F.61, F.62,
F.66-F.70) are in tests/reliability/ and tests/test_overload.py; docs/security.md maps
them."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pydantic
import pytest
from sec_common import check, upload

from harness import Server, add_account, jpeg
from imagegate.settings import Settings
from imagegate.web.errors import api_response, unexpected


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_f63_readers_see_whole_old_whole_new_or_nothing(shared: Server) -> None:
    """F.63: imagegate never overwrites an image in place (a second upload under an id is a
    409); replacing is delete then upload. While that happens again and again, concurrent
    readers get the complete old image, the complete new one, or 404, with a Content-Length
    that matches the body and an ETag that never names two bodies."""
    srv = add_account(shared, "f63")
    old, new = jpeg(300, 200), jpeg(200, 300)
    upload(srv, old, id="ref-old")
    upload(srv, new, id="ref-new")
    link = f"{srv.base_url}/{srv.account_hash}/%s/public"
    with httpx.Client() as c:
        expected = {digest(c.get(link % name).content) for name in ("ref-old", "ref-new")}
    assert len(expected) == 2
    upload(srv, old, id="swap")
    stop = threading.Event()
    seen: list[tuple[int, str, str | None, int]] = []

    def read() -> None:
        with httpx.Client() as c:
            while not stop.is_set():
                r = c.get(link % "swap")
                length = int(r.headers.get("content-length", -1))
                seen.append((r.status_code, digest(r.content), r.headers.get("etag"), length))
                assert length == len(r.content)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        with srv.client() as c:
            for data in (new, old, new, old, new):
                assert c.delete(f"{srv.images_url}/swap").status_code == 200
                files = {"file": ("s.jpg", data)}
                assert c.post(srv.images_url, files=files, data={"id": "swap"}).status_code == 200
                assert c.post(srv.images_url, files=files, data={"id": "swap"}).status_code == 409
    finally:
        stop.set()
        for thread in readers:
            thread.join(10)
    statuses = {status for status, *_ in seen}
    assert statuses <= {200, 404} and 200 in statuses, statuses
    bodies_by_etag: dict[str | None, set[str]] = {}
    for status, body, etag, _length in seen:
        if status == 200:
            assert body in expected
            bodies_by_etag.setdefault(etag, set()).add(body)
    assert all(len(bodies) == 1 for bodies in bodies_by_etag.values())  # an ETag, one body


def test_f64_concurrent_uploads_get_distinct_ids_and_one_wins_a_custom_id(
    shared: Server,
) -> None:
    """F.64: 40 uploads at once get 40 distinct ids, all readable, with no temporary file
    left; racing creates of one custom id end in exactly one 200 and 409s."""
    srv = add_account(shared, "f64")
    picture = jpeg(64, 48)

    with srv.client() as c:

        def post(custom_id: str | None) -> httpx.Response:
            data = {"id": custom_id} if custom_id else {}
            return c.post(srv.images_url, files={"file": ("a.jpg", picture)}, data=data)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(post, [None] * 40))
            races = {n: list(pool.map(post, [f"race-{n}"] * 4)) for n in range(3)}
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers][:3]
    ids = {r.json()["result"]["id"] for r in answers}
    assert len(ids) == 40
    with httpx.Client() as c:
        for image_id in ids:
            r = c.get(f"{srv.base_url}/{srv.account_hash}/{image_id}/public")
            assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    for replies in races.values():
        for r in replies:
            check(r, srv)
        assert sorted(r.status_code for r in replies) == [200, 409, 409, 409]
    assert not list((srv.data_dir / "blobs").rglob(".*.tmp"))


def test_f65_delete_is_final_and_repeatable(shared: Server) -> None:
    """F.65, the rule pinned: DELETE answers 200 (Cloudflare's ``{}`` result), a second
    DELETE 404 (5404), never 500 or 403; the image is gone from delivery at once, caches
    included; GETs racing a DELETE get the complete image or 404."""
    srv = add_account(shared, "f65")
    upload(srv, jpeg(300, 200), id="gone")
    link = f"{srv.base_url}/{srv.account_hash}/gone/public"
    with httpx.Client() as reader:
        whole = reader.get(link)
        assert whole.status_code == 200
        reference = digest(whole.content)
        with srv.client() as c:
            seen: list[tuple[int, str]] = []

            def read() -> None:
                with httpx.Client() as mine:
                    for _ in range(30):
                        r = mine.get(link)
                        seen.append((r.status_code, digest(r.content)))

            racers = [threading.Thread(target=read) for _ in range(3)]
            for thread in racers:
                thread.start()
            time.sleep(0.02)
            first = c.delete(f"{srv.images_url}/gone")
            for thread in racers:
                thread.join(10)
            second = c.delete(f"{srv.images_url}/gone")
        assert first.status_code == 200 and first.json()["result"] == {}
        assert second.status_code == 404 and second.json()["errors"][0]["code"] == 5404
        check(second, srv)
        after = reader.get(link)
        assert after.status_code == 404 and after.text == "ERROR 9431: Not found"
    for status, body in seen:
        assert status in (200, 404)
        if status == 200:
            assert body == reference


def test_f71_unsafe_limits_cannot_be_configured() -> None:
    """F.71: the pixel and side limits cannot be switched off (no ``None``, no 0), and an
    unexpected error answers a fixed text whatever it carried (there is no debug mode that
    would show it). Refusing to start on unsafe signing settings is tests/test_safety.py."""
    for field in ("max_image_pixels", "max_image_side", "max_upload_bytes"):
        for value in (None, 0, -1):
            with pytest.raises(pydantic.ValidationError):
                Settings(**{field: value})
    answer = api_response(
        unexpected(RuntimeError("Traceback: /work/main/data secret-key-material"), "a test")
    )
    assert answer.status_code == 500
    assert answer.body == (
        b'{"result":null,"success":false,"errors":[{"code":5500,"message":"Internal error"}],'
        b'"messages":[]}'
    )
