"""API Gateway payload format 1.0: REST APIs, and HTTP APIs configured for payload 1.0.

Event and response shapes:
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
"""

from __future__ import annotations

from itertools import chain
from typing import Any
from urllib.parse import urlencode

from adapter.config import Config
from adapter.exceptions import MalformedEvent
from adapter.sources._base import EventSource, Response, base_scope, response_parts
from adapter.sources._encoding import (
    decode_body,
    headers_from_multi,
    headers_from_single,
    http_api_root_path,
    join_cookie_headers,
    root_path_for,
    server_and_scheme_from,
    split_path,
)
from adapter.types import LambdaContext, LambdaEvent, LambdaResponse, Scope


def _is_execute_api_host(host: str | None, request_context: dict[str, Any]) -> bool:
    # The stage is part of the URL only on the default endpoint, {api-id}.execute-api.{region}.amazonaws.com;
    # a custom domain maps a base path to a stage instead.
    if host.__class__ is str and ".execute-api." in host:
        return True
    # A loopback Host is a local emulation of the API (`python -m adapter serve`), which names the endpoint it
    # stands for in requestContext.domainName.
    if host is not None and (host == "localhost" or host.startswith(("127.", "[::1]"))):
        domain = request_context.get("domainName")
        return isinstance(domain, str) and ".execute-api." in domain
    return False


# A function sees the few stages of its API again and again: for each, the root_path, and the raw and decoded
# prefix it puts before the path (bounded).
_STAGE_PREFIXES: dict[str, tuple[str, bytes, str]] = {}
_STAGE_PREFIXES_MAX = 64


def _stage_prefix(stage: str) -> tuple[str, bytes, str]:
    root_path = f"/{stage}"
    prefix = (root_path, *split_path(root_path))
    if len(_STAGE_PREFIXES) < _STAGE_PREFIXES_MAX:
        _STAGE_PREFIXES[stage] = prefix
    return prefix


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

        # multiValueHeaders holds every value of a repeated header; `headers` keeps only the last one. Nearly every
        # request names its host and came over HTTPS on port 443, which API Gateway's own forwarding headers say
        # under these names; anything else is looked for under any casing below.
        multi_headers = event.get("multiValueHeaders")
        if multi_headers:
            headers = headers_from_multi(multi_headers)
            if (
                len(headers) > len(multi_headers)
                and len(multi_headers.get("cookie") or multi_headers.get("Cookie") or ()) > 1
            ):
                headers = join_cookie_headers(headers)
            hosts = multi_headers.get("Host")
            host = (
                hosts[-1]
                if hosts.__class__ is list
                and hosts
                and multi_headers.get("X-Forwarded-Port") == ["443"]
                and multi_headers.get("X-Forwarded-Proto") == ["https"]
                else None
            )
        else:
            single_headers = event.get("headers") or {}
            headers = headers_from_single(single_headers)
            host = (
                single_headers.get("Host")
                if single_headers.get("X-Forwarded-Port") == "443"
                and single_headers.get("X-Forwarded-Proto") == "https"
                else None
            )
        server: tuple[str, int] | None
        if host.__class__ is str and host and ":" not in host:
            server, scheme = (host, 443), "https"
        else:
            server, scheme = server_and_scheme_from(dict(headers))
            host = server[0] if server else None

        stage = request_context.get("stage")
        raw, decoded = split_path(path)
        if event.get("version") == "1.0":
            # HTTP API (payload 1.0): `path` already carries a named stage, like rawPath in payload 2.0.
            root_path = http_api_root_path(raw, stage, config.api_gateway_base_path)
        elif stage and _is_execute_api_host(host, request_context):
            # REST API on its execute-api host: `path` leaves out the stage that the client's URL starts with.
            root_path, prefix_raw, prefix = _STAGE_PREFIXES.get(stage) or _stage_prefix(stage)
            raw = prefix_raw + raw
            decoded = prefix + decoded
        else:
            # REST API on a custom domain: `path` includes the base path mapping, which is the public prefix.
            root_path = root_path_for(raw, config.api_gateway_base_path)

        protocol = request_context.get("protocol")
        body = event.get("body")
        scope = base_scope(
            event=event,
            context=context,
            method=method.upper(),
            path=decoded,
            raw_path=raw,
            root_path=root_path,
            query_string=(
                _query_string(event)
                if event.get("multiValueQueryStringParameters") or event.get("queryStringParameters")
                else b""
            ),
            headers=headers,
            scheme=scheme,
            server=server,
            client_ip=(request_context.get("identity") or {}).get("sourceIp"),
            http_version="1.1" if protocol == "HTTP/1.1" else _http_version(protocol),
        )
        if body is None or body == "":
            return scope, b""
        return scope, decode_body(body, event.get("isBase64Encoded"), cls.name)

    @classmethod
    def to_response(cls, response: Response, event: LambdaEvent, config: Config) -> LambdaResponse:
        # Payload 1.0 merges `headers` and `multiValueHeaders`; repeated names (several Set-Cookie) must go in
        # the latter or all but one are lost.
        headers, repeated, body, is_base64 = response_parts(response, config)
        return {
            "statusCode": response.status,
            "headers": headers,
            "multiValueHeaders": repeated,
            "body": body,
            "isBase64Encoded": is_base64,
        }


# What quote_plus() leaves as it is (urllib.parse's always-safe characters): a key or value made only of these is
# its own encoding.
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"


def _query_string(event: LambdaEvent) -> bytes:
    # Payload 1.0 hands over decoded values, so they are encoded again; multiValueQueryStringParameters keeps
    # every value of a repeated key in the client's order, queryStringParameters only the last.
    #
    # urlencode() runs quote_plus() in Python on every key and value, about 15,000 instructions a parameter,
    # while nearly every one of them needs no escaping. So the query is first joined as it stands, all in C, and
    # kept if it is ASCII and, once the unreserved characters are taken out, only the "=" and "&" put between the
    # keys and values remain: then no key or value held anything to escape (nor an "=" or "&" of its own) and
    # urlencode() would have given the same. Anything else goes through urlencode() as before.
    multi = event.get("multiValueQueryStringParameters")
    query = None
    try:
        if not multi:
            parameters: Any = event.get("queryStringParameters")
            query = "&".join(map("=".join, parameters.items()))
            count = len(parameters)
        elif all(multi.values()):
            # A value for every key: if there are as many values as keys, each key has one, as in nearly every
            # request (a key repeated in the URL has several), and the keys pair in order with the values.
            query = "&".join(map("=".join, zip(multi, chain.from_iterable(multi.values()), strict=True)))
            count = len(multi)
    except (AttributeError, TypeError, ValueError):
        # Not a mapping, a key or value that is not a string, or more values than keys (zip's strict). (join()
        # takes a str subclass by its characters, where urlencode() calls str() on it; JSON has no subclasses.)
        query = None
    if query is not None and query.isascii():
        encoded = query.encode("ascii")
        if encoded.translate(None, _UNRESERVED) == b"=&" * (count - 1) + b"=":
            return encoded
    if multi:
        return urlencode([(key, value) for key, values in multi.items() for value in values or ()]).encode("ascii")
    return urlencode(event.get("queryStringParameters") or {}).encode("ascii")


def _http_version(protocol: object) -> str:
    if isinstance(protocol, str) and protocol.startswith("HTTP/"):
        version = protocol[5:]
        return "2" if version == "2.0" else version
    return "1.1"
