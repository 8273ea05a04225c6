"""A function behind a Function URL in RESPONSE_STREAM mode: adapter.runtime with streaming on, as the deployed
function runs it, with the Runtime API replaced by a queue that the gateway thread reads.

`adapter.runtime.Runtime` handles each invocation as it does in Lambda (the HTTP integration framing, the error
trailers when the application fails part way, the 504 near the deadline, the work after the response); what it
would post to the Runtime API goes on the invocation's queue instead: the stream's bytes as they are written
(the prelude first), then `Finished` or `Failed`, or a `Whole` response or a `Failed` error posted at once.
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming
"""

from __future__ import annotations

import logging
import queue
from typing import Any, TypeAlias

from adapter.runtime.client import Invocation, ResponseWriter, RuntimeAPIError

logger = logging.getLogger("adapter.local")

# "Response streaming functions can return payloads up to 200 MB" (20 MB, a soft limit, until July 2025):
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html
MAX_STREAMED_BYTES = 200 * 1024 * 1024


class Finished:
    """The stream ended normally."""


FINISHED = Finished()


class Failed:
    """The invocation failed: its error document, posted to `/error` or sent in the stream's error trailers."""

    __slots__ = ("error",)

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error


class Whole:
    """A response posted at once rather than streamed, with its content type."""

    __slots__ = ("body", "content_type")

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type


# What travels from the function to the gateway: the stream's bytes, then one of the others.
Part: TypeAlias = bytes | Finished | Failed | Whole


class ResponseTooLarge(RuntimeAPIError):
    """The response went past the streamed response limit; Lambda ends the stream there."""


def too_large(limit: int) -> dict[str, Any]:
    return {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size exceeded maximum allowed payload size ({limit} bytes).",
    }


class QueueStream:
    """A streamed response (`ResponseWriter`) onto the gateway's queue: each write goes on it as it comes, up to
    `max_bytes`."""

    __slots__ = ("_max_bytes", "_parts", "_sent")

    def __init__(self, parts: queue.SimpleQueue[Part], max_bytes: int) -> None:
        self._parts = parts
        self._max_bytes = max_bytes
        self._sent = 0

    def write(self, data: bytes) -> None:
        if not data:
            # An empty chunk would end a chunked body.
            return
        self._sent += len(data)
        if self._sent > self._max_bytes:
            self._parts.put(Failed(too_large(self._max_bytes)))
            raise ResponseTooLarge(f"the streamed response went past {self._max_bytes} bytes")
        self._parts.put(data)

    def finish(self) -> None:
        self._parts.put(FINISHED)

    def fail(self, error: dict[str, Any]) -> None:
        self._parts.put(Failed(error))


class Channel:
    """The Runtime API calls that `Runtime.handle()` makes (`RuntimeInterface`), onto the queue of the invocation
    being handled. Invocations are handed to `Runtime.handle()` directly, so there is no next one to ask for."""

    def __init__(self, max_bytes: int = MAX_STREAMED_BYTES) -> None:
        # Not connected to anything: the address only names the channel in the runtime's error messages.
        self.address = "the local gateway"
        self.max_bytes = max_bytes
        self.parts: queue.SimpleQueue[Part] = queue.SimpleQueue()

    def post_response(self, request_id: str, body: bytes, content_type: str = "application/json") -> None:
        if len(body) > self.max_bytes:
            logger.error("[ERROR] Function.ResponseSizeTooLarge: a response of %d bytes [%s]", len(body), request_id)
            self.parts.put(Failed(too_large(self.max_bytes)))
            return
        self.parts.put(Whole(body, content_type))

    def post_error(self, request_id: str, error: dict[str, Any], xray_cause: dict[str, Any] | None = None) -> None:
        self.parts.put(Failed(error))

    def next(self) -> Invocation:
        raise RuntimeAPIError("the local gateway hands each invocation to the runtime itself")

    def stream_response(self, request_id: str, content_type: str) -> ResponseWriter:
        # The runtime streams HTTP responses only, always in the HTTP integration framing (its content type).
        return QueueStream(self.parts, self.max_bytes)

    def close(self) -> None:
        pass
