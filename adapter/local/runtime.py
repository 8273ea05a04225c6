"""One Lambda execution environment, in this process: the handler loaded once, invocations run one at a time
on a worker thread, with Lambda's timeout, payload limits, error payloads and START/END/REPORT log lines.

With `stream=True` the function runs as it does behind a Function URL in RESPONSE_STREAM mode, under
adapter.runtime with streaming on (see streaming.py): the gateway reads each invocation's response as it is sent.

A worker thread, because the handler may own an event loop (`LambdaAdapter` runs its application with
`run_until_complete`, which cannot be called from a thread whose loop is already running), and one at a time,
because an execution environment takes one invocation at a time: where Lambda would start more environments,
requests here wait their turn. A handler that runs past its timeout cannot be stopped from outside its thread:
the invocation fails as Lambda fails it, and the thread goes on until the handler returns, while the next
invocations wait.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import queue
import resource
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from adapter.local.context import LocalContext
from adapter.local.responses import MAX_RESULT_BYTES
from adapter.local.streaming import MAX_STREAMED_BYTES, Channel, Part, ResponseTooLarge
from adapter.runtime.client import Invocation as RuntimeInvocation
from adapter.runtime.loop import Runtime
from adapter.runtime.main import milliseconds_setting

logger = logging.getLogger("adapter.local")

Handler = Callable[[Any, Any], Any]

# The account in the ARNs of a local function, as in its context and its events.
ACCOUNT_ID = "123456789012"


class HandlerError(Exception):
    """The handler cannot be loaded; the message says why in one line, `details` holds a traceback if any."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class FunctionConfig:
    """What the function is: its handler (`package.module.function` as in Lambda, or `package.module:function`),
    timeout in seconds, memory in MB, environment variables and the folder its code is in."""

    __slots__ = ("code_dir", "environment", "handler", "memory", "name", "region", "timeout")

    def __init__(
        self,
        handler: str,
        *,
        name: str | None = None,
        timeout: float = 3.0,
        memory: int = 128,
        environment: Mapping[str, str] | None = None,
        code_dir: Path | None = None,
        region: str | None = None,
    ) -> None:
        self.handler = handler
        self.name = name or "local-function"
        # Lambda's defaults: 3 s and 128 MB. https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html
        self.timeout = timeout
        self.memory = memory
        self.environment = dict(environment or {})
        self.code_dir = code_dir
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def import_handler(spec: str) -> Handler:
    """The handler named by `spec`, imported as Lambda's runtime imports it; `HandlerError` says what failed."""
    module_name, separator, attribute = spec.rpartition(":")
    if not separator:
        module_name, _, attribute = spec.rpartition(".")
    if (
        not module_name
        or not attribute
        or not all(part.isidentifier() for part in [*module_name.split("."), attribute])
    ):
        raise HandlerError(
            f"Bad handler {spec!r}: give the module and the function, as in Lambda's Handler setting"
            " (package.module.function) or as package.module:function"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            # The handler's own module (or package) is missing, as Lambda's Runtime.ImportModuleError says.
            raise HandlerError(f"Unable to import module {module_name!r}: No module named {error.name!r}") from None
        raise HandlerError(
            f"Unable to import module {module_name!r}: {type(error).__name__}: {error}", traceback.format_exc()
        ) from None
    except Exception as error:
        raise HandlerError(
            f"Unable to import module {module_name!r}: {type(error).__name__}: {error}", traceback.format_exc()
        ) from None
    handler = getattr(module, attribute, None)
    if handler is None:
        raise HandlerError(f"Handler {attribute!r} missing on module {module_name!r}")
    if not callable(handler):
        raise HandlerError(
            f"Handler {attribute!r} on module {module_name!r} is a {type(handler).__name__}, not callable"
        )
    return handler  # type: ignore[no-any-return]


class InvocationOutcome:
    """How an invocation ended: `result` (the JSON the function returned), or `error` (Lambda's error payload),
    or neither when the gateway stopped waiting first (`gateway_timed_out`)."""

    __slots__ = ("error", "gateway_timed_out", "result")

    def __init__(
        self, result: str | None = None, error: dict[str, Any] | None = None, *, gateway_timed_out: bool = False
    ) -> None:
        self.result = result
        self.error = error
        self.gateway_timed_out = gateway_timed_out


def _error(request_id: str, error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    # The payload of a failed invocation, as the Python runtime reports it.
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack or []}


class QueuedInvocation:
    """One invocation, queued on the environment's worker thread. A streamed one (`parts`) hands its response
    to the gateway part by part, through `read()`."""

    def __init__(
        self, runtime: FunctionRuntime, payload: str, request_id: str, parts: queue.SimpleQueue[Part] | None = None
    ) -> None:
        self.runtime = runtime
        self.payload = payload
        self.request_id = request_id
        self.parts = parts
        self.started = threading.Event()
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._outcome: InvocationOutcome | None = None
        self._abandoned = False
        self._started_at = 0.0

    def wait(self, gateway_timeout: float | None = None) -> InvocationOutcome:
        """The outcome, once the function returns, fails or times out, or the gateway's own timeout passes
        (counted from now, which includes the time spent waiting for the environment)."""
        gateway_deadline = _deadline(gateway_timeout)
        if not self._wait_for_start(gateway_deadline):
            return InvocationOutcome(gateway_timed_out=True)
        function_deadline = self._started_at + self.runtime.config.timeout
        if self.done.wait(_remaining(min(gateway_deadline, function_deadline))):
            assert self._outcome is not None
            return self._outcome
        if gateway_deadline < function_deadline:
            return InvocationOutcome(gateway_timed_out=True)
        return self._timed_out()

    def read(self, gateway_timeout: float | None = None) -> Iterator[Part | InvocationOutcome]:
        """A streamed invocation's parts as the function sends them: bytes, then a `Finished`, `Failed` or
        `Whole`; or an `InvocationOutcome` when the function's timeout or the gateway's passes first."""
        gateway_deadline = _deadline(gateway_timeout)
        if self._wait_for_start(gateway_deadline):
            yield from self._parts(gateway_deadline)
        else:
            yield InvocationOutcome(gateway_timed_out=True)

    def _parts(self, gateway_deadline: float) -> Iterator[Part | InvocationOutcome]:
        assert self.parts is not None, "read() is for streamed invocations"
        function_deadline = self._started_at + self.runtime.config.timeout
        while True:
            try:
                part = self.parts.get(timeout=_remaining(min(gateway_deadline, function_deadline)))
            except queue.Empty:
                yield (
                    InvocationOutcome(gateway_timed_out=True)
                    if gateway_deadline < function_deadline
                    else self._timed_out()
                )
                return
            yield part
            if not isinstance(part, bytes):
                return

    def _wait_for_start(self, gateway_deadline: float) -> bool:
        if self.started.wait(_remaining(gateway_deadline)):
            return True
        # Still queued: it will not run (one that started this very moment runs on, unanswered).
        with self._lock:
            self._abandoned = True
        return False

    def _timed_out(self) -> InvocationOutcome:
        timeout = self.runtime.config.timeout
        outcome = InvocationOutcome(
            error=_error(self.request_id, "Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")
        )
        with self._lock:
            # A handler that returned at this very moment counts as timed out, as it would in Lambda.
            self._outcome = outcome
        logger.error("%s %s Task timed out after %.2f seconds", _timestamp(), self.request_id, timeout)
        self.runtime.report(self.request_id, self._started_at, status="timeout")
        return outcome

    def run(self) -> None:
        with self._lock:
            if self._abandoned:
                return
            self._started_at = time.monotonic()
            self.started.set()
        if self.parts is None:
            outcome = self.runtime.call(self.payload, self.request_id, self._started_at)
        else:
            outcome = self.runtime.call_streaming(self.payload, self.request_id, self._started_at, self.parts)
        with self._lock:
            late = self._outcome is not None
            if not late:
                self._outcome = outcome
        if late:
            logger.warning(
                "The handler of %s returned %.2f s after its %.2f s timeout; Lambda would have stopped it",
                self.request_id,
                time.monotonic() - self._started_at - self.runtime.config.timeout,
                self.runtime.config.timeout,
            )
        else:
            self.runtime.report(self.request_id, self._started_at)
        self.done.set()


def _deadline(timeout: float | None) -> float:
    return math.inf if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float) -> float | None:
    return None if deadline == math.inf else max(0.0, deadline - time.monotonic())


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class FunctionRuntime:
    """The function's execution environment: `start()` loads the handler (the init phase), `invoke()` queues
    an invocation, `close()` stops the worker thread once the running invocation is over.

    With `stream`, the handler runs under adapter.runtime with streaming on, as behind a Function URL in
    RESPONSE_STREAM mode, and each invocation's response is read part by part (`QueuedInvocation.read()`), up to
    `max_streamed_bytes`.
    """

    def __init__(
        self,
        config: FunctionConfig,
        *,
        max_result_bytes: int = MAX_RESULT_BYTES,
        stream: bool = False,
        max_streamed_bytes: int = MAX_STREAMED_BYTES,
    ) -> None:
        self.config = config
        self.max_result_bytes = max_result_bytes
        self.stream = stream
        self.max_streamed_bytes = max_streamed_bytes
        self.handler: Handler | None = None
        self._channel: Channel | None = None
        self._streaming: Runtime | None = None
        self.init_duration_ms: float | None = None
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda-environment")

    def environment(self) -> dict[str, str]:
        """The variables Lambda sets for the function, then the function's own.

        LAMBDA_TASK_ROOT is left out on purpose: code that finds it believes it runs in Lambda's managed runtime
        and, for instance, sends X-Ray segments to a daemon that is not there.
        https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
        """
        config = self.config
        return {
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream_name,
            "AWS_REGION": config.region,
            "_HANDLER": config.handler,
            **config.environment,
        }

    def start(self) -> None:
        """Sets the environment variables and imports the handler; `HandlerError` when it cannot be loaded."""
        os.environ.update(self.environment())
        if self.config.code_dir is not None and str(self.config.code_dir) not in sys.path:
            sys.path.insert(0, str(self.config.code_dir))
        started = time.perf_counter()
        self.handler = import_handler(self.config.handler)
        self.init_duration_ms = (time.perf_counter() - started) * 1000
        if self.stream:
            # The function's setting, read as adapter.runtime reads it: a bad value stops the function.
            margin = milliseconds_setting(os.environ, "ADAPTER_RUNTIME_DEADLINE_MARGIN_MS", default=500) / 1000
            self._channel = Channel(self.max_streamed_bytes)
            self._streaming = Runtime(self.handler, self._channel, stream=True, deadline_margin=margin)

    def invoke(self, payload: str, request_id: str | None = None) -> QueuedInvocation:
        """Queues an invocation with `payload` (the event as JSON); `wait()` on the result for its outcome, or
        `read()` its parts when the environment streams."""
        parts: queue.SimpleQueue[Part] | None = queue.SimpleQueue() if self.stream else None
        invocation = QueuedInvocation(self, payload, request_id or str(uuid.uuid4()), parts)
        self._executor.submit(invocation.run)
        return invocation

    def call(self, payload: str, request_id: str, started_at: float) -> InvocationOutcome:
        """Runs the handler on this thread, as the runtime does: a fresh copy of the event, the result
        serialised to JSON, its size checked."""
        assert self.handler is not None, "start() loads the handler first"
        config = self.config
        logger.info("START RequestId: %s Version: $LATEST", request_id)
        context = LocalContext(
            aws_request_id=request_id,
            function_name=config.name,
            memory_limit_in_mb=config.memory,
            timeout=config.timeout - (time.monotonic() - started_at),
            region=config.region,
            log_stream_name=self.log_stream_name,
        )
        try:
            result = self.handler(json.loads(payload), context)
        except Exception as error:
            stack = traceback.format_exception(error)
            logger.error("[ERROR] %s: %s\n%s", type(error).__name__, error, "".join(stack).rstrip())
            return InvocationOutcome(error=_error(request_id, type(error).__name__, str(error), stack[1:]))
        try:
            serialised = json.dumps(result)
        except (TypeError, ValueError) as error:
            message = f"Unable to marshal response: {error}"
            logger.error("[ERROR] Runtime.MarshalError: %s", message)
            return InvocationOutcome(error=_error(request_id, "Runtime.MarshalError", message))
        if len(serialised) > self.max_result_bytes:
            message = f"Response payload size exceeded maximum allowed payload size ({self.max_result_bytes} bytes)."
            logger.error("[ERROR] Function.ResponseSizeTooLarge: %s (%d bytes)", message, len(serialised))
            return InvocationOutcome(error=_error(request_id, "Function.ResponseSizeTooLarge", message))
        return InvocationOutcome(result=serialised)

    def call_streaming(
        self, payload: str, request_id: str, started_at: float, parts: queue.SimpleQueue[Part]
    ) -> InvocationOutcome:
        """Runs the invocation through adapter.runtime on this thread, its response going to `parts`."""
        assert self._streaming is not None and self._channel is not None, "start() makes the runtime first"
        config = self.config
        logger.info("START RequestId: %s Version: $LATEST", request_id)
        remaining = config.timeout - (time.monotonic() - started_at)
        arn = f"arn:aws:lambda:{config.region}:{ACCOUNT_ID}:function:{config.name}"
        # What /runtime/invocation/next would say about it: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-next
        headers = {
            "lambda-runtime-aws-request-id": request_id,
            "lambda-runtime-deadline-ms": str(int((time.time() + remaining) * 1000)),
            "lambda-runtime-invoked-function-arn": arn,
        }
        self._channel.parts = parts
        try:
            self._streaming.handle(RuntimeInvocation(payload.encode(), headers))
        except ResponseTooLarge as error:
            logger.error("[ERROR] Function.ResponseSizeTooLarge: %s [%s]", error, request_id)
            return InvocationOutcome(error=_error(request_id, "Function.ResponseSizeTooLarge", str(error)))
        return InvocationOutcome()

    def report(self, request_id: str, started_at: float, status: str | None = None) -> None:
        """END and REPORT lines, with the fields and tabs of Lambda's: https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html"""
        duration = (time.monotonic() - started_at) * 1000
        # ru_maxrss is in kilobytes on Linux (bytes on macOS): the peak of the whole process, where Lambda's
        # is the environment's.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_mb = peak // (1024 * 1024) if sys.platform == "darwin" else peak // 1024
        fields = [
            f"Duration: {duration:.2f} ms",
            f"Billed Duration: {math.ceil(duration)} ms",
            f"Memory Size: {self.config.memory} MB",
            f"Max Memory Used: {peak_mb} MB",
        ]
        if self.init_duration_ms is not None:
            # Only the first invocation of an environment reports its init phase.
            fields.append(f"Init Duration: {self.init_duration_ms:.2f} ms")
            self.init_duration_ms = None
        if status is not None:
            fields.append(f"Status: {status}")
        logger.info("END RequestId: %s", request_id)
        logger.info("REPORT RequestId: %s\t%s\t", request_id, "\t".join(fields))

    def close(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=True)
        if wait and self._streaming is not None:
            # The environment's end, as adapter.runtime meets it on SIGTERM: the lifespan shutdown, the loop closed.
            self._streaming.shutdown()
