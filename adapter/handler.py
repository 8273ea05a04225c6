"""`LambdaAdapter`: the Lambda entry point that runs an ASGI application."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from adapter.config import Config, build_config
from adapter.exceptions import ConfigurationError, EventError, InvalidResponse, MalformedEvent
from adapter.http import internal_error, run_http
from adapter.lifespan import Lifespan
from adapter.sources import DEFAULT_SOURCES, EventSource, Response, detect
from adapter.sources._base import LAMBDA_RESPONSE_BYTES
from adapter.types import ASGIApp, LambdaContext, LambdaEvent, LambdaResponse, Scope

if TYPE_CHECKING:
    from adapter.triggers import Triggers

logger = logging.getLogger("adapter")

# Lambda's own limit for a synchronous response; the load balancer's and CloudFront's are lower
# (`EventSource.response_limit`).
MAX_RESPONSE_BYTES = LAMBDA_RESPONSE_BYTES


def escapes_non_ascii(execution_env: str) -> bool:
    """Whether the managed runtime writes a response's non-ASCII characters as JSON escapes (six bytes or twelve
    each): before python3.12; from it they are written as UTF-8 (`Encoder` in awslambdaric's
    lambda_runtime_marshaller.py). `execution_env` is the AWS_EXECUTION_ENV variable."""
    version = execution_env.removeprefix("AWS_Lambda_python3.")
    return not (version.isdigit() and int(version) >= 12)


class LambdaAdapter:
    """Runs an ASGI application as a Lambda function handler.

    ```python
    from adapter import LambdaAdapter

    handler = LambdaAdapter(app)  # at import: once per execution environment
    ```

    Options (keyword-only, checked here; a bad value raises `ConfigurationError`):

    - `lifespan`: `"auto"` (default) runs the application's lifespan startup once, on the first invocation,
      and carries on without it if the application does not implement it; `"on"` requires it; `"off"` skips it.
    - `api_gateway_base_path`: the base path of an API Gateway custom-domain mapping (e.g. `"/v1"`). It becomes
      `root_path` for requests that arrive through it.
    - `text_mime_types`: more content types to return as text rather than base64.
    - `exclude_headers`: response header names to drop.
    - `sources`: the event sources to try, in order (default: HTTP API v2 and Function URLs, ALB, API Gateway
      payload 1.0, Lambda@Edge).
    - `triggers`: handlers for the function's other events (SQS, Kinesis, DynamoDB Streams, S3, SNS, EventBridge,
      schedules, direct invocations), from `adapter.triggers.Triggers`. They run on the same loop and see the
      same lifespan state as requests.
    """

    def __init__(
        self,
        # Any ASGI callable: typed loosely because frameworks and bridges declare the scope and messages in their
        # own ways (asgiref's and a2wsgi's TypedDicts, Starlette's MutableMapping), which mypy would set apart.
        app: Callable[..., Awaitable[None]],
        *,
        lifespan: str = "auto",
        api_gateway_base_path: str | None = "/",
        text_mime_types: list[str] | None = None,
        exclude_headers: list[str] | None = None,
        sources: tuple[type[EventSource], ...] = DEFAULT_SOURCES,
        triggers: Triggers | None = None,
    ) -> None:
        self.app: ASGIApp = app
        self.config: Config = build_config(
            lifespan=lifespan,
            api_gateway_base_path=api_gateway_base_path,
            text_mime_types=text_mime_types,
            exclude_headers=exclude_headers,
        )
        self.sources = tuple(sources)
        if triggers is not None:
            from adapter.triggers import Triggers

            if not isinstance(triggers, Triggers):
                raise ConfigurationError(f"triggers must be an adapter.triggers.Triggers, not {triggers!r}")
        self.triggers = triggers
        self._lifespan = Lifespan(app, self.config.lifespan)
        self._escapes_non_ascii = escapes_non_ascii(os.environ.get("AWS_EXECUTION_ENV", ""))
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The one event loop on which the application runs, for the life of the process."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
            # Lambda sends SIGTERM only to functions with extensions, so process exit is the moment to shut down.
            _close_at_exit(self)
        return self._loop

    def startup(self) -> None:
        """Run the lifespan startup now (e.g. at import, to do it during Lambda's init phase) if not done yet."""
        if self._lifespan.supported and not self._lifespan.started:
            self.loop.run_until_complete(self._lifespan.startup())

    def close(self, timeout: float | None = None) -> None:
        """Run the lifespan shutdown and close the event loop. Safe to call more than once.

        With a `timeout` (seconds), a shutdown that takes longer is cancelled and `TimeoutError` raised, after the
        loop is closed all the same.
        """
        self._close(timeout, at_exit=False)

    def _close(self, timeout: float | None, *, at_exit: bool) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self._loop = None
        try:
            loop.run_until_complete(asyncio.wait_for(self._lifespan.shutdown(), timeout))
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            if not at_exit:
                # Sync trigger handlers run in the loop's default executor; its threads end here. At exit,
                # concurrent.futures joins them itself, next, and Python 3.12 refuses the thread that
                # shutdown_default_executor() starts to wait for them.
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def __call__(self, event: LambdaEvent, context: LambdaContext | None) -> Any:
        triggers = self.triggers
        if triggers:
            kind = triggers.kind_of(event)
            if kind is not None:
                state = self._state()
                return self.loop.run_until_complete(
                    triggers.dispatch(kind, event, context, {} if state is None else state)
                )
        source, scope, body = self.http_request(event, context)
        request_id = getattr(context, "aws_request_id", "-")
        response = (self._loop or self.loop).run_until_complete(run_http(self.app, scope, body, request_id))
        return self.http_result(source, response, event, request_id)

    def http_request(self, event: LambdaEvent, context: LambdaContext | None) -> tuple[type[EventSource], Scope, bytes]:
        """The source of an HTTP event, and the ASGI scope and body it becomes (the lifespan state included)."""
        source = detect(event, self.sources)
        try:
            scope, body = source.to_request(event, context, self.config)
        except EventError:
            raise
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            # The sources check the fields they need; this names anything else that is not of the documented type.
            # A ValueError's text may quote the value (a header, say), which is not for the logs; it stays on the
            # exception's __cause__.
            detail = type(exc).__name__ if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            raise MalformedEvent(f"{source.name} event is malformed: {detail}") from exc

        if body:
            headers = scope["headers"]
            for name, _ in headers:
                if name == b"content-length" or name == b"transfer-encoding":
                    break
            else:
                # REST APIs drop the client's Content-Length (see the live capture in
                # tests/events/voker/rest-v1-live-encoding-probe.json), and WSGI bridges read exactly CONTENT_LENGTH
                # bytes of body: without it, Flask and Django behind a2wsgi would see an empty body.
                headers.append((b"content-length", str(len(body)).encode("ascii")))

        lifespan = self._lifespan
        if lifespan.started:
            # A shallow copy per invocation, as uvicorn gives each request: they share what startup put there.
            scope["state"] = lifespan.state.copy()
        elif lifespan.supported:
            state = self._state()
            if state is not None:
                scope["state"] = state
        return source, scope, body

    def http_result(
        self, source: type[EventSource], response: Response, event: LambdaEvent, request_id: str
    ) -> LambdaResponse:
        """The application's whole response in the shape `source` returns it, or a 500 when it is over what the
        service takes back (Lambda's 6 MB for a synchronous invocation, less for the load balancer and CloudFront)."""
        try:
            result = source.to_response(response, event, self.config)
        except InvalidResponse as exc:
            logger.error("%s; answering 500 [%s]", exc, request_id)
            return source.to_response(internal_error(), event, self.config)
        if len(response.body) > source.small_body_bytes:
            size, limit = _payload_size(result, self._escapes_non_ascii), source.response_limit(event)
            if size > limit:
                logger.error(
                    "Response of %d bytes is over the %d byte limit on responses to %s events; answering 500 [%s]",
                    size,
                    limit,
                    source.name,
                    request_id,
                )
                result = source.to_response(internal_error(b"Response too large for AWS Lambda"), event, self.config)
        return result

    def _state(self) -> dict[str, Any] | None:
        """The lifespan state for one invocation, HTTP or not, after starting the lifespan if it is not yet."""
        lifespan = self._lifespan
        if not lifespan.supported:
            return None
        if not lifespan.started:
            self.loop.run_until_complete(lifespan.startup())
        # A shallow copy per invocation, as uvicorn gives each request: they share what startup put there.
        return lifespan.state.copy() if lifespan.started else None


def _close_at_exit(adapter: LambdaAdapter) -> None:
    """Closes `adapter` when the process exits, unless it is gone or closed by then."""
    # At exit, Python stops the thread pools of concurrent.futures before it runs atexit callbacks (its
    # concurrent/futures/thread.py hooks `_python_exit` into threading._register_atexit), so a lifespan shutdown
    # run from atexit could not use asyncio.to_thread or run_in_executor. threading runs its exit hooks
    # last-registered first: one registered once that module is imported runs while the pools still work.
    import concurrent.futures.thread  # noqa: F401 (its hook is registered on import)

    reference = weakref.ref(adapter)

    def close() -> None:
        adapter = reference()
        if adapter is not None:
            try:
                adapter._close(None, at_exit=True)
            except Exception:
                # Raised out of threading's exit hook, it would also stop the hooks after this one.
                logger.exception("Closing the adapter at process exit failed")

    register: Callable[[Callable[[], None]], object] = getattr(threading, "_register_atexit", atexit.register)
    register(close)


def _payload_size(result: LambdaResponse, ascii_only: bool) -> int:
    """The size of the response as Lambda serialises it, to within a few bytes."""
    body = result.pop("body", "")
    try:
        envelope = len(json.dumps(result, ensure_ascii=ascii_only).encode())
    finally:
        result["body"] = body
    # A base64 body needs no escaping; a text one may (quotes, control and non-ASCII characters).
    body_size = (
        len(body)
        if result.get("isBase64Encoded") or result.get("bodyEncoding") == "base64"
        else len(json.dumps(body, ensure_ascii=ascii_only).encode())
    )
    return envelope + body_size + len(',"body":')
