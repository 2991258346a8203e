"""Cross-language tests: the Python signer and verifier against the JavaScript references.

``tests/interop/sign.mjs`` is the project's signer in Node: the seed's signing steps (WebCrypto,
WHATWG ``URL`` and ``URLSearchParams``). The seed's Worker, unchanged, runs in workerd from the
shared reference folder (see tests/workerd.py); that test alone needs the folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from imagegate.core.signing import Outcome, Policy, Verdict, sign_path, sign_url, verify
from nodejs import VECTORS_FILE, run_signer, signer_output
from workerd import sign_with_worker

BASE = "https://images.example.com"
HASH = "ZWd9g1K7eljCn_KDTu_MWA"
UUID = "083eb7b2-5392-4565-b69e-aff66acddd00"
FAR = 4102444800
STALE_SIG = "0123456789abcdef" * 4


@dataclass(frozen=True)
class Case:
    id: str
    url: str
    key: str = "secret"
    exp: int = FAR
    # A URL that already carries a ``sig``: the seed signs that stale pair, imagegate drops
    # it. ``twin`` is the same URL without the stale sig, which both must sign identically.
    twin: str | None = None


def at(path: str, query: str = "") -> str:
    url = f"{BASE}/{HASH}/{path}"
    return f"{url}?{query}" if query else url


CASES: list[Case] = [
    # image IDs and paths
    Case("uuid", at(f"{UUID}/public")),
    Case("custom-id-slashes", at("products/shoes/red.jpg/public")),
    Case("custom-id-utf8", at("produits/chaussures/café/naïve/日本語.png/thumbnail")),
    Case("custom-id-emoji", at("emoji/😀.png/public")),
    Case("custom-id-spaces", at("my photos/summer 2024.jpg/public")),
    Case("custom-id-percent", at("sale/100%/50%25off/public")),
    Case("custom-id-encoded-slash", at("a%2Fb/c%2fd/public")),
    Case("custom-id-js-specials", at("x*~!()'.jpg/public")),
    Case("custom-id-path-encode-set", at('q"<>`{}/public')),
    Case("custom-id-left-raw", at("p|^[]@$,;=+&.jpg/public")),
    Case("custom-id-plus", at("a+b.jpg/public")),
    Case("custom-id-dot-segments", at("a/./b/../c/%2e/%2E%2e/d/public")),
    Case("custom-id-backslash", at("a\\b/public")),
    Case("custom-id-tab-newline", at("a\tb\nc/public")),
    Case("surrounding-spaces", f"  {at(f'{UUID}/public')}  "),
    Case("cdn-cgi", f"{BASE}/cdn-cgi/imagedelivery/{HASH}/{UUID}/thumbnail"),
    Case("cdn-cgi-custom-utf8", f"{BASE}/cdn-cgi/imagedelivery/{HASH}/dossier/été.jpg/public"),
    Case("flexible-variant", at(f"{UUID}/w=400,fit=cover")),
    Case("flexible-variant-long", at(f"{UUID}/w=400,h=300,fit=scale-down,quality=80,f=auto")),
    # hosts, ports, fragments (not signed, but part of the URL written)
    Case("host-case-default-port", f"HTTPS://Images.Example.COM:443/{HASH}/{UUID}/public"),
    Case("http-default-port", f"http://images.example.com:80/{HASH}/{UUID}/public"),
    Case("other-port", f"https://images.example.com:8443/{HASH}/{UUID}/public"),
    Case("fragment", at(f"{UUID}/public", "v=1#top")),
    # extra query parameters
    Case("param-simple", at(f"{UUID}/public", "v=2")),
    Case("param-space", at(f"{UUID}/public", "note=hello world")),
    Case("param-js-specials", at(f"{UUID}/public", "b=*~!()'")),
    Case("param-plus", at(f"{UUID}/public", "p=a+b")),
    Case("param-pct20", at(f"{UUID}/public", "e=a%20b")),
    Case("param-pct2B", at(f"{UUID}/public", "q=a%2Bb")),
    Case("param-all-spaces", at(f"{UUID}/public", "s=a b&p=a+b&e=a%20b&q=a%2Bb&b=*~!()'+")),
    Case("param-utf8", at(f"{UUID}/public", "u=café&日本=語&e=%F0%9F%98%80")),
    Case("param-bad-percent", at(f"{UUID}/public", "z=%zz&f=%FF&c=%C3")),
    Case("param-empty-pairs", at(f"{UUID}/public", "a=1&&b=2&n&=x&")),
    Case("param-delimiters", at(f"{UUID}/public", "utm=x;y&amp=%26&eq=1=2&h=%23")),
    # stale exp on the URL: replaced where it stands
    Case("stale-exp-first", at(f"{UUID}/public", "exp=1&v=2")),
    Case("stale-exp-middle", at(f"{UUID}/public", "v=1&exp=1631289275&w=2")),
    Case("stale-exp-repeated", at(f"{UUID}/public", "exp=1&v=3&exp=2")),
    Case("stale-exp-empty", at(f"{UUID}/public", "exp=")),
    # stale sig on the URL: the seed's output differs from imagegate's by design
    Case(
        "stale-sig-last",
        at(f"{UUID}/public", f"v=2&sig={STALE_SIG}"),
        twin=at(f"{UUID}/public", "v=2"),
    ),
    Case(
        "stale-sig-first",
        at(f"{UUID}/public", f"sig={STALE_SIG}&v=2"),
        twin=at(f"{UUID}/public", "v=2"),
    ),
    Case(
        "stale-exp-and-sig",
        at(f"{UUID}/public", f"exp=1631289275&sig={STALE_SIG}"),
        twin=at(f"{UUID}/public", "exp=1631289275"),
    ),
    Case(
        "stale-sig-custom-id",
        at("products/café.jpg/public", "sig=abc&exp=5&w=1"),
        twin=at("products/café.jpg/public", "exp=5&w=1"),
    ),
    # keys and expiries
    Case("key-non-ascii", at(f"{UUID}/public"), key="clé-ünicode"),
    Case("key-emoji", at("products/café.jpg/public"), key="🔑 signing key"),
    Case("key-symbols", at(f"{UUID}/public", "v=2"), key="k e y+/=%&?"),
    Case("key-base64-looking", at(f"{UUID}/public"), key="Oix0bbNaT8Rge9PuyxUBrjI6zrgnsyJ5="),
    Case("key-longer-than-block", at(f"{UUID}/public"), key="long-key-" * 30),
    Case("exp-zero", at(f"{UUID}/public"), exp=0),
    Case("exp-seed-example", at(f"{UUID}/public"), exp=1631289275),
    Case("exp-12-digits", at(f"{UUID}/public"), exp=999999999999),
]
CASE_IDS = [case.id for case in CASES]


def split_signed(url: str) -> tuple[bytes, bytes]:
    """Raw path and raw query of a signed full URL, as the server receives them."""
    rest = url.split("://", 1)[1]
    path_and_query = rest[rest.index("/") :].split("#", 1)[0]
    path, _, query = path_and_query.partition("?")
    return path.encode("utf-8"), query.encode("utf-8")


def run_sign_mjs(requests: list[tuple[str, str, int]]) -> list[str]:
    outputs = run_signer(requests)
    for output, (url, key, exp) in zip(outputs, requests, strict=True):
        assert (output["url"], output["key"], output["exp"]) == (url, key, exp)
    return [str(output["signed"]) for output in outputs]


@dataclass(frozen=True)
class NodeResult:
    signed: str
    twin_signed: str | None


@pytest.fixture(scope="module")
def node_results() -> dict[str, NodeResult]:
    """Every case (and every stale-sig twin) signed by sign.mjs, in one node run."""
    requests = [(case.url, case.key, case.exp) for case in CASES]
    twins = [case for case in CASES if case.twin is not None]
    requests += [(str(case.twin), case.key, case.exp) for case in twins]
    signed = run_sign_mjs(requests)
    twin_signed = dict(zip([case.id for case in twins], signed[len(CASES) :], strict=True))
    return {
        case.id: NodeResult(signed[index], twin_signed.get(case.id))
        for index, case in enumerate(CASES)
    }


def test_enough_cases() -> None:
    assert len(CASES) >= 40
    assert len(set(CASE_IDS)) == len(CASE_IDS)


@pytest.mark.parametrize("case", [c for c in CASES if c.twin is None], ids=lambda c: c.id)
def test_python_signs_like_node(case: Case, node_results: dict[str, NodeResult]) -> None:
    assert sign_url(case.url, case.key, exp=case.exp) == node_results[case.id].signed


@pytest.mark.parametrize("case", [c for c in CASES if c.twin is None], ids=lambda c: c.id)
def test_node_output_verifies(case: Case, node_results: dict[str, NodeResult]) -> None:
    path, query = split_signed(node_results[case.id].signed)
    keys = [("other", b"not-the-key"), ("k", case.key.encode("utf-8"))]
    assert verify(path, query, keys, case.exp) == Verdict(Outcome.OK, "k", case.exp)
    assert verify(path, query, keys, case.exp + 1).outcome is Outcome.EXPIRED
    assert verify(path, query, keys[:1], case.exp).outcome is Outcome.BAD


@pytest.mark.parametrize("case", [c for c in CASES if c.twin is not None], ids=lambda c: c.id)
def test_stale_sig_dropped_where_seed_signs_it(
    case: Case, node_results: dict[str, NodeResult]
) -> None:
    result = node_results[case.id]
    keys = [("k", case.key.encode("utf-8"))]
    ours = sign_url(case.url, case.key, exp=case.exp)
    assert ours != result.signed
    assert verify(*split_signed(ours), keys, case.exp).ok
    # The seed signed "...&sig=<stale>" and then replaced the sig: its URL can never verify.
    assert verify(*split_signed(result.signed), keys, case.exp).outcome is Outcome.BAD
    # Without the stale sig, both signers agree byte for byte.
    assert ours == result.twin_signed


WORKER_KEY = "wörker-signing-key"
WORKER_PATHS = [
    f"/{HASH}/{UUID}/public",
    f"/{HASH}/products/shoes/café.jpg/public",
    f"/{HASH}/my photos/日本語 😀.png/thumbnail",
    # A bare "%" not followed by hex digits is refused by Miniflare's request dispatch.
    f"/{HASH}/sale/100%25/x*~!()'.jpg/w=400,fit=cover",
    f"/cdn-cgi/imagedelivery/{HASH}/{UUID}/thumbnail",
]


def test_seed_worker_in_workerd_verifies() -> None:
    signed = sign_with_worker(WORKER_KEY, WORKER_PATHS)
    now = int(time.time())
    assert len(signed) == len(WORKER_PATHS)
    keys = [("old", b"retired-key"), ("current", WORKER_KEY.encode("utf-8"))]
    for original, line in zip(WORKER_PATHS, signed, strict=True):
        path, _, query = line.partition("?")
        raw_path, raw_query = path.encode("ascii"), query.encode("ascii")
        verdict = verify(raw_path, raw_query, keys, now)
        assert verdict.outcome is Outcome.OK, line
        assert verdict.key_name == "current"
        assert verdict.exp is not None
        assert abs(verdict.exp - (now + 86400)) <= 120, line
        lifetime = Policy(max_lifetime=86400 + 120)
        assert verify(raw_path, raw_query, keys, now, lifetime).ok
        refused = verify(raw_path, raw_query, [("other", b"another-key")], now)
        assert refused.outcome is Outcome.BAD, line
        assert verify(raw_path, raw_query, keys, verdict.exp + 1).outcome is Outcome.EXPIRED
        # The Python signer writes the same path+query for the Worker's exp.
        assert sign_path(original, WORKER_KEY, verdict.exp) == line


def test_vectors_file_is_what_the_signer_writes() -> None:
    """tests/interop/vectors.jsonl is sign.mjs's own output for its inputs, byte for byte
    (regenerate: node tests/interop/sign.mjs --jsonl < vectors.jsonl > new)."""
    text = VECTORS_FILE.read_text(encoding="utf-8")
    assert signer_output(text) == text
