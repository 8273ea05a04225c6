"""The `_from_client` event builders of tests/adapter/builders.py encode a request the way each service does:
given the request of the live captures in tests/events/voker/ (one curl request sent through each service), they
produce the captured request fields."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from adapter.types import LambdaEvent
from tests.adapter.builders import (
    make_alb_event_from_client,
    make_http_v2_event_from_client,
    make_rest_event_from_client,
)
from tests.conftest import load_event

# The captured request: POST /capture/space%20value?repeat=one&repeat=two&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb
# &literalPlus=a+b&encodedPlus=a%2Bb&empty= with two cookies and a JSON body (its repeated x-voker-probe header
# is left out: the builders take one value per header name).
PATH = "/capture/space%20value"
QUERY = [
    ("repeat", "one"),
    ("repeat", "two"),
    ("redirect", "https://example.com/a/b"),
    ("literalPlus", "a b"),
    ("encodedPlus", "a+b"),
    ("empty", ""),
]
COOKIES = {"session": "abc123", "theme": "dark"}
BODY = json.dumps(
    {"message": "hello from the public internet", "unicode": "lambda-λ"}, separators=(",", ":"), ensure_ascii=False
)


def _build(builder: Callable[..., LambdaEvent], **options: Any) -> LambdaEvent:
    return builder(
        method="POST",
        path=PATH,
        query=QUERY,
        headers={"content-type": "application/json"},
        body=BODY,
        cookies=COOKIES,
        **options,
    )


def test_rest_event_matches_the_capture() -> None:
    captured = load_event("voker/rest-v1-live-encoding-probe.json")

    built = _build(make_rest_event_from_client, stage="live")

    for key in ("path", "httpMethod", "queryStringParameters", "multiValueQueryStringParameters", "body"):
        assert built[key] == captured[key], key
    assert built["isBase64Encoded"] is captured["isBase64Encoded"] is False
    assert built["headers"]["cookie"] == captured["headers"]["cookie"]
    assert built["requestContext"]["path"] == captured["requestContext"]["path"]
    assert built["requestContext"]["stage"] == captured["requestContext"]["stage"]
    # As in the capture, REST leaves Content-Length out.
    assert "content-length" not in {name.lower() for name in built["headers"]}


def test_http_v2_event_matches_the_capture() -> None:
    captured = load_event("voker/http-v2-live-encoding-probe.json")

    built = _build(make_http_v2_event_from_client)

    for key in ("rawPath", "rawQueryString", "cookies", "queryStringParameters", "body", "isBase64Encoded"):
        assert built[key] == captured[key], key
    assert built["requestContext"]["http"] == captured["requestContext"]["http"]
    for name in ("content-type", "content-length", "host"):
        assert built["headers"][name] == captured["headers"][name], name


def test_alb_multi_value_event_matches_the_capture() -> None:
    captured = load_event("voker/alb-multi-value-live-encoding-probe.json")

    built = _build(make_alb_event_from_client, multi_value=True)

    for key in ("path", "httpMethod", "multiValueQueryStringParameters", "body", "isBase64Encoded"):
        assert built[key] == captured[key], key
    for name in ("cookie", "content-type", "content-length", "host"):
        assert built["multiValueHeaders"][name] == captured["multiValueHeaders"][name], name


def test_alb_single_value_event_keeps_the_last_value_of_a_repeated_query_name() -> None:
    built = _build(make_alb_event_from_client, multi_value=False)

    assert "multiValueHeaders" not in built
    assert built["queryStringParameters"] == {
        "repeat": "two",
        "redirect": "https%3A%2F%2Fexample.com%2Fa%2Fb",
        "literalPlus": "a+b",
        "encodedPlus": "a%2Bb",
        "empty": "",
    }
    assert built["headers"]["cookie"] == "session=abc123; theme=dark"
