"""Table-driven tests of the signing core: reference vectors, security cases, signer rules."""

from __future__ import annotations

import ast
import hashlib
import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import imagegate.core.signing
from imagegate.core.signing import Outcome, Policy, Verdict, sign_path, sign_url, verify
from nodejs import VECTORS_FILE, load_vectors


def split_signed(url: str) -> tuple[bytes, bytes]:
    """Raw path and raw query of a signed URL, as a server would receive them."""
    if "://" in url:
        rest = url.split("://", 1)[1]
        url = rest[rest.index("/") :] if "/" in rest else "/"
    url = url.split("#", 1)[0]
    path, _, query = url.partition("?")
    return path.encode("utf-8"), query.encode("utf-8")


VECTORS = load_vectors()
VECTOR_IDS = [f"vector{n}" for n in range(len(VECTORS))]


# --- Reference vectors ------------------------------------------------------------------------


def test_vectors_file_present() -> None:
    assert len(VECTORS) >= 20, f"too few reference vectors in {VECTORS_FILE}"


@pytest.mark.parametrize("vector", VECTORS, ids=VECTOR_IDS)
def test_vector_sign_url_matches_reference(vector: dict[str, object]) -> None:
    url, key, exp = str(vector["url"]), str(vector["key"]), int(str(vector["exp"]))
    assert sign_url(url, key, exp=exp) == vector["signed"]
    assert sign_url(url, key.encode("utf-8"), exp=exp) == vector["signed"]


@pytest.mark.parametrize("vector", VECTORS, ids=VECTOR_IDS)
def test_vector_verifies_at_exp(vector: dict[str, object]) -> None:
    key = str(vector["key"]).encode("utf-8")
    exp = int(str(vector["exp"]))
    path, query = split_signed(str(vector["signed"]))
    verdict = verify(path, query, [("k1", key)], now=exp)
    assert verdict == Verdict(Outcome.OK, "k1", exp)
    assert verify(path, query, [("k1", key)], now=exp + 1).outcome is Outcome.EXPIRED
    assert verify(path, query, [("other", key + b"x")], now=exp).outcome is Outcome.BAD


def single_char_mutations(text: str) -> Iterator[tuple[int, str]]:
    """Every string that differs from ``text`` by one substituted character."""
    for index, char in enumerate(text):
        neighbour = chr(ord(char) + 1) if char != "~" else "}"
        for replacement in {neighbour, char.swapcase(), "0", "a", "A", "%", "&", "=", "?", "/"}:
            if replacement != char:
                yield index, text[:index] + replacement + text[index + 1 :]


@pytest.mark.parametrize("vector", VECTORS, ids=VECTOR_IDS)
def test_vector_any_single_char_change_fails(vector: dict[str, object]) -> None:
    key = str(vector["key"]).encode("utf-8")
    exp = int(str(vector["exp"]))
    path, query = split_signed(str(vector["signed"]))
    signed = (path + b"?" + query).decode("ascii")
    checked = 0
    for index, mutated in single_char_mutations(signed):
        raw_path, _, raw_query = mutated.partition("?")
        verdict = verify(raw_path.encode(), raw_query.encode(), [("k1", key)], now=exp)
        assert not verdict.ok, f"position {index}: {mutated!r} still verifies"
        checked += 1
    assert checked > 5 * len(signed)


# --- Security cases (spec section A) --------------------------------------------------------

KEY = b"secret"
KEYS = [("k1", KEY)]
PATH = b"/ZWd9g1K7eljCn_KDTu_MWA/083eb7b2-5392-4565-b69e-aff66acddd00/public"
NOW = 1_700_000_000
EXP = NOW + 3600
E = str(EXP).encode()
FAR = str(NOW + 10**9).encode()
OLD = str(NOW - 100).encode()


def mac(query: bytes, path: bytes = PATH, key: bytes = KEY) -> bytes:
    """Lowercase hex HMAC over ``path?query`` (``path`` alone for an empty query)."""
    message = path + b"?" + query if query else path
    return hmac.new(key, message, hashlib.sha256).hexdigest().encode()


def signed(query: bytes) -> bytes:
    """``query&sig=<valid sig over query>``."""
    return query + b"&sig=" + mac(query) if query else b"sig=" + mac(query)


GOOD = mac(b"exp=" + E)


@dataclass(frozen=True)
class Case:
    id: str
    query: bytes
    expected: Outcome
    now: int = NOW
    policy: Policy = Policy()
    path: bytes = PATH


def arabic_indic(digits: str) -> str:
    return "".join(chr(0x0660 + int(d)) for d in digits)


def fullwidth(digits: str) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in digits)


def pct(text: str) -> bytes:
    return "".join(f"%{b:02X}" for b in text.encode("utf-8")).encode()


NON_CANONICAL_EXP: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("abc", b"abc"),
    ("float-exponent", b"1.7e9"),
    ("decimal", b"1700000000.0"),
    ("plus-sign", b"+1700000000"),
    ("plus-sign-encoded", b"%2B1700000000"),
    ("leading-space", b" 1700000000"),
    ("leading-space-encoded", b"%201700000000"),
    ("trailing-space", b"1700000000 "),
    ("trailing-newline", b"1700000000\n"),
    ("underscores", b"1_700_000_000"),
    ("arabic-indic-raw", arabic_indic("1700000000").encode("utf-8")),
    ("arabic-indic-encoded", pct(arabic_indic("1700000000"))),
    ("fullwidth-raw", fullwidth("1700").encode("utf-8")),
    ("fullwidth-encoded", pct(fullwidth("1700"))),
    ("hex", b"0x6553F100"),
    ("negative", b"-1"),
    ("negative-huge", b"-1000000000000"),
    ("13-digits-milliseconds", str(EXP * 1000).encode()),
    ("14-digits-leading-zeros", b"00001700000000"),
    ("20-digits", b"99999999999999999999"),
    ("5000-nines", b"9" * 5000),
]


def one_char_upper(sig: bytes) -> bytes:
    index = next(i for i, c in enumerate(sig) if chr(c).isalpha())
    return sig[:index] + sig[index : index + 1].upper() + sig[index + 1 :]


BAD_SIGS: list[tuple[str, bytes]] = [
    ("uppercase", GOOD.upper()),
    ("one-uppercase-char", one_char_upper(GOOD)),
    ("len0", b""),
    ("len63", GOOD[:63]),
    ("len65", GOOD + b"0"),
    ("len128", GOOD + GOOD),
    ("non-hex", b"g" * 64),
    ("trailing-newline", GOOD + b"\n"),
    ("trailing-nul-encoded", GOOD + b"%00"),
    ("e-acute-x64-utf8", "é".encode() * 64),
    ("e-acute-x32-utf8-64-bytes", "é".encode() * 32),
    ("e-acute-x64-encoded", b"%C3%A9" * 64),
    ("latin1-byte-x64", b"\xe9" * 64),
    ("invalid-utf8", b"\xff" * 64),
]

XE = b"exp=" + E  # the exp pair GOOD was computed over
WITH_GOOD = XE + b"&sig=" + GOOD
ZERO = b"0" * 64
DAY = Policy(max_lifetime=86400)


def resigned(sent: bytes, original: bytes) -> bytes:
    """``sent`` carrying the sig that was computed over ``original``."""
    return sent + b"&sig=" + mac(original)


def exp_at(seconds: int) -> bytes:
    return b"exp=" + str(seconds).encode()


CASES: list[Case] = [
    # 2. missing or empty sig / exp
    Case("no-query", b"", Outcome.MISSING),
    Case("exp-only", XE, Outcome.MISSING),
    Case("other-params-only", b"v=2&w=3", Outcome.MISSING),
    Case("sig-only-valid-over-path", signed(b""), Outcome.MISSING),
    Case("sig-only-garbage", b"sig=abc", Outcome.MALFORMED),
    Case("both-empty", b"exp=&sig=", Outcome.MALFORMED),
    Case("exp-empty-sig-valid", signed(b"exp="), Outcome.MALFORMED),
    Case("exp-without-equals", signed(b"exp"), Outcome.MALFORMED),
    Case("sig-empty", XE + b"&sig=", Outcome.MALFORMED),
    Case("sig-without-equals", XE + b"&sig", Outcome.MALFORMED),
    Case("sig-name-percent-encoded", XE + b"&%73ig=" + GOOD, Outcome.MISSING),
    Case("exp-name-percent-encoded", signed(b"%65xp=" + E), Outcome.MISSING),
    Case("exp-name-uppercase", signed(b"EXP=" + E), Outcome.MISSING),
    # 3. expiry boundary, frozen clock
    Case("valid", WITH_GOOD, Outcome.OK),
    Case("now-is-exp-minus-1", WITH_GOOD, Outcome.OK, now=EXP - 1),
    Case("now-is-exp", WITH_GOOD, Outcome.OK, now=EXP),
    Case("now-is-exp-plus-1", WITH_GOOD, Outcome.EXPIRED, now=EXP + 1),
    Case("exp-in-past", signed(exp_at(NOW - 1)), Outcome.EXPIRED),
    Case("exp-zero", signed(b"exp=0"), Outcome.EXPIRED),
    Case("exp-zero-at-zero", signed(b"exp=0"), Outcome.OK, now=0),
    Case("skew-now-is-exp-plus-skew", WITH_GOOD, Outcome.OK, EXP + 30, Policy(clock_skew=30)),
    Case("skew-past-skew", WITH_GOOD, Outcome.EXPIRED, EXP + 31, Policy(clock_skew=30)),
    Case("skew-bad-sig", XE + b"&sig=" + ZERO, Outcome.BAD, EXP + 1, Policy(clock_skew=30)),
    # 5. extend exp under the same sig
    Case("exp-extended", resigned(b"exp=" + FAR, exp_at(NOW + 60)), Outcome.BAD),
    Case("exp-extended-by-one", resigned(exp_at(EXP + 1), XE), Outcome.BAD),
    Case("expired-with-other-sig-is-bad", resigned(b"exp=" + OLD, XE), Outcome.BAD),
    # 6. duplicate exp, both orders, and after sig; some sigs valid over the exact kept bytes
    Case("dup-exp-signed-first", signed(XE + b"&exp=" + FAR), Outcome.MALFORMED),
    Case("dup-exp-signed-second", signed(b"exp=" + FAR + b"&" + XE), Outcome.MALFORMED),
    Case("dup-exp-original-sig", resigned(XE + b"&exp=" + FAR, XE), Outcome.MALFORMED),
    Case(
        "dup-exp-reversed-original-sig", resigned(b"exp=" + FAR + b"&" + XE, XE), Outcome.MALFORMED
    ),
    Case("dup-exp-after-sig", WITH_GOOD + b"&exp=" + FAR, Outcome.MALFORMED),
    Case("dup-exp-same-value", signed(XE + b"&" + XE), Outcome.MALFORMED),
    # 7. duplicate sig
    Case("dup-sig-bad-then-good", XE + b"&sig=" + ZERO + b"&sig=" + GOOD, Outcome.MALFORMED),
    Case("dup-sig-good-then-bad", WITH_GOOD + b"&sig=" + ZERO, Outcome.MALFORMED),
    Case("dup-sig-same", WITH_GOOD + b"&sig=" + GOOD, Outcome.MALFORMED),
    Case("dup-sig-empty-first", XE + b"&sig=&sig=" + GOOD, Outcome.MALFORMED),
    # 8. array-style parameters
    Case("exp-array", signed(b"exp[]=99999999999"), Outcome.MALFORMED),
    Case("exp-array-encoded", signed(b"exp%5B%5D=99999999999"), Outcome.MALFORMED),
    Case("exp-array-encoded-lower", signed(b"exp%5b%5d=99999999999"), Outcome.MALFORMED),
    Case("exp-array-indexed", signed(b"exp[0]=" + E), Outcome.MALFORMED),
    Case("exp-and-exp-array", signed(XE + b"&exp[]=" + FAR), Outcome.MALFORMED),
    Case("sig-array", XE + b"&sig[]=a&sig[]=b", Outcome.MALFORMED),
    Case("sig-array-good-value", XE + b"&sig[]=" + GOOD, Outcome.MALFORMED),
    Case("sig-array-encoded", XE + b"&sig%5B%5D=" + GOOD, Outcome.MALFORMED),
    # 9, 10. non-canonical, huge and negative exp (valid sig over the exact bytes)
    *(
        Case(f"exp-{name}", signed(b"exp=" + value), Outcome.MALFORMED)
        for name, value in NON_CANONICAL_EXP
    ),
    Case("exp-12-digits-far-future", signed(b"exp=999999999999"), Outcome.OK),
    Case("exp-leading-zeros-within-12-digits", signed(b"exp=00" + E), Outcome.OK),
    # 11. max lifetime (seconds), including a millisecond exp
    Case("max-lifetime-exact", signed(exp_at(NOW + 86400)), Outcome.OK, policy=DAY),
    Case("max-lifetime-over", signed(exp_at(NOW + 86401)), Outcome.TOO_LONG, policy=DAY),
    Case("max-lifetime-12-digits", signed(b"exp=999999999999"), Outcome.TOO_LONG, policy=DAY),
    Case("max-lifetime-milliseconds", signed(exp_at(EXP * 1000)), Outcome.MALFORMED, policy=DAY),
    Case("max-lifetime-bad-sig", resigned(b"exp=" + FAR, XE), Outcome.BAD, policy=DAY),
    Case("max-lifetime-expired", signed(b"exp=" + OLD), Outcome.EXPIRED, policy=DAY),
    Case("max-lifetime-with-skew", WITH_GOOD, Outcome.OK, EXP + 5, Policy(5, max_lifetime=60)),
    # 12. malformed sig values
    *(Case(f"sig-{name}", XE + b"&sig=" + value, Outcome.MALFORMED) for name, value in BAD_SIGS),
    # 14. raw bytes are signed: "+", "%20", "%2B" and " " are four different strings
    Case("plus-as-signed", signed(b"note=a+b&" + XE), Outcome.OK),
    Case("plus-to-pct20", resigned(b"note=a%20b&" + XE, b"note=a+b&" + XE), Outcome.BAD),
    Case("plus-to-pct2B", resigned(b"note=a%2Bb&" + XE, b"note=a+b&" + XE), Outcome.BAD),
    Case("plus-to-space", resigned(b"note=a b&" + XE, b"note=a+b&" + XE), Outcome.BAD),
    Case("pct20-as-signed", signed(b"note=a%20b&" + XE), Outcome.OK),
    Case("pct20-to-plus", resigned(b"note=a+b&" + XE, b"note=a%20b&" + XE), Outcome.BAD),
    Case("pct2B-lowercase-hex", resigned(b"note=a%2b&" + XE, b"note=a%2B&" + XE), Outcome.BAD),
    Case("js-encoded-specials", signed(b"b=*%7E%21%28%29%27&" + XE), Outcome.OK),
    Case(
        "python-encoded-specials",
        resigned(b"b=%2A~%21%27%28%29&" + XE, b"b=*%7E%21%28%29%27&" + XE),
        Outcome.BAD,
    ),
    Case("raw-utf8-param", signed("q=café&".encode() + XE), Outcome.OK),
    Case("empty-pairs-kept", signed(b"a=1&&b=2&" + XE), Outcome.OK),
    Case("empty-pair-dropped", resigned(b"a=1&b=2&" + XE, b"a=1&&b=2&" + XE), Outcome.BAD),
    Case("trailing-ampersand-added", WITH_GOOD + b"&", Outcome.BAD),
    # 16. semicolon and encoded-delimiter cloaking
    Case("semicolon-sig", XE + b";sig=" + GOOD, Outcome.MISSING),
    Case(
        "semicolon-exp-cloak",
        resigned(b"exp=" + OLD + b"&utm=x;exp=" + FAR, b"exp=" + OLD),
        Outcome.BAD,
    ),
    Case("semicolon-cloak-signed", signed(b"exp=" + OLD + b"&utm=x;exp=" + FAR), Outcome.EXPIRED),
    Case("semicolon-in-exp-value", signed(b"exp=" + OLD + b";exp=" + FAR), Outcome.MALFORMED),
    Case("encoded-ampersand-sig", XE + b"%26sig%3D" + GOOD, Outcome.MISSING),
    Case("encoded-ampersand-signed", signed(XE + b"%26exp%3D" + FAR), Outcome.MALFORMED),
    # 17. params appended after sig are covered too
    Case("params-after-sig", WITH_GOOD + b"&w=9000&format=png", Outcome.BAD),
    Case("param-before-exp", b"w=9000&" + WITH_GOOD, Outcome.BAD),
    Case("params-after-sig-signed", XE + b"&sig=" + mac(XE + b"&w=9") + b"&w=9", Outcome.OK),
    # 18. reordering: valid exactly when the message bytes (query minus sig) are unchanged
    Case("sig-before-exp", b"sig=" + GOOD + b"&" + XE, Outcome.OK),
    Case("sig-between-params", b"v=2&sig=" + mac(b"v=2&" + XE) + b"&" + XE, Outcome.OK),
    Case("params-reordered", resigned(XE + b"&v=2", b"v=2&" + XE), Outcome.BAD),
    # 4, 15. path tampering under the same sig
    Case("other-variant", WITH_GOOD, Outcome.BAD, path=PATH.replace(b"public", b"thumb")),
    Case("dot-segment", WITH_GOOD, Outcome.BAD, path=PATH.replace(b"/public", b"/./public")),
    Case("double-slash", WITH_GOOD, Outcome.BAD, path=b"/" + PATH),
    Case("trailing-slash", WITH_GOOD, Outcome.BAD, path=PATH + b"/"),
    Case("encoded-char", WITH_GOOD, Outcome.BAD, path=PATH.replace(b"public", b"%70ublic")),
    Case("uppercase-variant", WITH_GOOD, Outcome.BAD, path=PATH.replace(b"public", b"PUBLIC")),
    Case("path-params", WITH_GOOD, Outcome.BAD, path=PATH + b";x=1"),
    Case("cdn-cgi-prefix", WITH_GOOD, Outcome.BAD, path=b"/cdn-cgi/imagedelivery" + PATH),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_security_case(case: Case) -> None:
    verdict = verify(case.path, case.query, KEYS, case.now, case.policy)
    assert verdict.outcome is case.expected
    if case.expected in (Outcome.OK, Outcome.EXPIRED, Outcome.TOO_LONG):
        assert verdict.key_name == "k1"
    else:
        assert verdict.key_name is None


def test_case_ids_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_verdict_carries_exp() -> None:
    verdict = verify(PATH, signed(b"exp=" + E), KEYS, NOW)
    assert verdict == Verdict(Outcome.OK, "k1", EXP)
    assert verdict.ok
    expired = verify(PATH, signed(b"exp=" + E), KEYS, EXP + 1)
    assert expired == Verdict(Outcome.EXPIRED, "k1", EXP)
    assert not expired.ok


# --- Keys ---------------------------------------------------------------------------------------


def test_every_key_is_tried_and_named() -> None:
    query = b"exp=" + E + b"&sig=" + mac(b"exp=" + E, key=b"new")
    keys = [("old", b"old"), ("new", b"new"), ("spare", b"spare")]
    assert verify(PATH, query, keys, NOW) == Verdict(Outcome.OK, "new", EXP)
    assert verify(PATH, query, iter(keys), NOW).key_name == "new"
    assert verify(PATH, query, (k for k in keys), NOW).key_name == "new"
    assert verify(PATH, query, [("old", b"old")], NOW).outcome is Outcome.BAD
    assert verify(PATH, query, [], NOW).outcome is Outcome.BAD


def test_key_is_utf8_bytes_never_base64_decoded() -> None:
    key = "Oix0bbNaT8Rge9PuyxUBrjI6zrgnsyJ5="
    path, query = split_signed(sign_path("/h/i/public", key, EXP))
    assert verify(path, query, [("k", key.encode())], NOW).ok
    import base64

    assert not verify(path, query, [("k", base64.b64decode(key))], NOW).ok


# --- No expiry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/h/i/public", "/h/i/public?v=2", "https://x.example/h/i/public?v=2"]
)
def test_no_expiry_only_when_allowed(url: str) -> None:
    out = sign_url(url, "secret", expires_in=None)
    assert "exp=" not in out
    path, query = split_signed(out)
    assert verify(path, query, KEYS, NOW).outcome is Outcome.MISSING
    allowed = verify(path, query, KEYS, NOW, Policy(allow_no_expiry=True))
    assert allowed == Verdict(Outcome.OK, "k1", None)
    far_future = 10**15
    assert verify(path, query, KEYS, far_future, Policy(allow_no_expiry=True)).ok
    wrong = verify(path, query, [("k2", b"other")], NOW, Policy(allow_no_expiry=True))
    assert wrong.outcome is Outcome.BAD


def test_no_expiry_signature_covers_bare_path() -> None:
    out = sign_url("/h/i/public", "secret", expires_in=None)
    assert out == "/h/i/public?sig=" + mac(b"", path=b"/h/i/public").decode()


def test_allow_no_expiry_still_enforces_a_present_exp() -> None:
    policy = Policy(allow_no_expiry=True)
    assert verify(PATH, signed(b"exp=" + OLD), KEYS, NOW, policy).outcome is Outcome.EXPIRED
    assert verify(PATH, signed(b"exp=abc"), KEYS, NOW, policy).outcome is Outcome.MALFORMED


def test_allow_no_expiry_bypasses_max_lifetime() -> None:
    # An operator who allows non-expiring URLs gets them even with a max lifetime set.
    policy = Policy(allow_no_expiry=True, max_lifetime=60)
    assert verify(PATH, signed(b""), KEYS, NOW, policy).ok
    assert verify(PATH, signed(b"exp=" + E), KEYS, NOW, policy).outcome is Outcome.TOO_LONG


# --- Robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        b"&",
        b"&&&",
        b"=",
        b"==&==",
        b"sig",
        b"exp",
        b"\x00",
        b"\xff\xfe",
        b"exp=\xff&sig=\xff",
        b"exp=" + b"1" * 100_000 + b"&sig=" + GOOD,
        b"&".join(b"a=%d" % i for i in range(10_000)) + b"&exp=" + E + b"&sig=" + GOOD,
    ],
    ids=[
        "amp",
        "amps",
        "eq",
        "eqs",
        "sig-bare",
        "exp-bare",
        "nul",
        "bom",
        "ff",
        "long-exp",
        "many",
    ],
)
def test_verify_never_raises(query: bytes) -> None:
    verdict = verify(PATH, query, KEYS, NOW)
    assert verdict.outcome is not Outcome.OK


# --- Signer -------------------------------------------------------------------------------------


def test_signer_drops_stale_sig() -> None:
    stale = "0" * 64
    clean = sign_url("/h/i/public?v=2", "secret", exp=EXP)
    for url in (
        f"/h/i/public?v=2&sig={stale}",
        f"/h/i/public?sig={stale}&v=2",
        f"/h/i/public?v=2&sig={stale}&sig=abc",
        "/h/i/public?v=2&sig=",
        f"/h/i/public?v=2&%73ig={stale}",
    ):
        out = sign_url(url, "secret", exp=EXP)
        assert out == clean, url
        assert stale not in out
        path, query = split_signed(out)
        assert verify(path, query, KEYS, NOW).ok


def test_signer_does_not_sign_the_stale_pair() -> None:
    # The seed's signer would compute the sig over "...?exp=E&sig=<stale>".
    stale = "0" * 64
    out = sign_url(f"/h/i/public?exp=1&sig={stale}", "secret", exp=EXP)
    seed_sig = mac(f"exp={EXP}&sig={stale}".encode(), path=b"/h/i/public").decode()
    assert seed_sig not in out
    assert out == f"/h/i/public?exp={EXP}&sig=" + mac(b"exp=" + E, path=b"/h/i/public").decode()


@pytest.mark.parametrize(
    ("url", "expected_query"),
    [
        ("/h/i/public?exp=1", f"exp={EXP}"),
        ("/h/i/public?a=1&exp=5&b=2", f"a=1&exp={EXP}&b=2"),
        ("/h/i/public?exp=1&a=1&exp=2", f"exp={EXP}&a=1"),
        ("/h/i/public?a=1&exp=&b=2", f"a=1&exp={EXP}&b=2"),
        ("/h/i/public?a=1", f"a=1&exp={EXP}"),
        ("/h/i/public?%65xp=1&a=1", f"exp={EXP}&a=1"),
        ("/h/i/public?exp=1&sig=00&a=1", f"exp={EXP}&a=1"),
    ],
    ids=["only", "middle", "repeated", "empty", "appended", "encoded-name", "with-sig"],
)
def test_signer_replaces_exp_in_place(url: str, expected_query: str) -> None:
    out = sign_url(url, "secret", exp=EXP)
    path, query = split_signed(out)
    assert query.decode().rsplit("&sig=", 1)[0] == expected_query
    assert verify(path, query, KEYS, NOW) == Verdict(Outcome.OK, "k1", EXP)


def test_signer_expiry_arguments() -> None:
    base = "/h/i/public"
    assert sign_url(base, "secret", 3600, now=NOW) == sign_url(base, "secret", exp=NOW + 3600)
    assert sign_url(base, "secret", now=NOW) == sign_url(base, "secret", exp=NOW + 86400)
    assert sign_url(base, "secret", now=NOW + 0.999) == sign_url(base, "secret", exp=NOW + 86400)
    assert sign_url(base, "secret", 5, now=NOW, exp=EXP) == sign_url(base, "secret", exp=EXP)
    assert sign_path(base, "secret", EXP) == sign_url(base, "secret", exp=EXP)
    assert sign_path(base, "secret", None) == sign_url(base, "secret", None)
    assert sign_url(base, "secret", exp=EXP) == sign_url(base, b"secret", exp=EXP)


def test_signer_uses_clock_only_without_now_or_exp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: NOW + 0.5)
    assert sign_url("/h/i/public", "secret", 60) == sign_url("/h/i/public", "secret", exp=NOW + 60)


def test_signer_keeps_fragment_outside_signature() -> None:
    out = sign_url("https://x.example/h/i/public?v=1#top", "secret", exp=EXP)
    assert out.endswith("#top")
    path, query = split_signed(out)
    assert verify(path, query, KEYS, NOW).ok


# --- Constant-time comparison (lint) ----------------------------------------------------------

SECRET_WORDS = ("sig", "digest", "expected")


def _names(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            yield sub.id
        elif isinstance(sub, ast.Attribute):
            yield sub.attr
        elif isinstance(sub, ast.arg):
            yield sub.arg


def non_constant_time_comparisons(tree: ast.AST) -> list[str]:
    """``==``, ``!=``, ``in`` and ``not in`` comparisons that involve a secret-looking name."""
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops):
            continue
        if _is_length_check(node):
            continue  # len(sig) != 64 compares a public length, not the secret's bytes
        if any(word in name.lower() for name in _names(node) for word in SECRET_WORDS):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def _is_length_check(node: ast.Compare) -> bool:
    sides = [node.left, *node.comparators]
    return any(
        isinstance(side, ast.Call) and isinstance(side.func, ast.Name) and side.func.id == "len"
        for side in sides
    ) and all(
        isinstance(side, ast.Constant)
        or (
            isinstance(side, ast.Call) and isinstance(side.func, ast.Name) and side.func.id == "len"
        )
        for side in sides
    )


def compare_digest_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compare_digest"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "hmac"
    ]


@pytest.mark.parametrize(
    "snippet",
    [
        "ok = sig == expected",
        "ok = given_sig != computed",
        "ok = a.hexdigest() == b",
        "ok = digest in allowed",
        "ok = bytes(expected) == x",
    ],
)
def test_constant_time_lint_catches(snippet: str) -> None:
    assert non_constant_time_comparisons(ast.parse(snippet))


def test_signature_compared_in_constant_time() -> None:
    source = Path(imagegate.core.signing.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    assert non_constant_time_comparisons(tree) == []
    calls = compare_digest_calls(tree)
    assert calls, "hmac.compare_digest is not used"
    verify_def = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "verify"
    )
    assert any(call in list(ast.walk(verify_def)) for call in calls)


@pytest.mark.parametrize(
    "url",
    ["/h/i/public?exp=1&v=2", "/h/i/public?v=2&exp=", "/h/i/public?exp=abc&exp=2&v=2"],
    ids=["stale", "empty", "repeated"],
)
def test_signer_drops_stale_exp_for_non_expiring_url(url: str) -> None:
    out = sign_url(url, "secret", expires_in=None)
    assert out == sign_url("/h/i/public?v=2", "secret", expires_in=None)
    path, query = split_signed(out)
    assert query.startswith(b"v=2&sig=")
    assert verify(path, query, KEYS, NOW, Policy(allow_no_expiry=True)).ok


@pytest.mark.parametrize(
    "url",
    ["/h/i/public?exp[]=1", "/h/i/public?sig%5B%5D=1", "/h/i/public?exp%5b0%5d=1"],
    ids=["exp-array", "sig-array-encoded", "exp-array-lower"],
)
def test_signer_output_with_array_style_names_is_refused(url: str) -> None:
    # The signer re-encodes such a name as exp%5B / sig%5B; the verifier refuses those.
    path, query = split_signed(sign_url(url, "secret", exp=EXP))
    assert verify(path, query, KEYS, NOW).outcome is Outcome.MALFORMED


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x/h/i/public?b=*~!()'", "/h/i/public?b=*%7E%21%28%29%27&exp=1"),
        (
            "https://x/h/i/public?s=a b&p=a+b&e=a%20b&q=a%2Bb",
            "/h/i/public?s=a+b&p=a+b&e=a+b&q=a%2Bb&exp=1",
        ),
        (
            "https://x/h/i/public?u=café&z=%zz&f=%FF&n&&m=1=2",
            "/h/i/public?u=caf%C3%A9&z=%25zz&f=%EF%BF%BD&n=&m=1%3D2&exp=1",
        ),
        (
            'https://x/h/a b/c%d/café/"<>`{}|^[]/public',
            "/h/a%20b/c%d/caf%C3%A9/%22%3C%3E%60%7B%7D|^[]/public?exp=1",
        ),
        ("https://x/h/./a/../b/%2e/%2E%2e/public", "/h/public?exp=1"),
        ("https://x/h/a\\b/public", "/h/a/b/public?exp=1"),
    ],
    ids=["js-specials", "space-plus", "utf8-bad-percent", "path-encode-set", "dots", "backslash"],
)
def test_signer_serialises_like_url_search_params(url: str, expected: str) -> None:
    # Expected strings are what WHATWG URL + URLSearchParams (Node 20) give for the same input.
    out = sign_url(url, "secret", exp=1)
    path, query = split_signed(expected)
    assert out == "https://x" + expected + "&sig=" + mac(query, path=path).decode()
