"""Lambda events for the tests, each built from a recorded event in tests/events/, and what a client receives
from a Lambda response.

Two kinds of builders, both keyword-only and both setting only what a test is about:

- `make_rest_event`, `make_http_v2_event`, `make_function_url_event`, `make_alb_event` and `make_edge_event` set
  the event's own fields to what the test gives, in the form the service uses (headers and query of REST and
  multi-value ALB events as lists of values, the raw query string of payload 2.0 and Lambda@Edge, `path` as it
  stands in the event), with no headers but Host, X-Forwarded-* and the test's own (Lambda@Edge keeps those of
  its example): for tests of how the adapter reads each field.
- `make_rest_event_from_client`, `make_http_v2_event_from_client` and `make_alb_event_from_client` take the
  request as the client sent it and encode each part the way that service hands it to Lambda, keeping the
  capture's client and tracing headers: for tests of what an application sees of a real request.

```python
event = make_rest_event_from_client(
    method="POST", path="/echo", body='{"a": 1}', headers={"content-type": "application/json"}
)
```

For the `_from_client` builders, `path` is always the path as the client sent it (percent-encoded), after any
stage or base path; `query` is decoded (name, value) pairs in the client's order, repeated names allowed;
`headers` and `cookies` map each name to one value.

`received_headers`, `received_header` and `received_body` read a Lambda response the way the service that sent
the event does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus, unquote, urlencode

from adapter.types import LambdaEvent, LambdaResponse
from tests.conftest import load_event

Query = Sequence[tuple[str, str]]

# The headers every capture carries whatever the request (host, client, tracing); the `_from_client` builders
# keep them and replace the rest, which describe the captured request.
_KEPT_HEADERS = frozenset(
    {"host", "user-agent", "accept", "x-amzn-trace-id", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
)


# Events with the fields a test gives.


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


# Events for a request as the client sent it, encoded the way each service hands it to Lambda.


def make_rest_event_from_client(
    *,
    method: str = "GET",
    path: str = "/",
    query: Query | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
    cookies: Mapping[str, str] | None = None,
    stage: str = "live",
    domain: str | None = None,
    base_path: str = "",
) -> LambdaEvent:
    """A REST API proxy event (payload 1.0) for stage `stage`, from the live capture in tests/events/voker/.

    Without `domain` the request went to the execute-api host, whose URL starts with the stage (which `path`
    leaves out); with `domain` it went to a custom domain whose mapping `base_path` leads to the stage, and
    `path` carries that base path.
    """
    event = load_event("voker/rest-v1-live-encoding-probe.json")
    context = event["requestContext"]
    public_path = base_path + path if domain else path
    header_pairs = _request_headers(event["multiValueHeaders"], headers, cookies)
    if domain:
        header_pairs = [(name, domain if name.lower() == "host" else value) for name, value in header_pairs]
        context["domainName"] = domain
        context["domainPrefix"] = domain.split(".", 1)[0]
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        multi_headers.setdefault(name, []).append(value)
    # Payload 1.0 decodes query values; `queryStringParameters` keeps the last value of a repeated name.
    multi_query: dict[str, list[str]] = {}
    for name, value in query or ():
        multi_query.setdefault(name, []).append(value)
    text, is_base64 = _body(body)
    event.update(
        {
            "path": public_path,
            "httpMethod": method,
            "headers": {name: values[-1] for name, values in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": {"proxy": public_path.removeprefix("/")} if public_path != "/" else None,
            "body": text,
            "isBase64Encoded": is_base64,
        }
    )
    context.update(
        {
            "httpMethod": method,
            "stage": stage,
            "path": public_path if domain else f"/{stage}{path}",
        }
    )
    return event


def make_http_v2_event_from_client(
    *,
    method: str = "GET",
    path: str = "/",
    query: Query | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
    cookies: Mapping[str, str] | None = None,
    stage: str = "$default",
    domain: str | None = None,
    base_path: str = "",
) -> LambdaEvent:
    """An HTTP API event (payload 2.0), from the live capture in tests/events/voker/. A named `stage` starts the
    URL, and so `rawPath`; on a custom `domain` the mapping's `base_path` starts it instead."""
    event = load_event("voker/http-v2-live-encoding-probe.json")
    context = event["requestContext"]
    prefix = base_path if domain else ("" if stage == "$default" else f"/{stage}")
    # HTTP API hands rawPath over with the client's escapes decoded: the live capture has '/capture/space value'
    # for '/capture/space%20value'.
    raw_path = unquote(prefix + path)
    header_pairs = _request_headers({name: [value] for name, value in event["headers"].items()}, headers, None)
    text, is_base64 = _body(body)
    if body:
        header_pairs.append(("content-length", str(len(_bytes(body)))))
    if domain:
        header_pairs = [(name, domain if name == "host" else value) for name, value in header_pairs]
        context["domainName"] = domain
        context["domainPrefix"] = domain.split(".", 1)[0]
    # Payload 2.0 joins the values of a repeated header, or query name, with commas.
    joined_headers: dict[str, str] = {}
    for name, value in header_pairs:
        lowered = name.lower()
        joined_headers[lowered] = f"{joined_headers[lowered]},{value}" if lowered in joined_headers else value
    joined_query: dict[str, str] = {}
    for name, value in query or ():
        joined_query[name] = f"{joined_query[name]},{value}" if name in joined_query else value
    event.update(
        {
            "rawPath": raw_path,
            "rawQueryString": urlencode(list(query or ())),
            "headers": joined_headers,
            "queryStringParameters": joined_query or None,
            "isBase64Encoded": is_base64,
        }
    )
    # A request without a body has no `body` key in payload 2.0 (see aws-lambda-go/function-url-live-get-no-body).
    if text is None:
        event.pop("body", None)
    else:
        event["body"] = text
    if cookies:
        event["cookies"] = [f"{name}={value}" for name, value in cookies.items()]
    else:
        event.pop("cookies", None)
    context["http"].update({"method": method, "path": raw_path})
    context["stage"] = stage
    return event


def make_alb_event_from_client(
    *,
    method: str = "GET",
    path: str = "/",
    query: Query | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
    cookies: Mapping[str, str] | None = None,
    multi_value: bool = True,
) -> LambdaEvent:
    """An Application Load Balancer event, with the target group's multi-value headers setting on (the live
    capture in tests/events/voker/) or off (powertools-python/alb-single-value.json)."""
    # The load balancer passes query names and values still percent-encoded, as the client sent them.
    encoded_query = [(quote_plus(name), quote_plus(value)) for name, value in query or ()]
    text, is_base64 = _body(body)
    if multi_value:
        event = load_event("voker/alb-multi-value-live-encoding-probe.json")
        header_pairs = _request_headers(event["multiValueHeaders"], headers, cookies)
        if body:
            header_pairs.append(("content-length", str(len(_bytes(body)))))
        multi_headers: dict[str, list[str]] = {}
        for name, value in header_pairs:
            multi_headers.setdefault(name, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for name, value in encoded_query:
            multi_query.setdefault(name, []).append(value)
        event.update({"multiValueHeaders": multi_headers, "multiValueQueryStringParameters": multi_query})
    else:
        event = load_event("powertools-python/alb-single-value.json")
        single_headers = {name: value for name, value in event["headers"].items() if name in _KEPT_HEADERS}
        for name, value in _request_headers({}, headers, cookies):
            single_headers[name] = value
        if body:
            single_headers["content-length"] = str(len(_bytes(body)))
        # Without multi-value headers the load balancer keeps the last value of a repeated query name:
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html#multi-value-headers
        event.update({"headers": single_headers, "queryStringParameters": dict(encoded_query)})
    # The load balancer sends an empty string for a request without a body.
    event.update({"httpMethod": method, "path": path, "body": text or "", "isBase64Encoded": is_base64})
    return event


# What the client receives.


def received_headers(event: LambdaEvent, response: LambdaResponse) -> list[tuple[str, str]]:
    """The response headers the client gets, (lower-cased name, value), from the fields the service reads for
    the shape of `event`."""
    pairs: list[tuple[str, str]] = []
    if event.get("version") == "2.0":
        # Payload 2.0: `headers` (repeated values comma-joined) and `cookies` for Set-Cookie.
        pairs.extend((name.lower(), value) for name, value in response.get("headers", {}).items())
        pairs.extend(("set-cookie", cookie) for cookie in response.get("cookies", []))
    elif "elb" in event["requestContext"]:
        # The load balancer reads only the field that matches its multi-value setting; in single-value mode
        # differently-cased names are separate headers.
        if "multiValueHeaders" in event:
            pairs.extend(_multi(response.get("multiValueHeaders", {})))
        else:
            pairs.extend((name.lower(), value) for name, value in response.get("headers", {}).items())
    else:
        # Payload 1.0: API Gateway merges both fields.
        pairs.extend((name.lower(), value) for name, value in response.get("headers", {}).items())
        pairs.extend(_multi(response.get("multiValueHeaders", {})))
    return pairs


def received_header(event: LambdaEvent, response: LambdaResponse, name: str) -> str | None:
    values = [value for header, value in received_headers(event, response) if header == name]
    assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
    return values[0] if values else None


def received_body(response: LambdaResponse) -> bytes:
    body: str = response.get("body", "")
    return base64.b64decode(body, validate=True) if response.get("isBase64Encoded") else body.encode("utf-8")


def _multi(headers: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    return [(name.lower(), value) for name, values in headers.items() for value in values]


def _request_headers(
    captured: Mapping[str, list[str]], headers: Mapping[str, str] | None, cookies: Mapping[str, str] | None
) -> list[tuple[str, str]]:
    # A header the test gives replaces the captured one of that name.
    given = {name.lower() for name in headers or ()}
    pairs = [
        (name, value)
        for name, values in captured.items()
        if name.lower() in _KEPT_HEADERS and name.lower() not in given
        for value in values
    ]
    pairs.extend((headers or {}).items())
    if cookies:
        pairs.append(("cookie", "; ".join(f"{name}={value}" for name, value in cookies.items())))
    return pairs


def _bytes(body: str | bytes) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8")


def _body(body: str | bytes | None, base64_encoded: bool | None = None) -> tuple[str | None, bool]:
    # A text body travels as it is (unless `base64_encoded`); bytes travel base64-encoded with isBase64Encoded,
    # as for a binary upload. A request without a body has a null body in payload 1.0 (REST console tests and
    # captures alike).
    if body is None:
        return None, False
    if isinstance(body, bytes) or base64_encoded:
        return base64.b64encode(_bytes(body)).decode("ascii"), True
    return body, False
