"""`TracingMiddleware`: a pure ASGI middleware that gives every HTTP request a span from a `Tracer`.

Pure ASGI rather than Starlette's `BaseHTTPMiddleware`, which runs the application in another task, so
context variables set by the application never reach the middleware and the other way round
(https://www.starlette.io/middleware/#limitations): the tracer's current span lives in a context variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from adapter.tracing.api import RequestInfo, RequestSpan, Tracer
from adapter.tracing.routes import route_template
from adapter.types import ASGIApp, Message, Receive, Scope, Send

_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
# Characters left as they are in the path of the recorded URL; the rest is percent-encoded, as on the wire.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def in_lambda(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process is a Lambda function: the variables the Lambda runtime sets, and the X-Ray SDK reads.

    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
    """
    return bool(environ.get("AWS_LAMBDA_FUNCTION_NAME") and environ.get("LAMBDA_TASK_ROOT"))


def xray_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether X-Ray tracing is on when nobody says: in Lambda, or wherever a daemon address is given.

    `AWS_XRAY_SDK_ENABLED=false` turns it off everywhere, as it does for the SDK itself
    (https://docs.aws.amazon.com/xray/latest/devguide/xray-sdk-python-configuration.html#xray-sdk-python-configuration-envvars).
    Locally, without `AWS_XRAY_DAEMON_ADDRESS`, tracing stays off: no daemon traffic, no SDK import.
    """
    if environ.get("AWS_XRAY_SDK_ENABLED", "true").strip().lower() in _FALSE:
        return False
    return in_lambda(environ) or bool(environ.get("AWS_XRAY_DAEMON_ADDRESS"))


def request_info(scope: Scope) -> RequestInfo:
    """What a tracer may record about the HTTP request in `scope`."""
    headers: Sequence[tuple[bytes, bytes]] = scope.get("headers") or ()
    host = user_agent = None
    for key, value in headers:
        name = key.lower()
        if name == b"host" and host is None:
            host = value.decode("latin-1")
        elif name == b"user-agent" and user_agent is None:
            user_agent = value.decode("latin-1")
    if host is None:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    # scope["path"] is the full public path, the stage prefix in scope["root_path"] included
    # (https://asgi.readthedocs.io/en/latest/specs/www.html#http-connection-scope).
    path: str = scope.get("path") or "/"
    client = scope.get("client")
    return RequestInfo(
        method=scope.get("method", "GET"),
        url=f"{scope.get('scheme', 'http')}://{host}{quote(path, safe=_PATH_SAFE)}",
        host=host,
        path=path,
        client_ip=client[0] if client else None,
        user_agent=user_agent,
        headers=headers,
    )


class TracingMiddleware:
    """Wraps an ASGI application so that each HTTP request runs inside a span of `tracer`.

    With `tracer=None` the middleware passes every request straight through.
    """

    def __init__(self, app: ASGIApp, tracer: Tracer | None) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.tracer is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        span = self.tracer.start(request_info(scope))
        if span is None:
            await self.app(scope, receive, send)
            return
        await _traced(self.app, span, scope, receive, send)


async def _traced(app: ASGIApp, span: RequestSpan, scope: Scope, receive: Receive, send: Send) -> None:
    root_path: str = scope.get("root_path", "")
    extra_headers = list(span.response_headers())
    status: int | None = None
    declared_length: int | None = None
    body_length = 0

    async def traced_send(message: Message) -> None:
        nonlocal status, declared_length, body_length
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers: list[Any] = list(message.get("headers", ()))
            for key, value in headers:
                if key.lower() == b"content-length":
                    declared_length = int(value)
            if extra_headers:
                message = {**message, "headers": headers + extra_headers}
        elif message["type"] == "http.response.body":
            body_length += len(message.get("body", b""))
        await send(message)

    error: BaseException | None = None
    try:
        await app(scope, receive, traced_send)
    except Exception as exc:
        error = exc
        raise
    finally:
        content_length: int | None = declared_length if declared_length is not None else body_length
        if status is None:
            content_length = None
            if error is not None:
                # The server answers 500 for an application that raised before it started a response.
                status = 500
        span.finish(
            status=status,
            content_length=content_length,
            route=route_template(scope, root_path),
            error=error,
        )
