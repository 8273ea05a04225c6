"""A Lambda Runtime API on a loopback port: what a runtime talks to inside an execution environment.

It speaks the documented protocol (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): invocations
are queued with `invoke()` and handed out on `GET /runtime/invocation/next` with their headers; the runtime's
`/response` (whole, or streamed with chunked transfer encoding and error trailers), `/error` and `/init/error`
are recorded, each arrival with the time it happened, along with the Extensions API's `register` and
`event/next`. Every request is answered as Lambda answers it, errors included.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:links"


class Outcome:
    """What the runtime posted for one invocation."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.kind: str | None = None  # "response" or "error"
        self.headers: dict[str, str] = {}
        self.body = b""
        self.streamed = False
        self.chunks: list[bytes] = []
        self.trailers: dict[str, str] = {}
        self.received_at = 0.0
        self.first_chunk = threading.Event()
        self.done = threading.Event()

    def wait(self, timeout: float = 20) -> Outcome:
        if not self.done.wait(timeout):
            raise AssertionError(f"the runtime posted no outcome for {self.request_id} within {timeout} s")
        return self

    def json(self) -> Any:
        return json.loads(self.body)


class Pending:
    def __init__(self, request_id: str, body: bytes, headers: dict[str, str]) -> None:
        self.request_id = request_id
        self.body = body
        self.headers = headers


class RuntimeAPI(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.condition = threading.Condition()
        self.queue: list[Pending] = []
        self.outcomes: dict[str, Outcome] = {}
        # Every request in the order it arrived: ("next", None), ("response", id), ("error", id), ...
        self.log: list[tuple[str, str | None]] = []
        self.init_errors: list[tuple[dict[str, str], bytes]] = []
        self.extensions: list[tuple[str, list[str]]] = []
        self.closing = False
        # Close the connection after the next /next answer without saying so, as a server whose idle
        # connection timed out does.
        self.drop_connection_after_next = False
        # Record the next /response or /error, then close the connection without answering, as a connection
        # that drops after the request was received does.
        self.drop_connection_after_post = False
        # Answer /next with this status and an error instead of an invocation.
        self.next_status: int | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_port}"

    def invoke(
        self,
        event: Any,
        *,
        timeout: float = 30,
        request_id: str | None = None,
        trace_id: str | None = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        headers: dict[str, str] | None = None,
    ) -> Outcome:
        """Queues an invocation whose deadline is `timeout` seconds away; its outcome fills in when posted."""
        request_id = request_id or str(uuid.uuid4())
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        invocation_headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + timeout) * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            "Content-Type": "application/json",
        }
        if trace_id is not None:
            invocation_headers["Lambda-Runtime-Trace-Id"] = trace_id
        invocation_headers.update(headers or {})
        outcome = Outcome(request_id)
        with self.condition:
            self.outcomes[request_id] = outcome
            self.queue.append(Pending(request_id, body, invocation_headers))
            self.condition.notify_all()
        return outcome

    def record(self, what: str, request_id: str | None = None) -> None:
        with self.condition:
            self.log.append((what, request_id))
            self.condition.notify_all()

    def wait_for(self, what: str, timeout: float = 20) -> None:
        """Waits until a request of kind `what` ("next", "register", ...) has arrived."""
        with self.condition:
            if not self.condition.wait_for(lambda: any(entry[0] == what for entry in self.log), timeout):
                raise AssertionError(f"no {what} request within {timeout} s; got {self.log}")

    def shutdown_all(self) -> None:
        with self.condition:
            self.closing = True
            self.condition.notify_all()
        self.shutdown()
        self.server_close()


@contextmanager
def running() -> Iterator[RuntimeAPI]:
    api = RuntimeAPI()
    thread = threading.Thread(target=api.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.shutdown_all()
        thread.join()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: without TCP_NODELAY, Nagle's algorithm holds the second back until
    # the client's delayed ACK, some 40 ms later.
    disable_nagle_algorithm = True
    server: RuntimeAPI

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/2018-06-01/runtime/invocation/next":
            self._next()
        elif self.path == "/2020-01-01/extension/event/next":
            self.server.record("extension-next")
            identifier = self.headers.get("Lambda-Extension-Identifier") or ""
            if not any(registered == identifier for registered, _ in self.server.extensions):
                self._answer(403, {"errorMessage": "unknown extension", "errorType": "Extension.Forbidden"})
                return
            # An extension waits here until the environment goes away; one registered for SHUTDOWN is told.
            with self.server.condition:
                self.server.condition.wait_for(lambda: self.server.closing)
            if "SHUTDOWN" in dict(self.server.extensions)[identifier]:
                self._answer(200, {"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": 0})
            self.close_connection = True
        else:
            self._answer(404, {"errorMessage": f"no such path {self.path}", "errorType": "NotFound"})

    def _next(self) -> None:
        server = self.server
        server.record("next")
        if server.next_status is not None:
            self._answer(server.next_status, {"errorMessage": "no invocation", "errorType": "Runtime.Unknown"})
            return
        with server.condition:
            server.condition.wait_for(lambda: server.queue or server.closing)
            if server.closing:
                self.close_connection = True
                return
            pending = server.queue.pop(0)
        self.send_response(200)
        for name, value in pending.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(pending.body)))
        self.end_headers()
        self.wfile.write(pending.body)
        self.wfile.flush()
        if server.drop_connection_after_next:
            server.drop_connection_after_next = False
            self.close_connection = True

    def do_POST(self) -> None:
        server = self.server
        path = self.path
        if path == "/2018-06-01/runtime/init/error":
            body = self._read_body(None)
            server.init_errors.append(({k.lower(): v for k, v in self.headers.items()}, body))
            server.record("init-error")
            # The runtime is to exit now; the connection goes with it.
            self._answer(202, {"status": "OK"}, {"Connection": "close"})
            self.close_connection = True
            return
        if path == "/2020-01-01/extension/register":
            body = self._read_body(None)
            name = self.headers.get("Lambda-Extension-Name")
            events = json.loads(body or b"{}").get("events")
            if not name or not isinstance(events, list) or any(event not in ("INVOKE", "SHUTDOWN") for event in events):
                self._answer(400, {"errorMessage": "bad registration", "errorType": "Extension.InvalidRequest"})
                return
            identifier = str(uuid.uuid4())
            server.extensions.append((identifier, events))
            server.record("register")
            self._answer(200, {"functionName": "links"}, {"Lambda-Extension-Identifier": identifier})
            return
        prefix = "/2018-06-01/runtime/invocation/"
        if not path.startswith(prefix) or path.count("/") != 5:
            self._answer(404, {"errorMessage": f"no such path {path}", "errorType": "NotFound"})
            return
        request_id, _, kind = path.removeprefix(prefix).partition("/")
        outcome = server.outcomes.get(request_id)
        if kind not in ("response", "error") or outcome is None:
            self._read_body(None)
            self._answer(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
            return
        if outcome.kind is not None:
            self._read_body(None)
            # As Lambda answers it (rapid renders InvalidStateTransition as 403 Forbidden).
            self._answer(403, {"errorMessage": "Invalid state transition", "errorType": "InvalidStateTransition"})
            return
        outcome.kind = kind
        outcome.headers = {name.lower(): value for name, value in self.headers.items()}
        outcome.streamed = outcome.headers.get("lambda-runtime-function-response-mode") == "streaming"
        outcome.body = self._read_body(outcome)
        outcome.received_at = time.monotonic()
        server.record(kind, request_id)
        outcome.done.set()
        if server.drop_connection_after_post:
            server.drop_connection_after_post = False
            self.close_connection = True
            return
        self._answer(202, {"status": "OK"})

    def _read_body(self, outcome: Outcome | None) -> bytes:
        if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # RFC 9112 7.1: size line, data, CRLF; a zero size ends it, then trailer fields, then an empty line.
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline(100).split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            chunk = self.rfile.read(size)
            if self.rfile.readline(3) != b"\r\n":
                raise AssertionError("a chunk that does not end with CRLF")
            chunks.append(chunk)
            if outcome is not None:
                outcome.chunks.append(chunk)
                outcome.first_chunk.set()
        while (line := self.rfile.readline(65536)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if outcome is not None:
                outcome.trailers[name.strip().lower()] = value.strip()
        return b"".join(chunks)

    def _answer(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
