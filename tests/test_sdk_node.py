"""The official Cloudflare SDK for JavaScript (npm ``cloudflare``), pointed at a running
imagegate with ``baseURL`` and ``apiToken`` as its users configure it, works unchanged for
every images method it has, and what it returns has the shape of the SDK's own types.

The SDK runs in Node (tests/interop/sdk.mjs), one call at a time; it is installed at a
pinned version into the git-ignored ``.cache/npm`` on first use. Its TypeScript types exist
only at compile time, so the shapes they declare (resources/images/**/*.d.ts of that
version) are checked here, field by field, on the objects the SDK hands back.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import subprocess
import threading
import time
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from harness import Server, dimensions, jpeg, png
from imagegate.settings import Settings
from nodejs import INTEROP_DIR, NpmPackage, require_node, require_package, run_signer

CLOUDFLARE_SDK = NpmPackage("cloudflare", "7.3.0")
SDK_MJS = INTEROP_DIR / "sdk.mjs"
CALL_TIMEOUT = 60.0


class SdkError(AssertionError):
    """An SDK call that should have worked did not: says what was sent and answered."""


class NodeSdk:
    """The SDK in a node process: ``call`` runs one method and returns what it returned."""

    def __init__(self, node: str, sdk_dir: Path, base_url: str, api_token: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFLARE_")}
        env["CLOUDFLARE_SDK_DIR"] = str(sdk_dir)
        self.proc = subprocess.Popen(
            [node, str(SDK_MJS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.buffer = b""
        self.last: dict[str, Any] = {}
        ready = self._send({"baseURL": base_url, "apiToken": api_token})
        assert ready == {"ready": "Cloudflare"}, ready

    def _send(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + CALL_TIMEOUT
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([self.proc.stdout], [], [], max(0.0, left))
            chunk = os.read(self.proc.stdout.fileno(), 65536) if readable else b""
            if not chunk:
                self.close()
                stderr = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise SdkError(f"sdk.mjs gave no answer to {message}:\n{stderr}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _answer(self, method: str, args: tuple[Any, ...], mode: str) -> dict[str, Any]:
        self.last = self._send({"method": method, "args": list(args), "mode": mode})
        return self.last

    def call(self, method: str, *args: Any, mode: str = "await") -> Any:
        answer = self._answer(method, args, mode)
        if "error" in answer:
            raise SdkError(
                f"{method} failed: {answer['error']}\n"
                + json.dumps(answer["exchanges"], indent=1, ensure_ascii=False)
            )
        return answer["value"]

    def fails(self, method: str, *args: Any) -> dict[str, Any]:
        """The SDK error a call must raise: its class, status and Cloudflare ``errors``."""
        answer = self._answer(method, args, "await")
        assert "error" in answer, f"{method} should have failed: {answer}"
        error: dict[str, Any] = answer["error"]
        assert error["isCloudflareError"], error
        return error

    def describe(self, resource: str) -> list[str]:
        """The dotted names of every method under ``client.<resource>``."""
        names: list[str] = self._send({"describe": resource})["value"]
        return names

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def upload_file(data: bytes, name: str = "image.jpg", mime: str = "image/jpeg") -> dict[str, Any]:
    """A file argument, made into the SDK's own ``toFile(...)`` in Node."""
    return {"$file": {"base64": base64.b64encode(data).decode(), "name": name, "type": mime}}


# --- the shapes the SDK declares (cloudflare@7.3.0, resources/images/**/*.d.ts) ------------

NUMBER = (int, float)
FITS = {"scale-down", "contain", "cover", "crop", "pad"}
METADATA = {"keep", "copyright", "none"}

#: interface Image (v1.d.ts): every field optional.
IMAGE: dict[str, Any] = {
    "id": str,
    "creator": (str, type(None)),
    "filename": str,
    "meta": object,
    "requireSignedURLs": bool,
    "uploaded": str,
    "variants": [str],
}
#: interface Key, KeyListResponse (keys.d.ts).
KEYS: dict[str, Any] = {"keys": [{"name": str, "value": str}]}
#: VariantGetResponse.Variant and its Options (variants.d.ts): id and options required.
VARIANT: dict[str, Any] = {
    "id": str,
    "options": {"fit": FITS, "height": NUMBER, "metadata": METADATA, "width": NUMBER},
    "neverRequireSignedURLs": bool,
}
VARIANT_REQUIRED = {"id", "options"}
#: interface Stat (stats.d.ts).
STAT: dict[str, Any] = {"count": {"allowed": NUMBER, "current": NUMBER}}
#: interface V2ListResponse (v2.d.ts).
V2_LIST: dict[str, Any] = {"continuation_token": (str, type(None)), "images": [IMAGE]}
#: interface DirectUploadCreateResponse (direct-uploads.d.ts).
DIRECT_UPLOAD: dict[str, Any] = {"id": str, "uploadURL": str}


def shape_problems(value: Any, shape: Any, where: str = "result") -> list[str]:
    """Where ``value`` breaks the declared ``shape``: a dict of fields (each optional), a
    one-element list (array of), a set (string literal union), or a type or tuple of types."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object"]
        return [
            problem
            for name, field in shape.items()
            if name in value
            for problem in shape_problems(value[name], field, f"{where}.{name}")
        ]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not an array"]
        items = enumerate(value)
        return [p for i, v in items for p in shape_problems(v, shape[0], f"{where}[{i}]")]
    if isinstance(shape, set):
        return [] if value in shape else [f"{where}: {value!r} is not one of {sorted(shape)}"]
    if shape is object:
        return []
    if isinstance(value, bool) and shape in (int, float, NUMBER):
        return [f"{where}: {value!r} is a boolean, not a number"]
    return [] if isinstance(value, shape) else [f"{where}: {value!r} is not {shape}"]


def conforms(value: Any, shape: Any, required: Collection[str] = ()) -> Any:
    problems = shape_problems(value, shape)
    problems += [f"result: no {name}" for name in sorted(set(required) - set(value))]
    assert not problems, "\n".join(problems)
    return value


def variant_of(value: Any) -> dict[str, Any]:
    """``result.variant`` of a variant answer, checked against the declared Variant."""
    assert set(value) == {"variant"}, value
    variant: dict[str, Any] = conforms(value["variant"], VARIANT, VARIANT_REQUIRED)
    return variant


# --- fixtures ------------------------------------------------------------------------------

PICTURE = jpeg(120, 90)


class Origin(BaseHTTPRequestHandler):
    """A web server holding one picture, for upload by URL."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/pictures/remote.jpg" else 404)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(PICTURE)))
        self.end_headers()
        self.wfile.write(PICTURE)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def settings(tmp_path: Path, origin: str) -> Settings:
    """The suite's settings, with the picture origin allowed for upload by URL."""
    return Settings(data_dir=tmp_path / "data", fetch_allowlist=origin)


@pytest.fixture(scope="session")
def sdk_dir() -> Path:
    return require_package(CLOUDFLARE_SDK)


@pytest.fixture
def cf(server: Server, sdk_dir: Path) -> Iterator[NodeSdk]:
    sdk = NodeSdk(require_node(), sdk_dir, server.base_url, server.api_token)
    yield sdk
    sdk.close()


def test_every_images_method_of_the_sdk_is_driven(cf: NodeSdk) -> None:
    """The tests below call every images method the SDK has: a version of the SDK with a
    new one fails here until a test drives it."""
    driven = set(re.findall(r'"(images\.[\w.]+)"', Path(__file__).read_text(encoding="utf-8")))
    assert set(cf.describe("images")) == driven
    assert len(driven) == 17


# --- images v1 -----------------------------------------------------------------------------


def test_images_v1_create_get_list_edit_delete(cf: NodeSdk, server: Server) -> None:
    acct = server.account_id
    created = cf.call(
        "images.v1.create",
        {
            "account_id": acct,
            "file": upload_file(jpeg(400, 300), "shoe.jpg"),
            "id": "dir/sub/ü ñ.png",
            "metadata": {"owner": "ana", "nested": {"x": [1]}, "tags": ["a", "b"], "ok": True},
            "requireSignedURLs": True,
            "creator": "user-1",
        },
    )
    conforms(created, IMAGE)
    assert created["id"] == "dir/sub/ü ñ.png"
    assert created["requireSignedURLs"] is True
    # The SDK sends an object as form fields (metadata[nested][x][]=1): values arrive as text.
    assert created["meta"] == {
        "owner": "ana",
        "nested": {"x": ["1"]},
        "tags": ["a", "b"],
        "ok": "true",
    }
    assert created["creator"] == "user-1"
    assert created["filename"] == "shoe.jpg"
    assert created["variants"] == [
        f"{server.base_url}/{server.account_hash}/{quote('dir/sub/ü ñ.png')}/public"
    ]
    assert datetime.fromisoformat(created["uploaded"]) > datetime.now(UTC) - timedelta(minutes=5)

    plain = cf.call(
        "images.v1.create",
        {"account_id": acct, "file": upload_file(png(100, 80), "p.png", "image/png")},
    )
    conforms(plain, IMAGE)
    assert plain["meta"] == {} and plain["requireSignedURLs"] is False
    assert plain["creator"] is None and plain["filename"] == "p.png"
    text_meta = cf.call(
        "images.v1.create",
        {"account_id": acct, "file": upload_file(jpeg(90, 60)), "metadata": json.dumps({"n": 1})},
    )
    assert text_meta["meta"] == {"n": 1}

    got = conforms(cf.call("images.v1.get", created["id"], {"account_id": acct}), IMAGE)
    assert got == created

    page = cf.call("images.v1.list", {"account_id": acct}, mode="page")
    assert page["class"] == "V4PagePagination"
    listed = conforms(page["result"], {"images": [IMAGE]})["images"]
    assert {i["id"] for i in listed} == {created["id"], plain["id"], text_meta["id"]}

    edited = cf.call(
        "images.v1.edit",
        created["id"],
        {
            "account_id": acct,
            "requireSignedURLs": False,
            "metadata": {"k": "v"},
            "creator": "u2",
        },
    )
    conforms(edited, IMAGE)
    assert edited["requireSignedURLs"] is False
    assert (edited["meta"], edited["creator"]) == ({"k": "v"}, "u2")
    unchanged = cf.call("images.v1.edit", created["id"], {"account_id": acct})
    assert unchanged == edited

    blob = cf.call("images.v1.blobs.get", created["id"], {"account_id": acct})["$response"]
    assert (blob["status"], blob["type"]) == (200, "image/jpeg")
    assert dimensions(base64.b64decode(blob["base64"])) == (400, 300)

    assert cf.call("images.v1.delete", created["id"], {"account_id": acct}) == {}
    gone = cf.fails("images.v1.get", created["id"], {"account_id": acct})
    assert (gone["class"], gone["status"]) == ("NotFoundError", 404)
    assert gone["errors"][0]["code"] == 5404
    gone = cf.fails("images.v1.delete", created["id"], {"account_id": acct})
    assert (gone["class"], gone["status"]) == ("NotFoundError", 404)


def test_images_v1_list_pages(cf: NodeSdk, server: Server) -> None:
    acct = server.account_id
    ids = {
        cf.call("images.v1.create", {"account_id": acct, "file": upload_file(jpeg(40, 30))})["id"]
        for _ in range(12)
    }
    first = cf.call("images.v1.list", {"account_id": acct, "per_page": 10}, mode="page")
    second = cf.call("images.v1.list", {"account_id": acct, "per_page": 10, "page": 2}, mode="page")
    pages = [conforms(p["result"], {"images": [IMAGE]})["images"] for p in (first, second)]
    assert [len(p) for p in pages] == [10, 2]
    assert {i["id"] for p in pages for i in p} == ids
    # The SDK's auto-pagination reads result.items, which Cloudflare's v1 list (and so
    # imagegate's) does not have: it yields nothing (docs/api.md says so).
    assert cf.call("images.v1.list", {"account_id": acct}, mode="iterate") == []


def test_images_v1_list_by_creator(cf: NodeSdk, server: Server) -> None:
    """``creator`` filters the v1 list as it does v2's; "" matches images without one."""
    acct = server.account_id
    by: dict[str | None, str] = {}
    for creator in ("ana", "bo", None):
        fields = {"account_id": acct, "file": upload_file(jpeg(40, 30))}
        if creator is not None:
            fields["creator"] = creator
        by[creator] = cf.call("images.v1.create", fields)["id"]
    for creator, expected in (("ana", [by["ana"]]), ("", [by[None]]), ("nobody", [])):
        page = cf.call("images.v1.list", {"account_id": acct, "creator": creator}, mode="page")
        found = conforms(page["result"], {"images": [IMAGE]})["images"]
        assert [i["id"] for i in found] == expected, (creator, cf.last["exchanges"])


def test_images_v1_create_from_url(cf: NodeSdk, server: Server, origin: str) -> None:
    acct = server.account_id
    fetched = cf.call(
        "images.v1.create",
        {"account_id": acct, "url": f"{origin}/pictures/remote.jpg", "id": "from/url"},
    )
    conforms(fetched, IMAGE)
    assert (fetched["id"], fetched["filename"]) == ("from/url", "remote.jpg")
    blob = cf.call("images.v1.blobs.get", "from/url", {"account_id": acct})["$response"]
    assert dimensions(base64.b64decode(blob["base64"])) == (120, 90)

    refused = cf.fails(
        "images.v1.create", {"account_id": acct, "url": "http://169.254.169.254/latest/meta-data/"}
    )
    assert (refused["class"], refused["status"]) == ("BadRequestError", 400)
    assert refused["errors"][0]["code"] == 5400


def test_wrong_token_and_wrong_account(server: Server, sdk_dir: Path) -> None:
    stranger = NodeSdk(require_node(), sdk_dir, server.base_url, "igt_" + "x" * 40)
    try:
        refused = stranger.fails("images.v1.list", {"account_id": server.account_id})
    finally:
        stranger.close()
    assert (refused["class"], refused["status"]) == ("AuthenticationError", 401)
    assert refused["errors"][0]["code"] == 10000

    owner = NodeSdk(require_node(), sdk_dir, server.base_url, server.api_token)
    try:
        elsewhere = owner.fails("images.v1.keys.list", {"account_id": "0" * 32})
    finally:
        owner.close()
    assert (elsewhere["class"], elsewhere["status"]) == ("PermissionDeniedError", 403)
    assert elsewhere["errors"][0]["code"] == 5403


# --- keys, variants, stats -----------------------------------------------------------------


def test_keys_list_update_delete(cf: NodeSdk, server: Server) -> None:
    acct = server.account_id
    listed = conforms(cf.call("images.v1.keys.list", {"account_id": acct}), KEYS)
    assert [k["name"] for k in listed["keys"]] == ["default"]
    assert listed["keys"][0]["value"] == server.signing_key

    updated = conforms(cf.call("images.v1.keys.update", "rotation2", {"account_id": acct}), KEYS)
    values = {k["name"]: k["value"] for k in updated["keys"]}
    assert set(values) == {"default", "rotation2"}
    assert len(values["rotation2"]) >= 44

    again = cf.call("images.v1.keys.update", "rotation2", {"account_id": acct})
    assert {k["name"]: k["value"] for k in again["keys"]}["rotation2"] != values["rotation2"]

    bad = cf.fails("images.v1.keys.update", "not-a-name!", {"account_id": acct})
    assert (bad["class"], bad["status"]) == ("BadRequestError", 400)

    deleted = conforms(cf.call("images.v1.keys.delete", "default", {"account_id": acct}), KEYS)
    assert [k["name"] for k in deleted["keys"]] == ["rotation2"]
    last = conforms(cf.call("images.v1.keys.delete", "rotation2", {"account_id": acct}), KEYS)
    assert [k["name"] for k in last["keys"]] == ["default"]
    assert last["keys"][0]["value"] not in (server.signing_key, values["rotation2"])


def test_variants_create_list_get_edit_delete(cf: NodeSdk, server: Server) -> None:
    acct = server.account_id
    created = variant_of(
        cf.call(
            "images.v1.variants.create",
            {
                "account_id": acct,
                "id": "hero",
                "options": {"fit": "cover", "width": 300, "height": 200, "metadata": "none"},
                "neverRequireSignedURLs": True,
            },
        )
    )
    assert created["id"] == "hero" and created["options"]["fit"] == "cover"
    assert (created["options"]["width"], created["options"]["height"]) == (300, 200)
    assert created["neverRequireSignedURLs"] is True

    listed = cf.call("images.v1.variants.list", {"account_id": acct})
    assert set(listed) == {"variants"} and set(listed["variants"]) == {"public", "hero"}
    for name, variant in listed["variants"].items():
        assert conforms(variant, VARIANT, VARIANT_REQUIRED)["id"] == name

    got = variant_of(cf.call("images.v1.variants.get", "hero", {"account_id": acct}))
    assert got == created

    edited = variant_of(
        cf.call(
            "images.v1.variants.edit",
            "hero",
            {
                "account_id": acct,
                "options": {"fit": "pad", "width": 50, "height": 50, "metadata": "keep"},
                "neverRequireSignedURLs": False,
            },
        )
    )
    assert edited["options"]["fit"] == "pad" and edited["neverRequireSignedURLs"] is False

    bad = cf.fails(
        "images.v1.variants.create",
        {
            "account_id": acct,
            "id": "huge",
            "options": {"fit": "cover", "width": 0, "height": 10, "metadata": "none"},
        },
    )
    assert (bad["class"], bad["status"]) == ("BadRequestError", 400)

    assert cf.call("images.v1.variants.delete", "hero", {"account_id": acct}) == {}
    gone = cf.fails("images.v1.variants.get", "hero", {"account_id": acct})
    assert (gone["class"], gone["status"]) == ("NotFoundError", 404)
    kept = cf.fails("images.v1.variants.delete", "public", {"account_id": acct})
    assert (kept["class"], kept["status"]) == ("BadRequestError", 400)


def test_stats_count_images(cf: NodeSdk, server: Server) -> None:
    acct = server.account_id
    empty = conforms(cf.call("images.v1.stats.get", {"account_id": acct}), STAT)
    assert empty["count"]["current"] == 0 and empty["count"]["allowed"] > 0
    for _ in range(3):
        cf.call("images.v1.create", {"account_id": acct, "file": upload_file(jpeg(40, 30))})
    three = conforms(cf.call("images.v1.stats.get", {"account_id": acct}), STAT)
    assert three["count"] == {"current": 3, "allowed": empty["count"]["allowed"]}


# --- images v2: listing and direct creator upload ------------------------------------------


def test_v2_list_pages_sorts_and_filters(cf: NodeSdk, server: Server) -> None:
    acct = server.account_id
    made = []
    for n in range(12):
        image = cf.call(
            "images.v1.create",
            {
                "account_id": acct,
                "file": upload_file(jpeg(40, 30)),
                "id": f"v2/{n:02d}",
                "creator": "even" if n % 2 == 0 else "odd",
                "metadata": json.dumps({"n": n, "tag": "red" if n < 4 else "blue"}),
            },
        )
        made.append(image["id"])
        time.sleep(0.002)  # distinct upload times, so the order is the order of upload

    first = conforms(cf.call("images.v2.list", {"account_id": acct, "per_page": 10}), V2_LIST)
    assert [i["id"] for i in first["images"]] == made[::-1][:10]
    token = first["continuation_token"]
    assert isinstance(token, str) and 0 < len(token) <= 32
    rest = conforms(
        cf.call(
            "images.v2.list", {"account_id": acct, "per_page": 10, "continuation_token": token}
        ),
        V2_LIST,
    )
    assert [i["id"] for i in rest["images"]] == made[::-1][10:]
    assert rest["continuation_token"] is None

    oldest = cf.call("images.v2.list", {"account_id": acct, "per_page": 10, "sort_order": "asc"})
    assert [i["id"] for i in oldest["images"]] == made[:10]

    odd = cf.call("images.v2.list", {"account_id": acct, "creator": "odd"})
    assert sorted(i["id"] for i in odd["images"]) == made[1::2]

    # The SDK writes meta as meta.<field>[<op>]=<value> (qs with allowDots).
    filters = {
        "tag[eq]": ("red", made[:4]),
        "n[gte]": ("10", made[10:]),
        "tag[in]": ("blue|green", made[4:]),
        "n[lt]": ("2", made[:2]),
    }
    for field, (value, expected) in filters.items():
        found = cf.call("images.v2.list", {"account_id": acct, "meta": {field: value}})
        assert sorted(i["id"] for i in found["images"]) == expected, (field, cf.last["exchanges"])

    bad = cf.fails("images.v2.list", {"account_id": acct, "meta": {"n[near]": "1"}})
    assert (bad["class"], bad["status"]) == ("BadRequestError", 400)


def test_direct_upload_create_then_upload(cf: NodeSdk, server: Server) -> None:
    acct = server.account_id
    expiry = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    direct = cf.call(
        "images.v2.directUploads.create",
        {
            "account_id": acct,
            "id": "creator/upload ü.jpg",
            "creator": "user-7",
            "metadata": {"album": "summer"},
            "requireSignedURLs": True,
            "expiry": expiry.isoformat().replace("+00:00", "Z"),
        },
    )
    conforms(direct, DIRECT_UPLOAD, {"id", "uploadURL"})
    assert direct["id"] == "creator/upload ü.jpg"
    assert direct["uploadURL"].startswith(f"{server.base_url}/upload/")

    draft = cf.call("images.v1.get", direct["id"], {"account_id": acct})
    assert draft.get("draft") is True

    # The one-time URL takes the file with no credentials, as a browser page sends it.
    done = httpx.post(direct["uploadURL"], files={"file": ("u.jpg", jpeg(200, 100), "image/jpeg")})
    assert done.status_code == 200, done.text
    image = conforms(cf.call("images.v1.get", direct["id"], {"account_id": acct}), IMAGE)
    assert "draft" not in image
    assert (image["creator"], image["meta"], image["requireSignedURLs"]) == (
        "user-7",
        {"album": "summer"},
        True,
    )
    again = httpx.post(direct["uploadURL"], files={"file": ("u.jpg", jpeg(20, 10), "image/jpeg")})
    assert 400 <= again.status_code < 500 and again.json()["success"] is False

    bare = conforms(cf.call("images.v2.directUploads.create", {"account_id": acct}), DIRECT_UPLOAD)
    assert bare["id"] and bare["uploadURL"].startswith(f"{server.base_url}/upload/")


# --- what a Node backend does with it ------------------------------------------------------


def test_sdk_uploaded_private_image_is_served_only_signed(cf: NodeSdk, server: Server) -> None:
    acct = server.account_id
    cf.call(
        "images.v1.variants.create",
        {
            "account_id": acct,
            "id": "small",
            "options": {"fit": "scale-down", "width": 64, "height": 64, "metadata": "none"},
        },
    )
    image = cf.call(
        "images.v1.create",
        {
            "account_id": acct,
            "file": upload_file(jpeg(640, 480)),
            "id": "private/one.jpg",
            "requireSignedURLs": True,
        },
    )
    url = next(u for u in image["variants"] if u.endswith("/small"))
    assert url == f"{server.base_url}/{server.account_hash}/private/one.jpg/small"
    assert httpx.get(url).status_code == 403
    key = cf.call("images.v1.keys.list", {"account_id": acct})["keys"][0]["value"]
    (signed,) = run_signer([(url, key, int(time.time()) + 60)])
    answer = httpx.get(signed["signed"])
    assert answer.status_code == 200 and dimensions(answer.content) == (64, 48)
