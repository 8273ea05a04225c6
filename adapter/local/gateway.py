"""The HTTP side of `python -m adapter serve`: each request becomes the service's event, goes through the
function's environment, and its result goes back as the service would send it.

The server is the standard library's threading HTTP/1.1 server, so that `serve` needs nothing the adapter does
not: a thread per connection reads the request and waits for the one environment thread (see runtime.py), and
the status line is written as the service writes it (an ALB's statusDescription is the reason phrase).

Behind a Function URL in RESPONSE_STREAM mode (a streaming runtime), the response goes out as the function sends
it: the status and headers of its prelude, then each chunk of its body with chunked transfer encoding.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from adapter.local.events import ClientRequest, Gateway, build_event
from adapter.local.responses import (
    GATEWAY_TIMEOUTS,
    MAX_ALB_BYTES,
    MAX_API_GATEWAY_BODY,
    MAX_EVENT_BYTES,
    HTTPResponse,
    MalformedResponse,
    gateway_error,
    http_response,
)
from adapter.local.runtime import FunctionRuntime, InvocationOutcome
from adapter.local.streaming import Finished, Part, Whole
from adapter.runtime.streaming import PRELUDE_DELIMITER

logger = logging.getLogger("adapter.local")

_DEFAULT = object()


class BadRequest(Exception):
    """The request cannot be read as HTTP: answered 400 with a problem body."""


class RequestTooLarge(Exception):
    """The body is over what the service accepts."""


class GatewayServer(ThreadingHTTPServer):
    """Serves `gateway` in front of `runtime` on `address` (loopback by default).

    `gateway_timeout` is the service's integration timeout in seconds (29 for REST, 30 for HTTP APIs, none for
    Function URLs and ALB, which wait for the function's own timeout); `None` turns it off.
    """

    daemon_threads = True
    # Connections kept alive by clients must not hold up server_close().
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        gateway: Gateway,
        runtime: FunctionRuntime,
        *,
        gateway_timeout: Any = _DEFAULT,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.gateway = gateway
        self.runtime = runtime
        self.gateway_timeout: float | None = (
            GATEWAY_TIMEOUTS.get(gateway.format) if gateway_timeout is _DEFAULT else gateway_timeout
        )
        self.max_event_bytes = max_event_bytes
        if gateway.format == "alb":
            self.max_body_bytes = MAX_ALB_BYTES
        elif gateway.format == "function-url":
            self.max_body_bytes = max_event_bytes
        else:
            self.max_body_bytes = MAX_API_GATEWAY_BODY
        super().__init__(address, GatewayRequestHandler)

    @property
    def url(self) -> str:
        """The base URL of the API: the server's address, then the stage or base path."""
        host = self.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.server_port}{self.gateway.url_prefix}/"

    @property
    def host(self) -> str:
        return str(self.server_address[0])


class GatewayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body leave in two writes: with Nagle's algorithm, the second waits for the client's
    # delayed ACK (40 ms on Linux) on a kept-alive connection.
    disable_nagle_algorithm = True
    server: GatewayServer

    def handle_expect_100(self) -> bool:
        # A client that asks before sending a body that is too large hears 413 without sending it.
        try:
            self._declared_length()
        except (RequestTooLarge, BadRequest) as error:
            self._refuse(error, str(uuid.uuid4()))
            return False
        return super().handle_expect_100()

    def do_request(self) -> None:
        request_id = str(uuid.uuid4())
        try:
            body = self._read_body()
            path, _, query = self.path.partition("?")
            if not path.startswith("/"):
                raise BadRequest(f"the request target must be a path starting with '/', not {self.path[:100]!r}")
        except (RequestTooLarge, BadRequest) as error:
            self._refuse(error, request_id)
            return
        response = self._respond(path, query, body, request_id)
        if response is not None:
            self._send(response)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_request

    def _respond(self, path: str, query: str, body: bytes, request_id: str) -> HTTPResponse | None:
        """The response to send, or None when it has been streamed already."""
        server = self.server
        gateway = server.gateway
        # http.server reads header bytes as Latin-1; AWS puts them into the event as UTF-8 text (bytes that are not
        # UTF-8 do not survive there either).
        headers = [(name, value.encode("latin-1").decode("utf-8", "replace")) for name, value in self.headers.items()]
        request = ClientRequest(self.command, path, query, headers, body, self.client_address[0])
        host = self.headers.get("Host") or f"{server.host}:{server.server_port}"
        event = build_event(gateway, request, request_id=request_id, host=host, port=server.server_port, scheme="http")
        if event is None:
            return gateway_error(gateway, "no_route", request_id)
        payload = json.dumps(event)
        if len(payload) > server.max_event_bytes:
            logger.error(
                "The event for %s %s is %d bytes, over Lambda's %d byte limit for a synchronous invocation;"
                " answering 413 [%s]",
                request.method,
                gateway.format,
                len(payload),
                server.max_event_bytes,
                request_id,
            )
            return gateway_error(gateway, "too_large", request_id)
        if server.runtime.stream:
            return self._stream(payload, request, request_id)
        outcome = server.runtime.invoke(payload, request_id).wait(server.gateway_timeout)
        if outcome.gateway_timed_out:
            return self._gateway_timed_out(request_id)
        if outcome.result is None:
            return gateway_error(gateway, "function", request_id)
        if gateway.format == "alb" and len(outcome.result) > MAX_ALB_BYTES:
            logger.error(
                "The response is %d bytes, over the load balancer's %d byte limit for a Lambda target; answering"
                " 502 [%s]",
                len(outcome.result),
                MAX_ALB_BYTES,
                request_id,
            )
            return gateway_error(gateway, "function", request_id)
        try:
            return http_response(gateway, json.loads(outcome.result), request, request_id)
        except MalformedResponse as error:
            response = gateway_error(gateway, error.kind, request_id)
            logger.error("Malformed Lambda proxy response: %s; answering %d [%s]", error, response.status, request_id)
            return response

    def _gateway_timed_out(self, request_id: str) -> HTTPResponse:
        server = self.server
        logger.error(
            "The function did not answer within the %s integration timeout of %.2f s; answering as the service does"
            " [%s]",
            server.gateway.format,
            server.gateway_timeout,
            request_id,
        )
        return gateway_error(server.gateway, "timeout", request_id)

    def _stream(self, payload: str, request: ClientRequest, request_id: str) -> HTTPResponse | None:
        """Runs a streamed invocation: its prelude becomes the status line and headers, and each chunk of its
        body leaves as it comes. None once the response has gone out (or the connection was cut)."""
        server = self.server
        gateway = server.gateway
        parts = server.runtime.invoke(payload, request_id).read(server.gateway_timeout)
        part = next(parts)
        if isinstance(part, Whole):
            # A response posted whole is not in the HTTP integration framing: a streaming Function URL passes it on
            # as it is, with its content type (the JSON of a handler that does not stream, statusCode and all).
            return HTTPResponse(200, [("Content-Type", part.content_type), ("x-amzn-RequestId", request_id)], part.body)
        if not isinstance(part, bytes):
            if isinstance(part, InvocationOutcome) and part.gateway_timed_out:
                return self._gateway_timed_out(request_id)
            return gateway_error(gateway, "function", request_id)
        # The runtime writes the prelude (its JSON, then 8 NUL bytes) in one piece, before any of the body.
        prelude, _, first = part.partition(PRELUDE_DELIMITER)
        try:
            response = http_response(gateway, json.loads(prelude), request, request_id)
        except ValueError as error:
            response = gateway_error(gateway, "function", request_id)
            logger.error("Malformed response prelude: %s; answering %d [%s]", error, response.status, request_id)
            return response
        self._send_stream(response, first, parts, request_id)
        return None

    def _send_stream(
        self, response: HTTPResponse, first: bytes, parts: Iterator[Part | InvocationOutcome], request_id: str
    ) -> None:
        try:
            self._send_head(response, ("Transfer-Encoding", "chunked"))
            self._write_chunk(first)
            for part in parts:
                if isinstance(part, bytes):
                    self._write_chunk(part)
                elif isinstance(part, Finished):
                    self._write_body(b"0\r\n\r\n")
                else:
                    # The runtime ended the stream with its error trailers (or the function stopped): the status has
                    # gone out, so the Function URL can only end the response by closing the connection, without the
                    # last chunk, and the client sees an incomplete body, not a complete one (RFC 9112 8).
                    # https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming
                    logger.error(
                        "The response stream ended with an error; closing the connection without ending its body [%s]",
                        request_id,
                    )
                    self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            # The client went away; the function streams on, as it does in Lambda.
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        # One chunk per part, as it comes (RFC 9112 7.1); an empty one would end the body.
        if data:
            self._write_body(b"%X\r\n%b\r\n" % (len(data), data))

    def _write_body(self, data: bytes) -> None:
        if self.command != "HEAD":
            self.wfile.write(data)

    def _declared_length(self) -> int | None:
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        if not length.strip().isdigit():
            raise BadRequest(f"Content-Length must be a number of bytes, not {length[:40]!r}")
        if int(length) > self.server.max_body_bytes:
            raise RequestTooLarge(f"a body of {int(length)} bytes")
        return int(length)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self._declared_length()
        if not length:
            return b""
        body = self.rfile.read(length)
        if len(body) < length:
            raise BadRequest(f"the body ended after {len(body)} of the {length} bytes Content-Length announced")
        return body

    def _read_chunked(self) -> bytes:
        # RFC 9112 7.1: size line (hex, maybe with extensions), data, CRLF; a zero size ends it, then trailers.
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest(f"bad chunk size line {line[:40]!r}") from None
            if size == 0:
                break
            total += size
            if total > self.server.max_body_bytes:
                raise RequestTooLarge(f"a chunked body of more than {total} bytes")
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(3) != b"\r\n":
                raise BadRequest("the chunked body ended early")
            chunks.append(chunk)
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(chunks)

    def _refuse(self, error: Exception, request_id: str) -> None:
        # The rest of the body is not read, so the connection cannot carry another request.
        self.close_connection = True
        if isinstance(error, RequestTooLarge):
            logger.error(
                "Refused %s: over the %d bytes %s accepts; answering 413 [%s]",
                error,
                self.server.max_body_bytes,
                self.server.gateway.format,
                request_id,
            )
            self._send(gateway_error(self.server.gateway, "too_large", request_id))
            return
        problem = {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": f"Bad request: {error}."}
        body = json.dumps(problem).encode()
        self._send(HTTPResponse(400, [("Content-Type", "application/problem+json")], body))

    def _send(self, response: HTTPResponse) -> None:
        try:
            self._send_head(response, ("Content-Length", str(len(response.body))))
            self._write_body(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client went away; there is nobody to tell.
            self.close_connection = True

    def _send_head(self, response: HTTPResponse, framing: tuple[str, str]) -> None:
        self.send_response_only(response.status, response.reason)
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            # The function's strings go on the wire as UTF-8, the encoding AWS reads request headers into the event
            # with (send_header writes Latin-1).
            self.send_header(name, value.encode("utf-8", "replace").decode("latin-1"))
        self.send_header(*framing)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        # The function logs each request it handles; the server's own lines would only repeat them.
        logger.debug(format, *args)


@contextmanager
def running(server: GatewayServer) -> Iterator[str]:
    """Serves in a background thread while the block runs; yields the API's base URL."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
