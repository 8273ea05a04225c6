"""The AWS X-Ray implementation of the tracer interface, and the context it needs under asyncio.

Importing this module imports the X-Ray SDK (`pip install 'asgi-lambda-adapter[xray]'`); `XRayMiddleware`
imports it only when tracing is on.

Why a context of our own: the SDK keeps the current segment in a `threading.local` by default, so concurrent
requests on one event loop overwrite each other's segment; its `AsyncContext` keeps it on the asyncio task,
which does not follow into the worker threads where Starlette runs sync endpoints and PynamoDB's blocking calls
(`anyio.to_thread.run_sync`), so those botocore calls find no segment at all
(https://github.com/aws/aws-xray-sdk-python/issues/446, /issues/164). A `contextvars.ContextVar` follows both:
every asyncio task starts with a copy of its creator's context
(https://docs.python.org/3/library/asyncio-task.html#asyncio.create_task), and `anyio.to_thread.run_sync` runs the
function in a copy of the caller's (https://anyio.readthedocs.io/en/stable/threads.html). The stack of open
entities is an immutable tuple, so a copy that pushes a subsegment never changes what its parent sees.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import traceback
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.core.context import Context
from aws_xray_sdk.core.models import http
from aws_xray_sdk.core.models.dummy_entities import DummySegment
from aws_xray_sdk.core.models.facade_segment import FacadeSegment
from aws_xray_sdk.core.models.trace_header import TraceHeader
from aws_xray_sdk.core.models.traceid import TraceId
from aws_xray_sdk.core.sampling.local.sampler import LocalSampler
from aws_xray_sdk.ext.util import calculate_sampling_decision

from adapter.tracing.api import RequestInfo, RequestSpan
from adapter.tracing.middleware import in_lambda

__all__ = ["ContextVarContext", "XRayTracer", "patch_botocore"]

TRACE_HEADER = b"x-amzn-trace-id"
_LAMBDA_TRACE_ENV = "_X_AMZN_TRACE_ID"

# The open segment and subsegments of the current request, innermost last.
current_entities: ContextVar[tuple[Any, ...]] = ContextVar("adapter_xray_entities", default=())
# What the recorder gets outside a traced request: an unsampled segment, under which the SDK makes only dummy
# subsegments that are never stored nor sent. The SDK does the same in Lambda when an invocation is not
# sampled (LambdaContext in aws_xray_sdk/core/lambda_launcher.py). It keeps a botocore call made at start-up or
# in an unsampled request from logging "cannot find the current segment/subsegment" or "No segment found".
_NO_ENTITY: Any = DummySegment()


@atexit.register
def _close_emitter_socket() -> None:
    # The SDK opens the UDP socket of its global emitter at import and never closes it, so Python reports it as a
    # ResourceWarning when the interpreter exits (with warnings shown, as under pytest).
    with contextlib.suppress(AttributeError):
        xray_recorder.emitter._socket.close()


class ContextVarContext(Context):  # type: ignore[misc]  # the SDK is untyped
    """X-Ray's context storage on a context variable: correct across asyncio tasks and worker threads."""

    def __init__(self) -> None:
        super().__init__()

    def put_segment(self, segment: Any) -> None:
        current_entities.set((segment,))

    def end_segment(self, end_time: float | None = None) -> None:
        entities = current_entities.get()
        if entities:
            entity = entities[-1]
            (entity.parent_segment if self._is_subsegment(entity) else entity).close(end_time)

    def put_subsegment(self, subsegment: Any) -> None:
        entities = current_entities.get()
        if entities:
            entities[-1].add_subsegment(subsegment)
            current_entities.set((*entities, subsegment))

    def end_subsegment(self, end_time: float | None = None) -> bool:
        entities = current_entities.get()
        if not entities or not self._is_subsegment(entities[-1]):
            return False
        entities[-1].close(end_time)
        current_entities.set(entities[:-1])
        return True

    def get_trace_entity(self) -> Any:
        entities = current_entities.get()
        return entities[-1] if entities else _NO_ENTITY

    def set_trace_entity(self, trace_entity: Any) -> None:
        current_entities.set((trace_entity,))

    def clear_trace_entities(self) -> None:
        current_entities.set(())


def patch_botocore() -> bool:
    """Patch botocore so each AWS call is a subsegment; True if this call patched it, False if it already was.

    Only botocore: PynamoDB calls DynamoDB through botocore's client, and patching `pynamodb` as well would
    record every call twice (https://docs.aws.amazon.com/xray/latest/devguide/xray-sdk-python-patching.html).
    """
    # The SDK marks the module it patched with this attribute (ext/botocore/patch.py).
    if getattr(importlib.import_module("botocore.client"), "_xray_enabled", False):
        return False
    patch(("botocore",))
    return True


def enter_invocation() -> tuple[FacadeSegment, tuple[Any, ...]] | None:
    """In Lambda, make the invocation's segment the current entity when the invocation is sampled; returns it and
    the entities it replaces (to set back), or None when there is nothing to record under.

    Lambda sets the invocation's trace header in the environment before each invocation
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime); its
    Parent is the segment Lambda records for the function, which the function cannot send itself: a facade stands
    for it.
    """
    invocation = TraceHeader.from_header_str(os.environ.get(_LAMBDA_TRACE_ENV))
    if not (invocation.root and invocation.parent and invocation.sampled == 1):
        return None
    facade = FacadeSegment("facade", entityid=invocation.parent, traceid=invocation.root, sampled=True)
    facade.save_origin_trace_header(invocation)
    previous = current_entities.get()
    current_entities.set((facade,))
    return facade, previous


class XRayTracer:
    """Records each request as an X-Ray segment, or in Lambda as a subsegment of the invocation's segment.

    Building one configures the SDK's global recorder (the one botocore's patch records into) with a
    `ContextVarContext` and the daemon address from `AWS_XRAY_DAEMON_ADDRESS`, and patches botocore once.
    """

    def __init__(
        self,
        service: str,
        *,
        sampling_rules: Mapping[str, Any] | None = None,
        lambda_mode: bool | None = None,
    ) -> None:
        # The SDK's own convention: AWS_XRAY_TRACING_NAME overrides the name given in code.
        self.service = os.environ.get("AWS_XRAY_TRACING_NAME") or service
        self.lambda_mode = in_lambda() if lambda_mode is None else lambda_mode
        self._recorder: Any = xray_recorder
        settings: dict[str, Any] = {
            "context": ContextVarContext(),
            "service": self.service,
            # The SDK reads the variable again and lets it win; the argument is the fallback for `enabled=True`.
            "daemon_address": os.environ.get("AWS_XRAY_DAEMON_ADDRESS") or "127.0.0.1:2000",
        }
        if sampling_rules is not None:
            settings["sampler"] = LocalSampler(dict(sampling_rules))
        if self.lambda_mode:
            # Lambda's segment is never sent by the function, only its subsegments: a threshold of 0 sends each
            # one as soon as it and its children are complete, as the SDK itself does in Lambda
            # (AWSXRayRecorder.__init__, aws_xray_sdk/core/recorder.py).
            settings["streaming_threshold"] = 0
        self._recorder.configure(**settings)
        patch_botocore()

    def start(self, request: RequestInfo) -> RequestSpan | None:
        if self.lambda_mode:
            return self._start_in_lambda(request)
        return self._start_segment(request)

    def _start_segment(self, request: RequestInfo) -> RequestSpan:
        incoming = TraceHeader.from_header_str(request.header(TRACE_HEADER))
        decision = calculate_sampling_decision(
            incoming,
            self._recorder,
            {"host": request.host, "method": request.method, "path": request.path, "service": self.service},
        )
        # As the SDK's own middlewares do (ext/util.py prepare_response_header): the trace id, and the decision
        # only when the caller asked for it with Sampled=?.
        asked = incoming.sampled == "?"
        if not decision:
            root = incoming.root or TraceId().to_id()
            return _Untraced(_header(root, 0 if asked else None))
        previous = current_entities.get()
        segment = self._recorder.begin_segment(
            self.service,
            traceid=incoming.root,
            parent_id=incoming.parent if incoming.root else None,
            sampling=decision,
        )
        segment.save_origin_trace_header(incoming)
        _record_request(segment, request)
        return _SegmentSpan(self._recorder, segment, previous, _header(segment.trace_id, 1 if asked else None))

    def _start_in_lambda(self, request: RequestInfo) -> RequestSpan | None:
        entered = enter_invocation()
        if entered is None:
            return None
        facade, previous = entered
        subsegment = self._recorder.begin_subsegment(self.service)
        _record_request(subsegment, request)
        return _SubsegmentSpan(self._recorder, facade, subsegment, previous)


def _header(root: str, sampled: int | None) -> Sequence[tuple[bytes, bytes]]:
    return [(TRACE_HEADER, TraceHeader(root=root, sampled=sampled).to_header_str().encode("latin-1"))]


def _record_request(entity: Any, request: RequestInfo) -> None:
    entity.put_http_meta(http.METHOD, request.method)
    entity.put_http_meta(http.URL, request.url)
    entity.put_http_meta(http.CLIENT_IP, request.client_ip)
    entity.put_http_meta(http.USER_AGENT, request.user_agent)
    entity.put_annotation("method", request.method)


def _record_outcome(
    entity: Any,
    max_trace_back: int,
    status: int | None,
    content_length: int | None,
    route: str | None,
    error: BaseException | None,
) -> None:
    if status is not None:
        # Sets the flags X-Ray expects: error for 4xx, error and throttle for 429, fault for 5xx.
        entity.put_http_meta(http.STATUS, status)
        entity.put_annotation("status", status)
    entity.put_http_meta(http.CONTENT_LENGTH, content_length)
    if route is not None:
        entity.put_annotation("route", route)
    if error is not None:
        # The innermost frames, where the exception was raised, like the SDK's own stacktrace.get_stacktrace.
        stack = traceback.extract_tb(error.__traceback__)[-max_trace_back:] if max_trace_back else []
        entity.add_exception(error, stack)


class _Untraced:
    """A request the sampler left out: it only gets its trace id back."""

    def __init__(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        self._headers = headers

    def response_headers(self) -> Sequence[tuple[bytes, bytes]]:
        return self._headers

    def finish(
        self, *, status: int | None, content_length: int | None, route: str | None, error: BaseException | None
    ) -> None:
        pass


class _SegmentSpan:
    def __init__(self, recorder: Any, segment: Any, previous: tuple[Any, ...], headers: Sequence[Any]) -> None:
        self._recorder = recorder
        self._segment = segment
        self._previous = previous
        self._headers = headers

    def response_headers(self) -> Sequence[tuple[bytes, bytes]]:
        return self._headers

    def finish(
        self, *, status: int | None, content_length: int | None, route: str | None, error: BaseException | None
    ) -> None:
        _record_outcome(self._segment, self._recorder.max_trace_back, status, content_length, route, error)
        # The recorder ends whatever is current: make that this request's segment, whatever the application
        # left open, then give the context back as the request found it.
        current_entities.set((self._segment,))
        self._recorder.end_segment()
        current_entities.set(self._previous)


class _SubsegmentSpan:
    def __init__(self, recorder: Any, facade: Any, subsegment: Any, previous: tuple[Any, ...]) -> None:
        self._recorder = recorder
        self._facade = facade
        self._subsegment = subsegment
        self._previous = previous

    def response_headers(self) -> Sequence[tuple[bytes, bytes]]:
        # API Gateway and the function URL already answer with the trace header of the invocation.
        return ()

    def finish(
        self, *, status: int | None, content_length: int | None, route: str | None, error: BaseException | None
    ) -> None:
        _record_outcome(self._subsegment, self._recorder.max_trace_back, status, content_length, route, error)
        current_entities.set((self._facade, self._subsegment))
        self._recorder.end_subsegment()
        current_entities.set(self._previous)
