from __future__ import annotations

import json
from typing import Any

import pytest

from adapter import MalformedEvent
from adapter.config import build_config
from adapter.sources import APIGatewayV1, Response, api_gateway
from tests.adapter.builders import make_rest_event
from tests.adapter.conftest import AdapterFactory, responder
from tests.conftest import LambdaContextStub, load_event


def scope_of(event: dict[str, Any], **options: Any) -> dict[str, Any]:
    scope, _ = APIGatewayV1.to_request(event, None, build_config(**options))
    return dict(scope)


def test_stage_is_the_root_path_on_the_execute_api_host() -> None:
    scope = scope_of(make_rest_event(path="/links/a%20b", stage="live"))
    assert scope["root_path"] == "/live"
    assert scope["path"] == "/live/links/a b"
    assert scope["raw_path"] == b"/live/links/a%20b"


def test_a_stage_name_that_needs_escaping_is_escaped_in_raw_path() -> None:
    # API Gateway allows only letters, digits, "-" and "_" in stage names; hand-written events may hold anything.
    scope = scope_of(make_rest_event(path="/links", stage="my stage"))
    assert (scope["root_path"], scope["path"], scope["raw_path"]) == (
        "/my stage",
        "/my stage/links",
        b"/my%20stage/links",
    )


@pytest.mark.parametrize("multi_value", [True, False])
@pytest.mark.parametrize(
    ("headers", "server", "scheme"),
    [
        (
            {"Host": "h.example.com", "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"},
            ("h.example.com", 443),
            "https",
        ),
        (
            {"host": "h.example.com", "x-forwarded-port": "443", "x-forwarded-proto": "https"},
            ("h.example.com", 443),
            "https",
        ),
        (
            {"Host": "h.example.com", "X-Forwarded-Port": "8443", "X-Forwarded-Proto": "https"},
            ("h.example.com", 8443),
            "https",
        ),
        (
            {"Host": "localhost:3000", "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"},
            ("localhost", 443),
            "https",
        ),
        ({"Host": "localhost:3000", "X-Forwarded-Proto": "http"}, ("localhost", 3000), "http"),
        ({"Host": "h.example.com"}, ("h.example.com", 443), "https"),
        ({"X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"}, None, "https"),
        ({"host": "b\u00fccher.example:8443"}, ("b\u00fccher.example", 8443), "https"),  # the event's text, back
    ],
)
def test_server_and_scheme_under_any_casing(
    headers: dict[str, str], server: tuple[str, int] | None, scheme: str, multi_value: bool
) -> None:
    event = make_rest_event(stage="")
    event["headers"] = headers if not multi_value else {}
    event["multiValueHeaders"] = {name: [value] for name, value in headers.items()} if multi_value else None
    scope = scope_of(event)
    assert (scope["server"], scope["scheme"]) == (server, scheme)


def test_stage_prefix_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_gateway, "_STAGE_PREFIXES", {})
    monkeypatch.setattr(api_gateway, "_STAGE_PREFIXES_MAX", 1)
    for stage in ("live", "beta", "live"):
        assert scope_of(make_rest_event(path="/a", stage=stage))["raw_path"] == f"/{stage}/a".encode()
    assert api_gateway._STAGE_PREFIXES == {"live": ("/live", b"/live", "/live")}


def test_no_stage_prefix_on_a_custom_domain() -> None:
    scope = scope_of(make_rest_event(path="/links", host="api.example.com"))
    assert (scope["root_path"], scope["path"], scope["server"]) == ("", "/links", ("api.example.com", 443))


def test_custom_domain_base_path_becomes_root_path() -> None:
    # With a base path mapping, API Gateway keeps the base path in `path` and drops the stage.
    event = make_rest_event(path="/v1/links", host="api.example.com")
    scope = scope_of(event, api_gateway_base_path="/v1/")
    assert (scope["root_path"], scope["path"], scope["raw_path"]) == ("/v1", "/v1/links", b"/v1/links")
    # A request that did not come through the mapping keeps an empty root_path.
    assert (
        scope_of(make_rest_event(path="/v10/links", host="api.example.com"), api_gateway_base_path="/v1")["root_path"]
        == ""
    )


def test_minimal_event_without_request_context() -> None:
    scope = scope_of(
        load_event("powertools-python/rest-v1-custom-domain-base-path-minimal.json"), api_gateway_base_path="payment"
    )
    assert (scope["root_path"], scope["path"], scope["server"], scope["client"]) == (
        "/payment",
        "/payment/subscriptions/123",
        None,
        None,
    )


def test_query_from_decoded_multi_value_parameters() -> None:
    query = {"repeat": ["one", "two"], "redirect": ["https://example.com/a/b"], "plus": ["a+b"], "space": ["a b"]}
    scope = scope_of(make_rest_event(query=query))
    assert (
        scope["query_string"]
        == b"repeat=one&repeat=two&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb&plus=a%2Bb&space=a+b"
    )


def test_query_from_single_value_parameters_when_multi_value_is_absent() -> None:
    event = make_rest_event()
    event["multiValueQueryStringParameters"] = None
    event["queryStringParameters"] = {"q": "x y"}
    assert scope_of(event)["query_string"] == b"q=x+y"
    event["queryStringParameters"] = None
    assert scope_of(event)["query_string"] == b""


def test_headers_keep_every_value_of_a_repeated_header() -> None:
    scope = scope_of(make_rest_event(headers={"X-Probe": ["one", "two"], "Cookie": ["a=1; b=2"]}))
    assert [pair for pair in scope["headers"] if pair[0] in (b"x-probe", b"cookie")] == [
        (b"x-probe", b"one"),
        (b"x-probe", b"two"),
        (b"cookie", b"a=1; b=2"),
    ]


def test_single_value_headers_when_multi_value_is_absent() -> None:
    event = make_rest_event()
    event["multiValueHeaders"] = None
    event["headers"] = {
        "Host": "h.execute-api.eu-west-1.amazonaws.com",
        "X-Caf\u00e9": "cr\u00e8me",
        "X-Emoji": "\u2603",
    }
    scope = scope_of(event)
    assert scope["headers"] == [
        (b"host", b"h.execute-api.eu-west-1.amazonaws.com"),
        # The UTF-8 bytes the client sent, which AWS hands over as text.
        (b"x-caf\xc3\xa9", b"cr\xc3\xa8me"),
        (b"x-emoji", b"\xe2\x98\x83"),
    ]


def test_console_test_event_with_null_fields() -> None:
    # The API Gateway console's test invocations send null headers, query and body.
    event = make_rest_event(method="post", path="/links")
    event.update(headers=None, multiValueHeaders=None, multiValueQueryStringParameters=None, body=None)
    event["requestContext"]["identity"] = None
    event["requestContext"]["stage"] = "test-invoke-stage"
    scope = scope_of(event)
    assert (scope["method"], scope["headers"], scope["server"], scope["client"], scope["root_path"]) == (
        "POST",
        [],
        None,
        None,
        "",
    )


def test_http_api_payload_1_keeps_the_named_stage_in_path() -> None:
    event = load_event("awsdocs-apigateway/http-v1-doc-example.json")
    event["path"] = "/beta/my/path"
    event["requestContext"]["stage"] = "beta"
    scope = scope_of(event)
    assert (scope["root_path"], scope["path"]) == ("/beta", "/beta/my/path")
    event["requestContext"]["stage"] = "$default"
    event["path"] = "/v2/my/path"
    assert scope_of(event, api_gateway_base_path="/v2")["root_path"] == "/v2"


@pytest.mark.parametrize(
    ("protocol", "version"), [("HTTP/1.1", "1.1"), ("HTTP/2.0", "2"), ("HTTP/1.0", "1.0"), (None, "1.1"), ("h3", "1.1")]
)
def test_http_version(protocol: str | None, version: str) -> None:
    event = make_rest_event()
    event["requestContext"]["protocol"] = protocol
    assert scope_of(event)["http_version"] == version


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"httpMethod": None}, "no httpMethod"),
        ({"httpMethod": ""}, "no httpMethod"),
        ({"path": None}, "no path starting with '/'"),
        ({"path": "links"}, "no path starting with '/'"),
        ({"body": "not base64!", "isBase64Encoded": True}, "not valid base64"),
        ({"body": {"json": "object"}}, "body of type dict"),
        ({"multiValueHeaders": {"X-A": "not a list"}}, "multi-value header 'X-A' must map to a list"),
    ],
)
def test_malformed_events(change: dict[str, Any], message: str) -> None:
    event = make_rest_event()
    event.update(change)
    with pytest.raises(MalformedEvent, match=message):
        scope_of(event)


def test_response_puts_repeated_headers_in_multi_value_headers(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub
) -> None:
    app = responder(
        302,
        [
            (b"location", b"/live/next"),
            (b"set-cookie", b"a=1"),
            (b"set-cookie", b"b=2"),
            (b"content-type", b"text/plain"),
        ],
        b"moved",
    )
    assert make_adapter(app)(make_rest_event(), lambda_context) == {
        "statusCode": 302,
        "headers": {"location": "/live/next", "content-type": "text/plain"},
        "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},
        "body": "moved",
        "isBase64Encoded": False,
    }


def test_response_with_binary_body() -> None:
    result = APIGatewayV1.to_response(
        Response(200, [(b"content-type", b"image/png")], b"\x89PNG\r\n"), make_rest_event(), build_config()
    )
    assert (result["body"], result["isBase64Encoded"]) == ("iVBORw0K", True)


def test_body_round_trip(make_adapter: AdapterFactory, lambda_context: LambdaContextStub) -> None:
    event = make_rest_event(method="POST", body=b"\x00\xffbinary")
    body = json.loads(make_adapter()(event, lambda_context)["body"])["body"]
    assert body == "AP9iaW5hcnk="


def test_cookie_headers_sent_as_several_values_reach_the_app_as_one() -> None:
    scope = scope_of(make_rest_event(headers={"Cookie": ["a=1", "b=2"]}))
    assert [value for name, value in scope["headers"] if name == b"cookie"] == [b"a=1; b=2"]
