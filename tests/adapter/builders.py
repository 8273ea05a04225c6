"""Keyword-only builders of Lambda events, each starting from a recorded event and setting only what a test
is about."""

from __future__ import annotations

import base64
from typing import Any

from tests.conftest import load_event


def _body(body: bytes | str | None, base64_encoded: bool | None) -> tuple[str | None, bool]:
    if body is None:
        return None, False
    if isinstance(body, bytes) or base64_encoded:
        raw = body if isinstance(body, bytes) else body.encode()
        return base64.b64encode(raw).decode(), True
    return body, False


def make_rest_event(
    *,
    method: str = "GET",
    path: str = "/",
    stage: str = "live",
    host: str = "5h7pqvr9u4.execute-api.us-west-2.amazonaws.com",
    query: dict[str, list[str]] | None = None,
    headers: dict[str, list[str]] | None = None,
    body: bytes | str | None = None,
    base64_encoded: bool | None = None,
) -> dict[str, Any]:
    """A REST API proxy event (payload 1.0), from the live capture in tests/events/voker/."""
    event = load_event("voker/rest-v1-live-encoding-probe.json")
    all_headers = {"Host": [host], "X-Forwarded-Port": ["443"], "X-Forwarded-Proto": ["https"], **(headers or {})}
    event["httpMethod"] = method
    event["path"] = path
    event["requestContext"]["stage"] = stage
    event["requestContext"]["domainName"] = host
    event["requestContext"]["path"] = f"/{stage}{path}"
    event["requestContext"]["httpMethod"] = method
    event["multiValueHeaders"] = all_headers
    event["headers"] = {name: values[-1] for name, values in all_headers.items()}
    event["multiValueQueryStringParameters"] = query
    event["queryStringParameters"] = {key: values[-1] for key, values in query.items()} if query else None
    event["body"], event["isBase64Encoded"] = _body(body, base64_encoded)
    return event


def make_http_v2_event(
    *,
    method: str = "GET",
    path: str = "/",
    stage: str = "$default",
    host: str = "sjzepsqsu5.execute-api.us-west-2.amazonaws.com",
    query: str = "",
    headers: dict[str, str] | None = None,
    cookies: list[str] | None = None,
    body: bytes | str | None = None,
    base64_encoded: bool | None = None,
) -> dict[str, Any]:
    """An HTTP API event (payload 2.0), from the live capture in tests/events/voker/; `path` includes the stage."""
    event = load_event("voker/http-v2-live-encoding-probe.json")
    event["rawPath"] = path
    event["rawQueryString"] = query
    event["requestContext"]["stage"] = stage
    event["requestContext"]["domainName"] = host
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["headers"] = {"host": host, "x-forwarded-port": "443", "x-forwarded-proto": "https", **(headers or {})}
    if cookies is None:
        event.pop("cookies", None)
    else:
        event["cookies"] = cookies
    event["body"], event["isBase64Encoded"] = _body(body, base64_encoded)
    return event


def make_function_url_event(**options: Any) -> dict[str, Any]:
    """A Function URL event: the payload 2.0 shape from the live capture in tests/events/voker/."""
    host = "2cxn22odiwguak4feg4jtt7cwm0ziblr.lambda-url.us-west-2.on.aws"
    event = make_http_v2_event(host=host, **options)
    event["requestContext"]["apiId"] = "2cxn22odiwguak4feg4jtt7cwm0ziblr"
    return event


def make_alb_event(
    *,
    method: str = "GET",
    path: str = "/",
    multi_value: bool = True,
    query: dict[str, list[str]] | None = None,
    headers: dict[str, list[str]] | None = None,
    body: bytes | str | None = None,
    base64_encoded: bool | None = None,
) -> dict[str, Any]:
    """An ALB event, in multi-value mode (the live capture in tests/events/voker/) or single-value mode."""
    event = load_event("voker/alb-multi-value-live-encoding-probe.json")
    host = "vokerhtt-ALB-4XF8jCVDRJg4-1316758055.us-west-2.elb.amazonaws.com"
    all_headers = {
        "host": [host],
        "x-forwarded-for": ["68.8.83.18"],
        "x-forwarded-port": ["443"],
        "x-forwarded-proto": ["https"],
        **(headers or {}),
    }
    event["httpMethod"] = method
    event["path"] = path
    if multi_value:
        event["multiValueHeaders"] = all_headers
        event["multiValueQueryStringParameters"] = query or {}
    else:
        del event["multiValueHeaders"], event["multiValueQueryStringParameters"]
        event["headers"] = {name: values[-1] for name, values in all_headers.items()}
        event["queryStringParameters"] = {key: values[-1] for key, values in (query or {}).items()}
    event["body"], event["isBase64Encoded"] = _body(body, base64_encoded)
    return event


def make_edge_event(
    *,
    method: str = "GET",
    uri: str = "/",
    querystring: str = "",
    headers: dict[str, list[str]] | None = None,
    body: bytes | None = None,
    event_type: str = "origin-request",
) -> dict[str, Any]:
    """A Lambda@Edge request event, from the CloudFront developer guide's example."""
    event = load_event("awsdocs-cloudfront/lambda-edge-origin-request.json")
    cf = event["Records"][0]["cf"]
    cf["config"]["eventType"] = event_type
    request = cf["request"]
    request["method"] = method
    request["uri"] = uri
    request["querystring"] = querystring
    for name, values in (headers or {}).items():
        request["headers"][name.lower()] = [{"key": name, "value": value} for value in values]
    if body is not None:
        request["body"] = {
            "action": "read-only",
            "data": base64.b64encode(body).decode(),
            "encoding": "base64",
            "inputTruncated": False,
        }
    return event
