"""The invocation loop: fetch the next event, run it, post the result, run what comes after the response, repeat.

https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-processing
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

from adapter.handler import LambdaAdapter, escapes_non_ascii
from adapter.http import ResponseSink
from adapter.runtime.client import (
    Invocation,
    RuntimeAPIError,
    RuntimeClient,
    RuntimeInterface,
    error_document,
)
from adapter.runtime.context import ContextError, InvocationContext
from adapter.runtime.invocation import pending_after_response, run_after_response
from adapter.runtime.logs import set_invocation
from adapter.runtime.streaming import HTTP_INTEGRATION_CONTENT_TYPE, StreamingSink
from adapter.sources import HTTPAPIV2, APIGatewayV1, EventSource
from adapter.types import Headers, LambdaResponse

logger = logging.getLogger("adapter.runtime")

# What `stream=True` streams: the responses of the sources whose front doors can stream (Function URLs in
# RESPONSE_STREAM mode share payload 2.0 with HTTP APIs; REST APIs with the STREAM transfer mode use payload 1.0).
# ALB and Lambda@Edge cannot, so their responses stay whole.
STREAMING_SOURCES: tuple[type[EventSource], ...] = (HTTPAPIV2, APIGatewayV1)
# The internal extension's name, which registering makes Lambda send the runtime SIGTERM before it shuts the
# environment down: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-shutdown
EXTENSION_NAME = "asgi-lambda-adapter-graceful-shutdown"
# With internal extensions only, Lambda gives the runtime 500 ms between SIGTERM and SIGKILL.
SHUTDOWN_BUDGET = 0.45


class InitError(Exception):
    """The handler could not be loaded; `error_type` is the managed runtime's name for the reason."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class _Shutdown(BaseException):
    """Raised from the SIGTERM handler to leave a blocking wait for the next invocation."""


def load_handler(spec: str) -> Callable[..., Any]:
    """The handler named `module.attribute`, with the errors the managed runtime reports at init."""
    module_name, _, attribute = spec.rpartition(".")
    if not module_name or not attribute:
        raise InitError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': name the module and the attribute, as module.attribute",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise InitError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}") from error
    except SyntaxError as error:
        raise InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}") from error
    handler = getattr(module, attribute, None)
    if handler is None:
        raise InitError("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'")
    if not callable(handler):
        raise InitError("Runtime.HandlerNotFound", f"Handler '{attribute}' on module '{module_name}' is not callable")
    return handler  # type: ignore[no-any-return]


class Runtime:
    """Serves invocations from the Runtime API with `handler`.

    A `LambdaAdapter` handler has its HTTP requests run on its event loop by the runtime itself, so that the
    response can be posted (or streamed) as soon as the application sends it, work after it can run, and the
    deadline can be kept. Any other handler (and a `LambdaAdapter`'s non-HTTP events) is called as the managed
    runtime calls it. Options:

    - `stream`: stream the responses of HTTP requests (payload 2.0 and REST events) in the HTTP integration
      framing. Only for functions behind a Function URL in RESPONSE_STREAM mode or a REST API method with the
      STREAM response transfer mode: nothing in the event tells them apart from buffered ones, and an HTTP API
      cannot read a streamed response.
    - `deadline_margin`: seconds before the invocation's deadline at which a request that is still running is
      answered 504 (and work after the response is cancelled), so that it ends before Lambda stops the process.
    """

    def __init__(
        self,
        handler: Callable[..., Any],
        client: RuntimeInterface,
        *,
        stream: bool = False,
        deadline_margin: float = 0.5,
    ) -> None:
        if deadline_margin < 0:
            raise ValueError(f"deadline_margin must be 0 or more seconds, not {deadline_margin!r}")
        self.handler = handler
        self.client = client
        self.stream = stream
        self.deadline_margin = deadline_margin
        self.adapter = handler if isinstance(handler, LambdaAdapter) else None
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._ensure_ascii = escapes_non_ascii(os.environ.get("AWS_EXECUTION_ENV", ""))
        self._waiting = False
        self._stopping = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop on which work after the response of a handler other than a `LambdaAdapter` runs (an
        adapter's runs on the adapter's own loop)."""
        if self._own_loop is None:
            self._own_loop = asyncio.new_event_loop()
        return self._own_loop

    def serve(self) -> None:
        """Runs invocations until SIGTERM (then shuts down and returns) or a Runtime API failure (raised)."""
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            while not self._stopping:
                try:
                    self._waiting = True
                    invocation = self.client.next()
                except _Shutdown:
                    break
                finally:
                    self._waiting = False
                self.handle(invocation)
            self.shutdown()
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        logger.info("SIGTERM: shutting down once no invocation is running")
        self._stopping = True
        if self._waiting:
            raise _Shutdown

    def shutdown(self, budget: float = SHUTDOWN_BUDGET) -> None:
        """Runs the lifespan shutdown within `budget` seconds and closes the event loop."""
        try:
            if self.adapter is not None:
                self.adapter.close(timeout=budget)
        except TimeoutError:
            logger.error("The lifespan shutdown did not finish within %d ms; stopped it", budget * 1000)
        except Exception:
            logger.exception("The lifespan shutdown failed")
        finally:
            if self._own_loop is not None:
                self._own_loop.close()
            self.client.close()

    def handle(self, invocation: Invocation) -> None:
        """Runs one invocation and posts its outcome; then runs what `after_response()` queued."""
        request_id = invocation.request_id
        set_invocation(request_id, invocation.tenant_id)
        if invocation.trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = invocation.trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        deadline = invocation.deadline_ms / 1000 - self.deadline_margin
        queued: list[Callable[[], Any]] = []
        token = pending_after_response.set(queued)
        try:
            try:
                context = InvocationContext(
                    request_id,
                    invocation.deadline_ms,
                    invoked_function_arn=invocation.invoked_function_arn,
                    client_context=invocation.client_context,
                    cognito_identity=invocation.cognito_identity,
                    tenant_id=invocation.tenant_id,
                )
            except ContextError as error:
                self._post_error(request_id, error, "Runtime.LambdaContextUnmarshalError", trace=False)
                return
            try:
                event = json.loads(invocation.body)
            except ValueError as error:
                self._post_error(
                    request_id, ValueError(f"Unable to unmarshal input: {error}"), "Runtime.UnmarshalError", False
                )
                return
            if self.adapter is not None:
                self._serve(self.adapter, event, context, deadline)
            else:
                self._call(event, context)
        finally:
            pending_after_response.reset(token)
        if queued:
            self._run(run_after_response(queued, deadline, request_id))

    def _run(self, coroutine: Any) -> None:
        if self.adapter is not None:
            self.adapter.run(coroutine)
        else:
            self.loop.run_until_complete(coroutine)

    def _serve(self, adapter: LambdaAdapter, event: Any, context: InvocationContext, deadline: float) -> None:
        """Has the adapter serve the invocation, its answer going to the Runtime API as soon as it is known."""
        answer = _Answer(self, context.aws_request_id)
        try:
            adapter.handle(event, context, answer, deadline=deadline)
        except RuntimeAPIError:
            raise
        except Exception as error:
            answer.fail(error)

    def _call(self, event: Any, context: InvocationContext) -> None:
        request_id = context.aws_request_id
        try:
            result = self.handler(event, context)
        except Exception as error:
            self._post_error(request_id, error)
            return
        self._post_result(request_id, result)

    def _post_result(self, request_id: str, result: Any) -> None:
        if isinstance(result, bytes):
            self.client.post_response(request_id, result, "application/unknown")
            return
        try:
            body = json.dumps(result, ensure_ascii=self._ensure_ascii).encode()
        except (TypeError, ValueError) as error:
            self._post_error(
                request_id, TypeError(f"Unable to marshal response: {error}"), "Runtime.MarshalError", trace=False
            )
            return
        self.client.post_response(request_id, body)

    def _post_error(
        self, request_id: str, error: BaseException, error_type: str | None = None, trace: bool = True
    ) -> None:
        document = error_document(error, error_type)
        if not trace:
            document["stackTrace"] = []
        document["requestId"] = request_id
        logger.error(
            "[ERROR] %s: %s [%s]", document["errorType"], document["errorMessage"], request_id, exc_info=trace and error
        )
        self.client.post_error(request_id, document, _xray_cause(error, document["errorType"]))


class _Answer:
    """How one invocation's answer reaches the Runtime API (the adapter's `Outlet`): a result posted whole, or
    an HTTP response streamed when streaming is on and its source can stream. It makes sure the invocation gets
    exactly one answer: a failure after the answer left is only logged, and a stream that fails part way ends
    with the error trailers."""

    __slots__ = ("answered", "request_id", "runtime", "stream")

    def __init__(self, runtime: Runtime, request_id: str) -> None:
        self.runtime = runtime
        self.request_id = request_id
        self.answered = False
        self.stream: StreamingSink | None = None

    def send_result(self, result: LambdaResponse | Any) -> None:
        self.answered = True
        self.runtime._post_result(self.request_id, result)

    def open_stream(
        self, source: type[EventSource], head: Callable[[int, Headers], LambdaResponse]
    ) -> ResponseSink | None:
        runtime = self.runtime
        if not (runtime.stream and issubclass(source, STREAMING_SOURCES)):
            return None
        self.answered = True
        writer = runtime.client.stream_response(self.request_id, HTTP_INTEGRATION_CONTENT_TYPE)
        self.stream = StreamingSink(writer, head)
        return self.stream

    def fail(self, error: Exception) -> None:
        """The invocation failed with `error` (an event the adapter refused, a trigger handler that raised)."""
        if not self.answered:
            self.runtime._post_error(self.request_id, error)
            return
        logger.error("Exception after the invocation was answered [%s]", self.request_id, exc_info=error)
        if self.stream is not None and not self.stream.ended:
            self.stream.cut_short(error)


def _xray_cause(error: BaseException, error_type: str) -> dict[str, Any]:
    # The X-Ray fault the managed runtime sends along (`make_xray_fault` in awslambdaric's bootstrap.py).
    frames = traceback.extract_tb(error.__traceback__)
    return {
        "working_directory": os.getcwd(),
        "exceptions": [
            {
                "message": str(error),
                "type": error_type,
                "stack": [{"label": frame.name, "path": frame.filename, "line": frame.lineno} for frame in frames],
            }
        ],
        "paths": sorted({frame.filename for frame in frames}),
    }


def initialize(spec: str, client: RuntimeClient, *, graceful_shutdown: bool = True) -> Callable[..., Any]:
    """The init phase: register for SIGTERM, load the handler and start a `LambdaAdapter`'s lifespan. A failure
    is posted to `/runtime/init/error`, logged, and ends the process (Lambda starts a new one)."""
    if graceful_shutdown:
        register_for_sigterm(client)
    try:
        handler = load_handler(spec)
        if isinstance(handler, LambdaAdapter):
            handler.startup()
    except InitError as error:
        fail_init(client, error, error.error_type, trace=False)
    except Exception as error:
        fail_init(client, error, None, trace=True)
    return handler


def fail_init(client: RuntimeClient, error: BaseException, error_type: str | None, trace: bool) -> None:
    document = error_document(error, error_type)
    if not trace:
        document["stackTrace"] = []
    logger.error("[ERROR] %s: %s", document["errorType"], document["errorMessage"], exc_info=trace and error)
    client.post_init_error(document)
    sys.exit(1)


def register_for_sigterm(client: RuntimeClient) -> None:
    """Registers an internal extension that subscribes to no event, the one thing that makes Lambda send the
    runtime SIGTERM before it shuts the environment down (internal extensions cannot take SHUTDOWN events).

    Lambda ends the init phase only once every registered extension has asked for its next event, so a daemon
    thread asks, on a connection of its own, and waits there for good (as `spawn_graceful_shutdown_handler`
    does in aws-lambda-rust-runtime). https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html
    """
    import threading

    try:
        identifier = client.register_extension(EXTENSION_NAME, [])
    except RuntimeAPIError as error:
        logger.warning("No graceful shutdown: registering the internal extension failed: %s", error)
        return
    waiter = RuntimeClient(client.address)

    def wait() -> None:
        try:
            waiter.next_extension_event(identifier)
        except RuntimeAPIError:
            pass
        finally:
            waiter.close()

    threading.Thread(target=wait, name="extension-next", daemon=True).start()
