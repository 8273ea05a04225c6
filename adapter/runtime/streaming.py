"""How the runtime streams an HTTP response: part by part as the application sends it, in the framing of Lambda's
HTTP integrations. (A buffered response is the engine's `adapter.http.BufferedSink`, posted whole.)

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
from collections.abc import Callable
from typing import Any

from adapter.runtime.client import ResponseWriter, error_document
from adapter.types import Headers, Response

HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER = b"\0" * 8


def prelude(shaped: dict[str, Any]) -> bytes:
    """The prelude from an event source's response shape with no body (`statusCode`, `headers`, and
    `cookies` for payload 2.0 or `multiValueHeaders` for payload 1.0), then the delimiter."""
    metadata = {key: value for key, value in shaped.items() if key not in ("body", "isBase64Encoded")}
    return json.dumps(metadata).encode() + PRELUDE_DELIMITER


class StreamingSink:
    """The engine's sink for a streamed response (`adapter.http.ResponseSink`): the prelude when the application
    starts its response, each chunk as it comes, and the end of the chunked request when it is complete.

    A response cut short ends with the error trailers, whatever cut it (the application raised, returned early
    or broke the protocol, or the deadline passed): Lambda then ends the client's response there and reports the
    invocation as failed, as uvicorn closes the connection. The prelude has already left, so its Content-Length,
    if the application gave one, could not be taken back; an aborted response cannot be taken for a whole one.
    """

    __slots__ = ("_head", "committed", "ended", "stream")

    def __init__(self, stream: ResponseWriter, head: Callable[[int, Headers], dict[str, Any]]) -> None:
        self.stream = stream
        self._head = head
        self.committed = False
        self.ended = False

    def start(self, status: int, headers: Headers) -> None:
        # Shaped first: headers the shaping refuses (InvalidResponse) leave nothing sent, and a 500 can go instead.
        head = prelude(self._head(status, headers))
        self.committed = True
        self.stream.write(head)

    def write(self, chunk: bytes, more: bool) -> None:
        self.stream.write(chunk)
        if not more:
            self.ended = True
            self.stream.finish()

    def replace(self, response: Response) -> None:
        self.start(response.status, list(response.headers))
        self.write(response.body, False)

    def cut_short(self, reason: BaseException) -> None:
        self.ended = True
        self.stream.fail(error_document(reason))
