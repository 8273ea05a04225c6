"""Where the runtime sends an HTTP response: whole, once the application sent its last byte (buffered), or part by
part as it sends them, in the framing of Lambda's HTTP integrations (streamed).

The streamed framing (`application/vnd.awslambda.http-integration-response`): a JSON prelude with the status,
headers and cookies, then 8 NUL bytes, then the body as it is produced. It is what `HttpResponseStream.from` writes
in aws-lambda-nodejs-runtime-interface-client (src/HttpResponseStream.js), and what Function URLs in
RESPONSE_STREAM mode and REST APIs with the STREAM response transfer mode read; API Gateway wants the prelude
within the first 16 KB.
https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode-lambda.html
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from adapter.runtime.client import ResponseStream
from adapter.sources import Response

HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER = b"\0" * 8

Headers = Iterable[tuple[bytes, bytes]]


def prelude(shaped: dict[str, Any]) -> bytes:
    """The prelude from an event source's response shape with no body (`statusCode`, `headers`, and
    `cookies` for payload 2.0 or `multiValueHeaders` for payload 1.0), then the delimiter."""
    metadata = {key: value for key, value in shaped.items() if key not in ("body", "isBase64Encoded")}
    return json.dumps(metadata).encode() + PRELUDE_DELIMITER


class BufferedSink:
    """Collects the response and posts it whole as soon as the application sends its last chunk, so that
    what the application does after that (background tasks) does not hold the response back."""

    __slots__ = ("_post", "chunks", "committed", "headers", "status")

    def __init__(self, post: Callable[[Response], None]) -> None:
        self._post = post
        self.status = 500
        self.headers: Headers = []
        self.chunks: list[bytes] = []
        self.committed = False

    def start(self, status: int, headers: Headers) -> None:
        self.status = status
        self.headers = headers

    def write(self, chunk: bytes, more: bool) -> None:
        if chunk:
            self.chunks.append(chunk)
        if not more:
            self.finish()

    def respond(self, response: Response) -> None:
        """Sends `response` instead of the application's (which never left)."""
        self.committed = True
        self._post(response)

    def finish(self) -> None:
        """Sends what the application sent so far, as the classic handler returns it."""
        self.respond(Response(self.status, self.headers, b"".join(self.chunks)))

    def fail(self, error: dict[str, Any]) -> None:
        # Nothing has left yet, and the classic handler returns what the application sent before it failed.
        self.finish()


class StreamingSink:
    """Sends the prelude when the application starts its response and each chunk as it comes; a failure after
    that ends the stream with the error trailers."""

    __slots__ = ("_prelude", "committed", "stream")

    def __init__(self, stream: ResponseStream, make_prelude: Callable[[int, Headers], bytes]) -> None:
        self.stream = stream
        self._prelude = make_prelude
        self.committed = False

    def start(self, status: int, headers: Headers) -> None:
        self.committed = True
        self.stream.write(self._prelude(status, headers))

    def write(self, chunk: bytes, more: bool) -> None:
        self.stream.write(chunk)
        if not more:
            self.stream.finish()

    def respond(self, response: Response) -> None:
        self.start(response.status, response.headers)
        self.write(response.body, False)

    def finish(self) -> None:
        self.stream.finish()

    def fail(self, error: dict[str, Any]) -> None:
        self.stream.fail(error)
