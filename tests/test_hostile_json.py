"""Hostile JSON in every field of every route that takes some, against a real server on
SQLite and on PostgreSQL: never a 5xx, always the envelope, nothing stored when refused, and
the account's listings and details keep answering 200 afterwards."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from databases import own_database
from harness import Server, in_process, jpeg, serve_account
from imagegate.settings import Settings


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server over a store of its own, with one image (``known``) and one variant (``hv``)."""
    data = tmp_path_factory.mktemp(f"hostile-{request.param}")
    sqlite = contextlib.nullcontext(f"sqlite:///{data / 'imagegate.db'}")
    with own_database() if request.param == "postgresql" else sqlite as url:
        yield from _serve(Settings(data_dir=data, database_url=url))


def _serve(settings: Settings) -> Iterator[Server]:
    with serve_account(settings, name="hostile") as srv:
        gate, account = in_process(srv)
        gate.images.upload(account, jpeg(64, 48), custom_id="known", meta={"k": "v"})
        with srv.client() as c:
            body = {"id": "hv", "options": {"fit": "cover", "width": 10, "height": 10}}
            assert c.post(f"{srv.images_url}/variants", json=body).status_code == 200
        yield srv


# --- what the account looks like ----------------------------------------------------------------


def snapshot(c: httpx.Client, srv: Server) -> dict[str, Any]:
    """Every read of the account: each must answer 200 (an account is never damaged)."""
    base = srv.images_url
    reads = {
        "details": f"{base}/known",
        "list v1": base,
        "list v2": base.removesuffix("/v1") + "/v2",
        "filtered": base.removesuffix("/v1") + "/v2?meta.k[eq]=v&meta.n[gte]=0",
        "variants": f"{base}/variants",
        "config": f"{base}/config",
        "stats": f"{base}/stats",
    }
    seen = {}
    for name, url in reads.items():
        r = c.get(url)
        assert r.status_code == 200, f"{name} answers {r.status_code}: {r.text[:300]}"
        seen[name] = r.json()["result"]
    return seen


def assert_envelope(r: httpx.Response) -> None:
    assert r.status_code < 500, f"{r.status_code}: {r.text[:300]}"
    if r.status_code >= 400:
        body = r.json()
        assert body["success"] is False and body["result"] is None, body
        assert isinstance(body["errors"][0]["code"], int) and body["errors"][0]["message"]


# --- hostile JSON text ----------------------------------------------------------------------


def deep(n: int, kind: str = "[") -> str:
    if kind == "[":
        return "[" * n + "]" * n
    return '{"a":' * n + "1" + "}" * n


ATOMS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "9223372036854775808",
    "-9223372036854775809",
    "1" + "0" * 30,
    "9" * 5000,
    "0.1",
    "-1",
    "0",
    "1",
    "true",
    "false",
    "null",
    '""',
    '"1"',
    '"true"',
    '"NaN"',
    '"x"',
    '"\\u0000"',
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"' + "x" * 2000 + '"',
    "[]",
    "{}",
    '{"a": 1, "a": 2}',
    deep(33),
    deep(33, "{"),
    deep(2000),
    deep(50_000),
    "[1,",
    "{'a': 1}",
]


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


FRAGMENT = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: (
        st.lists(inner, max_size=3).map(_array)
        | st.lists(st.tuples(st.sampled_from(["a", "b", "a", "n", "k"]), inner), max_size=3).map(
            _object
        )
    ),
    max_leaves=6,
)

OPTIONS = ["fit", "metadata", "width", "height", "background", "browser_ttl", "quality", "dpr",
           "sharpen", "blur", "gravity", "format", "anim"]  # fmt: skip
#: Each JSON route, a valid body for it, and the fields (dotted paths) a value may go in.
JSON_ROUTES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    (
        "PATCH",
        "/known",
        {"requireSignedURLs": False, "metadata": {"k": "v"}, "creator": "c"},
        ["requireSignedURLs", "metadata", "metadata.k", "metadata.n", "creator"],
    ),
    (
        "POST",
        "/variants",
        {"id": "made", "options": {"fit": "cover", "width": 10, "height": 10}},
        ["id", "neverRequireSignedURLs", "options", *(f"options.{f}" for f in OPTIONS)],
    ),
    (
        "PATCH",
        "/variants/hv",
        {"options": {"fit": "cover", "width": 10, "height": 10}},
        ["neverRequireSignedURLs", "options", "options.width", "options.blur", "options.fit"],
    ),
    ("PATCH", "/config", {"browser_ttl": 3600}, ["flexible_variants", "browser_ttl"]),
    (
        "POST",
        "/direct_upload",
        {"requireSignedURLs": False},
        ["requireSignedURLs", "expiry", "metadata", "metadata.k", "id", "creator"],
    ),
]
#: Each form route and its fields (``metadata`` is JSON text; the rest are text fields).
FORM_ROUTES: list[tuple[str, list[str]]] = [
    ("/v1", ["metadata", "requireSignedURLs", "id", "creator"]),
    ("/v1/direct_upload", ["metadata", "requireSignedURLs", "expiry", "id", "creator"]),
    ("/v2/direct_upload", ["metadata", "requireSignedURLs", "expiry", "id", "creator"]),
]
#: Query parameters that take numbers or JSON-typed values.
QUERIES: list[tuple[str, str]] = [
    ("/v2", "meta.n[eq:number]"),
    ("/v2", "meta.n[gte:number]"),
    ("/v2", "meta.n[in:number]"),
    ("/v2", "meta.k[eq]"),
    ("/v2", "per_page"),
    ("/v2", "continuation_token"),
    ("/v1", "page"),
    ("/v1/known/signed_url", "expires_in"),
]
PLACE = "HOSTILE-VALUE-GOES-HERE"


def with_value(body: dict[str, Any], path: str) -> str:
    """The JSON text of ``body`` with the field at ``path`` holding a placeholder."""
    copy = json.loads(json.dumps(body))
    node = copy
    *parents, last = path.split(".")
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = PLACE
    return json.dumps(copy)


REQUEST = st.one_of(
    st.tuples(st.just("json"), st.sampled_from(range(len(JSON_ROUTES))), st.data()),
    st.tuples(st.just("form"), st.sampled_from(range(len(FORM_ROUTES))), st.data()),
    st.tuples(st.just("query"), st.sampled_from(range(len(QUERIES))), st.data()),
)


def send(c: httpx.Client, srv: Server, kind: str, index: int, data: Any) -> httpx.Response:
    value = data.draw(FRAGMENT, label="value")
    images = srv.images_url
    if kind == "json":
        method, path, body, fields = JSON_ROUTES[index]
        where = data.draw(st.sampled_from([*fields, "(whole body)"]), label="field")
        text = (
            value
            if where == "(whole body)"
            else with_value(body, where).replace(json.dumps(PLACE), value)
        )
        return c.request(
            method,
            images + path,
            content=text.encode("utf-8", "surrogatepass"),
            headers={"Content-Type": "application/json"},
        )
    if kind == "form":
        path, fields = FORM_ROUTES[index]
        field = data.draw(st.sampled_from(fields), label="field")
        url = images.removesuffix("/v1") + path
        files = {"file": ("x.jpg", jpeg(16, 16))} if path == "/v1" else None
        form = {field: value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")}
        return c.post(url, data=form, files=files)
    path, name = QUERIES[index]
    url = images.removesuffix("/v1") + path if path == "/v2" else images + path.removeprefix("/v1")
    return c.get(url, params={name: value[:4000]})  # what a URL can carry


@pytest.mark.parametrize("examples", [150])
def test_hostile_json_never_breaks_the_account(target: Server, examples: int) -> None:
    srv = target
    with srv.client() as c:
        before = snapshot(c, srv)

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(request=REQUEST)
        def run(request: tuple[str, int, Any]) -> None:
            nonlocal before
            r = send(c, srv, *request)
            assert_envelope(r)
            after = snapshot(c, srv)
            if r.status_code >= 400:
                assert after == before, f"a refused request changed the account: {r.text[:200]}"
            before = after

        run()


REPORTED = [
    ("PATCH", "/known", '{"metadata": {"a": NaN}}'),
    ("PATCH", "/known", '{"metadata": {"a": 1e400}}'),
    ("PATCH", "/known", '{"creator": "\\ud800"}'),
    ("PATCH", "/known", '{"requireSignedURLs": 1}'),
    ("POST", "/direct_upload", '{"requireSignedURLs": 1}'),
    ("POST", "/direct_upload", '{"expiry": 12345}'),
    ("POST", "/direct_upload", '{"metadata": ' + deep(20_000) + "}"),
    ("POST", "/direct_upload", '{"metadata": {"a": 1, "a": 2}}'),
    ("PATCH", "/config", '{"flexible_variants": "true"}'),
    ("POST", "/variants", '{"id": "x", "options": {"fit": "cover", "width": NaN, "height": 1}}'),
]


@pytest.mark.parametrize(("method", "path", "body"), REPORTED)
def test_the_reported_inputs_are_refused_and_nothing_is_stored(
    target: Server, method: str, path: str, body: str
) -> None:
    """Each answered 500 (and NaN metadata then broke every listing): now 400, and the
    account is as it was."""
    with target.client() as c:
        before = snapshot(c, target)
        r = c.request(
            method,
            target.images_url + path,
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["code"] == 5400
        assert snapshot(c, target) == before


@pytest.mark.parametrize("path", ["/v1", "/v1/direct_upload", "/v2/direct_upload"])
@pytest.mark.parametrize("metadata", ['{"a": NaN}', '{"a": -Infinity}', '{"a": 1, "a": 1}'])
def test_hostile_metadata_fields_of_forms_are_refused(
    target: Server, path: str, metadata: str
) -> None:
    with target.client() as c:
        before = snapshot(c, target)
        files = {"file": ("x.jpg", jpeg(16, 16))} if path == "/v1" else None
        url = target.images_url.removesuffix("/v1") + path
        r = c.post(url, data={"metadata": metadata}, files=files)
        assert r.status_code == 400, r.text
        assert snapshot(c, target) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"metadata." + ".".join(["a"] * 40): "x"},
        {"metadata.a": "x\x00"},
        {"metadata.a": "x", "metadata": '{"a": 1}'},
    ],
)
def test_flattened_metadata_fields_follow_the_same_rules(
    target: Server, fields: dict[str, str]
) -> None:
    """The SDK's ``metadata.key=value`` fields build metadata without JSON: what they build
    is held to the same rules (depth, NUL) before anything is stored."""
    with target.client() as c:
        before = snapshot(c, target)
        r = c.post(target.images_url, data=fields, files={"file": ("x.jpg", jpeg(16, 16))})
        assert r.status_code == 400, r.text
        assert snapshot(c, target) == before
