"""Property tests of the signing core: sign-then-verify, tamper detection, total verify."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from imagegate.core.signing import Outcome, Policy, Verdict, sign_url, verify

NOW = 1_700_000_000
EXP = NOW + 3600

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

# Characters that URL parsers, URLSearchParams and Python encode differently.
TRICKY = " %*~!()'+&=;,:@$/?#\\\"<>`{}|^[]é€😀\u00a0\u200b"

segment_text = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(TRICKY)),
    min_size=1,
    max_size=20,
)
param_text = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(TRICKY)),
    max_size=15,
)
key_text = st.text(min_size=1, max_size=40)


def split_signed(url: str) -> tuple[bytes, bytes]:
    """Raw path and raw query a client sends for a signed path (fragment dropped)."""
    path, _, query = url.split("#", 1)[0].partition("?")
    return path.encode("utf-8"), query.encode("utf-8")


def has_array_style_name(query: bytes) -> bool:
    """Whether the signer wrote an ``exp[...]`` or ``sig[...]`` parameter (refused by design)."""
    return any(pair.startswith((b"exp%5B", b"sig%5B")) for pair in query.split(b"&"))


def build_url(segments: list[str], params: list[tuple[str, str]], *, raw: bool) -> str:
    """A delivery path with ``segments`` as its image ID and ``params`` as its query.

    With ``raw`` the segments and params go in as typed (the signer normalises them as a
    browser would); otherwise they are percent-encoded first.
    """
    if raw:
        path = "/".join(segments)
        query = "&".join(f"{name}={value}" for name, value in params)
    else:
        path = "/".join(quote(segment, safe="") for segment in segments)
        query = "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in params)
    url = f"/ZWd9g1K7eljCn_KDTu_MWA/{path}/public"
    return f"{url}?{query}" if query else url


@PROPERTY_SETTINGS
@given(
    segments=st.lists(segment_text, min_size=1, max_size=4),
    params=st.lists(st.tuples(param_text, param_text), max_size=4),
    key=key_text,
    raw=st.booleans(),
)
def test_sign_then_verify(
    segments: list[str], params: list[tuple[str, str]], key: str, raw: bool
) -> None:
    url = build_url(segments, params, raw=raw)
    signed = sign_url(url, key, exp=EXP)
    path, query = split_signed(signed)
    assert path.isascii()
    assert query.isascii()
    keys = [("other", key.encode("utf-8") + b"!"), ("mine", key.encode("utf-8"))]
    if has_array_style_name(query):
        assert verify(path, query, keys, NOW).outcome is Outcome.MALFORMED
        return
    assert verify(path, query, keys, NOW) == Verdict(Outcome.OK, "mine", EXP)
    assert verify(path, query, keys, EXP).ok
    assert verify(path, query, keys, EXP + 1).outcome is Outcome.EXPIRED
    assert verify(path, query, keys[:1], NOW).outcome is Outcome.BAD


@PROPERTY_SETTINGS
@given(
    segments=st.lists(segment_text, min_size=1, max_size=3),
    params=st.lists(st.tuples(param_text, param_text), max_size=3),
    key=key_text,
)
def test_sign_without_expiry_then_verify(
    segments: list[str], params: list[tuple[str, str]], key: str
) -> None:
    signed = sign_url(build_url(segments, params, raw=False), key, expires_in=None)
    path, query = split_signed(signed)
    assume(not has_array_style_name(query))
    keys = [("k", key.encode("utf-8"))]
    assert verify(path, query, keys, NOW).outcome is Outcome.MISSING
    assert verify(path, query, keys, NOW, Policy(allow_no_expiry=True)).ok


@st.composite
def signed_and_mutated(draw: st.DrawFn) -> tuple[str, str, str]:
    segments = draw(st.lists(segment_text, min_size=1, max_size=3))
    params = draw(st.lists(st.tuples(param_text, param_text), max_size=3))
    key = draw(key_text)
    path, query = split_signed(sign_url(build_url(segments, params, raw=True), key, exp=EXP))
    assume(not has_array_style_name(query))
    original = (path + b"?" + query).decode("ascii")
    index = draw(st.integers(0, len(original) - 1))
    kind = draw(st.sampled_from(["substitute", "insert", "delete"]))
    char = draw(st.one_of(st.sampled_from("0aA%&=?/+;#9fF"), st.characters(codec="utf-8")))
    if kind == "substitute":
        mutated = original[:index] + char + original[index + 1 :]
    elif kind == "insert":
        mutated = original[:index] + char + original[index:]
    else:
        mutated = original[:index] + original[index + 1 :]
    return key, original, mutated


@PROPERTY_SETTINGS
@given(signed_and_mutated())
def test_any_one_character_change_fails(case: tuple[str, str, str]) -> None:
    key, original, mutated = case
    assume(mutated.encode("utf-8") != original.encode("utf-8"))
    raw_path, _, raw_query = mutated.partition("?")
    keys = [("k", key.encode("utf-8"))]
    assert verify(*split_signed(original), keys, NOW).ok
    verdict = verify(raw_path.encode("utf-8"), raw_query.encode("utf-8"), keys, NOW)
    assert not verdict.ok, (original, mutated)


@PROPERTY_SETTINGS
@given(
    raw_path=st.binary(max_size=200),
    raw_query=st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.sampled_from([b"exp=", b"sig=", b"exp[]=", b"&", b";", b"=", b"%", b"1", b"a"]),
            max_size=30,
        ).map(b"".join),
    ),
    keys=st.lists(st.tuples(st.text(max_size=5), st.binary(max_size=80)), max_size=3),
    now=st.integers(min_value=-(2**70), max_value=2**70),
    clock_skew=st.integers(min_value=-(2**40), max_value=2**40),
    allow_no_expiry=st.booleans(),
    max_lifetime=st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40)),
)
def test_verify_never_raises(
    raw_path: bytes,
    raw_query: bytes,
    keys: list[tuple[str, bytes]],
    now: int,
    clock_skew: int,
    allow_no_expiry: bool,
    max_lifetime: int | None,
) -> None:
    policy = Policy(clock_skew, allow_no_expiry, max_lifetime)
    verdict = verify(raw_path, raw_query, keys, now, policy)
    assert isinstance(verdict.outcome, Outcome)
    if verdict.ok:
        # Random bytes cannot carry a valid HMAC; only an empty key list could ever be "ok"
        # if the code were broken.
        raise AssertionError(f"random input verified: {raw_path!r} {raw_query!r}")
