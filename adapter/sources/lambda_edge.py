"""Lambda@Edge viewer-request and origin-request events, answered with a generated response.

https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-event-structure.html
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-generating-http-responses.html
"""

from __future__ import annotations

from typing import Any

from adapter.config import Config
from adapter.exceptions import MalformedEvent, UnsupportedEvent
from adapter.sources._base import EventSource, Response, base_scope, response_parts
from adapter.sources._encoding import (
    decode_body,
    headers_from_multi,
    join_cookie_headers,
    raw_query,
    server_and_scheme_from,
    split_path,
)
from adapter.types import LambdaContext, LambdaEvent, LambdaResponse, Scope

# Headers a generated response must not carry: CloudFront fails validation and answers the viewer 502 when a
# function adds a disallowed header, or adds or changes a header that is read-only in its event. A generated
# response answers a viewer-request or origin-request event, so the read-only headers of both apply (the
# request-only ones cost nothing to drop from a response, and one set keeps this a single lookup per header):
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-function-restrictions-all.html#function-restrictions-headers
_DISALLOWED = frozenset(
    {
        # Disallowed headers (older revisions of the page said every X-Amzn-*; it now names these).
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "trailer",
        "upgrade",
        "x-accel-buffering",
        "x-accel-charset",
        "x-accel-limit-rate",
        "x-accel-redirect",
        "x-amzn-auth",
        "x-amzn-cf-billing",
        "x-amzn-cf-id",
        "x-amzn-cf-xff",
        "x-amzn-errortype",
        "x-amzn-fle-profile",
        "x-amzn-header-count",
        "x-amzn-header-order",
        "x-amzn-lambda-integration-tag",
        "x-amzn-requestid",
        "x-cache",
        "x-forwarded-proto",
        "x-real-ip",
        # Read-only in viewer-request or origin-request events. CloudFront frames the body it sends to the viewer,
        # so leaving out Content-Length loses nothing.
        "accept-encoding",
        "cdn-loop",
        "content-length",
        "host",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "transfer-encoding",
        "via",
    }
)
_DISALLOWED_PREFIXES = ("x-amz-cf-", "x-edge-")


def _cf(event: LambdaEvent) -> dict[str, Any]:
    cf: dict[str, Any] = event["Records"][0]["cf"]
    return cf


class LambdaEdge(EventSource):
    name = "Lambda@Edge"
    # A generated response, headers and body, is limited to 40 KB for a viewer request and 1 MB for an origin
    # request; past it CloudFront answers 502:
    # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-lambda-at-edge
    response_bytes = 1024 * 1024
    small_body_bytes = 0

    @classmethod
    def response_limit(cls, event: LambdaEvent) -> int:
        config = _cf(event).get("config") or {}
        return 40 * 1024 if config.get("eventType") == "viewer-request" else cls.response_bytes

    @classmethod
    def matches(cls, event: LambdaEvent) -> bool:
        records = event.get("Records")
        return isinstance(records, list) and len(records) == 1 and isinstance(records[0], dict) and "cf" in records[0]

    @classmethod
    def to_request(cls, event: LambdaEvent, context: LambdaContext | None, config: Config) -> tuple[Scope, bytes]:
        cf = _cf(event)
        event_type = (cf.get("config") or {}).get("eventType")
        if "response" in cf or event_type in ("origin-response", "viewer-response"):
            raise UnsupportedEvent(
                f"{cls.name} {event_type or 'response'} events carry CloudFront's response, not a request; "
                "attach the function to viewer-request or origin-request events"
            )
        request = cf.get("request")
        if not isinstance(request, dict):
            raise MalformedEvent(f"{cls.name} event has no Records[0].cf.request object")
        method = request.get("method")
        uri = request.get("uri")
        if not isinstance(method, str) or not method:
            raise MalformedEvent(f"{cls.name} event has no request.method (got {method!r})")
        if not isinstance(uri, str) or not uri.startswith("/"):
            raise MalformedEvent(f"{cls.name} event has no request.uri starting with '/' (got {uri!r})")

        # Headers arrive as {"lower-case name": [{"key": "Name", "value": "..."}]}.
        cf_headers: dict[str, list[dict[str, str]]] = request.get("headers") or {}
        headers = headers_from_multi({name: [item["value"] for item in items] for name, items in cf_headers.items()})
        if len(cf_headers.get("cookie") or ()) > 1:
            # A viewer may send several Cookie headers and CloudFront passes each one on
            # (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-examples.html); frameworks
            # that join repeated headers with "," would mis-parse them, so they become one, joined with "; ".
            headers = join_cookie_headers(headers)
        server, scheme = server_and_scheme_from(dict(headers), b"cloudfront-forwarded-proto")

        body = request.get("body") or {}
        if body.get("inputTruncated"):
            # CloudFront cuts bodies over its limit and says so; handing the app a partial body would lose data.
            raise MalformedEvent(f"{cls.name} request body was truncated by CloudFront (inputTruncated is true)")
        raw, decoded = split_path(uri)
        scope = base_scope(
            event=event,
            context=context,
            method=method.upper(),
            path=decoded,
            raw_path=raw,
            root_path="",
            query_string=raw_query(request.get("querystring") or ""),
            headers=headers,
            scheme=scheme,
            server=server,
            client_ip=request.get("clientIp"),
            http_version="1.1",
        )
        return scope, decode_body(body.get("data"), body.get("encoding") == "base64", cls.name)

    @classmethod
    def to_response(cls, response: Response, event: LambdaEvent, config: Config) -> LambdaResponse:
        single, repeated, body, is_base64 = response_parts(response, config)
        all_values = {name: [value] for name, value in single.items()}
        all_values.update(repeated)
        headers = {
            name: [{"key": name, "value": value} for value in values]
            for name, values in all_values.items()
            if name not in _DISALLOWED and not name.startswith(_DISALLOWED_PREFIXES)
        }
        return {
            "status": str(response.status),
            "statusDescription": _phrase(response.status),
            "headers": headers,
            "body": body,
            "bodyEncoding": "base64" if is_base64 else "text",
        }


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
