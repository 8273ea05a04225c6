"""The Lambda Runtime API, over one persistent HTTP/1.1 connection (standard library only).

HTTP/1.1 is spoken here directly on the socket rather than through `http.client`, whose header parsing (the
`email` package) costs more per invocation than everything else the loop does, and whose import costs a cold
start some milliseconds: the Runtime API is one known server on loopback, answering with small bodies.

https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import traceback
from typing import Any, BinaryIO, Protocol

API = "/2018-06-01/runtime"
EXTENSION_API = "/2020-01-01/extension"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"
XRAY_ERROR_CAUSE_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause"
# X-Ray takes the error cause from a header, which Lambda caps: awslambdaric drops causes of 1 MiB or more.
_MAX_XRAY_CAUSE = 1024 * 1024
# What the Runtime API answers a second response or error for the same invocation: the first was recorded. A
# retried POST meets it when the connection dropped after the first attempt was received.
_ALREADY_ANSWERED = (403, 409)

logger = logging.getLogger("adapter.runtime")


def error_document(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """Lambda's error payload for `error`, as the managed runtime makes it (`make_error` in awslambdaric)."""
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
    }


class RuntimeAPIError(Exception):
    """The Runtime API refused a request or could not be reached. Lambda's answer to a runtime in that state is
    to replace it, so the loop ends and the process exits ("Runtime should exit promptly")."""


class Invocation:
    """One event from `/runtime/invocation/next`: its body, untouched, and the headers about it."""

    __slots__ = (
        "body",
        "client_context",
        "cognito_identity",
        "content_type",
        "deadline_ms",
        "invoked_function_arn",
        "request_id",
        "tenant_id",
        "trace_id",
    )

    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        request_id = headers.get("lambda-runtime-aws-request-id")
        deadline = headers.get("lambda-runtime-deadline-ms")
        if not request_id:
            raise RuntimeAPIError("the next invocation has no Lambda-Runtime-Aws-Request-Id header")
        try:
            self.deadline_ms = int(deadline or "")
        except ValueError:
            raise RuntimeAPIError(
                f"the next invocation's Lambda-Runtime-Deadline-Ms is not a number: {deadline!r}"
            ) from None
        self.body = body
        self.request_id = request_id
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.trace_id = headers.get("lambda-runtime-trace-id")
        self.client_context = headers.get("lambda-runtime-client-context")
        self.cognito_identity = headers.get("lambda-runtime-cognito-identity")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        self.content_type = headers.get("content-type")


class ResponseWriter(Protocol):
    """Where a streamed invocation response is written: `ResponseStream` on the Runtime API, or the local
    gateway's queue."""

    def write(self, data: bytes) -> None: ...

    def finish(self) -> None: ...

    def fail(self, error: dict[str, Any]) -> None: ...


class RuntimeInterface(Protocol):
    """The Runtime API calls that `adapter.runtime.Runtime` makes for each invocation: `RuntimeClient` over
    HTTP, or the local gateway's channel in this process."""

    address: str

    def next(self) -> Invocation: ...

    def post_response(self, request_id: str, body: bytes, content_type: str = "application/json") -> None: ...

    def post_error(self, request_id: str, error: dict[str, Any], xray_cause: dict[str, Any] | None = None) -> None: ...

    def stream_response(self, request_id: str, content_type: str) -> ResponseWriter: ...

    def close(self) -> None: ...


class RuntimeClient:
    """Requests to the Runtime API at `address` (`AWS_LAMBDA_RUNTIME_API`, host:port), one at a time.

    The connection is kept open between requests: a request costs one round trip on loopback, not a TCP
    handshake too. A streamed response closes it, as the streaming contract asks.
    """

    def __init__(self, address: str) -> None:
        host, separator, port = address.rpartition(":")
        if not separator or not host or not port.isdigit():
            raise ValueError(f"AWS_LAMBDA_RUNTIME_API must be host:port, not {address!r}")
        self.address = address
        self._connection = Connection(host.strip("[]"), int(port))

    def close(self) -> None:
        self._connection.close()

    def next(self) -> Invocation:
        """Waits for the next invocation (Lambda freezes the environment while there is none)."""
        status, headers, body = self._request("GET", f"{API}/invocation/next")
        if status != 200:
            raise RuntimeAPIError(f"GET /runtime/invocation/next answered {status}: {_excerpt(body)}")
        return Invocation(body, headers)

    def post_response(self, request_id: str, body: bytes, content_type: str = "application/json") -> None:
        self._post(f"{API}/invocation/{request_id}/response", body, {"Content-Type": content_type})

    def post_error(self, request_id: str, error: dict[str, Any], xray_cause: dict[str, Any] | None = None) -> None:
        self._post(
            f"{API}/invocation/{request_id}/error", json.dumps(error).encode(), _error_headers(error, xray_cause)
        )

    def post_init_error(self, error: dict[str, Any]) -> None:
        self._post(f"{API}/init/error", json.dumps(error).encode(), _error_headers(error, None))

    def stream_response(self, request_id: str, content_type: str) -> ResponseStream:
        """A streamed response for the invocation; nothing is sent until its first write."""
        return ResponseStream(self, f"{API}/invocation/{request_id}/response", content_type)

    def register_extension(self, name: str, events: list[str]) -> str:
        """Registers an extension of this process, returning the identifier its next-event calls need."""
        status, headers, body = self._request(
            "POST",
            f"{EXTENSION_API}/register",
            json.dumps({"events": events}).encode(),
            {"Lambda-Extension-Name": name, "Content-Type": "application/json"},
        )
        identifier = headers.get("lambda-extension-identifier")
        if status != 200 or not identifier:
            raise RuntimeAPIError(f"POST /extension/register answered {status}: {_excerpt(body)}")
        return identifier

    def next_extension_event(self, identifier: str) -> bytes:
        status, _, body = self._request(
            "GET", f"{EXTENSION_API}/event/next", headers={"Lambda-Extension-Identifier": identifier}
        )
        if status != 200:
            raise RuntimeAPIError(f"GET /extension/event/next answered {status}: {_excerpt(body)}")
        return body

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        status, _, answer, retried = self._exchange("POST", path, body, headers)
        if status == 202:
            return
        if retried and status in _ALREADY_ANSWERED and "/invocation/" in path:
            # The first attempt reached the Runtime API before the connection dropped, and was recorded: the
            # invocation has its answer, and the runtime goes on to the next one.
            logger.warning(
                "POST %s was retried on a new connection and answered %d: the first attempt was recorded",
                path.removeprefix("/2018-06-01"),
                status,
            )
            return
        raise RuntimeAPIError(f"POST {path.removeprefix('/2018-06-01')} answered {status}: {_excerpt(answer)}")

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        status, answer_headers, answer, _ = self._exchange(method, path, body, headers)
        return status, answer_headers, answer

    def _exchange(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str] | None
    ) -> tuple[int, dict[str, str], bytes, bool]:
        """The answer to one request, and whether it took a second attempt on a new connection."""
        connection = self._connection
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.address}\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        if body is not None:
            head += f"Content-Length: {len(body)}\r\n"
        request = (head + "\r\n").encode("latin-1") + (body or b"")
        for attempt in (1, 2):
            reused = connection.is_open
            try:
                connection.send(request)
                return (*connection.read_response(), attempt == 2)
            except OSError as error:
                connection.close()
                # A kept-alive connection that the server closed while it sat idle fails on its next use: that use
                # is tried once more on a new connection. A fresh connection that fails is a Runtime API gone.
                if attempt == 2 or not reused or not isinstance(error, ConnectionError):
                    raise RuntimeAPIError(
                        f"{method} {path} to the Runtime API at {self.address} failed: {error!r}"
                    ) from error
        raise AssertionError("unreachable")  # pragma: no cover


class ConnectionClosed(ConnectionError):
    """The server closed the connection instead of answering."""


class Connection:
    """One HTTP/1.1 client connection, opened when first used and after each close."""

    __slots__ = ("_reader", "_socket", "host", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._socket: socket.socket | None = None
        self._reader: BinaryIO | None = None

    @property
    def is_open(self) -> bool:
        return self._socket is not None

    def send(self, data: bytes) -> None:
        if self._socket is None:
            self._socket = socket.create_connection((self.host, self.port))
            # Each request leaves in one write, and each streamed chunk as soon as it is written.
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._reader = self._socket.makefile("rb")
        self._socket.sendall(data)

    def read_response(self) -> tuple[int, dict[str, str], bytes]:
        """The status, the headers (names lower-cased) and the body of the answer to the request just sent."""
        reader = self._reader
        assert reader is not None, "send() comes first"
        status_line = reader.readline(65537)
        if not status_line:
            raise ConnectionClosed("the server closed the connection without answering")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP status line: {status_line[:100]!r}")
        headers: dict[str, str] = {}
        while (line := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        # The Runtime API gives every answer a Content-Length (it sends no chunked answers).
        length = headers.get("content-length", "0")
        if not length.isdigit():
            raise ProtocolError(f"Content-Length is not a number: {length[:40]!r}")
        body = reader.read(int(length))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(parts[1]), headers, body

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._socket is not None:
            self._socket.close()
        self._socket = self._reader = None


class ProtocolError(OSError):
    """An answer that is not HTTP/1.1."""


class ResponseStream:
    """An invocation response sent as the body is produced: chunked transfer encoding, with the error trailers
    when it fails part way.

    https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming
    (and `createResponseStream` in aws-lambda-nodejs-runtime-interface-client's src/ResponseStream.js, which
    sends the same headers).
    """

    __slots__ = ("_client", "_content_type", "_path", "finished", "opened")

    def __init__(self, client: RuntimeClient, path: str, content_type: str) -> None:
        self._client = client
        self._path = path
        self._content_type = content_type
        self.opened = False
        self.finished = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        # One send per chunk: the size line, the data and its CRLF (RFC 9112 7.1); TCP_NODELAY is on, so it
        # leaves at once.
        self._send(b"%X\r\n%b\r\n" % (len(data), data))

    def finish(self) -> None:
        """Ends the response normally."""
        self._end(b"0\r\n\r\n")

    def fail(self, error: dict[str, Any]) -> None:
        """Ends the response with the error trailers: Lambda ends the client's response there and reports it."""
        encoded = base64.b64encode(json.dumps(error).encode()).decode("ascii")
        error_type = _header_value(str(error.get("errorType") or "Runtime.Unknown"))
        trailers = f"{ERROR_TYPE_HEADER}: {error_type}\r\n{ERROR_BODY_TRAILER}: {encoded}\r\n"
        self._end(b"0\r\n" + trailers.encode("ascii") + b"\r\n")

    def _send(self, data: bytes) -> None:
        if self.finished:
            raise RuntimeError("the response stream is already finished")
        if not self.opened:
            self.opened = True
            head = (
                f"POST {self._path} HTTP/1.1\r\nHost: {self._client.address}\r\n"
                f"Content-Type: {self._content_type}\r\n"
                "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
                # Trailers must be announced before the body (RFC 9110 6.6.2), or Lambda ignores them.
                f"Trailer: {ERROR_TYPE_HEADER}, {ERROR_BODY_TRAILER}\r\n\r\n"
            )
            data = head.encode("latin-1") + data
        connection = self._client._connection
        try:
            connection.send(data)
        except OSError as error:
            connection.close()
            raise RuntimeAPIError(f"streaming to the Runtime API at {self._client.address}: {error!r}") from error

    def _end(self, last: bytes) -> None:
        self._send(last)
        self.finished = True
        connection = self._client._connection
        try:
            status, _, answer = connection.read_response()
        except OSError as error:
            raise RuntimeAPIError(f"streaming to the Runtime API at {self._client.address}: {error!r}") from error
        finally:
            # "Close the underlying connection after it has successfully written the response."
            connection.close()
        if status != 202:
            raise RuntimeAPIError(f"the streamed response was answered {status}: {_excerpt(answer)}")


def _error_headers(error: dict[str, Any], xray_cause: dict[str, Any] | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", ERROR_TYPE_HEADER: _header_value(str(error.get("errorType")))}
    if xray_cause is not None:
        cause = json.dumps(xray_cause)
        if len(cause) < _MAX_XRAY_CAUSE:
            headers[XRAY_ERROR_CAUSE_HEADER] = cause
    return headers


def _header_value(value: str) -> str:
    # A header value is one line of visible latin-1 text; an exception's name always is, a user's string may not be.
    cleaned = "".join(char if " " <= char <= "~" else "?" for char in value)
    return cleaned[:200] or "Unknown"


def _excerpt(body: bytes) -> str:
    return body[:300].decode("utf-8", "replace")
