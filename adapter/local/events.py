"""Lambda events built from HTTP requests, field for field as the AWS services build them. Pure functions.

Each format follows the events recorded from the real services in tests/events/ (see SOURCES.md there):

- `rest`: REST API proxy integration (payload 1.0).
  https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
- `http-v1`, `http-v2`: HTTP API, payload format 1.0 or 2.0.
  https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
- `function-url`: Lambda Function URL (the payload 2.0 shape). https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
- `alb`: Application Load Balancer target group, single-value or multi-value headers.
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

from adapter.types import LambdaEvent

FORMATS = ("rest", "http-v1", "http-v2", "function-url", "alb")
STAGED_FORMATS = ("rest", "http-v1", "http-v2")

# Textual content types travel as text in HTTP API, Function URL and ALB events; any other body is base64.
_TEXT_TYPES = re.compile(r"^(text/.*|application/(.*\+)?(json|xml)|application/javascript)$")

# Hop-by-hop headers (RFC 9110 7.6.1) end at the gateway; none of the recorded events carries them.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)


class ClientRequest:
    """An HTTP request as the client sent it: the path still percent-encoded, the query string raw."""

    __slots__ = ("body", "headers", "method", "path", "query", "source_ip")

    def __init__(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        source_ip: str = "127.0.0.1",
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.query = query
        self.headers = list(headers)
        self.body = body
        self.source_ip = source_ip

    def header(self, name: str) -> str | None:
        """The last value of a header (names compared case-insensitively)."""
        found = None
        for key, value in self.headers:
            if key.lower() == name:
                found = value
        return found


class APIRoute:
    """One route of the API: a method (or ANY) and a path template such as `/links/{code}` or `/{proxy+}`, or
    the HTTP API's `$default` route."""

    __slots__ = ("_names", "_pattern", "_rank", "method", "path")

    def __init__(self, method: str, path: str) -> None:
        self.method = method.upper()
        self.path = path
        self._names: list[str] = []
        pattern = ""
        literal = params = greedy = 0
        for segment in [] if self.is_default else [part for part in path.split("/") if part]:
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1]
                if name.endswith("+"):
                    pattern += f"/(?P<p{len(self._names)}>.+)"
                    greedy += 1
                else:
                    pattern += f"/(?P<p{len(self._names)}>[^/]+)"
                    params += 1
                self._names.append(name.removesuffix("+"))
            else:
                pattern += "/" + re.escape(segment)
                literal += 1
        self._pattern = re.compile(pattern + "/?" if pattern else "/")
        # API Gateway picks the most specific route: literal segments first, then parameters, greedy ones and
        # $default last. https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html#http-api-develop-routes.evaluation
        self._rank = (self.is_default, greedy, -literal, params, self.method == "ANY")

    @property
    def is_default(self) -> bool:
        return self.path == "$default"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters (raw, as in `path`) when the route takes this request, else None."""
        if self.method not in ("ANY", method):
            return None
        if self.is_default:
            return {}
        found = self._pattern.fullmatch(path)
        if found is None:
            return None
        return {name: found.group(f"p{index}") for index, name in enumerate(self._names)}

    def __repr__(self) -> str:
        return f"APIRoute({self.method!r}, {self.path!r})"


# The routes a proxy API has when nothing else is said: SAM's `/` and `/{proxy+}` with ANY for REST (as in
# template.yaml), the `$default` route for HTTP APIs.
REST_DEFAULT_ROUTES = (APIRoute("ANY", "/"), APIRoute("ANY", "/{proxy+}"))
HTTP_DEFAULT_ROUTES = (APIRoute("ANY", "$default"),)


class Gateway:
    """The API that `serve` stands for: its format, stage, routes and the names AWS would give it.

    - `stage`: the stage name (REST, HTTP API); for REST and named HTTP API stages, the first path segment.
    - `base_path`: a custom domain's base path mapping (e.g. `/v1`) instead of the stage in the URL.
    - `binary_media_types`: REST only: bodies of these types arrive base64-encoded and base64 responses are
      decoded (template.yaml sets `*/*`, every type).
    - `multi_value_headers`: ALB only: the target group's multi-value headers setting.
    """

    __slots__ = (
        "account_id",
        "api_id",
        "base_path",
        "binary_media_types",
        "format",
        "multi_value_headers",
        "region",
        "routes",
        "stage",
    )

    def __init__(
        self,
        format: str = "rest",
        *,
        stage: str | None = None,
        base_path: str = "",
        routes: Iterable[APIRoute] | None = None,
        binary_media_types: Iterable[str] = ("*/*",),
        multi_value_headers: bool = False,
        api_id: str = "local0api1",
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        if stage is not None and format not in STAGED_FORMATS:
            raise ValueError(f"a {format} has no stages; --stage applies to {', '.join(STAGED_FORMATS)}")
        if stage is not None and (not stage or "/" in stage):
            raise ValueError(f"a stage name is one path segment, not {stage!r}")
        self.format = format
        if stage is None:
            stage = "live" if format == "rest" else "$default"
        self.stage = stage
        stripped = base_path.strip("/")
        self.base_path = f"/{stripped}" if stripped else ""
        if routes is None:
            routes = REST_DEFAULT_ROUTES if format == "rest" else HTTP_DEFAULT_ROUTES
        self.routes = sorted(routes, key=lambda route: route._rank)
        self.binary_media_types = tuple(binary_media_types)
        self.multi_value_headers = multi_value_headers
        self.api_id = api_id
        self.region = region
        self.account_id = account_id

    @property
    def domain_name(self) -> str:
        """The endpoint's domain name in AWS, which the events carry in requestContext.domainName."""
        if self.format == "function-url":
            return f"{self.api_id}.lambda-url.{self.region}.on.aws"
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"

    @property
    def url_prefix(self) -> str:
        """What every URL path of the API starts with: the base path mapping, else a stage that is in the URL."""
        if self.base_path:
            return self.base_path
        if self.format in STAGED_FORMATS and self.stage != "$default":
            return f"/{self.stage}"
        return ""

    def resolve(self, method: str, path: str) -> tuple[APIRoute, dict[str, str], str] | None:
        """The route, its path parameters and the path after the prefix; None when no route takes the request."""
        prefix = self.url_prefix
        if prefix:
            if path != prefix and not path.startswith(prefix + "/"):
                return None
            inner = path[len(prefix) :] or "/"
        else:
            inner = path
        for route in self.routes:
            params = route.match(method, inner)
            if params is not None:
                return route, params, inner
        return None


def is_binary(content_type: str | None, binary_media_types: Iterable[str]) -> bool:
    """Whether a content type matches one of REST's binary media types (`*/*` and `image/*` wildcards)."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    for pattern in binary_media_types:
        kind, _, sub = pattern.lower().partition("/")
        if kind == "*" or (mime.partition("/")[0] == kind and sub in ("*", mime.partition("/")[2])):
            return True
    return False


def body_fields(request: ClientRequest, gateway: Gateway) -> tuple[str | None, bool]:
    """`body` and `isBase64Encoded`: REST by its binary media types, the others by the content type."""
    if not request.body:
        return None, False
    content_type = request.header("content-type")
    if gateway.format == "rest":
        binary = is_binary(content_type, gateway.binary_media_types)
    else:
        mime = (content_type or "").split(";", 1)[0].strip().lower()
        binary = request.header("content-encoding") is not None or _TEXT_TYPES.match(mime) is None
    if not binary:
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            if gateway.format == "rest":
                # REST hands over a body that is not of a binary media type as text, mangling what is not UTF-8.
                return request.body.decode("utf-8", "replace"), False
    return base64.b64encode(request.body).decode("ascii"), True


def build_event(
    gateway: Gateway,
    request: ClientRequest,
    *,
    request_id: str | None = None,
    now: float | None = None,
    host: str | None = None,
    port: int = 443,
    scheme: str = "https",
) -> LambdaEvent | None:
    """The event the service sends for `request`, or None when no route of the API takes it.

    `host`, `port` and `scheme` are the address the client used (the Host, X-Forwarded-Port and
    X-Forwarded-Proto headers); by default, the endpoint's own domain name over HTTPS.
    """
    resolved = gateway.resolve(request.method, request.path)
    if resolved is None:
        return None
    route, params, inner = resolved
    request_id = request_id or str(uuid.uuid4())
    now = time.time() if now is None else now
    headers = _forwarded_headers(request, gateway, host or gateway.domain_name, port, scheme)
    if gateway.format == "rest":
        return _rest(gateway, request, route, params, inner, headers, request_id, now)
    if gateway.format == "http-v1":
        return _http_v1(gateway, request, route, params, headers, request_id, now)
    if gateway.format == "alb":
        return _alb(gateway, request, headers)
    return _v2(gateway, request, route, params, headers, request_id, now)


def _forwarded_headers(
    request: ClientRequest, gateway: Gateway, host: str, port: int, scheme: str
) -> list[tuple[str, str]]:
    """The client's headers as the service forwards them, after the ones it sets itself (named with REST's
    capitals in REST events and in lower case in the others, as in the recorded events)."""
    rest = gateway.format == "rest"
    forwarded_for = request.header("x-forwarded-for")
    added = [
        ("Host", host),
        ("X-Amzn-Trace-Id", _trace_id()),
        ("X-Forwarded-For", f"{forwarded_for}, {request.source_ip}" if forwarded_for else request.source_ip),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", scheme),
    ]
    headers = [(name if rest else name.lower(), value) for name, value in added]
    replaced = {name.lower() for name, _ in added}
    for name, value in request.headers:
        lowered = name.lower()
        # REST leaves out Content-Length (tests/events/voker/rest-v1-live-encoding-probe.json); the others
        # forward it.
        if lowered in replaced or lowered in _HOP_BY_HOP or (rest and lowered == "content-length"):
            continue
        headers.append(("User-Agent" if rest and lowered == "user-agent" else lowered, value))
    return headers


def _trace_id() -> str:
    # Root=1-{8 hex digits of the epoch seconds}-{24 hex digits}: https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html#xray-api-traceids
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


def _single(headers: list[tuple[str, str]]) -> dict[str, str]:
    # The last value of a repeated header, as in the recorded events' `headers`.
    return dict(headers)


def _multi(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in headers:
        result.setdefault(name, []).append(value)
    return result


def _decoded_query(query: str) -> dict[str, list[str]] | None:
    # API Gateway decodes the query ("+" is a space, %2B a plus): the REST and HTTP API captures in tests/events/voker/.
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return None
    result: dict[str, list[str]] = {}
    for key, value in pairs:
        result.setdefault(key, []).append(value)
    return result


def _request_time(now: float) -> str:
    # 10/Jul/2026:19:19:04 +0000, in English whatever the locale.
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    moment = time.gmtime(now)
    return (
        f"{moment.tm_mday:02d}/{months[moment.tm_mon - 1]}/{moment.tm_year}:{time.strftime('%H:%M:%S', moment)} +0000"
    )


def _extended_request_id() -> str:
    return base64.b64encode(uuid.uuid4().bytes[:10]).decode("ascii")


def _identity(request: ClientRequest) -> dict[str, Any]:
    # Without an authorizer or an API key, every field but the source IP and user agent is null
    # (tests/events/lambda-developer-guide/rest-v1-captured-cookie.json).
    identity: dict[str, Any] = dict.fromkeys(
        (
            "accessKey",
            "accountId",
            "apiKey",
            "apiKeyId",
            "caller",
            "cognitoAuthenticationProvider",
            "cognitoAuthenticationType",
            "cognitoIdentityId",
            "cognitoIdentityPoolId",
            "principalOrgId",
        )
    )
    identity["sourceIp"] = request.source_ip
    identity["user"] = None
    identity["userAgent"] = request.header("user-agent")
    identity["userArn"] = None
    identity["clientCert"] = None
    return identity


def _v1_common(
    request: ClientRequest,
    gateway: Gateway,
    route: APIRoute,
    params: dict[str, str],
    path: str,
    headers: list[tuple[str, str]],
) -> dict[str, Any]:
    query = _decoded_query(request.query)
    body, is_base64 = body_fields(request, gateway)
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": request.method,
        "headers": _single(headers),
        "multiValueHeaders": _multi(headers),
        "queryStringParameters": {key: values[-1] for key, values in query.items()} if query else None,
        "multiValueQueryStringParameters": query,
        "pathParameters": params or None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _rest(
    gateway: Gateway,
    request: ClientRequest,
    route: APIRoute,
    params: dict[str, str],
    inner: str,
    headers: list[tuple[str, str]],
    request_id: str,
    now: float,
) -> LambdaEvent:
    # `path` leaves out the stage on the execute-api endpoint and keeps a custom domain's base path;
    # requestContext.path is the path the client asked for.
    path = request.path if gateway.base_path else inner
    event = _v1_common(request, gateway, route, params, path, headers)
    event["requestContext"] = {
        "accountId": gateway.account_id,
        "apiId": gateway.api_id,
        "authorizer": None,
        "domainName": gateway.domain_name,
        "domainPrefix": gateway.api_id,
        "extendedRequestId": _extended_request_id(),
        "httpMethod": request.method,
        "identity": _identity(request),
        "path": request.path,
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": _request_time(now),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": uuid.uuid4().hex[:6],
        "resourcePath": route.path,
        "stage": gateway.stage,
    }
    return event


def _http_v1(
    gateway: Gateway,
    request: ClientRequest,
    route: APIRoute,
    params: dict[str, str],
    headers: list[tuple[str, str]],
    request_id: str,
    now: float,
) -> LambdaEvent:
    # HTTP API keeps a named stage in `path` (tests/events/awsdocs-apigateway/http-v1-doc-example.json).
    event = {"version": "1.0", **_v1_common(request, gateway, route, params, request.path, headers)}
    event["requestContext"] = {
        "accountId": gateway.account_id,
        "apiId": gateway.api_id,
        "authorizer": {"claims": None, "scopes": None},
        "domainName": gateway.domain_name,
        "domainPrefix": gateway.api_id,
        "extendedRequestId": request_id,
        "httpMethod": request.method,
        "identity": _identity(request),
        "path": request.path,
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": _request_time(now),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": None if route.is_default else f"{route.method} {route.path}",
        "resourcePath": route.path,
        "stage": gateway.stage,
    }
    return event


def http_api_path(path: str) -> str:
    """rawPath as HTTP API gives it: escapes decoded (a literal space arrives, tests/events/voker/), except
    %2F, which stays encoded so that the path keeps its segments
    (tests/events/aws-lambda-dotnet/http-v2-rawpath-encoded-slash.json)."""
    return "%2F".join(unquote(part, errors="replace") for part in re.split("%2[Ff]", path))


def _v2(
    gateway: Gateway,
    request: ClientRequest,
    route: APIRoute,
    params: dict[str, str],
    headers: list[tuple[str, str]],
    request_id: str,
    now: float,
) -> LambdaEvent:
    url = gateway.format == "function-url"
    # HTTP API decodes rawPath; a Function URL keeps it as sent. Both decode requestContext.http.path
    # (tests/events/voker/http-v2-live-encoding-probe.json, function-url-live-encoding-probe.json).
    decoded_path = http_api_path(request.path)
    cookies = [
        cookie.strip() for name, value in headers if name == "cookie" for cookie in value.split(";") if cookie.strip()
    ]
    joined: dict[str, str] = {}
    for name, value in headers:
        # Payload 2.0 moves Cookie headers to `cookies` (a Function URL keeps them too) and joins the values
        # of a repeated header with commas.
        if name == "cookie" and not url:
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    event: LambdaEvent = {
        "version": "2.0",
        "routeKey": "$default" if route.is_default else f"{route.method} {route.path}",
        "rawPath": request.path if url else decoded_path,
        "rawQueryString": request.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    query = _decoded_query(request.query)
    if query:
        event["queryStringParameters"] = {key: ",".join(values) for key, values in query.items()}
    if params:
        event["pathParameters"] = {name: http_api_path(value).replace("%2F", "/") for name, value in params.items()}
    event["requestContext"] = {
        "accountId": "anonymous" if url else gateway.account_id,
        "apiId": gateway.api_id,
        "domainName": gateway.domain_name,
        "domainPrefix": gateway.api_id,
        "http": {
            "method": request.method,
            "path": decoded_path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": request_id,
        "routeKey": event["routeKey"],
        "stage": gateway.stage,
        "time": _request_time(now),
        "timeEpoch": int(now * 1000),
    }
    body, is_base64 = body_fields(request, gateway)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def _alb(gateway: Gateway, request: ClientRequest, headers: list[tuple[str, str]]) -> LambdaEvent:
    # The load balancer passes the path and the query as the client sent them, still percent-encoded
    # (tests/events/voker/alb-multi-value-live-encoding-probe.json).
    pairs = [pair.partition("=")[::2] for pair in request.query.split("&") if pair]
    lowered = [(name.lower(), value) for name, value in headers]
    event: LambdaEvent = {
        "requestContext": {
            "elb": {
                "targetGroupArn": (
                    f"arn:aws:elasticloadbalancing:{gateway.region}:{gateway.account_id}:targetgroup/"
                    f"{gateway.api_id}/{uuid.uuid5(uuid.NAMESPACE_DNS, gateway.api_id).hex[:16]}"
                )
            }
        },
        "httpMethod": request.method,
        "path": request.path,
    }
    if gateway.multi_value_headers:
        multi_query: dict[str, list[str]] = {}
        for key, value in pairs:
            multi_query.setdefault(key, []).append(value)
        event["multiValueQueryStringParameters"] = multi_query
        event["multiValueHeaders"] = _multi(lowered)
    else:
        # Without multi-value headers, the load balancer keeps the last value of a repeated header or key.
        event["queryStringParameters"] = dict(pairs)
        event["headers"] = _single(lowered)
    body, is_base64 = body_fields(request, gateway)
    event["body"] = body or ""
    event["isBase64Encoded"] = is_base64
    return event
