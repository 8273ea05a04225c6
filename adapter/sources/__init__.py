"""Event sources: each recognises one shape of Lambda event and translates it both ways."""

from __future__ import annotations

from adapter.exceptions import UnsupportedEvent
from adapter.sources._base import LAMBDA_RESPONSE_BYTES, EventSource, Response, response_parts
from adapter.sources.alb import ALB
from adapter.sources.api_gateway import APIGatewayV1
from adapter.sources.http_api import HTTPAPIV2
from adapter.sources.lambda_edge import LambdaEdge

# Cheapest and most common checks first. ALB comes before payload 1.0 because both carry `httpMethod`.
DEFAULT_SOURCES: tuple[type[EventSource], ...] = (HTTPAPIV2, ALB, APIGatewayV1, LambdaEdge)

_LOOKED_AT = (
    "version == '2.0' with requestContext (HTTP API payload 2.0, Function URL); "
    "requestContext.elb (ALB); httpMethod with requestContext (API Gateway payload 1.0); "
    "Records[0].cf (Lambda@Edge)"
)


def detect(event: object, sources: tuple[type[EventSource], ...] = DEFAULT_SOURCES) -> type[EventSource]:
    """The source whose shape `event` has; `UnsupportedEvent` says what was looked for when none matches."""
    if not isinstance(event, dict):
        raise UnsupportedEvent(f"a Lambda event must be a JSON object, not {type(event).__name__}")
    request_context = event.get("requestContext")
    if isinstance(request_context, dict):
        if "connectionId" in request_context:
            # WebSocket API events can also carry httpMethod/path (console tests do); they are not HTTP requests.
            raise UnsupportedEvent(
                f"API Gateway WebSocket events ({request_context.get('eventType') or 'MESSAGE'}) are not supported"
            )
        if sources is DEFAULT_SOURCES:
            # What the default sources' `matches` decide for an event with a requestContext, without calling them
            # one by one on every invocation.
            if event.get("version") == "2.0":
                return HTTPAPIV2
            if "elb" in request_context:
                return ALB
            if "httpMethod" in event:
                return APIGatewayV1
    for source in sources:
        if source.matches(event):
            return source
    keys = ", ".join(sorted(map(str, event))[:12]) or "none"
    raise UnsupportedEvent(f"the event matches no supported shape; looked at: {_LOOKED_AT}; the event's keys: {keys}")


__all__ = [
    "ALB",
    "DEFAULT_SOURCES",
    "HTTPAPIV2",
    "LAMBDA_RESPONSE_BYTES",
    "APIGatewayV1",
    "EventSource",
    "LambdaEdge",
    "Response",
    "detect",
    "response_parts",
]
