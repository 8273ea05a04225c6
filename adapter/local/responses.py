"""The handler's result back to HTTP, as each service maps it, and the answers the services give on their own
when the invocation fails. Pure functions.

The error bodies are the services' defaults:

- REST API: a function error or a response in the wrong format is a 502 `{"message": "Internal server error"}`
  (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html); a base64 body that does not
  decode is an API_CONFIGURATION_ERROR (500), the 29 s integration timeout an INTEGRATION_TIMEOUT (504), a
  request over the limit REQUEST_TOO_LARGE (413) and a path no resource takes MISSING_AUTHENTICATION_TOKEN (403)
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
- HTTP API: `{"message":"Internal Server Error"}` with a 500
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html), 503
  `{"message":"Service Unavailable"}` past its 30 s integration timeout, 404 `{"message":"Not Found"}` without
  a route (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
- Function URL: a 502 with the text "Internal Server Error"
  (https://github.com/awsdocs/aws-lambda-developer-guide/issues/430).
- ALB: the load balancer's own HTML pages, 502 for a failed or malformed invocation and 413 past its 1 MB
  request limit (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
"""

from __future__ import annotations

import binascii
import json
from http import HTTPStatus
from typing import Any

from adapter.local.events import ClientRequest, Gateway, is_binary

# Lambda's synchronous invocation limits: the request "must be smaller than 6291456 bytes for the
# InvokeFunction operation"; a response may be 100 bytes longer (6 MiB + 100).
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_EVENT_BYTES = 6 * 1024 * 1024
MAX_RESULT_BYTES = 6 * 1024 * 1024 + 100
# API Gateway's own payload quota, checked before the body is read at all.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
MAX_API_GATEWAY_BODY = 10 * 1024 * 1024
# An ALB sends a Lambda target at most 1 MB of body and takes at most 1 MB of response JSON back.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
MAX_ALB_BYTES = 1024 * 1024
# API Gateway's integration timeouts: 29 s for REST, 30 s for HTTP APIs. Function URLs and ALB wait for the
# function's own timeout.
GATEWAY_TIMEOUTS = {"rest": 29.0, "http-v1": 30.0, "http-v2": 30.0}

# Headers that describe the connection or the framing: the service sets its own.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


class MalformedResponse(ValueError):
    """The handler's result is not a response the service accepts; the message says what is wrong.

    `kind` is the failure the service reports: "function" (a bad response) or "config" (a base64 body that does
    not decode, which REST counts as an API configuration error).
    """

    def __init__(self, message: str, kind: str = "function") -> None:
        super().__init__(message)
        self.kind = kind


class HTTPResponse:
    """What goes back on the wire: status, reason phrase, headers in order (repeats allowed), body."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes, reason: str | None = None) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.reason = reason if reason is not None else _phrase(status)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _json_error(status: int, message: str, headers: list[tuple[str, str]]) -> HTTPResponse:
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HTTPResponse(status, [("Content-Type", "application/json"), *headers], body)


def _alb_page(status: int, title: str) -> HTTPResponse:
    page = (
        f"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return HTTPResponse(status, [("Server", "awselb/2.0"), ("Content-Type", "text/html")], page.encode())


# (status, message) per failure and service.
_REST_ERRORS = {
    "function": (502, "Internal server error"),
    "config": (500, "Internal server error"),
    "timeout": (504, "Endpoint request timed out"),
    "too_large": (413, "Request Too Long"),
    "no_route": (403, "Missing Authentication Token"),
}
_HTTP_API_ERRORS = {
    "function": (500, "Internal Server Error"),
    "config": (500, "Internal Server Error"),
    "timeout": (503, "Service Unavailable"),
    "too_large": (413, "Request Entity Too Large"),
    "no_route": (404, "Not Found"),
}
# Function URLs and ALB answer in plain text and HTML, with the phrases of the time (Python 3.13 calls 413
# "Content Too Large").
_PLAIN_ERRORS = {
    "function": (502, "Internal Server Error"),
    "config": (502, "Internal Server Error"),
    "timeout": (504, "Gateway Timeout"),
    "too_large": (413, "Request Entity Too Large"),
    "no_route": (404, "Not Found"),
}
_ALB_ERRORS = {**_PLAIN_ERRORS, "function": (502, "Bad Gateway"), "config": (502, "Bad Gateway")}


def gateway_error(gateway: Gateway, kind: str, request_id: str) -> HTTPResponse:
    """The service's own answer: `kind` is function, config, timeout, too_large or no_route."""
    if gateway.format == "rest":
        status, message = _REST_ERRORS[kind]
        return _json_error(status, message, [("x-amzn-RequestId", request_id)])
    if gateway.format in ("http-v1", "http-v2"):
        status, message = _HTTP_API_ERRORS[kind]
        return _json_error(status, message, [("apigw-requestid", request_id)])
    if gateway.format == "alb":
        return _alb_page(*_ALB_ERRORS[kind])
    status, message = _PLAIN_ERRORS[kind]
    return HTTPResponse(status, [("Content-Type", "text/plain"), ("x-amzn-RequestId", request_id)], message.encode())


def http_response(gateway: Gateway, result: Any, request: ClientRequest, request_id: str) -> HTTPResponse:
    """The HTTP response the service makes of the handler's result; `MalformedResponse` when it would fail."""
    if gateway.format in ("http-v2", "function-url"):
        response = _v2_response(result)
        response.headers.append(
            ("apigw-requestid", request_id) if gateway.format == "http-v2" else ("x-amzn-RequestId", request_id)
        )
        return response
    if not isinstance(result, dict):
        raise MalformedResponse(f"the result is a JSON {_kind(result)}, not an object with a statusCode")
    status = _status(result)
    if gateway.format == "alb":
        # The target group's multi-value setting decides which of the two the load balancer reads.
        key = "multiValueHeaders" if gateway.multi_value_headers else "headers"
        headers = _multi_headers(result, key) if gateway.multi_value_headers else _single_headers(result, key)
        description = result.get("statusDescription")
        if description is not None and not isinstance(description, str):
            raise MalformedResponse(f"statusDescription must be a string, not a JSON {_kind(description)}")
        # "200 OK": the load balancer uses what follows the code as the reason phrase.
        reason = description.partition(" ")[2] if description else None
        return HTTPResponse(status, headers, _body(result, decode=True), reason)
    # Payload 1.0 merges `headers` into `multiValueHeaders`; a pair given in both appears once.
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-output-format
    headers = _multi_headers(result, "multiValueHeaders")
    for pair in _single_headers(result, "headers"):
        if pair not in headers:
            headers.append(pair)
    decode = True
    if gateway.format == "rest":
        # REST turns a base64 body into bytes only when the response's Content-Type or the request's first
        # Accept type is a binary media type; otherwise the client gets the base64 text.
        # https://docs.aws.amazon.com/apigateway/latest/developerguide/lambda-proxy-binary-media.html
        accept = (request.header("accept") or "").split(",", 1)[0]
        content_type = next((value for name, value in headers if name.lower() == "content-type"), None)
        decode = is_binary(content_type, gateway.binary_media_types) or is_binary(accept, gateway.binary_media_types)
        headers.append(("x-amzn-RequestId", request_id))
    return HTTPResponse(status, headers, _body(result, decode=decode))


def _v2_response(result: Any) -> HTTPResponse:
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0 takes any JSON without a statusCode as the body of a 200 application/json response.
        # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html#http-api-develop-integrations-lambda.response
        body = json.dumps(result, ensure_ascii=False).encode()
        return HTTPResponse(200, [("content-type", "application/json")], body)
    status = _status(result)
    headers: list[tuple[str, str]] = []
    for name, value in _single_headers(result, "headers"):
        headers.append((name, value))
    cookies = result.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list) or not all(isinstance(cookie, str) for cookie in cookies):
            raise MalformedResponse("cookies must be a list of strings")
        headers.extend(("set-cookie", cookie) for cookie in cookies)
    return HTTPResponse(status, headers, _body(result, decode=True))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _status(result: dict[str, Any]) -> int:
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        shown = "missing" if "statusCode" not in result else f"{status!r}"
        raise MalformedResponse(f"statusCode must be an HTTP status code (an integer from 100 to 599), not {shown}")
    return status


def _header_value(name: str, value: object) -> str:
    if not name or any(char in name for char in " \t\r\n:"):
        raise MalformedResponse(f"{name!r} is not a header name")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise MalformedResponse(f"header {name!r} must have a string value, not a JSON {_kind(value)}")
    if "\r" in value or "\n" in value:
        raise MalformedResponse(f"header {name!r} has a line break in its value")
    return value


def _single_headers(result: dict[str, Any], key: str) -> list[tuple[str, str]]:
    headers = result.get(key)
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise MalformedResponse(f"{key} must be an object of header names to values, not a JSON {_kind(headers)}")
    return [(name, _header_value(name, value)) for name, value in headers.items() if name.lower() not in _FRAMING]


def _multi_headers(result: dict[str, Any], key: str) -> list[tuple[str, str]]:
    headers = result.get(key)
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise MalformedResponse(f"{key} must be an object of header names to lists, not a JSON {_kind(headers)}")
    pairs: list[tuple[str, str]] = []
    for name, values in headers.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"{key}[{name!r}] must be a list of strings, not a JSON {_kind(values)}")
        if name.lower() not in _FRAMING:
            pairs.extend((name, _header_value(name, value)) for value in values)
    return pairs


def _body(result: dict[str, Any], *, decode: bool) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, not a JSON {_kind(body)} (serialise it, e.g. json.dumps)")
    if result.get("isBase64Encoded") and decode:
        try:
            return binascii.a2b_base64(body, strict_mode=True)
        except binascii.Error as error:
            raise MalformedResponse(
                f"isBase64Encoded is true but the body is not valid base64: {error}", kind="config"
            ) from None
    return body.encode("utf-8")
