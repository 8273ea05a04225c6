"""The small tracer interface the tracing middleware is written against.

The middleware reads the request and the response; a `Tracer` turns them into whatever its backend records.
`adapter.tracing.xray.XRayTracer` fills it with the AWS X-Ray SDK. AWS ends support for the X-Ray SDKs in
February 2027 and points to OpenTelemetry
(https://docs.aws.amazon.com/xray/latest/devguide/xray-sdk-migration.html), so nothing here names X-Ray: an
OpenTelemetry tracer can implement the same two methods (start a SERVER span from the `traceparent` header,
set `http.route`, `http.response.status_code`, record the exception) without touching the middleware.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What a tracer may record about an incoming HTTP request.

    Deliberately without cookies, the authorization header or the body: a tracer cannot leak what it never sees.
    """

    method: str
    #: scheme://host/path: the public URL including the API Gateway stage prefix, without the query string
    #: (query strings carry tokens often enough that they stay out of traces).
    url: str
    host: str
    #: The full public path (`scope["path"]`, which includes `scope["root_path"]`).
    path: str
    client_ip: str | None
    user_agent: str | None
    #: The raw request headers, for a tracer to read its own propagation header (`X-Amzn-Trace-Id`,
    #: `traceparent`) with `header()`.
    headers: Sequence[tuple[bytes, bytes]]

    def header(self, name: bytes) -> str | None:
        """The first value of the header `name` (lower case), decoded as Latin-1, or None."""
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None


class RequestSpan(Protocol):
    """One traced request, active in the current context from `Tracer.start` until `finish`."""

    def response_headers(self) -> Sequence[tuple[bytes, bytes]]:
        """Headers to add to the response, e.g. the trace header; may be empty."""
        ...

    def finish(
        self, *, status: int | None, content_length: int | None, route: str | None, error: BaseException | None
    ) -> None:
        """Record the outcome and end the span. Called once, in the same context as `Tracer.start`."""
        ...


class Tracer(Protocol):
    """Starts one span per HTTP request."""

    def start(self, request: RequestInfo) -> RequestSpan | None:
        """Start a span for `request` and make it current, or return None when the request is not traced."""
        ...
