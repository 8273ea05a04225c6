from __future__ import annotations

import pytest

from adapter import MalformedEvent
from adapter.config import build_config
from adapter.sources import Response, _base, _encoding
from adapter.sources._encoding import (
    decode_body,
    headers_from_multi,
    headers_from_single,
    join_cookie_headers,
    raw_path,
    raw_query,
    root_path_for,
    server_and_scheme,
)


@pytest.mark.parametrize(
    ("host", "port", "proto", "expected"),
    [
        ("example.com", "443", "https", (("example.com", 443), "https")),
        ("example.com:8443", None, None, (("example.com", 8443), "https")),
        ("example.com", None, "http", (("example.com", 80), "http")),
        ("example.com", "8080, 443", "HTTP, https", (("example.com", 8080), "http")),
        ("[::1]", None, None, (("[::1]", 443), "https")),
        ("[::1]:8443", None, None, (("[::1]", 8443), "https")),
        ("example.com", "x", "ftp", (("example.com", 443), "https")),
        ("example.com", "\u00b2", "http", (("example.com", 80), "http")),  # a digit to isdigit(), not to int()
        (None, "443", "http", (None, "http")),
    ],
)
def test_server_and_scheme(
    host: str | None, port: str | None, proto: str | None, expected: tuple[tuple[str, int] | None, str]
) -> None:
    assert server_and_scheme(host, port, proto) == expected


def test_raw_path_escapes_only_what_cannot_travel_raw() -> None:
    assert raw_path("/a%2Fb/c:d@e!$&'()*+,;=-._~") == b"/a%2Fb/c:d@e!$&'()*+,;=-._~"
    assert raw_path("/a b/?#/\u00e9") == b"/a%20b/%3F%23/%C3%A9"
    # Clients send these as they are (a browser escapes only the WHATWG path percent-encode set).
    assert raw_path("/items/a|b/[0]/^x\\y") == b"/items/a|b/[0]/^x\\y"
    assert raw_path('/"<>`{}') == b"/%22%3C%3E%60%7B%7D"


def test_raw_query_escapes_only_what_cannot_travel_raw() -> None:
    assert raw_query("a=1&b=%2F&c=/?:") == b"a=1&b=%2F&c=/?:"
    assert raw_query("q=a b&r=\u00e9") == b"q=a%20b&r=%C3%A9"
    assert raw_query("filter[name]=x&sort=-id|asc&t={a}^`\\") == b"filter[name]=x&sort=-id|asc&t={a}^`\\"
    assert raw_query('q="<>#') == b"q=%22%3C%3E%23"


def test_root_path_matches_whole_segments() -> None:
    assert root_path_for(b"/v1/x", "/v1") == "/v1"
    assert root_path_for(b"/v1", "/v1") == "/v1"
    assert root_path_for(b"/v10", "/v1") == ""
    assert root_path_for(b"/a%20b/x", "/a b") == "/a b"
    assert root_path_for(b"/x", "") == ""


def test_multi_value_headers_with_null_or_non_ascii_values() -> None:
    assert headers_from_multi({"X-A": None, "X-B": ["\u2603", "ok", "S\u00e3o"]}) == [  # type: ignore[dict-item]
        (b"x-b", "\u2603".encode()),
        (b"x-b", b"ok"),
        (b"x-b", b"S\xc3\xa3o"),
    ]
    # A number is carried as its text, a lone surrogate as "?".
    assert headers_from_multi({"X-C": [3, "a\udc00"]}) == [(b"x-c", b"3"), (b"x-c", b"a?")]  # type: ignore[list-item]
    with pytest.raises(MalformedEvent, match="multi-value header 'X-C' must map to a list of strings, not str"):
        headers_from_multi({"X-C": "v"})  # type: ignore[dict-item]


def test_non_string_header_values_are_carried_as_text() -> None:
    assert headers_from_single({"X-Count": 3}) == [(b"x-count", b"3")]  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, []),
        ({"X-A": "1", "x-b": "two"}, [(b"x-a", b"1"), (b"x-b", b"two")]),
        ({"X-Line": "a\nb", "X-B": "2"}, [(b"x-line", b"a\nb"), (b"x-b", b"2")]),
        ({"X-Caf\u00e9": "\u2603"}, [(b"x-caf\xc3\xa9", b"\xe2\x98\x83")]),
        ({"X-\u2603": "v"}, [(b"x-\xe2\x98\x83", b"v")]),
        # A lone surrogate (a JSON escape with no pair) cannot be UTF-8: it becomes "?" instead of an error.
        ({"X-\ud800": "a\udc00"}, [(b"x-?", b"a?")]),
    ],
)
def test_single_value_headers(headers: dict[str, str], expected: list[tuple[bytes, bytes]]) -> None:
    assert headers_from_single(headers) == expected


def test_header_name_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_encoding, "_NAMES", {})
    monkeypatch.setattr(_encoding, "_NAMES_MAX", 2)
    pairs = headers_from_single({"A": "1", "B": "2", "C": "3"})
    assert pairs == [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]
    assert _encoding._NAMES == {"A": b"a", "B": b"b"}


def test_multi_value_headers() -> None:
    assert headers_from_multi({}) == []
    assert headers_from_multi({"X-Empty": []}) == []
    assert headers_from_multi({"X-A": ["1", "2"], "X-B": ["3"]}) == [(b"x-a", b"1"), (b"x-a", b"2"), (b"x-b", b"3")]
    assert headers_from_multi({"X-A": ["1\n2"]}) == [(b"x-a", b"1\n2")]


@pytest.mark.parametrize(
    ("body", "is_base64", "expected"),
    [(None, False, b""), ("", True, b""), ("aGk=", True, b"hi"), ("h\u00e9", False, "h\u00e9".encode())],
)
def test_decode_body(body: str | None, is_base64: bool, expected: bytes) -> None:
    assert decode_body(body, is_base64, "test") == expected


@pytest.mark.parametrize("body", ["aGk", "a GVsbG8=", "\u00e9\u00e9\u00e9\u00e9"])
def test_invalid_base64_is_refused(body: str) -> None:
    with pytest.raises(MalformedEvent, match="test event says isBase64Encoded but its body is not valid base64"):
        decode_body(body, True, "test")


def test_several_cookie_headers_become_one() -> None:
    headers = [(b"cookie", b"a=1"), (b"x", b"y"), (b"cookie", b"b=2; c=3")]
    assert join_cookie_headers(headers) == [(b"x", b"y"), (b"cookie", b"a=1; b=2; c=3")]
    assert join_cookie_headers(headers[:2]) == headers[:2]


def test_text_decision_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_encoding, "_MIME_TYPES", {})
    monkeypatch.setattr(_encoding, "_MIME_TYPES_MAX", 1)
    config = build_config()
    assert _encoding.is_text("Text/CSV; charset=utf-8", None, config)
    assert not _encoding.is_text("image/png", None, config)
    assert _encoding._MIME_TYPES == {"Text/CSV; charset=utf-8": ("text/csv", True)}
    assert _encoding.is_text("Text/CSV; charset=utf-8", "identity", config)
    assert not _encoding.is_text("Text/CSV; charset=utf-8", "gzip", config)


def test_text_decision_cache_is_shared_by_adapters_with_other_text_types() -> None:
    # The cache holds what a content type is without `text_mime_types`; each adapter's own list is applied after.
    custom = build_config(text_mime_types=["application/x-ndjson"])
    assert not _encoding.is_text("application/x-ndjson", None, build_config())
    assert _encoding.is_text("application/x-ndjson", None, custom)
    assert not _encoding.is_text("application/x-ndjson", None, build_config())


def test_response_header_name_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_base, "_NAMES", {})
    monkeypatch.setattr(_base, "_NAMES_MAX", 1)
    response = Response(200, [(b"X-A", b"1"), (b"X-B", b"2"), (b"x-a", b"3")], b"")
    assert _base.response_parts(response, build_config()) == ({"x-b": "2"}, {"x-a": ["1", "3"]}, "", False)
    assert _base._NAMES == {b"X-A": "x-a"}
