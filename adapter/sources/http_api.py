"""Payload format 2.0: HTTP APIs and Lambda Function URLs.

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
"""

from __future__ import annotations

from typing import Any

from adapter.config import Config
from adapter.exceptions import MalformedEvent
from adapter.sources._base import EventSource, Response, base_scope, response_parts
from adapter.sources._encoding import (
    decode_body,
    headers_from_single,
    http_api_root_path,
    raw_query,
    server_and_scheme,
    split_path,
)
from adapter.types import LambdaContext, LambdaEvent, LambdaResponse, Scope


class HTTPAPIV2(EventSource):
    """HTTP API events with payload format 2.0, and Function URL events, which share the shape."""

    name = "API Gateway HTTP API (payload 2.0)"

    @classmethod
    def matches(cls, event: LambdaEvent) -> bool:
        return event.get("version") == "2.0" and "requestContext" in event

    @classmethod
    def to_request(cls, event: LambdaEvent, context: LambdaContext | None, config: Config) -> tuple[Scope, bytes]:
        request_context: dict[str, Any] = event["requestContext"] or {}
        http: dict[str, Any] = request_context.get("http") or {}
        method = http.get("method")
        path = event.get("rawPath")
        if not isinstance(method, str) or not method:
            raise MalformedEvent(f"{cls.name} event has no requestContext.http.method (got {method!r})")
        if not isinstance(path, str) or not path.startswith("/"):
            raise MalformedEvent(f"{cls.name} event has no rawPath starting with '/' (got {path!r})")

        # Payload 2.0 joins the values of a repeated header with commas and moves Cookie headers to `cookies`.
        # A Function URL also leaves the Cookie header in place, so it is dropped here to avoid sending it twice.
        raw_headers: dict[str, str] = event.get("headers") or {}
        headers = headers_from_single(raw_headers)
        cookies = event.get("cookies")
        if cookies:
            if "cookie" in raw_headers:
                headers = [pair for pair in headers if pair[0] != b"cookie"]
            headers.append((b"cookie", "; ".join(cookies).encode("utf-8", "replace")))
        # Payload 2.0 header names are already lower-case.
        server, scheme = server_and_scheme(
            raw_headers.get("host"), raw_headers.get("x-forwarded-port"), raw_headers.get("x-forwarded-proto")
        )

        # HTTP API puts the stage in rawPath when it is not $default, and decodes escapes such as %20 in it
        # (a literal space arrives), while a Function URL keeps rawPath as sent; split_path() handles both.
        raw, decoded = split_path(path)
        stage = request_context.get("stage")
        if (stage == "$default" or not stage) and not config.api_gateway_base_path:
            root_path = ""
        elif ".lambda-url." in (request_context.get("domainName") or ""):
            root_path = ""  # a Function URL has neither stages nor base path mappings
        else:
            root_path = http_api_root_path(raw, stage, config.api_gateway_base_path)
        query = event.get("rawQueryString")
        protocol = http.get("protocol")
        body = event.get("body")

        scope = base_scope(
            event=event,
            context=context,
            method=method.upper(),
            path=decoded,
            raw_path=raw,
            root_path=root_path,
            query_string=raw_query(query) if query else b"",
            headers=headers,
            scheme=scheme,
            server=server,
            client_ip=http.get("sourceIp"),
            http_version="1.1" if protocol == "HTTP/1.1" or not protocol else _http_version(protocol),
        )
        if body is None or body == "":
            return scope, b""
        return scope, decode_body(body, event.get("isBase64Encoded"), cls.name)

    @classmethod
    def to_response(cls, response: Response, event: LambdaEvent, config: Config) -> LambdaResponse:
        headers, repeated, body, is_base64 = response_parts(response, config)
        result: LambdaResponse = {
            "statusCode": response.status,
            "headers": headers,
            "body": body,
            "isBase64Encoded": is_base64,
        }
        # Every Set-Cookie goes in `cookies`; other repeated headers are joined with commas (RFC 9110 5.3).
        if "set-cookie" in headers:
            result["cookies"] = [headers.pop("set-cookie")]
        if repeated:
            if "set-cookie" in repeated:
                result["cookies"] = repeated.pop("set-cookie")
            for name, values in repeated.items():
                headers[name] = ", ".join(values)
        return result


def _http_version(protocol: str) -> str:
    return "2" if protocol == "HTTP/2.0" else protocol.removeprefix("HTTP/")
