"""API Gateway payload format 1.0: REST APIs, and HTTP APIs configured for payload 1.0.

Event and response shapes:
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from adapter.config import Config
from adapter.exceptions import MalformedEvent
from adapter.sources._base import EventSource, Response, base_scope, prepare_response
from adapter.sources._encoding import (
    decode_body,
    headers_from_multi,
    headers_from_single,
    http_api_root_path,
    join_cookie_headers,
    raw_path,
    root_path_for,
    server_and_scheme_from,
)
from adapter.types import LambdaContext, LambdaEvent, LambdaResponse, Scope


def _is_execute_api_host(host: str | None, request_context: dict[str, Any]) -> bool:
    # The stage is part of the URL only on the default endpoint, {api-id}.execute-api.{region}.amazonaws.com;
    # a custom domain maps a base path to a stage instead. A loopback Host is a local emulation of the API
    # (`python -m adapter serve`), which names the endpoint it stands for in requestContext.domainName.
    if host is not None and (host == "localhost" or host.startswith(("127.", "[::1]"))):
        host = request_context.get("domainName")
    return isinstance(host, str) and ".execute-api." in host


class APIGatewayV1(EventSource):
    """REST API proxy events, and HTTP API events with payload format 1.0 (they carry `"version": "1.0"`)."""

    name = "API Gateway (payload 1.0)"

    @classmethod
    def matches(cls, event: LambdaEvent) -> bool:
        # Real events always carry requestContext; hand-written test events often have only resource and path.
        if "httpMethod" not in event:
            return False
        request_context = event.get("requestContext")
        if request_context is None:
            return "resource" in event
        return isinstance(request_context, dict) and "elb" not in request_context

    @classmethod
    def to_request(cls, event: LambdaEvent, context: LambdaContext | None, config: Config) -> tuple[Scope, bytes]:
        request_context: dict[str, Any] = event.get("requestContext") or {}
        method = event["httpMethod"]
        path = event.get("path")
        if not isinstance(method, str) or not method:
            raise MalformedEvent(f"{cls.name} event has no httpMethod (got {method!r})")
        if not isinstance(path, str) or not path.startswith("/"):
            raise MalformedEvent(f"{cls.name} event has no path starting with '/' (got {path!r})")

        # multiValueHeaders holds every value of a repeated header; `headers` keeps only the last one.
        multi_headers = event.get("multiValueHeaders")
        if multi_headers:
            headers = headers_from_multi(multi_headers)
            if len(multi_headers.get("cookie") or multi_headers.get("Cookie") or ()) > 1:
                headers = join_cookie_headers(headers)
        else:
            headers = headers_from_single(event.get("headers") or {})
        server, scheme = server_and_scheme_from(dict(headers))
        host = server[0] if server else None

        stage = request_context.get("stage")
        raw = raw_path(path)
        if event.get("version") == "1.0":
            # HTTP API (payload 1.0): `path` already carries a named stage, like rawPath in payload 2.0.
            root_path = http_api_root_path(raw, stage, config.api_gateway_base_path)
        elif stage and _is_execute_api_host(host, request_context):
            # REST API on its execute-api host: `path` leaves out the stage that the client's URL starts with.
            root_path = f"/{stage}"
            raw = raw_path(root_path) + raw
        else:
            # REST API on a custom domain: `path` includes the base path mapping, which is the public prefix.
            root_path = root_path_for(raw, config.api_gateway_base_path)

        identity = request_context.get("identity") or {}
        scope = base_scope(
            event=event,
            context=context,
            method=method.upper(),
            raw=raw,
            root_path=root_path,
            query_string=_query_string(event),
            headers=headers,
            scheme=scheme,
            server=server,
            client_ip=identity.get("sourceIp"),
            http_version=_http_version(request_context.get("protocol")),
        )
        return scope, decode_body(event.get("body"), event.get("isBase64Encoded"), cls.name)

    @classmethod
    def to_response(cls, response: Response, event: LambdaEvent, config: Config) -> LambdaResponse:
        prepared = prepare_response(response, config)
        # Payload 1.0 merges `headers` and `multiValueHeaders`; repeated names (several Set-Cookie) must go in
        # the latter or all but one are lost.
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, values in prepared.headers.items():
            if len(values) == 1:
                single[name] = values[0]
            else:
                multi[name] = values
        return {
            "statusCode": prepared.status,
            "headers": single,
            "multiValueHeaders": multi,
            "body": prepared.body,
            "isBase64Encoded": prepared.is_base64,
        }


def _query_string(event: LambdaEvent) -> bytes:
    # Payload 1.0 hands over decoded values, so they are encoded again; multiValueQueryStringParameters keeps
    # every value of a repeated key in the client's order, queryStringParameters only the last.
    multi = event.get("multiValueQueryStringParameters")
    if multi:
        return urlencode([(key, value) for key, values in multi.items() for value in values or ()]).encode("ascii")
    single = event.get("queryStringParameters")
    if single:
        return urlencode(single).encode("ascii")
    return b""


def _http_version(protocol: object) -> str:
    if isinstance(protocol, str) and protocol.startswith("HTTP/"):
        version = protocol[5:]
        return "2" if version == "2.0" else version
    return "1.1"
