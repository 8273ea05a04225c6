"""Tracing for ASGI applications: a span per request, under uvicorn and in Lambda.

`XRayMiddleware` records requests with AWS X-Ray (`pip install 'asgi-lambda-adapter[xray]'`); it imports the
X-Ray SDK only when tracing is on, so an application that has it in its middleware pays nothing when it is off.
`TracingMiddleware` is the same middleware over any `Tracer`. `xray_record_tracer()` does the same for the
records of non-HTTP events (`adapter.triggers.Triggers(tracer=...)`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adapter.tracing.api import RequestInfo, RequestSpan, Tracer
from adapter.tracing.middleware import TracingMiddleware, in_lambda, request_info, xray_configured
from adapter.tracing.routes import route_template
from adapter.types import ASGIApp

if TYPE_CHECKING:
    from adapter.triggers import RecordTracer

__all__ = [
    "RequestInfo",
    "RequestSpan",
    "Tracer",
    "TracingMiddleware",
    "XRayMiddleware",
    "in_lambda",
    "request_info",
    "route_template",
    "xray_configured",
    "xray_record_tracer",
]


class XRayMiddleware(TracingMiddleware):
    """Records every HTTP request with AWS X-Ray.

    Under uvicorn each request is a segment named `service` (or `AWS_XRAY_TRACING_NAME`), continuing an incoming
    `X-Amzn-Trace-Id` and sampled by the SDK's rules otherwise, sent to the daemon at `AWS_XRAY_DAEMON_ADDRESS`.
    In Lambda each request is a subsegment of the invocation's segment. Botocore is patched, so every AWS call
    (PynamoDB's included) is a subsegment of the request that made it.

    `enabled=None` (the default) turns tracing on in Lambda and wherever `AWS_XRAY_DAEMON_ADDRESS` is set, and
    off when `AWS_XRAY_SDK_ENABLED` is false. `sampling_rules` replaces the SDK's centralized sampling with local
    rules (https://docs.aws.amazon.com/xray/latest/devguide/xray-sdk-python-configuration.html#xray-sdk-python-configuration-sampling).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        enabled: bool | None = None,
        sampling_rules: Mapping[str, Any] | None = None,
    ) -> None:
        tracer: Tracer | None = None
        if xray_configured() if enabled is None else enabled:
            from adapter.tracing.xray import XRayTracer

            tracer = XRayTracer(service, sampling_rules=sampling_rules)
        super().__init__(app, tracer)


def xray_record_tracer(
    service: str, *, enabled: bool | None = None, sampling_rules: Mapping[str, Any] | None = None
) -> RecordTracer | None:
    """A tracer that gives each record of a non-HTTP event its own X-Ray subsegment, or None when tracing is off.

    `enabled=None` (the default) turns it on in Lambda unless `AWS_XRAY_SDK_ENABLED` is false; records are
    subsegments of the invocation's segment, so there is nothing to trace outside Lambda. When off, the X-Ray
    SDK is not imported.
    """
    if not (in_lambda() and xray_configured() if enabled is None else enabled):
        return None
    from adapter.tracing.records import XRayRecordTracer

    return XRayRecordTracer(service, sampling_rules=sampling_rules)
