"""The images API over real HTTP: upload, details, list, edit, delete, blob, custom ids."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from harness import Server, dimensions, jpeg, png, serve_account
from imagegate.settings import Settings


def upload(srv: Server, data: bytes, **fields: str) -> dict:
    with srv.client() as c:
        r = c.post(srv.images_url, files={"file": ("photo.jpg", data)}, data=fields)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["errors"] == []
    return body["result"]


def test_upload_returns_cloudflare_image_object(server: Server) -> None:
    image = upload(server, jpeg(), metadata=json.dumps({"owner": "ana"}), creator="u1")
    assert set(image) >= {"id", "filename", "uploaded", "requireSignedURLs", "variants", "meta"}
    assert image["filename"] == "photo.jpg"
    assert image["meta"] == {"owner": "ana"}
    assert image["creator"] == "u1"
    assert image["requireSignedURLs"] is False
    assert image["uploaded"].endswith("Z") and len(image["uploaded"]) == 24
    assert image["variants"] == [f"{server.base_url}/{server.account_hash}/{image['id']}/public"]
    assert "draft" not in image


def test_details_list_edit_delete_round_trip(server: Server) -> None:
    first = upload(server, jpeg())
    second = upload(server, png())
    with server.client() as c:
        got = c.get(f"{server.images_url}/{first['id']}").json()["result"]
        assert got == first
        listed = c.get(server.images_url, params={"per_page": 10}).json()["result"]["images"]
        assert [i["id"] for i in listed] == [second["id"], first["id"]]
        edited = c.patch(
            f"{server.images_url}/{first['id']}",
            json={"requireSignedURLs": True, "metadata": {"k": "v"}, "creator": "bob"},
        ).json()["result"]
        assert (edited["requireSignedURLs"], edited["meta"], edited["creator"]) == (
            True,
            {"k": "v"},
            "bob",
        )
        assert c.delete(f"{server.images_url}/{first['id']}").json()["result"] == {}
        gone = c.get(f"{server.images_url}/{first['id']}")
        assert gone.status_code == 404
        assert gone.json()["errors"][0]["code"] == 5404


def test_blob_returns_the_original_bytes(server: Server) -> None:
    data = jpeg(300, 200)
    image = upload(server, data)
    with server.client() as c:
        r = c.get(f"{server.images_url}/{image['id']}/blob", headers={"Accept": "image/*"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "custom_id",
    ["products/shoes/red.jpg", "café/ünï côde.png", "a" * 1024, "with%percent", "q?uery#frag"],
)
def test_custom_ids_may_be_private_and_are_addressed_encoded(
    server: Server, custom_id: str
) -> None:
    image = upload(server, jpeg(64, 64), id=custom_id, requireSignedURLs="true")
    assert image["id"] == custom_id and image["requireSignedURLs"] is True
    with server.client() as c:
        r = c.get(f"{server.images_url}/{quote(custom_id, safe='')}")
    assert r.status_code == 200 and r.json()["result"]["id"] == custom_id


@pytest.mark.parametrize(
    ("custom_id", "why"),
    [
        ("/lead", "start"),
        ("trail/", "end"),
        ("083eb7b2-5392-4565-b69e-aff66acddd00", "UUID"),
        ("a" * 1025, "1024"),
        ("a//b", "empty"),
        ("a/../b", "'..'"),
        ("keys", "reserved"),
    ],
)
def test_invalid_custom_ids_are_refused(server: Server, custom_id: str, why: str) -> None:
    with server.client() as c:
        r = c.post(
            server.images_url, files={"file": ("x.jpg", jpeg(32, 32))}, data={"id": custom_id}
        )
    assert r.status_code == 400
    error = r.json()["errors"][0]
    assert error["code"] == 5400 and why in error["message"]


def test_duplicate_custom_id_is_a_conflict_and_keeps_the_first(server: Server) -> None:
    first = jpeg(50, 50)
    upload(server, first, id="dup")
    with server.client() as c:
        r = c.post(server.images_url, files={"file": ("x.jpg", jpeg(60, 60))}, data={"id": "dup"})
        assert r.status_code == 409
        blob = c.get(f"{server.images_url}/dup/blob").content
    assert dimensions(blob) == (50, 50)


def test_sdk_style_flattened_metadata_is_rebuilt(server: Server) -> None:
    image = upload(
        server,
        jpeg(40, 40),
        **{"metadata.owner": "ana", "metadata.tags[]": "x", "metadata.nested.level": "2"},
    )
    assert image["meta"] == {"owner": "ana", "tags": ["x"], "nested": {"level": "2"}}


@pytest.mark.parametrize(
    ("files", "data", "status", "code"),
    [
        ({"file": ("x.txt", b"hello, not an image")}, {}, 415, 5455),
        ({"file": ("x.jpg", jpeg(20, 20)[:200])}, {}, 422, 5455),
        ({}, {"id": "x"}, 400, 5400),
        ({"file": ("x.jpg", jpeg(20, 20))}, {"metadata": "{not json"}, 400, 5400),
        ({"file": ("x.jpg", jpeg(20, 20))}, {"metadata": json.dumps({"a": "x" * 1100})}, 400, 5400),
        ({"file": ("x.jpg", jpeg(20, 20))}, {"requireSignedURLs": "maybe"}, 400, 5400),
    ],
    ids=["not-an-image", "truncated", "no-file", "bad-json", "metadata-too-big", "bad-bool"],
)
def test_bad_uploads_get_documented_errors(
    server: Server, files: dict, data: dict, status: int, code: int
) -> None:
    with server.client() as c:
        r = c.post(server.images_url, files=files or {"other": ("a", b"b")}, data=data)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False and body["result"] is None
    assert body["errors"][0]["code"] == code


def test_raw_body_upload_is_refused_as_not_a_form(server: Server) -> None:
    with server.client() as c:
        r = c.post(server.images_url, content=jpeg(20, 20), headers={"content-type": "image/jpeg"})
    assert r.status_code == 415 and r.json()["errors"][0]["code"] == 5415


def test_oversized_upload_is_refused_on_the_stream(server: Server) -> None:
    limit = server.gate.images.max_upload_bytes  # type: ignore[union-attr]

    def body():  # no Content-Length: the server must count as it reads
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n'
        for _ in range(limit // 65536 + 4):
            yield b"\xff" * 65536
        yield b"\r\n--b--\r\n"

    with server.client() as c:
        r = c.post(
            server.images_url,
            content=body(),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
    assert r.status_code == 413 and r.json()["errors"][0]["code"] == 5413


def test_missing_or_wrong_token(server: Server) -> None:
    with server.client(token="nope") as c:
        assert c.get(server.images_url).status_code == 401
    import httpx

    r = httpx.get(server.images_url)
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == 10000


def test_unknown_route_has_the_envelope(server: Server) -> None:
    with server.client() as c:
        r = c.get(f"/accounts/{server.account_id}/images/v9/what")
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] == 7003


@pytest.mark.parametrize("megabytes", [2, 2.5])
def test_the_size_refusal_names_the_configured_limit(tmp_path: Path, megabytes: float) -> None:
    """Every way an upload can be too large says the limit this server has, in Cloudflare's
    words: the declared length, the counted stream, and the file part."""
    limit = int(megabytes * 1024**2)
    settings = Settings(data_dir=tmp_path / "data", max_upload_bytes=limit)
    words = f"Maximum image size of {megabytes:g} MB is reached"

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n'
        for _ in range(limit // 65536 + 4):
            yield b"\xff" * 65536
        yield b"\r\n--b--\r\n"

    form = {"content-type": "multipart/form-data; boundary=b"}
    with serve_account(settings) as srv, srv.client() as c:
        answers = [
            # the file part is over the limit, the body within the form's allowance
            c.post(srv.images_url, files={"file": ("big.jpg", b"\xff" * (limit + 1))}),
            # the declared length is over the limit and the form's allowance
            c.post(srv.images_url, files={"file": ("big.jpg", b"\xff" * (limit + 2**17))}),
            c.post(srv.images_url, content=streamed(), headers=form),
        ]
    for answer in answers:
        assert answer.status_code == 413, answer.text
        assert answer.json()["errors"][0] == {"code": 5413, "message": words}
