"""client_json: the strict reading of JSON that clients send. Pure, table-driven."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagegate.core import client_json
from imagegate.core.errors import BadRequest


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1, "b": [true, null, "x"], "c": {"d": 1.5}}', None),
        ('{"n": 9223372036854775807, "m": -9223372036854775808}', None),
        ('{"f": 1e308, "g": -1e-400, "h": 0.1}', {"f": 1e308, "g": -0.0, "h": 0.1}),
        ('{"s": "\\u00e9\\ud83d\\ude00 \\u202e"}', {"s": "é😀 \u202e"}),
        ("[" * 32 + "]" * 32, None),
        (b'{"bytes": "\xc3\xa9"}', {"bytes": "é"}),
        ("[]", []),
        ('"text"', "text"),
    ],
)
def test_valid_json_is_read(text: str | bytes, value: Any) -> None:
    import json

    expected = json.loads(text) if value is None else value
    assert client_json.loads(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": Infinity}', "Infinity is not a JSON number"),
        ('{"a": -Infinity}', "-Infinity is not a JSON number"),
        ('{"a": 1e400}', "numbers must be finite"),
        ('{"a": -1E+309}', "numbers must be finite"),
        ('{"a": 9223372036854775808}', "integers must fit in 64 bits"),
        ('{"a": -9223372036854775809}', "integers must fit in 64 bits"),
        ('{"a": ' + "9" * 5000 + "}", "integers must fit in 64 bits"),
        ('{"a": 1, "a": 2}', "a key is repeated in an object"),
        ('{"x": {"a": 1, "b": 2, "a": 1}}', "a key is repeated in an object"),
        ('{"a": "\\u0000"}', "strings must not contain NUL"),
        ('{"\\u0000": 1}', "strings must not contain NUL"),
        ('{"a": "\\ud800"}', "lone surrogates"),
        ('{"a": "\\udc00\\ud800"}', "lone surrogates"),
        ('{"\\udfff": 1}', "lone surrogates"),
        ("[" * 33 + "]" * 33, "nested more than 32 levels deep"),
        ('{"a":' * 33 + "1" + "}" * 33, "nested more than 32 levels deep"),
        ("[" * 100_000 + "]" * 100_000, "nested more than 32 levels deep"),
        ("[" * 100_000, "nested more than 32 levels deep"),
        ('{"a": 1', "is not valid JSON"),
        ("{'a': 1}", "is not valid JSON"),
        ('{"a": 01}', "is not valid JSON"),
        ("", "is not valid JSON"),
        (b"\xff\xfe{}", "is not valid JSON"),
        (b'{"a": "\xed\xa0\x80"}', "lone surrogates"),  # json reads it "surrogatepass"
    ],
)
def test_hostile_json_is_refused(text: str | bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as info:
        client_json.loads(text, "metadata")
    assert info.value.status == 400
    assert info.value.message.startswith("metadata")
    assert reason in info.value.message


@pytest.mark.parametrize(
    "value",
    [
        {"a": float("nan")},
        {"a": [float("inf")]},
        {"a": 2**64},
        {1: "not a string key"},
        {"a": b"bytes"},
        {"a": {"b": object()}},
        {"a": "\x00"},
        {"a": "\udc80"},
        [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
    ],
)
def test_values_from_anywhere_are_checked_by_the_same_rules(value: Any) -> None:
    with pytest.raises(BadRequest):
        client_json.check(value)


def test_tuples_and_subclasses_are_not_json() -> None:
    client_json.check({"a": [1, 2.5, True, None, "x", {}]})
    with pytest.raises(BadRequest):
        client_json.check({"a": (1, 2)})


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from(["\ud800", "a\x00", "\udfff\ud800"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=JSON)
def test_whatever_is_accepted_can_be_written_back_as_json(value: Any) -> None:
    """Anything :func:`check` lets through encodes as strict JSON and UTF-8 (what
    PostgreSQL and every answer need), and reads back as itself."""
    import json

    try:
        client_json.check(value)
    except BadRequest:
        return
    text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    assert client_json.loads(text) == value
