"""Security cases E.55-E.60 of spec/security-cases.md: caching, headers and information
leaks, against a running server."""

from __future__ import annotations

import hashlib
import re
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest
from sec_common import (
    METRICS_AUTH,
    add_variant,
    assert_denied,
    check,
    flexible,
    launch,
    parts,
    raw,
    upload,
)

from harness import Server, add_account, image_format, jpeg, png
from imagegate.core.errors import StorageError
from imagegate.core.signing import sign_url


@pytest.fixture(scope="module")
def srv(shared: Server) -> Server:
    upload(shared, jpeg(300, 200), id="pub")
    upload(shared, jpeg(300, 200), id="priv", requireSignedURLs="true")
    add_variant(shared, "small", width=120, height=120)
    return shared


def url(srv: Server, image_id: str, variant: str = "small") -> str:
    return f"{srv.base_url}/{srv.account_hash}/{image_id}/{variant}"


def test_e55_a_signed_response_never_reaches_an_unsigned_request(srv: Server) -> None:
    """E.55: after a signed fetch has filled every cache, the same path without a signature,
    with a bad one, with the cached ETag, or as HEAD is refused; the signed answer is
    ``private`` and lives no longer than the URL (never ``public``)."""
    with httpx.Client() as c:
        signed = sign_url(url(srv, "priv"), srv.signing_key, 90)
        first = c.get(signed)
        again = c.get(signed)
        assert first.status_code == again.status_code == 200
        etag = first.headers["etag"]
        for r in (first, again, c.head(signed)):
            control = r.headers["cache-control"]
            assert control.startswith("private, max-age=") and "public" not in control
            assert 0 <= int(control.rsplit("=", 1)[1]) <= 90
        for r in (
            c.get(url(srv, "priv")),
            c.get(signed.replace("sig=", "sig=0")),
            c.get(url(srv, "priv"), headers={"If-None-Match": etag}),
            c.get(signed.split("&sig=")[0], headers={"If-None-Match": etag}),
        ):
            assert_denied(r, srv)
        assert_denied(c.head(url(srv, "priv")), srv, head=True)
        short = c.get(sign_url(url(srv, "priv"), srv.signing_key, 5))
        assert int(short.headers["cache-control"].rsplit("=", 1)[1]) <= 5


def test_e56_negotiated_formats_are_keyed_on_accept(srv: Server) -> None:
    """E.56: the format chosen from Accept is part of the cache key and announced with
    ``Vary: Accept``: alternating AVIF, WebP and JPEG clients each get their own, cached or
    not; a format named in the URL carries no Vary."""
    wanted = [("image/avif,*/*", "heif"), ("image/webp,*/*", "webp"), ("*/*", "jpeg")]
    with httpx.Client() as c:
        stand_in = c.get(url(srv, "pub"), headers={"Accept": "image/avif,*/*"})
        assert image_format(stand_in.content) == "jpeg" and stand_in.headers["vary"] == "Accept"
        assert srv.gate is not None and srv.gate.delivery.avif_later.drain(30)  # now the AVIF
        for accept, fmt in wanted + wanted[::-1] + wanted:
            r = c.get(url(srv, "pub"), headers={"Accept": accept})
            assert r.status_code == 200 and image_format(r.content) == fmt, accept
            assert r.headers["vary"] == "Accept"
            expected = {"heif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg"}[fmt]
            assert r.headers["content-type"] == expected
        flexible(srv)
        named = c.get(url(srv, "pub", "w=50,f=webp"), headers={"Accept": "image/avif"})
        assert image_format(named.content) == "webp" and "vary" not in named.headers


UNKEYED = [
    {"X-Forwarded-Host": "evil.example"},
    {"X-Forwarded-Proto": "https"},
    {"X-Forwarded-For": "203.0.113.9"},
    {"Forwarded": "for=203.0.113.9;host=evil.example;proto=https"},
    {"X-Original-URL": "/accounts/x/images/v1/keys"},
    {"X-Rewrite-URL": "/accounts/x/images/v1/keys"},
    {"X-HTTP-Method-Override": "DELETE"},
    {"X-Host": "evil.example"},
]


def fingerprint(r: httpx.Response) -> tuple[int, str | None, str, str]:
    return (
        r.status_code,
        r.headers.get("etag"),
        hashlib.sha256(r.content).hexdigest(),
        re.sub(r"\d+", "N", r.headers.get("cache-control", "")),  # max-age counts down
    )


def test_e57_unkeyed_headers_change_nothing(srv: Server) -> None:
    """E.57: forwarding and rewrite headers, a method override and a body on GET change
    neither a delivered answer nor the URLs the API writes (they come from the configured
    public URL, never from request headers)."""
    signed = sign_url(url(srv, "priv"), srv.signing_key, 600)
    api = f"{srv.images_url}/pub"
    with httpx.Client(headers={"Accept": "image/webp"}) as c:
        baseline = [fingerprint(c.get(u)) for u in (url(srv, "pub"), signed, url(srv, "priv"))]
        with srv.client() as management:
            details = management.get(api).json()["result"]
            signed_api = management.get(f"{api}/signed_url").json()["result"]["url"]
            for headers in UNKEYED:
                now = [
                    fingerprint(c.get(u, headers=headers))
                    for u in (url(srv, "pub"), signed, url(srv, "priv"))
                ]
                assert now == baseline, headers
                same = management.get(api, headers=headers)
                assert same.json()["result"] == details, headers
                link = management.get(f"{api}/signed_url", headers=headers).json()["result"]
                assert link["url"].split("?")[0] == signed_api.split("?")[0], headers
                assert "evil" not in same.text and "https" not in link["url"]
        fat = c.request("GET", url(srv, "pub"), content=b"x=1&exp=1&sig=" + b"0" * 64)
        assert fingerprint(fat) == baseline[0]
        fat_private = c.request("GET", url(srv, "priv"), content=signed.split("?")[1].encode())
        assert_denied(fat_private, srv)
    assert [v.split("/")[2] for v in details["variants"]] == [srv.base_url.split("/")[2]] * len(
        details["variants"]
    )


def test_e57_redirects_ignore_forwarding_headers(cluster: Server) -> None:
    """E.57 for the one redirect the API makes (a trailing slash), as served by
    ``imagegate serve``: forwarding headers do not move its Location elsewhere."""
    path = f"/accounts/{cluster.account_id}/images/v1/keys/"
    auth = {"Authorization": f"Bearer {cluster.api_token}"}
    plain = raw(cluster.base_url, path, "PUT", auth)
    for headers in UNKEYED[:4]:
        r = raw(cluster.base_url, path, "PUT", {**auth, **headers})
        where = r.headers.get("location")
        assert (r.status, where) == (plain.status, plain.headers.get("location"))
        assert "evil" not in (where or "")


def test_e58_errors_are_never_cacheable(srv: Server) -> None:
    """E.58: every error, from the API or from delivery (400, 401, 403, 404, 405, 410, 413,
    415, 422), says ``Cache-Control: no-store`` and carries no ETag."""
    other = add_account(srv, "e58")
    upload(other, png(300, 200)[:3000], id="broken")
    auth = {"Authorization": f"Bearer {srv.api_token}"}
    with httpx.Client() as c:
        answers = {
            400: c.post(f"{srv.images_url}/variants", json={"id": "x"}, headers=auth),
            401: c.get(srv.images_url),
            403: c.get(url(srv, "priv")),
            404: c.get(url(srv, "nothing-here")),
            405: c.put(f"{srv.images_url}/stats", headers=auth),
            410: c.post(f"{srv.base_url}/upload/{'A' * 43}", files={"file": ("a", b"x")}),
            413: c.post(
                srv.images_url,
                headers={**auth, "Content-Type": "multipart/form-data; boundary=b"},
                content=b"--b\r\n" + b"x" * (11 * 1024 * 1024),
            ),
            415: c.post(srv.images_url, files={"file": ("a", b"text")}, headers=auth),
            422: c.get(url(other, "broken", "public")),
        }
        answers[9426] = c.get(url(srv, "pub", "w=1,zoom=9"))  # a 403 of its own
    for status, r in answers.items():
        check(r, srv)
        assert r.status_code == (403 if status == 9426 else status), (status, r.text)
        assert r.headers["cache-control"] == "no-store", status
        assert "etag" not in r.headers and "last-modified" not in r.headers, status


@pytest.fixture
def flaky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with launch(tmp_path_factory.mktemp("flaky") / "data") as srv:
        yield srv


def test_e58_a_transient_error_is_not_served_after_recovery(
    flaky: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.58: a render that fails (the store is briefly unavailable: 503 with Retry-After) is
    not remembered: the next request, once the store is back, gets the image."""
    upload(flaky, jpeg(200, 100), id="img")
    deliverer = flaky.gate.delivery  # type: ignore[union-attr]
    real = deliverer.render
    failing = True

    def render(plan: object) -> bytes:
        if failing:
            raise StorageError()
        return real(plan)  # type: ignore[arg-type]

    monkeypatch.setattr(deliverer, "render", render)
    link = url(flaky, "img", "public")
    down = httpx.get(link)
    assert down.status_code == 503 and down.headers["retry-after"] == "1"
    assert down.headers["cache-control"] == "no-store"
    failing = False
    up = httpx.get(link)
    assert up.status_code == 200 and image_format(up.content) == "jpeg"


def test_e59_signed_urls_handed_out_are_not_kept_anywhere(srv: Server) -> None:
    """E.59: the API answer that carries a signed URL is ``no-store``; dashboard pages,
    which show signed URLs, send a Referrer-Policy that keeps them off other sites. (That
    access logs and every other log redact ``sig`` is tests/test_observability.py.)"""
    with srv.client() as c:
        r = c.get(f"{srv.images_url}/priv/signed_url")
    assert r.status_code == 200 and "sig=" in r.json()["result"]["url"]
    assert r.headers["cache-control"] == "no-store"
    page = httpx.get(f"{srv.base_url}/dashboard/signin")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] in ("no-referrer", "same-origin", "strict-origin")
    metrics = httpx.get(f"{srv.base_url}/metrics", headers=METRICS_AUTH).text
    assert "imagegate_signature_verifications" in metrics
    assert not re.search(r"[0-9a-f]{64}", metrics)


def test_e60_every_refusal_is_the_same_answer(srv: Server) -> None:
    """E.60: a bad signature, an expired URL, an unknown key, a repeated parameter, a
    malformed exp and a missing signature get the same status, headers and body, in about
    the same time; the body names no signature, string to sign, key or exp."""
    base = url(srv, "priv")
    good = sign_url(base, srv.signing_key, 600)
    exp = good.split("exp=")[1].split("&")[0]
    variants = {
        "bad-sig": good[:-4] + "0000",
        "expired": sign_url(base, srv.signing_key, exp=int(time.time()) - 10),
        "unknown-key": sign_url(base, "not-a-key-of-this-account", 600),
        "repeated-exp": good.replace("?", f"?exp={exp}&"),
        "malformed-exp": good.replace(f"exp={exp}", "exp=1.7e9"),
        "missing-sig": base + f"?exp={exp}",
        "no-query": base,
        "uppercase-sig": good.split("sig=")[0] + "sig=" + good.split("sig=")[1].upper(),
    }
    shapes = set()
    timings: dict[str, list[float]] = {}
    with httpx.Client() as c:
        for _ in range(15):
            for name, link in variants.items():
                started = time.perf_counter()
                r = c.get(link)
                timings.setdefault(name, []).append(time.perf_counter() - started)
                assert_denied(r, srv)
                _status, headers, body = parts(r)
                shapes.add((r.status_code, body, tuple(sorted(set(headers) - {"date"}))))
                assert exp not in r.text and "sig" not in r.text and "default" not in r.text
    assert len(shapes) == 1, shapes
    medians = {name: statistics.median(times) for name, times in timings.items()}
    assert max(medians.values()) - min(medians.values()) < 0.02, medians
