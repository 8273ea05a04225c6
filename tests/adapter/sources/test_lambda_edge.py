from __future__ import annotations

from typing import Any

import pytest

from adapter import MalformedEvent, UnsupportedEvent
from adapter.config import build_config
from adapter.sources import LambdaEdge, Response
from tests.adapter.builders import make_edge_event
from tests.adapter.conftest import AdapterFactory, responder
from tests.conftest import LambdaContextStub, load_event


def scope_of(event: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    scope, body = LambdaEdge.to_request(event, None, build_config())
    return dict(scope), body


def test_request_fields() -> None:
    event = make_edge_event(method="post", uri="/a%20b", querystring="x=1&y=%2F", headers={"Cookie": ["a=1"]})
    scope, body = scope_of(event)
    assert (scope["method"], scope["raw_path"], scope["path"], scope["query_string"]) == (
        "POST",
        b"/a%20b",
        "/a b",
        b"x=1&y=%2F",
    )
    assert (b"cookie", b"a=1") in scope["headers"]
    assert (scope["server"], scope["client"], body) == (("example.org", 443), ("203.0.113.178", 0), b"")


def test_body_in_base64_and_text() -> None:
    _, body = scope_of(make_edge_event(body=b"\x00\x01"))
    assert body == b"\x00\x01"
    event = load_event("awsdocs-cloudfront/lambda-edge-request-with-body-2019.json")
    event["Records"][0]["cf"]["request"]["body"] = {"data": "plain", "encoding": "text", "inputTruncated": False}
    assert scope_of(event)[1] == b"plain"


def test_scheme_from_cloudfront_forwarded_proto() -> None:
    scope, _ = scope_of(make_edge_event(headers={"CloudFront-Forwarded-Proto": ["http"]}))
    assert scope["scheme"] == "http"


def test_truncated_body_is_refused() -> None:
    event = make_edge_event(body=b"x")
    event["Records"][0]["cf"]["request"]["body"]["inputTruncated"] = True
    with pytest.raises(MalformedEvent, match="truncated"):
        scope_of(event)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": None}, "no request.method"),
        ({"uri": "x"}, "no request.uri starting with '/'"),
    ],
)
def test_malformed_requests(change: dict[str, Any], message: str) -> None:
    event = make_edge_event()
    event["Records"][0]["cf"]["request"].update(change)
    with pytest.raises(MalformedEvent, match=message):
        scope_of(event)


def test_missing_request_object() -> None:
    event = make_edge_event()
    del event["Records"][0]["cf"]["request"]
    with pytest.raises(MalformedEvent, match=r"no Records\[0\]\.cf\.request object"):
        scope_of(event)


def test_response_event_without_event_type_is_unsupported() -> None:
    with pytest.raises(UnsupportedEvent, match="Lambda@Edge response events"):
        scope_of(load_event("aws-lambda-dotnet/cloudfront-legacy-origin-response.json"))


def test_generated_response_drops_headers_cloudfront_refuses(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub
) -> None:
    headers = [
        (b"content-type", b"text/html"),
        (b"Set-Cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"transfer-encoding", b"chunked"),
        (b"x-amz-cf-pop", b"x"),
        (b"connection", b"close"),
    ]
    assert make_adapter(responder(418, headers, b"<p>"))(make_edge_event(), lambda_context) == {
        "status": "418",
        "statusDescription": "I'm a Teapot",
        "headers": {
            "content-type": [{"key": "content-type", "value": "text/html"}],
            "set-cookie": [{"key": "set-cookie", "value": "a=1"}, {"key": "set-cookie", "value": "b=2"}],
        },
        "body": "<p>",
        "bodyEncoding": "text",
    }


def test_binary_response_and_unknown_status() -> None:
    result = LambdaEdge.to_response(Response(599, [], b"\xff"), make_edge_event(), build_config())
    assert (result["status"], result["statusDescription"], result["body"], result["bodyEncoding"]) == (
        "599",
        "",
        "/w==",
        "base64",
    )


def test_several_cookie_headers_become_one() -> None:
    scope, _ = scope_of(make_edge_event(headers={"Cookie": ["First=1; Second=2", "ClientCode=abc"]}))
    assert [value for name, value in scope["headers"] if name == b"cookie"] == [b"First=1; Second=2; ClientCode=abc"]


def test_one_cookie_header_is_left_in_place() -> None:
    event = make_edge_event(headers={"Cookie": ["a=1; b=2"]})
    scope, _ = scope_of(event)
    names = [name for name, _ in scope["headers"]]
    assert names == [name.encode() for name in event["Records"][0]["cf"]["request"]["headers"]]


@pytest.mark.parametrize(
    "name",
    [
        # Disallowed headers, as the AWS page lists them.
        "Connection",
        "Expect",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "Trailer",
        "Upgrade",
        "X-Accel-Buffering",
        "X-Accel-Charset",
        "X-Accel-Limit-Rate",
        "X-Accel-Redirect",
        "X-Amz-Cf-Pop",
        "X-Amzn-Auth",
        "X-Amzn-Cf-Billing",
        "X-Amzn-Cf-Id",
        "X-Amzn-Cf-Xff",
        "X-Amzn-Errortype",
        "X-Amzn-Fle-Profile",
        "X-Amzn-Header-Count",
        "X-Amzn-Header-Order",
        "X-Amzn-Lambda-Integration-Tag",
        "X-Amzn-RequestId",
        "X-Cache",
        "X-Edge-Location",
        "X-Forwarded-Proto",
        "X-Real-IP",
        # Read-only in viewer-request and origin-request events.
        "Accept-Encoding",
        "CDN-Loop",
        "Content-Length",
        "Host",
        "If-Modified-Since",
        "If-None-Match",
        "If-Range",
        "If-Unmodified-Since",
        "Transfer-Encoding",
        "Via",
    ],
)
@pytest.mark.parametrize("event_type", ["viewer-request", "origin-request"])
def test_generated_response_leaves_out_headers_cloudfront_rejects(name: str, event_type: str) -> None:
    # X-Amzn-Trace-Id is on neither list, so it stays.
    headers = [(b"content-type", b"text/plain"), (name.encode(), b"x"), (b"x-amzn-trace-id", b"Root=1-abc")]
    event = make_edge_event(event_type=event_type)
    result = LambdaEdge.to_response(Response(200, headers, b"hi"), event, build_config())
    assert sorted(result["headers"]) == ["content-type", "x-amzn-trace-id"]
