"""Every recorded request event in tests/events/ goes through LambdaAdapter, and the whole response is checked.

The expected values were read off each event by hand (see tests/events/SOURCES.md for where each comes from):
the method, the path as the client sent it (with the stage a REST API leaves out of `path`), the public prefix,
the query string (as sent where the event has it raw, re-encoded where API Gateway decoded it, joined as-is for
ALB, which leaves it encoded), the scheme, server and client.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import unquote

import pytest

from adapter import MalformedEvent, UnsupportedEvent
from adapter.sources import ALB, HTTPAPIV2, APIGatewayV1, EventSource, LambdaEdge
from tests.adapter.conftest import AdapterFactory
from tests.conftest import EVENTS, LambdaContextStub, load_event

Server = tuple[str, int] | None

# One row per event: source, method, raw_path, root_path, query_string, scheme, server, client.
# fmt: off
EXPECTED: dict[str, tuple[type[EventSource], str, bytes, str, bytes, str, Server, str | None]] = {
    "aws-lambda-dotnet/alb-binary-body.json": (ALB, "PUT", b'/api/binary', '', b'', 'https', ('lambda-846800462-us-east-2.elb.amazonaws.com', 443), '72.21.198.66'),
    "aws-lambda-dotnet/alb-multi-value-query-not-decoded.json": (ALB, "GET", b'/api/rawquerystring/json', '', b'url=http://www.gooogle.com&testDateTimeOffset=2019-03-12T16%3A06%3A06.5498170%2B00%3A00', 'https', ('lambda-846800462-us-east-2.elb.amazonaws.com', 443), '72.21.198.66'),
    "aws-lambda-dotnet/alb-path-escaped-percent-and-slash.json": (ALB, "GET", b'/foo%25%2Fbar', '', b'', 'https', None, None),
    "aws-lambda-dotnet/alb-path-escaped-slash.json": (ALB, "GET", b'/foo%2Fbar', '', b'', 'https', None, None),
    "aws-lambda-dotnet/alb-single-value-query-not-decoded.json": (ALB, "GET", b'/api/rawquerystring/json', '', b'url=http://www.gooogle.com&testDateTimeOffset=2019-03-12T16%3A06%3A06.5498170%2B00%3A00', 'https', ('lambda-846800462-us-east-2.elb.amazonaws.com', 443), '72.21.198.66'),
    "aws-lambda-dotnet/cloudfront-legacy-viewer-request-cookie.json": (LambdaEdge, "GET", b'/experiment-pixel.jpg', '', b'', 'https', ('d123.cf.net', 443), '2001:cdba::3257:9652'),
    "aws-lambda-dotnet/http-v2-mtls.json": (HTTPAPIV2, "GET", b'/api/mtlstest', '', b'', 'https', ('uo9pe23ec6.execute-api.us-east-1.amazonaws.com', 443), '192.182.149.40'),
    "aws-lambda-dotnet/http-v2-multiple-cookies.json": (HTTPAPIV2, "GET", b'/api/cookietests/TestCookie3', '', b'', 'https', ('uo9pe23ec6.execute-api.us-east-1.amazonaws.com', 443), '192.182.149.40'),
    "aws-lambda-dotnet/http-v2-named-stage-beta.json": (HTTPAPIV2, "GET", b'/beta/api/values', '/beta', b'', 'https', ('uzdrcy3wk7.execute-api.us-east-1.amazonaws.com', 443), '192.182.149.40'),
    "aws-lambda-dotnet/http-v2-query-plus-decoded-to-space.json": (HTTPAPIV2, "GET", b'/api/rawquerystring/json', '', b'url=http://www.google.com&testDateTimeOffset=2019-03-12T16%3A06%3A06.549817%2B00%3A00', 'https', ('uo9pe23ec6.execute-api.us-east-1.amazonaws.com', 443), '192.182.149.40'),
    "aws-lambda-dotnet/http-v2-rawpath-encoded-slash.json": (HTTPAPIV2, "GET", b'/api/resourcepath/encoding/a%2Fb', '', b'', 'https', ('uo9pe23ec6.execute-api.us-east-1.amazonaws.com', 443), '192.182.149.40'),
    "aws-lambda-dotnet/http-v2-rawpath-literal-space.json": (HTTPAPIV2, "GET", b'/api/resourcepath/string/tmh/file%20name.xml', '', b'', 'https', ('uo9pe23ec6.execute-api.us-east-1.amazonaws.com', 443), '192.182.149.40'),
    "aws-lambda-dotnet/rest-v1-mtls-cognito-claims.json": (APIGatewayV1, "GET", b'/Prod/api/mtlstest', '/Prod', b'', 'https', ('zzqupfvhrk.execute-api.us-west-2.amazonaws.com', 443), '50.35.77.7'),
    "aws-lambda-dotnet/rest-v1-path-encoded-slash.json": (APIGatewayV1, "GET", b'/Prod/api/resourcepath/encoding/a%2Fb', '/Prod', b'', 'https', ('uy8hsm9y23.execute-api.us-west-2.amazonaws.com', 443), '50.35.64.182'),
    "aws-lambda-dotnet/rest-v1-path-encoded-space-query-decoded.json": (APIGatewayV1, "GET", b'/Prod/foo%20bar', '/Prod', b'greeting=hello+world', 'https', ('m1138alqlk.execute-api.us-west-2.amazonaws.com', 443), '50.35.77.7'),
    "aws-lambda-dotnet/rest-v1-put-null-body.json": (APIGatewayV1, "PUT", b'/Prod/api/values/no-body', '/Prod', b'', 'https', ('example.execute-api.us-west-2.amazonaws.com', 443), '50.35.61.49'),
    "aws-lambda-dotnet/rest-v1-query-decoded.json": (APIGatewayV1, "GET", b'/api/rawquerystring/json', '', b'url=http%3A%2F%2Fwww.gooogle.com&testDateTimeOffset=2019-03-12T16%3A06%3A06.549817%2B00%3A00', 'https', None, '127.0.0.1'),
    "aws-lambda-go/alb-multi-value-request.json": (ALB, "GET", b'/', '', b'key=hello', 'http', ('lambda-test-alb-1234567.us-east-1.elb.amazonaws.com', 80), '72.21.198.67'),
    "aws-lambda-go/alb-single-value-request.json": (ALB, "GET", b'/', '', b'key=hello', 'http', ('lambda-test-alb-1334523864.us-east-1.elb.amazonaws.com', 80), '25.12.198.67'),
    "aws-lambda-go/function-url-live-base64-body-unknown-content-type.json": (HTTPAPIV2, "POST", b'/', '', b'', 'https', ('lambda-url-id.lambda-url.us-west-2.on.aws', 443), '127.0.0.1'),
    "aws-lambda-go/function-url-live-cookies-dup-headers-text-body.json": (HTTPAPIV2, "POST", b'/hello', '', b'hello=world&foo=bar', 'https', ('lambda-url-id.lambda-url.us-west-2.on.aws', 443), '127.0.0.1'),
    "aws-lambda-go/function-url-live-get-no-body.json": (HTTPAPIV2, "GET", b'/', '', b'', 'https', ('lambda-url-id.lambda-url.us-west-2.on.aws', 443), '127.0.0.1'),
    "aws-lambda-go/function-url-live-get-trailing-slash.json": (HTTPAPIV2, "GET", b'/', '', b'', 'https', ('lambda-url-id.lambda-url.us-west-2.on.aws', 443), '127.0.0.1'),
    "aws-lambda-go/function-url-request-doc-example.json": (HTTPAPIV2, "POST", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, '123.123.123.123'),
    "aws-lambda-go/http-v2-iam-authorizer.json": (HTTPAPIV2, "GET", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, 'IP'),
    "aws-lambda-go/http-v2-jwt-authorizer.json": (HTTPAPIV2, "GET", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, 'IP'),
    "aws-lambda-go/http-v2-lambda-authorizer.json": (HTTPAPIV2, "GET", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, 'IP'),
    "aws-lambda-go/http-v2-no-authorizer-mtls.json": (HTTPAPIV2, "GET", b'/', '', b'', 'https', ('aaaaaaaaaa.execute-api.us-west-2.amazonaws.com', 443), '1.2.3.4'),
    "aws-lambda-go/rest-v1-openapi-request.json": (APIGatewayV1, "POST", b'/testStage/hello/world', '/testStage', b'name=me', 'https', ('gy415nuibc.execute-api.us-east-1.amazonaws.com', 443), '192.168.196.186'),
    "aws-lambda-go/rest-v1-proxy-request.json": (APIGatewayV1, "POST", b'/testStage/hello/world', '/testStage', b'name=me', 'https', ('gy415nuibc.execute-api.us-east-1.amazonaws.com', 443), '192.168.196.186'),
    "aws-lambda-web-adapter/rest-v1-sam-style.json": (APIGatewayV1, "GET", b'/prod/hello', '/prod', b'foo=bar', 'https', ('1234567890.execute-api.us-east-1.amazonaws.com', 443), '127.0.0.1'),
    "awsdocs-apigateway/http-v1-doc-example.json": (APIGatewayV1, "GET", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, '192.0.2.1'),
    "awsdocs-apigateway/http-v2-doc-example.json": (HTTPAPIV2, "POST", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, '192.0.2.1'),
    "awsdocs-apigateway/rest-v1-doc-input-example.json": (APIGatewayV1, "GET", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, 'IP'),
    "awsdocs-cloudfront/lambda-edge-origin-request.json": (LambdaEdge, "GET", b'/', '', b'', 'https', ('example.org', 443), '203.0.113.178'),
    "awsdocs-cloudfront/lambda-edge-request-with-body-2019.json": (LambdaEdge, "GET", b'/picture.jpg', '', b'size=large', 'https', ('d111111abcdef8.cloudfront.net', 443), '2001:0db8:85a3:0:0:8a2e:0370:7334'),
    "awsdocs-cloudfront/lambda-edge-viewer-request.json": (LambdaEdge, "GET", b'/', '', b'', 'https', ('d111111abcdef8.cloudfront.net', 443), '203.0.113.178'),
    "lambda-developer-guide/cloudfront-viewer-request.json": (LambdaEdge, "GET", b'/picture.jpg', '', b'', 'https', ('d111111abcdef8.cloudfront.net', 443), '203.0.113.178'),
    "lambda-developer-guide/function-url-doc-request-iam.json": (HTTPAPIV2, "POST", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, '123.123.123.123'),
    "lambda-developer-guide/http-v2-captured-named-stage.json": (HTTPAPIV2, "GET", b'/default/nodejs-apig-function-1G3XMPLZXVXYI', '/default', b'', 'https', ('r3pmxmplak.execute-api.us-east-2.amazonaws.com', 443), '205.255.255.176'),
    "lambda-developer-guide/rest-v1-captured-cookie.json": (APIGatewayV1, "GET", b'/Prod/', '/Prod', b'', 'https', ('70ixmpl4fl.execute-api.ca-central-1.amazonaws.com', 443), '52.255.255.12'),
    "powertools-python/alb-multi-value-empty-query.json": (ALB, "GET", b'/todos', '', b'', 'http', ('alb-c-LoadB-14POFKYCLBNSF-1815800096.eu-central-1.elb.amazonaws.com', 80), '123.123.123.123'),
    "powertools-python/alb-multi-value-query.json": (ALB, "GET", b'/todos', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'http', ('alb-c-LoadB-14POFKYCLBNSF-1815800096.eu-central-1.elb.amazonaws.com', 80), '123.123.123.123'),
    "powertools-python/alb-single-value.json": (ALB, "GET", b'/lambda', '', b'query=1234ABCD', 'http', ('lambda-alb-123578498.us-east-2.elb.amazonaws.com', 80), '72.12.164.125'),
    "powertools-python/function-url-get.json": (HTTPAPIV2, "GET", b'/', '', b'', 'https', ('<url-id>.lambda-url.us-east-1.on.aws', 443), '123.123.123.123'),
    "powertools-python/function-url-iam.json": (HTTPAPIV2, "POST", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, '123.123.123.123'),
    "powertools-python/http-v1-doc-example.json": (APIGatewayV1, "GET", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, '192.168.0.1/32'),
    "powertools-python/http-v2-doc-example-jwt.json": (HTTPAPIV2, "POST", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, '192.168.0.1/32'),
    "powertools-python/http-v2-iam.json": (HTTPAPIV2, "GET", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, '192.168.0.1/32'),
    "powertools-python/http-v2-lambda-authorizer.json": (HTTPAPIV2, "GET", b'/my/path', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, '192.168.0.1/32'),
    "powertools-python/rest-v1-custom-domain-base-path-minimal.json": (APIGatewayV1, "GET", b'/payment/subscriptions/123', '', b'', 'https', None, None),
    "powertools-python/rest-v1-minimal-principal-id.json": (APIGatewayV1, "POST", b'/trip', '', b'', 'https', None, None),
    "sam-cli/alb-single-value-request.json": (ALB, "POST", b'/path/to/resource', '', b'query=1234ABCD', 'http', ('lambda-alb-123578498.us-east-2.elb.amazonaws.com', 80), '72.12.164.125'),
    "sam-cli/http-v2-http-api.json": (HTTPAPIV2, "POST", b'/path/to/resource', '', b'parameter1=value1&parameter1=value2&parameter2=value', 'https', None, '192.168.0.1/32'),
    "sam-cli/lambda-edge-request-querystring.json": (LambdaEdge, "GET", b'/test', '', b'auth=test&foo=bar', 'https', ('d123.cf.net', 443), '2001:cdba::3257:9652'),
    "sam-cli/lambda-edge-request-response-generation.json": (LambdaEdge, "GET", b'/test', '', b'', 'https', ('d123.cf.net', 443), '2001:cdba::3257:9652'),
    "sam-cli/rest-v1-aws-proxy.json": (APIGatewayV1, "POST", b'/prod/path/to/resource', '/prod', b'foo=bar', 'https', ('0123456789.execute-api.us-east-1.amazonaws.com', 443), '127.0.0.1'),
    "voker/alb-multi-value-live-encoding-probe.json": (ALB, "POST", b'/capture/space%20value', '', b'empty=&encodedPlus=a%2Bb&literalPlus=a+b&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb&repeat=one&repeat=two', 'http', ('vokerhtt-ALB-4XF8jCVDRJg4-1316758055.us-west-2.elb.amazonaws.com', 80), '68.8.83.18'),
    "voker/function-url-live-encoding-probe.json": (HTTPAPIV2, "POST", b'/capture/space%20value', '', b'repeat=one&repeat=two&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb&literalPlus=a+b&encodedPlus=a%2Bb&empty=', 'https', ('2cxn22odiwguak4feg4jtt7cwm0ziblr.lambda-url.us-west-2.on.aws', 443), '68.8.83.18'),
    "voker/http-v2-live-encoding-probe.json": (HTTPAPIV2, "POST", b'/capture/space%20value', '', b'repeat=one&repeat=two&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb&literalPlus=a+b&encodedPlus=a%2Bb&empty=', 'https', ('sjzepsqsu5.execute-api.us-west-2.amazonaws.com', 443), '68.8.83.18'),
    "voker/rest-v1-live-encoding-probe.json": (APIGatewayV1, "POST", b'/live/capture/space%20value', '/live', b'empty=&encodedPlus=a%2Bb&literalPlus=a+b&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb&repeat=one&repeat=two', 'https', ('5h7pqvr9u4.execute-api.us-west-2.amazonaws.com', 443), '68.8.83.18'),
}
# fmt: on

REJECTED: dict[str, tuple[type[Exception], str]] = {
    # Fixtures whose isBase64Encoded body is not base64: a named error, never garbage bytes.
    "aws-lambda-dotnet/alb-multi-value-request.json": (MalformedEvent, "not valid base64"),
    "aws-lambda-dotnet/http-v2-request.json": (MalformedEvent, "not valid base64"),
    # Lambda@Edge events that carry CloudFront's response are not requests for the app.
    "aws-lambda-dotnet/cloudfront-legacy-origin-response.json": (UnsupportedEvent, "carry CloudFront's response"),
    "awsdocs-cloudfront/lambda-edge-origin-response.json": (UnsupportedEvent, "origin-response events"),
    "awsdocs-cloudfront/lambda-edge-viewer-response.json": (UnsupportedEvent, "viewer-response events"),
    "awsdocs-cloudfront/lambda-edge-viewer-response-two-set-cookies-2019.json": (UnsupportedEvent, "viewer-response"),
    # WebSocket APIs, including the hybrid fixture that also carries REST fields.
    "aws-lambda-dotnet/websocket-connect.json": (UnsupportedEvent, "WebSocket events (CONNECT)"),
    "aws-lambda-dotnet/websocket-message-console-test.json": (UnsupportedEvent, "WebSocket events (MESSAGE)"),
    "aws-lambda-go/websocket-connect-synthetic-hybrid.json": (UnsupportedEvent, "WebSocket events (CONNECT)"),
    "aws-lambda-go/websocket-disconnect.json": (UnsupportedEvent, "WebSocket events (DISCONNECT)"),
    "aws-lambda-go/websocket-message.json": (UnsupportedEvent, "WebSocket events (MESSAGE)"),
}

# Responses, and events of other services, which are not HTTP requests at all.
NOT_REQUESTS = sorted(
    str(path.relative_to(EVENTS))
    for path in EVENTS.glob("*/*.json")
    if str(path.relative_to(EVENTS)) not in EXPECTED and str(path.relative_to(EVENTS)) not in REJECTED
)


def test_every_event_is_classified() -> None:
    assert len(EXPECTED) + len(REJECTED) + len(NOT_REQUESTS) == len(list(EVENTS.glob("*/*.json")))
    for name in NOT_REQUESTS:
        assert any(word in name for word in ("sqs", "sns", "s3", "kinesis", "dynamodb", "eventbridge", "response"))


def _request_headers(event: dict[str, Any], source: type[EventSource]) -> list[list[str]]:
    """The headers the app should see, worked out from the event independently of the adapter."""
    if source is LambdaEdge:
        request = event["Records"][0]["cf"]["request"]
        return [[name, item["value"]] for name, items in request["headers"].items() for item in items]
    if event.get("multiValueHeaders"):
        pairs = [[name.lower(), value] for name, values in event["multiValueHeaders"].items() for value in values]
    else:
        pairs = [[name.lower(), value] for name, value in (event.get("headers") or {}).items()]
    if event.get("cookies"):
        pairs = [pair for pair in pairs if pair[0] != "cookie"] + [["cookie", "; ".join(event["cookies"])]]
    return pairs


def _with_length(headers: list[list[str]], body: bytes) -> list[list[str]]:
    # A body without Content-Length (REST APIs drop it) gets one, so that WSGI bridges read all of it.
    if body and not any(name in ("content-length", "transfer-encoding") for name, _ in headers):
        return [*headers, ["content-length", str(len(body))]]
    return headers


def _request_body(event: dict[str, Any], source: type[EventSource]) -> bytes:
    if source is LambdaEdge:
        body = event["Records"][0]["cf"]["request"].get("body") or {}
        data = body.get("data") or ""
        return base64.b64decode(data) if body.get("encoding") == "base64" else data.encode()
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_request_event(name: str, make_adapter: AdapterFactory, lambda_context: LambdaContextStub) -> None:
    source, method, raw_path, root_path, query, scheme, server, client = EXPECTED[name]
    event = load_event(name)
    response = make_adapter()(event, lambda_context)

    payload = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": _decoded(raw_path),
        "raw_path": raw_path.decode(),
        "root_path": root_path,
        "query_string": query.decode(),
        "headers": _with_length(_request_headers(event, source), _request_body(event, source)),
        "server": list(server) if server else None,
        "client": [client, 0] if client else None,
        "body": base64.b64encode(_request_body(event, source)).decode(),
        "state": {"started": True},
    }
    body = json.dumps(payload)
    length = str(len(body.encode()))
    expected: dict[str, Any]
    if source is LambdaEdge:
        expected = {
            "status": "200",
            "statusDescription": "OK",
            "headers": {
                # No Content-Length: it is read-only in the request events a generated response answers.
                "content-type": [{"key": "content-type", "value": "application/json"}],
            },
            "body": body,
            "bodyEncoding": "text",
        }
    elif source is ALB:
        expected = {"statusCode": 200, "statusDescription": "200 OK", "body": body, "isBase64Encoded": False}
        if "multiValueHeaders" in event:
            expected["multiValueHeaders"] = {"content-type": ["application/json"], "content-length": [length]}
        else:
            expected["headers"] = {"content-type": "application/json", "content-length": length}
    elif source is HTTPAPIV2:
        expected = {
            "statusCode": 200,
            "headers": {"content-type": "application/json", "content-length": length},
            "body": body,
            "isBase64Encoded": False,
        }
    else:
        expected = {
            "statusCode": 200,
            "headers": {"content-type": "application/json", "content-length": length},
            "multiValueHeaders": {},
            "body": body,
            "isBase64Encoded": False,
        }
    assert json.loads(response["body"]) == payload
    assert response == expected


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected_event(name: str, make_adapter: AdapterFactory, lambda_context: LambdaContextStub) -> None:
    error, message = REJECTED[name]
    with pytest.raises(error, match=re.escape(message)):
        make_adapter()(load_event(name), lambda_context)


@pytest.mark.parametrize("name", NOT_REQUESTS)
def test_non_http_event(name: str, make_adapter: AdapterFactory, lambda_context: LambdaContextStub) -> None:
    with pytest.raises(UnsupportedEvent, match=r"matches no supported shape; looked at: .*the event's keys: "):
        make_adapter()(load_event(name), lambda_context)


def _decoded(raw_path: bytes) -> str:
    return unquote(raw_path.decode())
