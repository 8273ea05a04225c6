"""Differential test against Mangum: every recorded event goes through both adapters, and the ASGI scopes (and,
for a few applications, the Lambda responses) must be the same except where this adapter differs on purpose.

Each deliberate difference is a `Deliberate` below: its reason, and a `normalise` function that undoes exactly
that difference. Where a field differs, the differences listed for it are undone in turn and the two values must
then be equal, so a new difference (or a known one that changed shape) fails, and so does a listed difference
that no longer happens.
"""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
from mangum import Mangum

from adapter import EventError, LambdaAdapter
from adapter.types import LambdaEvent, Message, Receive, Scope, Send
from tests.adapter.builders import (
    make_alb_event_from_client,
    make_http_v2_event_from_client,
    make_rest_event_from_client,
)
from tests.conftest import EVENTS, LambdaContextStub, load_event

ABSENT = "<absent>"

# Field name -> the keys of the deliberate differences that explain how it differs.
Reasons = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Deliberate:
    """A difference from Mangum that is intended: why, and how to undo it for the comparison.

    `normalise(ours, theirs, our_whole, their_whole)` returns the pair with this difference undone; the whole
    scopes (or responses) are there for differences that depend on another field.
    """

    reason: str
    normalise: Callable[[Any, Any, Mapping[str, Any], Mapping[str, Any]], tuple[Any, Any]]


def _strip_root_path(ours: Any, theirs: Any, scope: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Any, Any]:
    root_path: str = scope["root_path"]
    assert ours.startswith(root_path)
    return ours[len(root_path) :], theirs


def _root_path_is_prefix(ours: Any, theirs: Any, scope: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Any, Any]:
    assert theirs == ""
    assert ours.startswith("/") and (scope["path"] == ours or scope["path"].startswith(ours + "/"))
    return "", theirs


def _raw_path_as_sent(ours: Any, theirs: Any, scope: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Any, Any]:
    assert theirs is None
    assert unquote(ours.decode("ascii")) == scope["path"]
    return None, theirs


def _join_repeated_headers(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    return {name: [b", ".join(values)] for name, values in ours.items()}, theirs


def _content_length(ours: Any, theirs: Any, scope: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Any, Any]:
    assert b"content-length" not in theirs and ours[b"content-length"] == [str(len(scope["body"])).encode()]
    return {name: values for name, values in ours.items() if name != b"content-length"}, theirs


def _invented_server(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    assert ours is None
    return ("mangum", 80), theirs


def _port_from_scheme(ours: Any, theirs: Any, scope: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Any, Any]:
    assert scope["scheme"] == "https" and ours[1] == 443
    return (ours[0], 80), theirs


def _invented_client(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    assert ours is None and theirs in (("", 0), (None, 0))
    return theirs, theirs


def _same_decoded_query(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    return parse_qsl(ours.decode("ascii"), keep_blank_values=True), parse_qsl(
        theirs.decode("ascii"), keep_blank_values=True
    )


def _last_forwarded_for(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    assert theirs[0].rsplit(",", 1)[-1].strip() == ours[0]
    return theirs, theirs


# The scope fields compared, in the order they are reported.
SCOPE_FIELDS = (
    "type",
    "http_version",
    "method",
    "scheme",
    "path",
    "raw_path",
    "root_path",
    "query_string",
    "headers",
    "server",
    "client",
    "body",
)

SCOPE_DIFFERENCES = {
    "path includes root_path": Deliberate(
        "The ASGI path is the full path, root_path included (ASGI spec; uvicorn>=0.26 and Starlette>=0.35 read it "
        "so); Mangum leaves the prefix (REST stage, custom-domain base path) out of path.",
        _strip_root_path,
    ),
    "root_path is the public prefix": Deliberate(
        "root_path is the prefix the application's public URLs start with: the REST stage on the execute-api "
        "host, an HTTP API named stage, or the custom-domain base path, so that url_for and FastAPI's /docs build "
        "working URLs; Mangum always sends ''.",
        _root_path_is_prefix,
    ),
    "raw_path as sent": Deliberate(
        "raw_path is the path as the client sent it, escapes kept, so an escaped '/' (%2F) stays distinct from a "
        "separator; Mangum sends None.",
        _raw_path_as_sent,
    ),
    "one pair per header value": Deliberate(
        "Every value of a repeated request header is its own (name, value) pair, as an HTTP server delivers them; "
        "Mangum joins payload 1.0 multiValueHeaders with ', ', which cannot be split back where a value holds a "
        "comma (dates, quoted strings).",
        _join_repeated_headers,
    ),
    "content-length from the body": Deliberate(
        "A request with a body but neither Content-Length nor Transfer-Encoding (REST APIs drop the client's "
        "Content-Length) gets content-length, the body's size, as a server would read it from the wire: WSGI "
        "bridges such as a2wsgi read CONTENT_LENGTH bytes, so Flask and Django would otherwise see no body. "
        "Mangum adds none.",
        _content_length,
    ),
    "no invented server": Deliberate(
        "Without a Host header server is None, which ASGI allows; Mangum invents ('mangum', 80).",
        _invented_server,
    ),
    "port follows the scheme": Deliberate(
        "Without X-Forwarded-Port the server port is the scheme's (443 for https); Mangum says 80 whatever the scheme.",
        _port_from_scheme,
    ),
    "no invented client": Deliberate(
        "Without a client address in the event client is None, which ASGI allows; Mangum sends ('', 0) or "
        "(None, 0), which are not addresses.",
        _invented_client,
    ),
    "ALB query kept as sent": Deliberate(
        "The load balancer passes the query still percent-encoded as the client sent it, so it is joined back "
        "unchanged; Mangum decodes and re-encodes it, which rewrites the client's bytes (':' becomes '%3A') and "
        "turns invalid escapes into U+FFFD. The decoded pairs are the same.",
        _same_decoded_query,
    ),
    "client is the last X-Forwarded-For entry": Deliberate(
        "Behind a load balancer the client is the last X-Forwarded-For entry, the address the load balancer saw; "
        "entries to its left come from the client and can be forged. Mangum uses the whole header, a list of "
        "addresses, as the client host.",
        _last_forwarded_for,
    ),
}


def _merge(*parts: Reasons) -> Reasons:
    merged: dict[str, tuple[str, ...]] = {}
    for part in parts:
        for name, keys in part.items():
            merged[name] = merged.get(name, ()) + keys
    return merged


# Differences for the fields of every event: Mangum never sends raw_path.
EVERY_EVENT = {"raw_path": ("raw_path as sent",)}
REST_STAGE = {"path": ("path includes root_path",), "root_path": ("root_path is the public prefix",)}
NAMED_STAGE = {"root_path": ("root_path is the public prefix",)}
NO_HOST = {"server": ("no invented server",)}
NO_CLIENT = {"client": ("no invented client",)}
EDGE_HTTPS = {"server": ("port follows the scheme",)}
REPEATED_HEADER = {"headers": ("one pair per header value",)}
BODY_WITHOUT_LENGTH = {"headers": ("content-length from the body",)}
ALB_QUERY = {"query_string": ("ALB query kept as sent",)}

# The fields that differ on purpose for each event, beyond EVERY_EVENT; an event not listed must match exactly.
EVENT_DIFFERENCES: dict[str, Reasons] = {
    "aws-lambda-dotnet/alb-binary-body.json": BODY_WITHOUT_LENGTH,
    "aws-lambda-dotnet/alb-multi-value-query-not-decoded.json": ALB_QUERY,
    "aws-lambda-dotnet/alb-path-escaped-percent-and-slash.json": _merge(NO_HOST, NO_CLIENT),
    "aws-lambda-dotnet/alb-path-escaped-slash.json": _merge(NO_HOST, NO_CLIENT),
    "aws-lambda-dotnet/alb-single-value-query-not-decoded.json": ALB_QUERY,
    "aws-lambda-dotnet/http-v2-named-stage-beta.json": NAMED_STAGE,
    "aws-lambda-dotnet/rest-v1-mtls-cognito-claims.json": REST_STAGE,
    "aws-lambda-dotnet/rest-v1-path-encoded-slash.json": REST_STAGE,
    "aws-lambda-dotnet/rest-v1-path-encoded-space-query-decoded.json": REST_STAGE,
    "aws-lambda-dotnet/rest-v1-put-null-body.json": REST_STAGE,
    "aws-lambda-dotnet/rest-v1-query-decoded.json": NO_HOST,
    "aws-lambda-go/function-url-request-doc-example.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "aws-lambda-go/http-v2-iam-authorizer.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "aws-lambda-go/http-v2-jwt-authorizer.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "aws-lambda-go/http-v2-lambda-authorizer.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "aws-lambda-go/rest-v1-openapi-request.json": _merge(REST_STAGE, BODY_WITHOUT_LENGTH),
    "aws-lambda-go/rest-v1-proxy-request.json": _merge(REST_STAGE, BODY_WITHOUT_LENGTH),
    "aws-lambda-web-adapter/rest-v1-sam-style.json": _merge(REST_STAGE, BODY_WITHOUT_LENGTH),
    "awsdocs-apigateway/http-v1-doc-example.json": _merge(NO_HOST, REPEATED_HEADER, BODY_WITHOUT_LENGTH),
    "awsdocs-apigateway/http-v2-doc-example.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "awsdocs-apigateway/rest-v1-doc-input-example.json": _merge(NO_HOST, REPEATED_HEADER, BODY_WITHOUT_LENGTH),
    "awsdocs-cloudfront/lambda-edge-origin-request.json": EDGE_HTTPS,
    "awsdocs-cloudfront/lambda-edge-request-with-body-2019.json": _merge(EDGE_HTTPS, BODY_WITHOUT_LENGTH),
    "awsdocs-cloudfront/lambda-edge-viewer-request.json": EDGE_HTTPS,
    "lambda-developer-guide/cloudfront-viewer-request.json": EDGE_HTTPS,
    "lambda-developer-guide/function-url-doc-request-iam.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "lambda-developer-guide/http-v2-captured-named-stage.json": NAMED_STAGE,
    "lambda-developer-guide/rest-v1-captured-cookie.json": REST_STAGE,
    "powertools-python/alb-single-value.json": BODY_WITHOUT_LENGTH,
    "powertools-python/function-url-iam.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "powertools-python/http-v1-doc-example.json": _merge(NO_HOST, REPEATED_HEADER, BODY_WITHOUT_LENGTH),
    "powertools-python/http-v2-doc-example-jwt.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "powertools-python/http-v2-iam.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "powertools-python/http-v2-lambda-authorizer.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "powertools-python/rest-v1-minimal-principal-id.json": _merge(NO_HOST, NO_CLIENT),
    "sam-cli/alb-single-value-request.json": BODY_WITHOUT_LENGTH,
    "sam-cli/http-v2-http-api.json": _merge(NO_HOST, BODY_WITHOUT_LENGTH),
    "sam-cli/lambda-edge-request-querystring.json": EDGE_HTTPS,
    "sam-cli/rest-v1-aws-proxy.json": _merge(REST_STAGE, BODY_WITHOUT_LENGTH),
    "voker/rest-v1-live-encoding-probe.json": _merge(REST_STAGE, REPEATED_HEADER, BODY_WITHOUT_LENGTH),
}

# Events that one adapter turns into a request and the other refuses, on purpose: event -> (the adapter that
# accepts it, why).
WEBSOCKET = (
    "API Gateway WebSocket events are not HTTP requests: this adapter raises UnsupportedEvent; Mangum runs the "
    "application with an HTTP scope made up from the message."
)
EDGE_RESPONSE = (
    "Lambda@Edge origin-response and viewer-response events carry CloudFront's response to the request: this "
    "adapter raises UnsupportedEvent; Mangum runs the application as if the request were new."
)
EDGE_NO_QUERYSTRING = (
    "Lambda@Edge events from older tools have no querystring key: this adapter takes the query as empty; Mangum "
    "raises KeyError."
)
HAND_WRITTEN_REST = (
    "A hand-written REST event with resource, path and httpMethod but no requestContext (as in framework "
    "documentation): this adapter takes it as a REST request; Mangum raises RuntimeError (no handler matches)."
)
OUTCOME_DIFFERENCES = {
    "aws-lambda-dotnet/cloudfront-legacy-viewer-request-cookie.json": ("ours", EDGE_NO_QUERYSTRING),
    "aws-lambda-dotnet/websocket-message-console-test.json": ("mangum", WEBSOCKET),
    "aws-lambda-go/websocket-connect-synthetic-hybrid.json": ("mangum", WEBSOCKET),
    "awsdocs-cloudfront/lambda-edge-origin-response.json": ("mangum", EDGE_RESPONSE),
    "awsdocs-cloudfront/lambda-edge-viewer-response-two-set-cookies-2019.json": ("mangum", EDGE_RESPONSE),
    "awsdocs-cloudfront/lambda-edge-viewer-response.json": ("mangum", EDGE_RESPONSE),
    "powertools-python/rest-v1-custom-domain-base-path-minimal.json": ("ours", HAND_WRITTEN_REST),
    "sam-cli/lambda-edge-request-response-generation.json": ("ours", EDGE_NO_QUERYSTRING),
}

EVENT_NAMES = sorted(str(path.relative_to(EVENTS)) for path in EVENTS.rglob("*.json"))


@dataclass(frozen=True)
class BuiltCase:
    """A request no recorded event shows, built from a capture, with the adapters' options for it."""

    build: Callable[[], LambdaEvent]
    differences: Reasons
    api_gateway_base_path: str = "/"


def _alb_invalid_escape() -> LambdaEvent:
    event = make_alb_event_from_client(path="/items/1")
    # A client may escape any byte; %FF is not UTF-8, and the load balancer passes it on as sent.
    event["multiValueQueryStringParameters"] = {"q": ["%FF"], "next": ["/a"]}
    return event


BASE_PATH = {"path": ("path includes root_path",), "root_path": ("root_path is the public prefix",)}
BUILT_CASES = {
    "rest-custom-domain-base-path": BuiltCase(
        partial(make_rest_event_from_client, path="/items/1", domain="api.example.com", base_path="/v1"),
        BASE_PATH,
        "/v1",
    ),
    "http-v2-custom-domain-base-path": BuiltCase(
        partial(make_http_v2_event_from_client, path="/items/1", domain="api.example.com", base_path="/v1"),
        BASE_PATH,
        "/v1",
    ),
    "alb-forwarded-for-chain": BuiltCase(
        # The client sent an X-Forwarded-For of its own; the load balancer appended the address it saw.
        partial(make_alb_event_from_client, path="/items/1", headers={"x-forwarded-for": "203.0.113.7, 198.51.100.2"}),
        {"client": ("client is the last X-Forwarded-For entry",)},
    ),
    "alb-query-invalid-escape": BuiltCase(_alb_invalid_escape, ALB_QUERY),
}


class Capture:
    """An ASGI application that records the scope and body it receives and answers 200."""

    def __init__(self) -> None:
        self.scope: Scope | None = None
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.scope, self.body = dict(scope), body
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def mangum_loop() -> Iterator[None]:
    # Mangum runs every request on the thread's current event loop, creating it if there is none, and never
    # closes it; the test gives it one and closes it afterwards.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


def _scope_fields(capture: Capture) -> dict[str, Any]:
    assert capture.scope is not None
    fields = {name: capture.scope.get(name, ABSENT) for name in SCOPE_FIELDS}
    fields["body"] = capture.body
    # Headers compare as name -> values in order: the order of different names means nothing (RFC 9110 5.3),
    # and Mangum sends [name, value] lists where this adapter sends tuples.
    headers: dict[bytes, list[bytes]] = {}
    for name, value in capture.scope["headers"]:
        headers.setdefault(bytes(name), []).append(bytes(value))
    fields["headers"] = headers
    return fields


def _run_both(
    event: LambdaEvent, context: LambdaContextStub, api_gateway_base_path: str = "/"
) -> tuple[dict[str, Any] | Exception, dict[str, Any] | Exception]:
    results: list[dict[str, Any] | Exception] = []
    for make in (partial(LambdaAdapter, lifespan="off"), partial(Mangum, lifespan="off")):
        capture = Capture()
        handler = make(capture, api_gateway_base_path=api_gateway_base_path)
        try:
            handler(copy.deepcopy(event), context)
        except Exception as exc:
            results.append(exc)
        else:
            results.append(_scope_fields(capture))
        finally:
            if isinstance(handler, LambdaAdapter):
                handler.close()
    return results[0], results[1]


def _compare(
    ours: Mapping[str, Any],
    theirs: Mapping[str, Any],
    fields: tuple[str, ...],
    expected: Mapping[str, tuple[str, ...]],
    differences: Mapping[str, Deliberate],
) -> None:
    unknown = set(expected) - set(fields)
    assert not unknown, f"differences listed for fields that are not compared: {unknown}"
    problems = []
    for name in fields:
        mine, other = ours.get(name, ABSENT), theirs.get(name, ABSENT)
        listed = expected.get(name, ())
        if mine == other:
            if listed:
                problems.append(f"{name}: listed as differing ({', '.join(listed)}) but both are {mine!r}")
            continue
        if not listed:
            problems.append(f"{name}: new difference: ours {mine!r}, Mangum's {other!r}")
            continue
        undone_mine, undone_other = mine, other
        for key in listed:
            undone_mine, undone_other = differences[key].normalise(undone_mine, undone_other, ours, theirs)
        if undone_mine != undone_other:
            problems.append(
                f"{name}: differs beyond {', '.join(listed)}: ours {mine!r}, Mangum's {other!r} "
                f"(after undoing: {undone_mine!r} vs {undone_other!r})"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.usefixtures("mangum_loop")
@pytest.mark.parametrize("name", EVENT_NAMES)
def test_recorded_event_scope(name: str, lambda_context: LambdaContextStub) -> None:
    ours, theirs = _run_both(load_event(name), lambda_context)

    # This adapter refuses what it does not take as an HTTP request with an EventError that says why.
    if isinstance(ours, Exception):
        assert isinstance(ours, EventError), ours
    if isinstance(ours, Exception) and isinstance(theirs, Exception):
        # Neither takes it for an HTTP request: queue, stream and notification events, recorded responses.
        assert name not in OUTCOME_DIFFERENCES and name not in EVENT_DIFFERENCES
        return
    accepted_by = "mangum" if isinstance(ours, Exception) else "ours" if isinstance(theirs, Exception) else "both"
    assert accepted_by == OUTCOME_DIFFERENCES.get(name, ("both",))[0], f"ours: {ours!r}; Mangum's: {theirs!r}"
    if accepted_by != "both":
        return
    assert not isinstance(ours, Exception) and not isinstance(theirs, Exception)
    _compare(ours, theirs, SCOPE_FIELDS, {**EVERY_EVENT, **EVENT_DIFFERENCES.get(name, {})}, SCOPE_DIFFERENCES)


@pytest.mark.usefixtures("mangum_loop")
@pytest.mark.parametrize("case", BUILT_CASES.values(), ids=BUILT_CASES.keys())
def test_built_event_scope(case: BuiltCase, lambda_context: LambdaContextStub) -> None:
    ours, theirs = _run_both(case.build(), lambda_context, case.api_gateway_base_path)

    assert not isinstance(ours, Exception) and not isinstance(theirs, Exception), (ours, theirs)
    _compare(ours, theirs, SCOPE_FIELDS, {**EVERY_EVENT, **case.differences}, SCOPE_DIFFERENCES)


def test_every_listed_event_exists() -> None:
    listed = set(EVENT_DIFFERENCES) | set(OUTCOME_DIFFERENCES)
    assert listed <= set(EVENT_NAMES), listed - set(EVENT_NAMES)


# Responses: a few applications, each answering one recorded event of every shape.


@dataclass(frozen=True)
class Responder:
    """An ASGI application that answers every request with the same response."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message: Message = await receive()
        assert message["type"] == "http.request"
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


APPS = {
    "cookies": Responder(
        200,
        [
            (b"content-type", b"application/json"),
            (b"set-cookie", b"visited=yes; Path=/"),
            (b"set-cookie", b"flavour=oat; Path=/; HttpOnly"),
            (b"vary", b"Accept"),
            (b"vary", b"Cookie"),
        ],
        b'{"ok": true}',
    ),
    "binary": Responder(200, [(b"content-type", b"application/octet-stream")], bytes(range(256))),
    "redirect": Responder(302, [(b"location", b"/live/items/42"), (b"content-length", b"0")], b""),
    "untyped": Responder(200, [], b"no content-type"),
    "svg": Responder(200, [(b"content-type", b"image/svg+xml")], b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    "excluded-header": Responder(200, [(b"content-type", b"text/plain"), (b"x-internal", b"secret")], b"ok"),
}
EXCLUDE_HEADERS = ["x-internal"]

SHAPE_EVENTS = {
    "rest": "voker/rest-v1-live-encoding-probe.json",
    "http-v1": "awsdocs-apigateway/http-v1-doc-example.json",
    "http-v2": "voker/http-v2-live-encoding-probe.json",
    "function-url": "voker/function-url-live-encoding-probe.json",
    "alb-multi-value": "voker/alb-multi-value-live-encoding-probe.json",
    "alb-single-value": "powertools-python/alb-single-value.json",
    "lambda-edge": "awsdocs-cloudfront/lambda-edge-viewer-request.json",
}

RESPONSE_FIELDS = (
    "statusCode",
    "status",
    "statusDescription",
    "headers",
    "multiValueHeaders",
    "cookies",
    "body",
    "isBase64Encoded",
    "bodyEncoding",
)


def _body_bytes(response: Mapping[str, Any]) -> bytes:
    body: str = response["body"]
    encoded = response.get("isBase64Encoded", False) or response.get("bodyEncoding") == "base64"
    return base64.b64decode(body) if encoded else body.encode("utf-8")


def _alb_description(ours: Any, theirs: Any, response: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Any, Any]:
    status = response["statusCode"]
    assert theirs == ABSENT and ours == f"{status} {HTTPStatus(status).phrase}"
    return theirs, theirs


def _edge_description(ours: Any, theirs: Any, response: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Any, Any]:
    assert theirs == ABSENT and ours == HTTPStatus(int(response["status"])).phrase
    return theirs, theirs


def _edge_status(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    assert ours == str(theirs)
    return theirs, theirs


def _edge_body_encoding(
    ours: Any, theirs: Any, response: Mapping[str, Any], other: Mapping[str, Any]
) -> tuple[Any, Any]:
    if ours == ABSENT:
        # isBase64Encoded, which CloudFront does not read.
        assert isinstance(theirs, bool)
    else:
        # bodyEncoding, which says how to read this adapter's body: it must give the bytes the application sent.
        assert theirs == ABSENT and ours in ("text", "base64")
        assert _body_bytes(response) == _body_bytes(other)
    return theirs, theirs


def _edge_every_value(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    return {name: values[-1:] for name, values in ours.items()}, theirs


def _edge_read_only(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    assert "content-length" not in ours and "content-length" in theirs
    return ours, {name: values for name, values in theirs.items() if name != "content-length"}


def _comma_space(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    return {name: value.replace(", ", ",") for name, value in ours.items()}, theirs


def _invented_content_type(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    assert "content-type" not in ours and theirs.get("content-type") == "application/json"
    return ours, {name: value for name, value in theirs.items() if name != "content-type"}


def _excluded(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    assert "x-internal" not in ours and theirs.get("x-internal") == "secret"
    return ours, {name: value for name, value in theirs.items() if name != "x-internal"}


def _casings(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    def grouped(headers: Mapping[str, str]) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for name, value in headers.items():
            result.setdefault(name.lower(), []).append(value)
        return result

    return grouped(ours), grouped(theirs)


def _same_bytes(ours: Any, theirs: Any, response: Mapping[str, Any], other: Mapping[str, Any]) -> tuple[Any, Any]:
    return _body_bytes(response), _body_bytes(other)


def _text_not_base64(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    assert (ours, theirs) == (False, True)
    return theirs, theirs


def _base64_not_text(ours: Any, theirs: Any, _: Mapping[str, Any], __: Mapping[str, Any]) -> tuple[Any, Any]:
    assert (ours, theirs) == (True, False)
    return theirs, theirs


RESPONSE_DIFFERENCES_WHY = {
    "ALB statusDescription": Deliberate(
        "Load balancer responses carry statusDescription ('200 OK'), as in the documented response format; "
        "Mangum leaves it out.",
        _alb_description,
    ),
    "ALB duplicate-name casing": Deliberate(
        "In single-value mode several Set-Cookie (or other repeated) headers travel as differently-cased names; "
        "this adapter varies the last letters, Mangum the first. The load balancer sends each as a header either "
        "way.",
        _casings,
    ),
    "CloudFront status is a string": Deliberate(
        "A Lambda@Edge generated response has status as a string ('200') in CloudFront's documented format; "
        "Mangum sends a number.",
        _edge_status,
    ),
    "CloudFront statusDescription": Deliberate(
        "A Lambda@Edge generated response carries statusDescription ('OK'); Mangum leaves it out.",
        _edge_description,
    ),
    "CloudFront bodyEncoding": Deliberate(
        "CloudFront reads bodyEncoding ('text' or 'base64') and knows no isBase64Encoded, so Mangum's binary "
        "bodies reach the client as base64 text.",
        _edge_body_encoding,
    ),
    "CloudFront keeps every header value": Deliberate(
        "Every value of a repeated response header (two Set-Cookie, two Vary) is kept in CloudFront's list of "
        "values; Mangum keeps only the last one and loses the other cookies.",
        _edge_every_value,
    ),
    "CloudFront read-only headers": Deliberate(
        "A Lambda@Edge generated response leaves out Content-Length, which is read-only in viewer-request and "
        "origin-request events: CloudFront answers 502 to a function that adds it; Mangum passes it on.",
        _edge_read_only,
    ),
    "payload 2.0 joins with comma and space": Deliberate(
        "Repeated response headers other than Set-Cookie are joined with ', ' in payload 2.0; Mangum joins with "
        "','. Both are valid (RFC 9110 5.3).",
        _comma_space,
    ),
    "no invented content-type": Deliberate(
        "A response the application sent without Content-Type gets none; Mangum adds 'application/json' to every "
        "payload 2.0 response that lacks one, redirects and binary bodies included.",
        _invented_content_type,
    ),
    "untyped body is base64": Deliberate(
        "A body without a Content-Type is sent base64-encoded, so whatever bytes it holds reach the client "
        "unchanged; Mangum sends it as text under the content type it invented. The bytes are the same.",
        _same_bytes,
    ),
    "untyped body flag": Deliberate("See 'untyped body is base64'.", _base64_not_text),
    "SVG is text": Deliberate(
        "image/svg+xml (like every +xml and +json type) is text and travels as text; Mangum base64-encodes it, "
        "which a REST API returns to the client as base64 unless the type is among its binary media types. The "
        "bytes are the same.",
        _same_bytes,
    ),
    "SVG flag": Deliberate("See 'SVG is text'.", _text_not_base64),
    "exclude_headers everywhere": Deliberate(
        "exclude_headers applies to every response shape; Mangum ignores it for HTTP API (payload 1.0 and 2.0) "
        "and Function URL responses.",
        _excluded,
    ),
}

_ALB = {"statusDescription": ("ALB statusDescription",)}
_EDGE = {
    "status": ("CloudFront status is a string",),
    "statusDescription": ("CloudFront statusDescription",),
    "bodyEncoding": ("CloudFront bodyEncoding",),
    "isBase64Encoded": ("CloudFront bodyEncoding",),
}
_SVG = {"body": ("SVG is text",), "isBase64Encoded": ("SVG flag",)}
_PAYLOAD_2 = {
    "cookies": {"headers": ("payload 2.0 joins with comma and space",)},
    "redirect": {"headers": ("no invented content-type",)},
    "untyped": {
        "headers": ("no invented content-type",),
        "body": ("untyped body is base64",),
        "isBase64Encoded": ("untyped body flag",),
    },
    "svg": _SVG,
    "excluded-header": {"headers": ("exclude_headers everywhere",)},
}

# (shape, application) -> the response fields that differ on purpose; a pair not listed must match exactly.
RESPONSE_DIFFERENCES: dict[tuple[str, str], Reasons] = {
    ("rest", "svg"): _SVG,
    ("http-v1", "svg"): _SVG,
    ("http-v1", "excluded-header"): {"headers": ("exclude_headers everywhere",)},
    **{("http-v2", app): fields for app, fields in _PAYLOAD_2.items()},
    **{("function-url", app): fields for app, fields in _PAYLOAD_2.items()},
    **{("alb-multi-value", app): _ALB for app in APPS},
    ("alb-multi-value", "svg"): {**_ALB, **_SVG},
    **{("alb-single-value", app): _ALB for app in APPS},
    ("alb-single-value", "cookies"): {**_ALB, "headers": ("ALB duplicate-name casing",)},
    ("alb-single-value", "svg"): {**_ALB, **_SVG},
    **{("lambda-edge", app): _EDGE for app in APPS},
    ("lambda-edge", "cookies"): {**_EDGE, "headers": ("CloudFront keeps every header value",)},
    ("lambda-edge", "svg"): {**_EDGE, "body": ("SVG is text",)},
    ("lambda-edge", "redirect"): {**_EDGE, "headers": ("CloudFront read-only headers",)},
}


@pytest.mark.usefixtures("mangum_loop")
@pytest.mark.parametrize("shape", SHAPE_EVENTS)
@pytest.mark.parametrize("app_name", APPS)
def test_response(app_name: str, shape: str, lambda_context: LambdaContextStub) -> None:
    app = APPS[app_name]
    ours_handler = LambdaAdapter(app, lifespan="off", exclude_headers=EXCLUDE_HEADERS)
    try:
        ours = ours_handler(load_event(SHAPE_EVENTS[shape]), lambda_context)
    finally:
        ours_handler.close()
    theirs = Mangum(app, lifespan="off", exclude_headers=EXCLUDE_HEADERS)(
        load_event(SHAPE_EVENTS[shape]), lambda_context
    )

    _compare(ours, theirs, RESPONSE_FIELDS, RESPONSE_DIFFERENCES.get((shape, app_name), {}), RESPONSE_DIFFERENCES_WHY)


def test_every_listed_response_case_exists() -> None:
    for shape, app_name in RESPONSE_DIFFERENCES:
        assert shape in SHAPE_EVENTS and app_name in APPS, (shape, app_name)
    every: list[Reasons] = [*RESPONSE_DIFFERENCES.values(), *EVENT_DIFFERENCES.values(), EVERY_EVENT]
    for fields in every:
        for reasons in fields.values():
            assert set(reasons) <= set(RESPONSE_DIFFERENCES_WHY) | set(SCOPE_DIFFERENCES), reasons
