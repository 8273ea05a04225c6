"""Events built from requests have the real events' structure and encodings (tests/events/, SOURCES.md)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from adapter.local.events import APIRoute, ClientRequest, Gateway, build_event, http_api_path, is_binary
from tests.conftest import load_event

# The request that the live captures in tests/events/voker/ recorded, as curl sent it.
PROBE_PATH = "/capture/space%20value"
PROBE_QUERY = (
    "repeat=one&repeat=two&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb&literalPlus=a+b&encodedPlus=a%2Bb&empty="
)
PROBE_BODY = '{"message":"hello from the public internet","unicode":"lambda-λ"}'.encode()
PROBE_HEADERS = [
    ("User-Agent", "curl/8.7.1"),
    ("accept", "*/*"),
    ("content-type", "application/json"),
    ("content-length", str(len(PROBE_BODY))),
    ("cookie", "session=abc123; theme=dark"),
    ("x-voker-probe", "first"),
    ("x-voker-probe", "second"),
]


def probe(gateway: Gateway, prefix: str = "") -> dict[str, Any]:
    request = ClientRequest("POST", prefix + PROBE_PATH, PROBE_QUERY, PROBE_HEADERS, PROBE_BODY, "68.8.83.18")
    event = build_event(gateway, request)
    assert event is not None
    return event


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key of the nested objects, as dotted paths; header, query and parameter maps are data, not
    structure, so only their own key is kept."""
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, item in value.items():
        path = f"{prefix}{key}"
        found.add(path)
        if key not in DATA_MAPS:
            found |= key_paths(item, path + ".")
    return found


DATA_MAPS = {
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "cookies",
}

# Keys the live payload 2.0 captures have and `serve` leaves out: they were logged through typed Go structs, so
# every optional field appears (mTLS, authorizers, path parameters, stage variables) though the request had none.
PAYLOAD_2_ABSENT_FROM_LIVE_CAPTURES = (
    {"pathParameters", "stageVariables", "requestContext.authentication", "requestContext.authorizer"}
    | {
        f"requestContext.authentication.clientCert{key}"
        for key in (
            "",
            ".clientCertPem",
            ".subjectDN",
            ".issuerDN",
            ".serialNumber",
            ".validity",
            ".validity.notBefore",
            ".validity.notAfter",
        )
    }
    | {
        f"requestContext.authorizer.{key}"
        for key in (
            "jwt",
            "jwt.claims",
            "jwt.scopes",
            "iam",
            "iam.accessKey",
            "iam.accountId",
            "iam.callerId",
            "iam.cognitoIdentity",
            "iam.cognitoIdentity.amr",
            "iam.cognitoIdentity.identityId",
            "iam.cognitoIdentity.identityPoolId",
            "iam.principalOrgId",
            "iam.userArn",
            "iam.userId",
        )
    }
)

# Fields that legitimately differ from a recorded event, and why.
# - The voker captures were logged through Go structs: optional fields that the service leaves out appear there
#   as null or "" (authorizer, identity.clientCert's members, operationName, authentication).
# - identity.apiKey/apiKeyId exist in current REST events and not in the 2020 capture.
# - cookies, body and queryStringParameters are absent from payload 2.0 events that have none.
STRUCTURE_CASES = [
    pytest.param(
        "rest",
        "voker/rest-v1-live-encoding-probe.json",
        {"requestContext.operationName"}
        | {
            f"requestContext.identity.clientCert.{key}"
            for key in (
                "clientCertPem",
                "subjectDN",
                "issuerDN",
                "serialNumber",
                "validity",
                "validity.notBefore",
                "validity.notAfter",
            )
        },
        set(),
        id="rest-live-capture",
    ),
    pytest.param(
        "rest",
        "lambda-developer-guide/rest-v1-captured-cookie.json",
        set(),
        {
            "requestContext.authorizer",
            "requestContext.identity.apiKey",
            "requestContext.identity.apiKeyId",
            "requestContext.identity.clientCert",
        },
        id="rest-developer-guide-capture",
    ),
    pytest.param(
        "http-v1",
        "awsdocs-apigateway/http-v1-doc-example.json",
        {
            f"requestContext.identity.clientCert.{key}"
            for key in (
                "clientCertPem",
                "subjectDN",
                "issuerDN",
                "serialNumber",
                "validity",
                "validity.notBefore",
                "validity.notAfter",
            )
        },
        {"requestContext.identity.apiKey", "requestContext.identity.apiKeyId"},
        id="http-v1-docs",
    ),
    pytest.param(
        "http-v2",
        "voker/http-v2-live-encoding-probe.json",
        PAYLOAD_2_ABSENT_FROM_LIVE_CAPTURES,
        set(),
        id="http-v2-live-capture",
    ),
    pytest.param(
        "function-url",
        "voker/function-url-live-encoding-probe.json",
        PAYLOAD_2_ABSENT_FROM_LIVE_CAPTURES,
        set(),
        id="function-url-live-capture",
    ),
    pytest.param(
        "alb-multi",
        "voker/alb-multi-value-live-encoding-probe.json",
        # Go's structs print the single-value fields as null in multi-value mode; the load balancer omits them.
        {"headers", "queryStringParameters"},
        set(),
        id="alb-multi-value-live-capture",
    ),
    pytest.param("alb", "powertools-python/alb-single-value.json", set(), set(), id="alb-single-value"),
]


@pytest.mark.parametrize(("format", "recorded", "absent_here", "absent_there"), STRUCTURE_CASES)
def test_key_structure_matches_the_recorded_event(
    format: str, recorded: str, absent_here: set[str], absent_there: set[str]
) -> None:
    gateway = Gateway("alb", multi_value_headers=True) if format == "alb-multi" else Gateway(format)
    built = probe(gateway, gateway.url_prefix)
    real = load_event(recorded)
    assert key_paths(real) - key_paths(built) == absent_here
    assert key_paths(built) - key_paths(real) == absent_there


def test_rest_encodings_match_the_live_capture() -> None:
    real = load_event("voker/rest-v1-live-encoding-probe.json")
    event = probe(Gateway("rest", stage="live", binary_media_types=()), "/live")
    for key in ("path", "httpMethod", "queryStringParameters", "multiValueQueryStringParameters", "pathParameters"):
        assert event[key] == real[key], key
    assert event["requestContext"]["path"] == real["requestContext"]["path"]
    assert event["requestContext"]["stage"] == "live"
    assert event["multiValueHeaders"]["x-voker-probe"] == ["first", "second"]
    assert event["headers"]["x-voker-probe"] == "second"
    assert event["headers"]["cookie"] == real["headers"]["cookie"]
    # REST forwards no Content-Length; it sets Host and the forwarding headers itself.
    assert set(event["headers"]) == set(real["headers"])
    assert (event["body"], event["isBase64Encoded"]) == (real["body"], False)
    assert event["requestContext"]["identity"]["sourceIp"] == "68.8.83.18"
    assert event["headers"]["X-Forwarded-For"] == "68.8.83.18"


def test_rest_sends_every_body_base64_with_binary_media_type_everything() -> None:
    event = probe(Gateway("rest"), "/live")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == PROBE_BODY


@pytest.mark.parametrize("format", ["http-v2", "function-url"])
def test_payload_2_encodings_match_the_live_capture(format: str) -> None:
    recorded = (
        "voker/http-v2-live-encoding-probe.json"
        if format == "http-v2"
        else "voker/function-url-live-encoding-probe.json"
    )
    real = load_event(recorded)
    event = probe(Gateway(format))
    for key in ("rawPath", "rawQueryString", "cookies", "queryStringParameters", "body", "isBase64Encoded"):
        assert event[key] == real[key], key
    assert event["requestContext"]["http"]["path"] == real["requestContext"]["http"]["path"]
    assert event["headers"]["x-voker-probe"] == "first,second"
    # HTTP API moves the cookie header to `cookies`; a Function URL keeps both.
    assert ("cookie" in event["headers"]) is ("cookie" in real["headers"])
    assert set(event["headers"]) == set(real["headers"]) - {"x-amzn-tls-cipher-suite", "x-amzn-tls-version"}
    # The same kind of domain, in another region.
    assert event["requestContext"]["domainName"].split(".")[1] == real["requestContext"]["domainName"].split(".")[1]


def test_alb_encodings_match_the_live_capture() -> None:
    real = load_event("voker/alb-multi-value-live-encoding-probe.json")
    event = probe(Gateway("alb", multi_value_headers=True))
    for key in ("path", "multiValueQueryStringParameters", "body", "isBase64Encoded"):
        assert event[key] == real[key], key
    assert set(event["multiValueHeaders"]) == set(real["multiValueHeaders"])


def test_alb_single_value_keeps_the_last_value() -> None:
    event = probe(Gateway("alb"))
    assert event["queryStringParameters"]["repeat"] == "two"
    assert event["headers"]["x-voker-probe"] == "second"
    assert "multiValueHeaders" not in event


def test_http_v1_keeps_the_stage_in_path_and_decodes_the_query() -> None:
    event = probe(Gateway("http-v1", stage="beta"), "/beta")
    assert (event["version"], event["path"], event["requestContext"]["path"]) == (
        "1.0",
        "/beta" + PROBE_PATH,
        "/beta" + PROBE_PATH,
    )
    assert event["multiValueQueryStringParameters"]["literalPlus"] == ["a b"]
    assert event["requestContext"]["resourceId"] is None
    assert event["headers"]["content-length"] == str(len(PROBE_BODY))


def test_http_v2_named_stage_is_in_raw_path() -> None:
    event = probe(Gateway("http-v2", stage="beta"), "/beta")
    assert (event["rawPath"], event["requestContext"]["stage"]) == ("/beta/capture/space value", "beta")


def test_custom_domain_base_path_stays_in_path() -> None:
    gateway = Gateway("rest", base_path="/v1/")
    assert gateway.url_prefix == "/v1"
    event = probe(gateway, "/v1")
    assert (event["path"], event["requestContext"]["stage"]) == ("/v1" + PROBE_PATH, "live")


def test_host_port_and_scheme_are_the_clients() -> None:
    request = ClientRequest("GET", "/live/", headers=[("Host", "evil"), ("Connection", "keep-alive")])
    event = build_event(
        Gateway("rest"), request, host="127.0.0.1:3000", port=3000, scheme="http", request_id="id", now=0
    )
    assert event is not None
    assert event["headers"]["Host"] == "127.0.0.1:3000"
    assert (event["headers"]["X-Forwarded-Port"], event["headers"]["X-Forwarded-Proto"]) == ("3000", "http")
    assert "Connection" not in event["headers"] and "connection" not in event["headers"]
    assert (event["requestContext"]["requestId"], event["requestContext"]["requestTimeEpoch"]) == ("id", 0)
    assert event["requestContext"]["requestTime"] == "01/Jan/1970:00:00:00 +0000"
    assert (event["resource"], event["pathParameters"], event["body"]) == ("/", None, None)


def test_an_existing_x_forwarded_for_gets_the_client_appended() -> None:
    request = ClientRequest("GET", "/", headers=[("X-Forwarded-For", "203.0.113.9")], source_ip="127.0.0.1")
    event = build_event(Gateway("http-v2"), request)
    assert event is not None
    assert event["headers"]["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"


@pytest.mark.parametrize(
    ("format", "content_type", "body", "text"),
    [
        pytest.param("http-v2", "application/json", b'{"a": 1}', True, id="json-is-text"),
        pytest.param("http-v2", "text/plain; charset=utf-8", b"hi", True, id="text-is-text"),
        pytest.param("http-v2", "application/x-www-form-urlencoded", b"a=1", False, id="form-is-base64"),
        pytest.param("alb", "image/png", b"\x89PNG", False, id="png-is-base64"),
        pytest.param("function-url", "text/plain", b"\xff\xfe", False, id="not-utf8-is-base64"),
        pytest.param("rest-png-only", "text/plain", b"hi", True, id="rest-not-a-binary-type"),
        pytest.param("rest-png-only", "image/png", b"\x89PNG", False, id="rest-binary-type"),
        pytest.param("rest-png-only", "text/plain", b"\xff", True, id="rest-mangles-non-utf8-text"),
    ],
)
def test_body_encoding(format: str, content_type: str, body: bytes, text: bool) -> None:
    gateway = Gateway("rest", binary_media_types=["image/*"]) if format == "rest-png-only" else Gateway(format)
    request = ClientRequest("POST", gateway.url_prefix + "/", headers=[("Content-Type", content_type)], body=body)
    event = build_event(gateway, request)
    assert event is not None
    assert event["isBase64Encoded"] is (not text)
    expected = body.decode("utf-8", "replace") if text else base64.b64encode(body).decode()
    assert event["body"] == expected


def test_compressed_bodies_are_base64() -> None:
    request = ClientRequest(
        "POST", "/", headers=[("Content-Type", "application/json"), ("Content-Encoding", "gzip")], body=b"{}"
    )
    event = build_event(Gateway("http-v2"), request)
    assert event is not None and event["isBase64Encoded"] is True


def test_routes_most_specific_first_with_path_parameters() -> None:
    routes = [
        APIRoute("ANY", "/{proxy+}"),
        APIRoute("GET", "/links/{code}"),
        APIRoute("GET", "/links/new"),
        APIRoute("ANY", "/"),
    ]
    gateway = Gateway("rest", stage="live", routes=routes)
    assert [route.path for route in gateway.routes] == ["/links/new", "/links/{code}", "/", "/{proxy+}"]
    event = build_event(gateway, ClientRequest("GET", "/live/links/a%20b"))
    assert event is not None
    assert (event["resource"], event["pathParameters"]) == ("/links/{code}", {"code": "a%20b"})
    event = build_event(gateway, ClientRequest("POST", "/live/links/a/b/"))
    assert event is not None
    assert (event["resource"], event["pathParameters"]) == ("/{proxy+}", {"proxy": "links/a/b/"})
    assert build_event(gateway, ClientRequest("GET", "/other/links")) is None
    assert build_event(gateway, ClientRequest("GET", "/liver")) is None
    only_get = Gateway("rest", routes=[APIRoute("get", "/links")])
    assert build_event(only_get, ClientRequest("DELETE", "/live/links")) is None
    assert repr(only_get.routes[0]) == "APIRoute('GET', '/links')"


def test_http_api_route_keys_and_decoded_path_parameters() -> None:
    gateway = Gateway("http-v2", routes=[APIRoute("GET", "/files/{name}")])
    event = build_event(gateway, ClientRequest("GET", "/files/a%2Fb%20c"))
    assert event is not None
    assert (event["routeKey"], event["rawPath"], event["pathParameters"]) == (
        "GET /files/{name}",
        "/files/a%2Fb c",
        {"name": "a/b c"},
    )
    v1 = build_event(Gateway("http-v1", routes=[APIRoute("GET", "/files/{name}")]), ClientRequest("GET", "/files/x"))
    assert v1 is not None and v1["requestContext"]["resourceId"] == "GET /files/{name}"


def test_http_api_path_keeps_encoded_slashes() -> None:
    assert http_api_path("/a%2fb/%C3%A9%20x") == "/a%2Fb/é x"


def test_binary_media_type_patterns() -> None:
    assert is_binary("image/png", ["*/*"])
    assert is_binary("image/png; q=1", ["image/*"])
    assert is_binary("application/pdf", ["application/pdf"])
    assert not is_binary("text/html", ["image/*", "application/pdf"])
    assert not is_binary(None, ["image/png"])


@pytest.mark.parametrize(
    ("format", "options", "message"),
    [
        ("soap", {}, "format must be one of"),
        ("alb", {"stage": "live"}, "has no stages"),
        ("rest", {"stage": "a/b"}, "one path segment"),
        ("rest", {"stage": ""}, "one path segment"),
    ],
)
def test_bad_gateway_options(format: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Gateway(format, **options)


def test_event_is_json() -> None:
    event = probe(Gateway("alb"))
    assert json.loads(json.dumps(event)) == event
    assert event["requestContext"]["elb"]["targetGroupArn"].startswith("arn:aws:elasticloadbalancing:us-east-1:")
