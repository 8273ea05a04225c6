"""The query string of each event kind is byte for byte what the straightforward formulation gives.

`_query_string` (payload 1.0) and `raw_query` (payload 2.0, ALB, Lambda@Edge) take a fast path when nothing needs
escaping; the references below are the formulations they replace (urlencode(), and a regular expression then
quote()), kept here to compare against on generated keys and values: any text, with "+", "%", "&", "=", spaces,
characters beyond ASCII, lone surrogates, empty values, repeated keys and values that are not strings.
"""

from __future__ import annotations

import re
import string
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapter.sources import _encoding, alb, api_gateway
from adapter.sources._encoding import raw_query
from adapter.sources.api_gateway import _query_string

EXAMPLES = settings(max_examples=600, deadline=None, derandomize=True, database=None)

_REFERENCE_QUERY_SAFE = "/%:@!$&'()*+,;=-._~?[]|^\\`{}"
_REFERENCE_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9/%:@!$&'()*+,;=\-._~?\[\]|^\\`{}]").search


def reference_raw_query(query: str) -> bytes:
    if _REFERENCE_NEEDS_QUOTING(query) is None:
        return query.encode("ascii")
    return quote(query, safe=_REFERENCE_QUERY_SAFE + "=&").encode("ascii")


def reference_query_string(event: dict[str, Any]) -> bytes:
    multi = event.get("multiValueQueryStringParameters")
    if multi:
        return urlencode([(key, value) for key, values in multi.items() for value in values or ()]).encode("ascii")
    return urlencode(event.get("queryStringParameters") or {}).encode("ascii")


def outcome(function: Any, *args: Any) -> tuple[Any, ...]:
    """What a call gives: its result, or the type and message of what it raises."""
    try:
        return ("result", function(*args))
    except Exception as exc:
        return ("raises", type(exc), str(exc))


UNRESERVED = string.ascii_letters + string.digits + "_.-~"
TRICKY = "+%&=? /#\"<>[]|^`{}\\'\x00\x1f\x7f\u00e9\u20ac\U0001f600"
# Mostly plain text, which takes the fast path, and text with the characters that must not take it.
text = st.one_of(
    st.text(alphabet=UNRESERVED, max_size=12),
    st.text(alphabet=UNRESERVED + TRICKY, max_size=12),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=8),  # surrogates included
)
value = st.one_of(text, text, text, st.none(), st.integers(), st.booleans())
single_parameters = st.dictionaries(text, value, max_size=8)
multi_values = st.one_of(
    st.lists(text, min_size=1, max_size=1),
    st.lists(text, min_size=1, max_size=1),
    st.lists(value, max_size=3),
    st.none(),
    text,
)
multi_parameters = st.dictionaries(text, multi_values, max_size=8)


@EXAMPLES
@given(single=st.one_of(st.none(), single_parameters), multi=st.one_of(st.none(), multi_parameters))
def test_payload_1_query_is_what_urlencode_gives(single: dict[str, Any] | None, multi: dict[str, Any] | None) -> None:
    event = {"queryStringParameters": single, "multiValueQueryStringParameters": multi}
    assert outcome(_query_string, event) == outcome(reference_query_string, event)


@EXAMPLES
@given(parameters=st.dictionaries(st.text(alphabet=UNRESERVED, max_size=12), st.text(alphabet=UNRESERVED)))
def test_payload_1_plain_query_as_api_gateway_sends_it(parameters: dict[str, str]) -> None:
    event = {
        "queryStringParameters": parameters or None,
        "multiValueQueryStringParameters": {key: [value] for key, value in parameters.items()} or None,
    }
    assert _query_string(event) == reference_query_string(event)


@pytest.mark.parametrize(
    ("single", "multi", "expected"),
    [
        ({"a": "1", "b": "x"}, {"a": ["1"], "b": ["x"]}, b"a=1&b=x"),
        ({"a": "2"}, {"a": ["1", "2"]}, b"a=1&a=2"),  # a repeated key
        (None, {"a": ["1"], "b": [], "c": None}, b"a=1"),  # keys without values
        (None, {"a": [], "b": ["1", "2"]}, b"b=1&b=2"),  # as many values as keys, but not one each
        (None, {"empty": [""], "": ["v"]}, b"empty=&=v"),
        (None, {"q": ["a b"], "plus": ["a+b"], "pct": ["100%"]}, b"q=a+b&plus=a%2Bb&pct=100%25"),
        (None, {"a=b": ["c"], "d": ["e&f=g"]}, b"a%3Db=c&d=e%26f%3Dg"),  # an "=" or "&" of a key or value
        (None, {"url": ["https://example.com/a/b?c"]}, b"url=https%3A%2F%2Fexample.com%2Fa%2Fb%3Fc"),
        (None, {"city": ["Z\u00fcrich"]}, b"city=Z%C3%BCrich"),
        (None, {"page": [2], "debug": [True], "none": [None]}, b"page=2&debug=True&none=None"),
        (None, {"s": "ab"}, b"s=a&s=b"),  # a string where a list belongs is taken a character at a time
        ({"q": "x y", "n": 1}, None, b"q=x+y&n=1"),
        ({"q": "x y"}, {}, b"q=x+y"),
        ([("a", "b")], None, b"a=b"),  # urlencode() also takes pairs
    ],
)
def test_payload_1_query_examples(single: Any, multi: Any, expected: bytes) -> None:
    event = {"queryStringParameters": single, "multiValueQueryStringParameters": multi}
    assert _query_string(event) == reference_query_string(event) == expected


@pytest.mark.parametrize(
    "event",
    [
        {"multiValueQueryStringParameters": ["a", "b"]},  # not a mapping
        {"multiValueQueryStringParameters": {"a": 1}},  # a value that is neither a list nor null
        {"queryStringParameters": "a=b"},
        {"queryStringParameters": {"a": "\udc80"}},  # a lone surrogate that UTF-8 cannot hold
    ],
)
def test_payload_1_malformed_query_fails_as_before(event: dict[str, Any]) -> None:
    assert outcome(_query_string, event)[0] == "raises"
    assert outcome(_query_string, event) == outcome(reference_query_string, event)


def test_unreserved_bytes_are_those_quote_plus_keeps() -> None:
    kept = "".join(chr(code) for code in range(128) if quote_plus(chr(code)) == chr(code))
    assert sorted(api_gateway._UNRESERVED.decode()) == sorted(kept)


@EXAMPLES
@given(query=st.one_of(st.text(alphabet=UNRESERVED + "=&", max_size=40), st.text(max_size=40), text))
def test_raw_query_is_what_the_regular_expression_and_quote_give(query: str) -> None:
    assert outcome(raw_query, query) == outcome(reference_raw_query, query)


@pytest.mark.parametrize("code", range(128))
def test_raw_query_escapes_each_ascii_character_as_before(code: int) -> None:
    query = f"a={chr(code)}&b"
    assert raw_query(query) == reference_raw_query(query)
    # The table gives the regular expression's answer for every ASCII character.
    assert (_encoding._QUERY_NEEDS_QUOTING(chr(code)) is None) == (code not in _encoding._QUERY_ESCAPED)


def test_raw_query_of_a_str_subclass_or_a_non_string() -> None:
    class Text(str):
        pass

    assert raw_query(Text("a=1&b=[x]")) == b"a=1&b=[x]"
    assert raw_query(Text("a=1 2")) == b"a=1%202"
    assert outcome(raw_query, 12) == outcome(reference_raw_query, 12)
    assert outcome(raw_query, b"a=1") == outcome(reference_raw_query, b"a=1")


def test_raw_query_of_many_plain_parameters() -> None:
    query = "&".join(f"param{i}=value-{i}.x~_" for i in range(100))
    assert raw_query(query) == query.encode()


@EXAMPLES
@given(parameters=multi_parameters, multi=st.booleans())
def test_alb_query_is_joined_as_sent(parameters: dict[str, Any], multi: bool) -> None:
    if multi:
        pairs = [f"{key}={value}" for key, values in parameters.items() for value in values or ()]
    else:
        pairs = [f"{key}={value}" for key, value in parameters.items()]
    expected = outcome(reference_raw_query, "&".join(pairs))
    assert outcome(lambda: alb._query(parameters, multi=multi)) == expected
