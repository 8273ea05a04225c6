"""The Runtime API client against answers a runtime rarely sees: refusals, garbage and connections that end."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from adapter.runtime.client import RuntimeAPIError, RuntimeClient, _error_headers
from tests.adapter.runtime.emulator import RuntimeAPI


@pytest.fixture
def client(api: RuntimeAPI) -> Iterator[RuntimeClient]:
    runtime_client = RuntimeClient(api.address)
    yield runtime_client
    runtime_client.close()


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({"Lambda-Runtime-Aws-Request-Id": ""}, "no Lambda-Runtime-Aws-Request-Id header", id="no-id"),
        pytest.param(
            {"Lambda-Runtime-Deadline-Ms": "soon"}, "Lambda-Runtime-Deadline-Ms is not a number: 'soon'", id="deadline"
        ),
    ],
)
def test_an_invocation_without_its_headers_is_refused(
    api: RuntimeAPI, client: RuntimeClient, headers: dict[str, str], message: str
) -> None:
    api.invoke({}, headers=headers)
    with pytest.raises(RuntimeAPIError, match=message):
        client.next()


def test_refusals_of_the_extensions_api_are_errors(api: RuntimeAPI, client: RuntimeClient) -> None:
    with pytest.raises(RuntimeAPIError, match="POST /extension/register answered 400"):
        client.register_extension("x", ["EVERYTHING"])
    with pytest.raises(RuntimeAPIError, match="GET /extension/event/next answered 403"):
        client.next_extension_event("not-registered")


def test_a_refused_next_is_an_error(api: RuntimeAPI, client: RuntimeClient) -> None:
    api.next_status = 500
    with pytest.raises(RuntimeAPIError, match=r"GET /runtime/invocation/next answered 500: .*Runtime.Unknown"):
        client.next()


def test_a_stream_to_an_unknown_invocation_is_refused(api: RuntimeAPI, client: RuntimeClient) -> None:
    stream = client.stream_response("unknown", "text/plain")
    stream.write(b"")
    stream.write(b"data")
    with pytest.raises(RuntimeAPIError, match=r"the streamed response was answered 400: .*InvalidRequestID"):
        stream.finish()
    with pytest.raises(RuntimeError, match="the response stream is already finished"):
        stream.write(b"more")


def test_a_stream_that_cannot_connect_is_an_error(api: RuntimeAPI) -> None:
    client = RuntimeClient(api.address)
    api.shutdown_all()
    with pytest.raises(RuntimeAPIError, match=r"streaming to the Runtime API at .*ConnectionRefusedError"):
        client.stream_response("id", "text/plain").write(b"data")
    client.close()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(b"", "ConnectionClosed('the server closed the connection without answering')", id="hang-up"),
        pytest.param(b"garbage\r\n", "not an HTTP status line: b'garbage\\\\r\\\\n'", id="garbage"),
        pytest.param(
            b"HTTP/1.1 202 Accepted\r\nContent-Length: lots\r\n\r\n",
            "Content-Length is not a number: 'lots'",
            id="length",
        ),
    ],
)
def test_a_stream_whose_answer_is_not_http_is_an_error(answer: bytes, message: str) -> None:
    # A server that reads the whole request and answers `answer`, then hangs up.
    listener = socket.create_server(("127.0.0.1", 0))

    def accept_and_answer() -> None:
        connection, _ = listener.accept()
        received = b""
        while not received.endswith(b"0\r\n\r\n"):
            received += connection.recv(65536)
        connection.sendall(answer)
        connection.close()

    thread = threading.Thread(target=accept_and_answer)
    thread.start()
    client = RuntimeClient(f"127.0.0.1:{listener.getsockname()[1]}")
    try:
        stream = client.stream_response("id", "text/plain")
        stream.write(b"data")
        with pytest.raises(RuntimeAPIError) as raised:
            stream.finish()
        assert message in str(raised.value)
    finally:
        thread.join()
        listener.close()
        client.close()


def test_an_x_ray_cause_too_large_for_a_header_is_left_out() -> None:
    error = {"errorType": "ValueError\nwith a line feed", "errorMessage": "x"}
    headers = _error_headers(error, {"message": "x" * (1024 * 1024)})

    assert "Lambda-Runtime-Function-XRay-Error-Cause" not in headers
    assert headers["Lambda-Runtime-Function-Error-Type"] == "ValueError?with a line feed"
    assert json.loads(json.dumps(headers))


def test_an_extension_registered_for_shutdown_hears_of_it(api: RuntimeAPI, client: RuntimeClient) -> None:
    identifier = client.register_extension("external", ["SHUTDOWN"])
    events: list[bytes] = []
    thread = threading.Thread(target=lambda: events.append(client.next_extension_event(identifier)))
    thread.start()
    api.wait_for("extension-next")
    api.shutdown_all()
    thread.join()

    assert json.loads(events[0])["eventType"] == "SHUTDOWN"
