"""Security cases A.1-A.23 of spec/security-cases.md: signed URLs, sent to a running server.

The pure verifier's table (tests/test_signing.py::test_security_case) holds every byte-level
variant; here the same attacks travel over HTTP, byte for byte (``raw_request``), and every
refusal must be the one answer: 403, ``ERROR 9425: Image access denied``, ``Cf-Resized:
err=9425``, ``no-store``. Cases already covered end to end elsewhere are listed in
docs/security.md with the test that covers them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sec_common import (
    add_variant,
    assert_denied,
    check,
    launch,
    mac,
    raw,
    send_raw,
    target,
    upload,
)

from harness import Clock, RawResponse, Server, add_account, dimensions, jpeg, raw_request
from imagegate.core.signing import sign_url
from nodejs import run_signer

IMAGE_ID = "sec/photo.jpg"


@dataclass
class Site:
    """A private image with a signed-only variant (``thumb``) and an open one (``open``)."""

    srv: Server
    image_id: str = IMAGE_ID

    @property
    def path(self) -> str:
        return f"/{self.srv.account_hash}/{self.image_id}"

    def url(self, variant: str = "thumb") -> str:
        return f"{self.srv.base_url}{self.path}/{variant}"

    def signed(self, variant: str = "thumb", ttl: int = 600, **kw: int) -> str:
        return sign_url(self.url(variant), self.srv.signing_key, ttl, **kw)

    def get(self, target_: str) -> RawResponse:
        return raw_request(self.srv.base_url, target_)


def prepare(srv: Server) -> Site:
    upload(srv, jpeg(400, 300), id=IMAGE_ID, requireSignedURLs="true")
    upload(srv, jpeg(64, 64), id="sec/other.jpg", requireSignedURLs="true")
    add_variant(srv, "thumb", fit="cover")
    add_variant(srv, "open", never=True)
    return Site(srv)


@pytest.fixture(scope="module")
def site(shared: Server) -> Site:
    return prepare(shared)


def ok(r: RawResponse, srv: Server) -> None:
    check(r, srv)
    assert r.status == 200, (r.status, r.text)
    assert r.headers["content-type"] == "image/jpeg"


# --- A.1 the reference signer ---------------------------------------------------------------


def node_sign(requests: list[tuple[str, str, int]]) -> list[str]:
    """Sign with tests/interop/sign.mjs: the seed's own steps in Node (WHATWG URL, WebCrypto)."""
    return [str(output["signed"]) for output in run_signer(requests)]


def test_a01_reference_signer_url_is_served(site: Site) -> None:
    """A.1: a URL made by the seed's JavaScript signer is served, and Python's signer writes
    the byte-identical URL."""
    exp = int(time.time()) + 3600
    (signed,) = node_sign([(site.url(), site.srv.signing_key, exp)])
    assert signed == sign_url(site.url(), site.srv.signing_key, exp=exp)
    r = raw_request(site.srv.base_url, target(signed))
    ok(r, site.srv)
    assert dimensions(r.body) == (100, 100)


# --- A.2 missing or empty -------------------------------------------------------------------


def test_a02_missing_or_empty_sig_or_exp(site: Site) -> None:
    """A.2: no query, exp alone, sig alone (a valid non-expiring signature), empty values."""
    signed = site.signed()
    exp = signed.split("exp=")[1].split("&")[0]
    sig = signed.rsplit("sig=", 1)[1]
    no_expiry = sign_url(site.url(), site.srv.signing_key, None)  # refused unless allowed
    queries = [
        "",
        "?",
        f"?exp={exp}",
        "?" + no_expiry.split("?", 1)[1],
        f"?sig={sig}",
        "?exp=&sig=",
        f"?exp={exp}&sig=",
        f"?exp=&sig={sig}",
        f"?exp&sig={sig}",
        f"?exp={exp}&sig",
    ]
    for query in queries:
        assert_denied(site.get(site.path + "/thumb" + query), site.srv)
    ok(site.get(target(signed)), site.srv)


# --- A.3 the expiry boundary, on a frozen clock ---------------------------------------------

NOW = 1_800_000_000


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Clock]]:
    clock = Clock(NOW)
    with launch(tmp_path_factory.mktemp("frozen") / "data", clock) as srv:
        yield prepare(srv), clock


def test_a03_expiry_boundary_with_a_frozen_clock(frozen: tuple[Site, Clock]) -> None:
    """A.3: valid while now <= exp (inclusive), refused from exp + 1 on."""
    site, clock = frozen
    clock.now = NOW
    at = {delta: site.signed(exp=NOW + delta) for delta in (-1, 0, 1)}
    assert_denied(site.get(target(at[-1])), site.srv)
    ok(site.get(target(at[0])), site.srv)
    ok(site.get(target(at[1])), site.srv)
    clock.now = NOW + 1
    ok(site.get(target(at[1])), site.srv)
    assert_denied(site.get(target(at[0])), site.srv)
    clock.now = NOW + 2
    assert_denied(site.get(target(at[1])), site.srv)
    clock.now = NOW


# --- A.4, A.5 tampering under the same signature --------------------------------------------


def test_a04_path_tampered_under_the_same_sig(site: Site) -> None:
    """A.4: a signature for /a/ID/thumb opens neither another variant, another image, nor
    the same id in another account."""
    other = add_account(site.srv, "a04")
    upload(other, jpeg(64, 64), id=IMAGE_ID, requireSignedURLs="true")
    add_variant(other, "thumb", fit="cover")
    query = site.signed().split("?", 1)[1]
    for path in (
        f"{site.path}/public",
        f"/{site.srv.account_hash}/sec/other.jpg/thumb",
        f"/{other.account_hash}/{IMAGE_ID}/thumb",
    ):
        assert_denied(site.get(f"{path}?{query}"), site.srv)


def test_a05_exp_extended_under_the_same_sig(site: Site) -> None:
    """A.5: moving exp, by one second or by 10^9, breaks the signature."""
    signed = site.signed(ttl=60)
    exp = int(signed.split("exp=")[1].split("&")[0])
    for later in (exp + 1, exp + 10**9, 999_999_999_999):
        tampered = signed.replace(f"exp={exp}", f"exp={later}")
        assert_denied(site.get(target(tampered)), site.srv)


# --- A.6-A.8 repeated and array-style parameters --------------------------------------------


def signed_over(site: Site, query: str, variant: str = "thumb") -> str:
    """``query&sig=`` with a signature that is valid over exactly these bytes."""
    path = f"{site.path}/{variant}"
    return f"{path}?{query}&sig={mac(f'{path}?{query}'.encode(), site.srv.signing_key)}"


def test_a06_duplicate_exp_both_orders(site: Site) -> None:
    """A.6: a repeated exp is refused before any verification, in either order, after sig,
    and even when the signature covers the repeated pair."""
    signed = site.signed()
    query = signed.split("?", 1)[1]
    exp = query.split("&")[0]
    far = f"exp={int(time.time()) + 10**8}"
    sig = query.split("&")[1]
    for tampered in (
        f"{exp}&{far}&{sig}",
        f"{far}&{exp}&{sig}",
        f"{exp}&{sig}&{far}",
        f"{exp}&{sig}&{exp}",
    ):
        assert_denied(site.get(f"{site.path}/thumb?{tampered}"), site.srv)
    for query_ in (f"{exp}&{far}", f"{far}&{exp}", f"{exp}&{exp}"):
        assert_denied(site.get(signed_over(site, query_)), site.srv)


def test_a07_duplicate_sig(site: Site) -> None:
    """A.7: a repeated sig is refused whichever copy is the good one."""
    signed = site.signed()
    bad = "sig=" + "0" * 64
    exp, good = signed.split("?", 1)[1].split("&")
    for query in (f"{exp}&{bad}&{good}", f"{exp}&{good}&{bad}", f"{exp}&{good}&{good}"):
        assert_denied(site.get(f"{site.path}/thumb?{query}"), site.srv)


def test_a08_array_style_params(site: Site) -> None:
    """A.8: ``exp[]`` and ``sig[]`` (plain or percent-encoded) are refused, never a type
    error."""
    signed = site.signed()
    exp, sig = signed.split("?", 1)[1].split("&")
    for query in (
        f"exp[]=99999999999&{sig}",
        f"{exp}&sig[]=a&sig[]=b",
        f"{exp}&sig[]={sig[4:]}",
        f"{exp}&sig%5B%5D={sig[4:]}",
    ):
        assert_denied(site.get(f"{site.path}/thumb?{query}"), site.srv)
    for query in ("exp[]=99999999999", "exp%5B%5D=99999999999", "exp%5b0%5d=99999999999"):
        assert_denied(site.get(signed_over(site, query)), site.srv)


# --- A.9, A.10 how exp is spelled -----------------------------------------------------------


def pct(text: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode("utf-8"))


SPELLINGS = [
    "abc",
    "1.7e9",
    "%2B1900000000",
    "%201900000000",
    "1900000000%20",
    "1_900_000_000",
    pct("١٩٠٠٠٠٠٠٠٠"),  # Arabic-Indic digits
    pct("\uff11\uff19\uff10\uff10"),  # fullwidth digits
    "0x7B3A7380",
    "00001900000000",
    "1900000000.0",
]


def test_a09_non_canonical_exp_spellings(site: Site) -> None:
    """A.9: exp must match ^[0-9]{1,12}$ before it is read as a number, even when the
    signature is valid over these exact bytes."""
    for spelling in SPELLINGS:
        assert_denied(site.get(signed_over(site, f"exp={spelling}")), site.srv)
    # Raw (not percent-encoded) non-ASCII never reaches the application: the HTTP layer
    # refuses it with 400; a server that passed it on would answer 403.
    path = f"{site.path}/thumb"
    raw = f"exp={'١٩٠٠٠٠٠٠٠٠'}".encode()
    message = path.encode() + b"?" + raw
    request = (
        b"GET " + message + b"&sig=" + mac(message, site.srv.signing_key).encode()
        + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )  # fmt: skip
    answer = send_raw(site.srv.base_url, request)
    check(answer, site.srv)
    assert answer.status in (400, 403)


def test_a10_huge_negative_or_oversized_exp(site: Site) -> None:
    """A.10: 20 digits, negative, and 5,000 digits: refused fast, never an overflow."""
    for spelling in ("99999999999999999999", "-1", "-1000000000000", "9" * 5000):
        started = time.monotonic()
        r = site.get(signed_over(site, f"exp={spelling}"))
        assert time.monotonic() - started < 2
        assert_denied(r, site.srv)


# --- A.11 lifetime policy and clock skew ----------------------------------------------------


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    clock = Clock(NOW)
    with launch(
        tmp_path_factory.mktemp("bounded") / "data", clock, max_url_lifetime=3600, clock_skew=30
    ) as srv:
        yield prepare(srv)


def test_a11_max_lifetime_milliseconds_and_skew(bounded: Site) -> None:
    """A.11: with IMAGEGATE_MAX_URL_LIFETIME=3600 and IMAGEGATE_CLOCK_SKEW=30, an exp more
    than an hour ahead, or written in milliseconds, is refused; 30 s past exp still serves."""
    site = bounded
    ok(site.get(target(site.signed(exp=NOW + 3600))), site.srv)
    assert_denied(site.get(target(site.signed(exp=NOW + 3601))), site.srv)
    assert_denied(site.get(signed_over(site, f"exp={(NOW + 60) * 1000}")), site.srv)
    ok(site.get(target(site.signed(exp=NOW - 30))), site.srv)
    assert_denied(site.get(target(site.signed(exp=NOW - 31))), site.srv)


# --- A.12 malformed sig ---------------------------------------------------------------------


def test_a12_malformed_sig_values(site: Site) -> None:
    """A.12: uppercase, wrong lengths, non-hex and non-ASCII signatures: the same 403."""
    signed = site.signed()
    exp, sig = signed.split("?", 1)[1].split("&")
    good = sig[4:]
    for value in (
        good.upper(),
        good[:63],
        good + "0",
        good + good,
        "g" * 64,
        "%C3%A9" * 64,
        "%C3%A9" * 32,
        good + "%00",
        good + "%0A",
        "",
    ):
        assert_denied(site.get(f"{site.path}/thumb?{exp}&sig={value}"), site.srv)
    request = (
        f"GET {site.path}/thumb?{exp}&sig=".encode() + "é".encode() * 64
        + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )  # fmt: skip
    answer = send_raw(site.srv.base_url, request)
    check(answer, site.srv)
    assert answer.status in (400, 403)


# --- A.14 the raw query is what is signed ---------------------------------------------------


def test_a14_js_encoded_params_verify_and_reencodings_do_not(site: Site) -> None:
    """A.14: URLs signed by the JavaScript reference with ``*~!()'``, spaces, ``+``, ``%20``,
    ``%2B`` and non-ASCII verify as sent; re-encoding any of them breaks the signature."""
    exp = int(time.time()) + 600
    queries = ["b=*~!()'", "note=a b", "p=a+b", "e=a%20b", "x=a%2Bb", "q=café&n=日本"]
    signed = node_sign([(f"{site.url()}?{q}", site.srv.signing_key, exp) for q in queries])
    for url in signed:
        ok(site.get(target(url)), site.srv)
    mutations = {
        "*%7E%21%28%29%27": "%2A~%21%27%28%29",  # what Python's urlencode writes
        "a+b": "a%20b",
        "a%2Bb": "a+b",
        "caf%C3%A9": "caf%c3%a9",
    }
    changed = 0
    for url in signed:
        for before, after in mutations.items():
            if before in url:
                assert_denied(site.get(target(url.replace(before, after))), site.srv)
                changed += 1
    assert changed >= 5


# --- A.15, A.16 normalisation and cloaking --------------------------------------------------


def test_a15_path_normalisation_never_launders_a_signature(site: Site) -> None:
    """A.15: the signature of /a/ID/thumb opens no spelling of it: dot segments, doubled or
    trailing slashes, percent-encoded letters or slashes, case, path parameters."""
    query = site.signed().split("?", 1)[1]
    h = site.srv.account_hash
    for path in (
        f"/{h}/sec/photo.jpg/./thumb",
        f"/{h}/sec/X/../photo.jpg/thumb",
        f"/{h}/sec/./photo.jpg/thumb",
        f"//{h}/sec/photo.jpg/thumb",
        f"/{h}//sec/photo.jpg/thumb",
        f"/{h}/sec/photo.jpg/thumb/",
        f"/{h}/sec/photo.jpg/%74humb",
        f"/{h}/sec/photo.jpg/THUMB",
        f"/{h}/sec/photo.jpg/thumb;x=1",
        f"/{h}/sec%2Fphoto.jpg/thumb",
        f"/{h}/%73ec/photo.jpg/thumb",
        f"/{h}/sec/photo%2Ejpg/thumb",
        f"/cdn-cgi/imagedelivery/{h}/sec/photo.jpg/thumb",
    ):
        r = site.get(f"{path}?{query}")
        check(r, site.srv)
        assert r.status in (403, 404), (path, r.status)


def test_a16_semicolon_and_encoded_delimiters(site: Site) -> None:
    """A.16: ``;`` is no separator and ``%26`` no ``&``: a cloaked pair is not a pair."""
    signed = site.signed()
    exp, sig = signed.split("?", 1)[1].split("&")
    old = f"exp={int(time.time()) - 100}"
    far = f"exp={int(time.time()) + 10**8}"
    old_sig = mac(f"{site.path}/thumb?{old}".encode(), site.srv.signing_key)
    for query in (
        f"{exp};{sig}",
        f"{old}&utm=x;{far}&sig={old_sig}",
        f"{exp}%26{sig.replace('=', '%3D')}",
        f"{exp}&utm=x%26{sig.replace('=', '%3D')}",
    ):
        assert_denied(site.get(f"{site.path}/thumb?{query}"), site.srv)
    # Signed over a cloaked pair, it is just a parameter value: the real exp still rules.
    assert_denied(site.get(signed_over(site, f"{old}&utm=x;{far}")), site.srv)


# --- A.18 order ------------------------------------------------------------------------------


def test_a18_param_order_is_part_of_the_signature(site: Site) -> None:
    """A.18, the rule pinned: the signature covers the query minus its sig pair, in the order
    received. Where sig stands does not matter; reordering any other pair does."""
    signed = sign_url(f"{site.url()}?v=2", site.srv.signing_key, 600)
    ok(site.get(target(signed)), site.srv)
    v, exp, sig = signed.split("?", 1)[1].split("&")
    ok(site.get(f"{site.path}/thumb?{sig}&{v}&{exp}"), site.srv)
    for query in (f"{exp}&{v}&{sig}", f"{sig}&{exp}&{v}"):
        assert_denied(site.get(f"{site.path}/thumb?{query}"), site.srv)


# --- A.20 side doors ----------------------------------------------------------------------------


def test_a20_no_unsigned_side_doors(site: Site) -> None:
    """A.20: no other route reaches the private image's pixels without a signature: not
    /original, /info, an ``unsafe`` or other prefix, the CDN form, a validator, the API
    without a token, or another method."""
    h = site.srv.account_hash
    etag = httpx.get(site.signed()).headers["etag"]
    denied = [
        site.get(f"{site.path}/original"),
        site.get(f"/cdn-cgi/imagedelivery/{h}/{IMAGE_ID}/thumb"),
        site.get(f"/cdn-cgi/imagedelivery/{h}/{IMAGE_ID}/public"),
        httpx.get(site.url(), headers={"If-None-Match": etag}),
        httpx.get(site.url(), headers={"Range": "bytes=0-10", "If-Range": etag}),
        httpx.get(site.url("public"), headers={"Accept": "image/avif"}),
    ]
    for r in denied:
        assert_denied(r, site.srv)
    for method in ("HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "TRACE"):
        r = raw_request(site.srv.base_url, f"{site.path}/thumb", method=method)
        check(r, site.srv)
        assert r.status == 403 and r.headers["cf-resized"] == "err=9425"
    for path in (
        f"{site.path}/thumb/info",
        f"/unsafe/{h}/{IMAGE_ID}/thumb",
        f"/debug/{h}/{IMAGE_ID}/thumb",
        f"/CDN-CGI/imagedelivery/{h}/{IMAGE_ID}/thumb",
        f"/{h}/{quote(IMAGE_ID, safe='')}/thumb",
    ):
        r = site.get(path)
        check(r, site.srv)
        assert r.status in (403, 404) and b"\xff\xd8" not in r.body
    api = site.srv.images_url + "/" + quote(IMAGE_ID, safe="")
    for path in ("/blob", "", "/signed_url"):
        r = httpx.get(api + path)
        check(r, site.srv)
        assert r.status_code == 401


# --- A.21 the access change reaches every worker --------------------------------------------


def test_a21_public_to_private_reaches_every_worker(cluster: Server) -> None:
    """A.21: an image served and cached as public by two worker processes is refused on
    both, unsigned, once it is made private (after at most IMAGEGATE_METADATA_CACHE_TTL,
    here 1 s, on the worker that did not make the change)."""
    upload(cluster, jpeg(120, 90), id="a21/flip.jpg")
    url = f"{cluster.base_url}/{cluster.account_hash}/a21/flip.jpg/public"
    for _ in range(12):  # new connections: both workers render and remember it
        assert httpx.get(url).status_code == 200
    with cluster.client() as c:
        r = c.patch(f"{cluster.images_url}/a21%2Fflip.jpg", json={"requireSignedURLs": True})
        assert r.status_code == 200
    time.sleep(1.3)
    for _ in range(16):
        assert_denied(httpx.get(url), cluster)
    assert httpx.get(sign_url(url, cluster.signing_key, 60)).status_code == 200


# --- A.22, A.23 traversal and look-alikes ---------------------------------------------------


def test_a22_traversal_and_double_encoding_read_nothing(site: Site, tmp_path: Path) -> None:
    """A.22: traversal spellings in the account, id and variant segments name nothing; ids
    are never file names (originals live under generated keys), so no file outside the store
    is read: a JPEG planted next to it is never served."""
    data_dir = site.srv.data_dir
    (data_dir / "canary.jpg").write_bytes(jpeg(33, 33))
    h = site.srv.account_hash
    payloads = [
        "..%2fcanary.jpg",
        "%2e%2e%2fcanary.jpg",
        "%252e%252e%252fcanary.jpg",
        "..%2f..%2f..%2fetc%2fpasswd",
        "..%5c..%5ccanary.jpg",
        "canary.jpg%00.png",
        "%00",
        "a\\..\\canary.jpg",
        "c%3a%5cwindows%5cwin.ini",
        "%5c%5c%3f%5cC%3a%5cx",
        "etc/passwd",
        "/etc/passwd",
        "..",
        "%2e%2e",
    ]
    targets = [f"/{h}/{p}/public" for p in payloads]
    targets += [f"/{p}/x/public" for p in ("..", "%2e%2e", "..%2f" + h, "%252e%252e")]
    targets += [f"{site.path}/{p}" for p in ("..", "..%2fpublic", "%2e%2e%2fpublic", "%00")]
    for path in targets:
        r = site.get(path)
        check(r, site.srv)
        assert r.status in (400, 403, 404), (path, r.status)
    api = f"/accounts/{site.srv.account_id}/images/v1"
    auth = {"Authorization": f"Bearer {site.srv.api_token}"}
    for payload in payloads:
        for where in (f"{api}/{payload.replace('/', '%2F')}/blob", f"{api}/{payload}/blob"):
            r = raw(site.srv.base_url, where, headers=auth)
            check(r, site.srv)
            assert r.status in (400, 404, 405), (where, r.status)
            assert r.body[:2] != b"\xff\xd8"


def test_a23_unicode_look_alikes_are_other_names(shared: Server) -> None:
    """A.23: ids are matched byte for byte, never normalised: NFD is not NFC, and fullwidth
    solidus, full stop, number sign and small commercial at are not ``/ . # @``. A public
    image is used, so a match would show."""
    srv = add_account(shared, "a23")
    upload(srv, jpeg(40, 30), id="café/a.b@c")
    base = f"/{srv.account_hash}"
    ok(raw_request(srv.base_url, f"{base}/{quote('café/a.b@c')}/public"), srv)
    for look_alike in (
        "cafe\u0301/a.b@c",  # NFD
        "café\uff0fa.b@c",  # fullwidth solidus
        "café/a\uff0eb@c",  # fullwidth full stop
        "café/a.b\ufe6bc",  # small commercial at
        "café/a.b\uff03c",  # fullwidth number sign
        "CAFÉ/a.b@c",
    ):
        r = raw_request(srv.base_url, f"{base}/{quote(look_alike)}/public")
        check(r, srv)
        assert r.status == 404 and r.text == "ERROR 9431: Not found", look_alike
    for variant in ("\uff50ublic", "publ\u0131c", "PUBLIC"):
        r = raw_request(srv.base_url, f"{base}/{quote('café/a.b@c')}/{quote(variant)}")
        check(r, srv)
        assert r.status == 403, variant
