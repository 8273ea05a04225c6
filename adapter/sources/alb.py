"""Application Load Balancer target group events, in single-value and multi-value header modes.

https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from itertools import islice, product
from typing import Any

from adapter.config import Config
from adapter.exceptions import MalformedEvent
from adapter.sources._base import EventSource, Response, base_scope, largest_safe_body, response_parts
from adapter.sources._encoding import (
    decode_body,
    headers_from_multi,
    headers_from_single,
    join_cookie_headers,
    raw_query,
    server_and_scheme_from,
    split_path,
)
from adapter.types import LambdaContext, LambdaEvent, LambdaResponse, Scope


class ALB(EventSource):
    name = "Application Load Balancer"
    # "The maximum size of the response JSON that the Lambda function can send is 1 MB"; past it the load balancer
    # answers 502: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
    response_bytes = 1024 * 1024
    small_body_bytes = largest_safe_body(response_bytes)

    @classmethod
    def matches(cls, event: LambdaEvent) -> bool:
        request_context = event.get("requestContext")
        return isinstance(request_context, dict) and "elb" in request_context

    @classmethod
    def to_request(cls, event: LambdaEvent, context: LambdaContext | None, config: Config) -> tuple[Scope, bytes]:
        method = event.get("httpMethod")
        path = event.get("path")
        if not isinstance(method, str) or not method:
            raise MalformedEvent(f"{cls.name} event has no httpMethod (got {method!r})")
        if not isinstance(path, str) or not path.startswith("/"):
            raise MalformedEvent(f"{cls.name} event has no path starting with '/' (got {path!r})")

        # The target group's multi-value setting decides which keys the event carries (and which the response
        # must use): https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html#multi-value-headers
        multi_headers: dict[str, list[str]] | None = event.get("multiValueHeaders")
        if multi_headers is not None:
            headers = headers_from_multi(multi_headers)
            if len(multi_headers.get("cookie") or multi_headers.get("Cookie") or ()) > 1:
                headers = join_cookie_headers(headers)
            query = _query(event.get("multiValueQueryStringParameters") or {}, multi=True)
        else:
            headers = headers_from_single(event.get("headers") or {})
            query = _query(event.get("queryStringParameters") or {}, multi=False)

        lookup = dict(headers)
        server, scheme = server_and_scheme_from(lookup)
        forwarded_for = lookup.get(b"x-forwarded-for")
        # The load balancer appends the address it saw to X-Forwarded-For; entries to its left come from the
        # client and can be forged, so the last one is the client as far as the load balancer can tell.
        client_ip = forwarded_for.rsplit(b",", 1)[-1].strip().decode() if forwarded_for else None

        raw, decoded = split_path(path)
        scope = base_scope(
            event=event,
            context=context,
            method=method.upper(),
            path=decoded,
            raw_path=raw,
            root_path="",
            query_string=query,
            headers=headers,
            scheme=scheme,
            server=server,
            client_ip=client_ip,
            http_version="1.1",
        )
        return scope, decode_body(event.get("body"), event.get("isBase64Encoded"), cls.name)

    @classmethod
    def to_response(cls, response: Response, event: LambdaEvent, config: Config) -> LambdaResponse:
        headers, repeated, body, is_base64 = response_parts(response, config)
        result: LambdaResponse = {
            "statusCode": response.status,
            "statusDescription": _status_description(response.status),
            "body": body,
            "isBase64Encoded": is_base64,
        }
        if "multiValueHeaders" in event:
            multi_headers = {name: [value] for name, value in headers.items()}
            multi_headers.update(repeated)
            result["multiValueHeaders"] = multi_headers
        else:
            result["headers"] = _case_mutated(headers, repeated)
        return result


def _query(parameters: dict[str, Any], *, multi: bool) -> bytes:
    # Unlike API Gateway, the load balancer passes query keys and values still percent-encoded, exactly as the
    # client sent them, so they are joined back without encoding them a second time.
    if multi:
        pairs = [f"{key}={value}" for key, values in parameters.items() for value in values or ()]
    else:
        pairs = [f"{key}={value}" for key, value in parameters.items()]
    return raw_query("&".join(pairs))


def _status_description(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _case_mutated(headers: dict[str, str], repeated: dict[str, list[str]]) -> dict[str, str]:
    # In single-value mode a header name can appear once, so several Set-Cookie would collapse into one. Header
    # names are case-insensitive and the load balancer forwards differently-cased keys as separate headers,
    # so each extra value gets its own casing of the name (the same answer as Mangum's and serverless-wsgi's).
    result = dict(headers)
    for name, values in repeated.items():
        casings = list(islice(_casings(name), len(values)))
        if len(casings) < len(values):
            # A name with too few letters to spell every value: the rest travel comma-joined in the last one.
            values = [*values[: len(casings) - 1], ", ".join(values[len(casings) - 1 :])]
        result.update(zip(casings, values, strict=True))
    return result


def _casings(name: str) -> Iterator[str]:
    return ("".join(chars) for chars in product(*({char.lower(): None, char.upper(): None} for char in name)))
