"""Handler results mapped back to HTTP as each service maps them, and the services' own error answers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from adapter.local.events import ClientRequest, Gateway
from adapter.local.responses import HTTPResponse, MalformedResponse, gateway_error, http_response

REQUEST = ClientRequest("GET", "/", headers=[("Accept", "text/html,image/png")])


def respond(format: str, result: Any, request: ClientRequest = REQUEST, **options: Any) -> HTTPResponse:
    return http_response(Gateway(format, **options), result, request, "rid")


def test_rest_merges_headers_into_multi_value_headers() -> None:
    result = {
        "statusCode": 201,
        "headers": {"X-One": "a", "X-Two": "b", "Content-Length": "999"},
        "multiValueHeaders": {"X-One": ["a", "c"], "Set-Cookie": ["s=1", "t=2"], "Transfer-Encoding": ["chunked"]},
        "body": "made",
    }
    response = respond("rest", result)
    assert (response.status, response.reason, response.body) == (201, "Created", b"made")
    assert response.headers == [
        ("X-One", "a"),
        ("X-One", "c"),
        ("Set-Cookie", "s=1"),
        ("Set-Cookie", "t=2"),
        ("X-Two", "b"),
        ("x-amzn-RequestId", "rid"),
    ]
    assert response.header("x-two") == "b" and response.header("x-three") is None


def test_rest_decodes_base64_only_for_binary_media_types() -> None:
    result = {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "iVBORw==", "isBase64Encoded": True}
    assert respond("rest", result).body == b"\x89PNG"
    not_binary = respond("rest", result, binary_media_types=["application/pdf"])
    assert not_binary.body == b"iVBORw=="
    # The first type the client accepts counts too.
    pdf_client = ClientRequest("GET", "/", headers=[("Accept", "application/pdf")])
    assert respond("rest", result, pdf_client, binary_media_types=["application/pdf"]).body == b"\x89PNG"


def test_http_api_payload_1_always_decodes_base64() -> None:
    result = {"statusCode": "200", "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    response = respond("http-v1", result)
    assert (response.status, response.body) == (200, b"\x00\x01")


def test_payload_2_cookies_become_set_cookie_headers() -> None:
    result = {
        "statusCode": 200,
        "headers": {"content-type": "text/plain", "x-n": 3},
        "cookies": ["a=1", "b=2"],
        "body": "ok",
    }
    response = respond("http-v2", result)
    assert response.headers == [
        ("content-type", "text/plain"),
        ("x-n", "3"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("apigw-requestid", "rid"),
    ]


@pytest.mark.parametrize("result", [{"message": "no status"}, ["a", 1], "text", 42, None])
def test_payload_2_takes_json_without_status_code_as_the_body(result: Any) -> None:
    for format in ("http-v2", "function-url"):
        response = respond(format, result)
        assert (response.status, response.header("content-type")) == (200, "application/json")
        assert json.loads(response.body) == result


def test_alb_status_description_is_the_reason_phrase() -> None:
    result = {"statusCode": 418, "statusDescription": "418 Short And Stout", "headers": {"x-a": "1"}, "body": ""}
    response = respond("alb", result)
    assert (response.status, response.reason, response.headers) == (418, "Short And Stout", [("x-a", "1")])
    assert respond("alb", {"statusCode": 404}).reason == "Not Found"


def test_alb_reads_the_headers_of_its_mode() -> None:
    result = {"statusCode": 200, "headers": {"x-single": "1"}, "multiValueHeaders": {"x-multi": ["1", "2"]}}
    assert respond("alb", result).headers == [("x-single", "1")]
    assert respond("alb", result, multi_value_headers=True).headers == [("x-multi", "1"), ("x-multi", "2")]


def test_unknown_status_has_an_empty_reason() -> None:
    assert respond("rest", {"statusCode": 599}).reason == ""


@pytest.mark.parametrize(
    ("format", "result", "message"),
    [
        ("rest", "text", "the result is a JSON string, not an object with a statusCode"),
        ("rest", [1], "JSON array"),
        ("rest", None, "JSON null"),
        ("rest", 1.5, "JSON number"),
        ("rest", True, "JSON boolean"),
        ("rest", {"body": "x"}, "statusCode must be an HTTP status code (an integer from 100 to 599), not missing"),
        ("rest", {"statusCode": 700}, "not 700"),
        ("rest", {"statusCode": True}, "not True"),
        ("alb", {"statusCode": "abc"}, "not 'abc'"),
        ("rest", {"statusCode": 200, "body": {"a": 1}}, "body must be a string, not a JSON object"),
        ("rest", {"statusCode": 200, "headers": ["a"]}, "headers must be an object of header names to values"),
        ("rest", {"statusCode": 200, "multiValueHeaders": "a"}, "multiValueHeaders must be an object"),
        ("rest", {"statusCode": 200, "multiValueHeaders": {"a": "b"}}, "multiValueHeaders['a'] must be a list"),
        ("rest", {"statusCode": 200, "headers": {"a": {"b": 1}}}, "header 'a' must have a string value"),
        ("rest", {"statusCode": 200, "headers": {"a b": "1"}}, "'a b' is not a header name"),
        ("rest", {"statusCode": 200, "headers": {"a": "1\r\nb: 2"}}, "header 'a' has a line break"),
        ("http-v2", {"statusCode": 200, "cookies": "a=1"}, "cookies must be a list of strings"),
        ("alb", {"statusCode": 200, "statusDescription": 200}, "statusDescription must be a string"),
    ],
)
def test_malformed_results_say_what_is_wrong(format: str, result: Any, message: str) -> None:
    with pytest.raises(
        MalformedResponse, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ) as caught:
        respond(format, result)
    assert caught.value.kind == "function"


def test_undecodable_base64_is_a_configuration_error() -> None:
    with pytest.raises(MalformedResponse, match="not valid base64") as caught:
        respond("rest", {"statusCode": 200, "body": "a!", "isBase64Encoded": True})
    assert caught.value.kind == "config"


@pytest.mark.parametrize(
    ("format", "kind", "status", "body"),
    [
        ("rest", "function", 502, b'{"message":"Internal server error"}'),
        ("rest", "config", 500, b'{"message":"Internal server error"}'),
        ("rest", "timeout", 504, b'{"message":"Endpoint request timed out"}'),
        ("rest", "too_large", 413, b'{"message":"Request Too Long"}'),
        ("rest", "no_route", 403, b'{"message":"Missing Authentication Token"}'),
        ("http-v2", "function", 500, b'{"message":"Internal Server Error"}'),
        ("http-v1", "timeout", 503, b'{"message":"Service Unavailable"}'),
        ("http-v2", "too_large", 413, b'{"message":"Request Entity Too Large"}'),
        ("http-v2", "no_route", 404, b'{"message":"Not Found"}'),
        ("function-url", "function", 502, b"Internal Server Error"),
        ("function-url", "too_large", 413, b"Request Entity Too Large"),
    ],
)
def test_service_errors(format: str, kind: str, status: int, body: bytes) -> None:
    response = gateway_error(Gateway(format), kind, "rid")
    assert (response.status, response.body) == (status, body)


def test_alb_errors_are_the_load_balancers_pages() -> None:
    response = gateway_error(Gateway("alb"), "function", "rid")
    assert (response.status, response.header("server"), response.header("content-type")) == (
        502,
        "awselb/2.0",
        "text/html",
    )
    assert b"<title>502 Bad Gateway</title>" in response.body
