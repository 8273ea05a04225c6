"""`serve` in front of a Function URL in RESPONSE_STREAM mode, over real HTTP: the status and headers, then each
chunk as the app sends it; a failure part way cuts the connection; the timeouts and the size limit still hold."""

from __future__ import annotations

import json
import logging
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from adapter.local.cli import main
from adapter.local.template import FunctionSpec, load_template
from sample_app.links import LinkStore
from sample_app.models import bind
from sample_app.settings import Settings
from tests.adapter.local import handlers
from tests.adapter.local.conftest import Serve, serving_template
from tests.adapter.local.handlers import BINARY_CHUNKS, PNG
from tests.adapter.local.test_cli import kill_self_when_answering
from tests.adapter.local.test_serve import raw_exchange
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[3]

STREAM = {"runtime_options": {"stream": True}}


@pytest.fixture(autouse=True)
def fresh_gates() -> Iterator[handlers.Gates]:
    handlers.gates = handlers.Gates()
    yield handlers.gates
    handlers.gates.release.set()


def test_server_sent_events_arrive_while_the_app_is_still_producing(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "adapter.local")
    with serve(format="function-url", **STREAM) as client, client.stream("GET", "events") as response:
        lines = response.iter_lines()
        first = [next(lines), next(lines)]
        # The app waits for this before its second event: a gateway that buffered would never get here.
        journal_then = list(handlers.gates.journal)
        handlers.gates.release.set()
        rest = list(lines)

    assert first == ["data: first", ""]
    assert journal_then == []
    assert rest == ["data: second", ""]
    assert handlers.gates.journal == ["released", "feed finished"]
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    request_id = response.headers["x-amzn-requestid"]
    lines_logged = [record.getMessage() for record in caplog.records if record.name == "adapter.local"]
    assert [line.split(" ")[0] for line in lines_logged] == ["START", "END", "REPORT"]
    assert lines_logged[0] == f"START RequestId: {request_id} Version: $LATEST"


def test_a_buffered_function_url_still_buffers(serve: Serve) -> None:
    timer = threading.Timer(0.2, handlers.gates.release.set)
    timer.start()
    with serve(format="function-url") as client, client.stream("GET", "events") as response:
        # The status line arrives only once the app has finished.
        journal_then = list(handlers.gates.journal)
        body = response.read()
    timer.join()

    assert journal_then == ["released", "feed finished"]
    assert body == b"data: first\n\ndata: second\n\n"
    assert response.headers["content-length"] == str(len(body))
    assert "transfer-encoding" not in response.headers


def test_several_set_cookie_headers(serve: Serve) -> None:
    with serve(format="function-url", **STREAM) as client:
        response = client.get("cookies")

    cookies = response.headers.get_list("set-cookie")
    assert [cookie.split(";")[0] for cookie in cookies] == ["first=1", "second=2", "third=3"]
    assert "HttpOnly" in cookies[1] and "Path=/other" in cookies[2]
    assert (response.text, response.headers["transfer-encoding"]) == ("cookies", "chunked")


def test_binary_chunks_come_through_as_they_are(serve: Serve) -> None:
    with serve(format="function-url", **STREAM) as client:
        image = client.get("image.png")
        streamed = client.get("binary")
        url = str(client.base_url)
        raw = raw_exchange(url, b"GET /binary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    assert (image.headers["content-type"], image.content) == ("image/png", PNG)
    assert streamed.content == b"".join(BINARY_CHUNKS)
    # One HTTP chunk per chunk the app sent, then the last chunk.
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Connection: close" in head
    assert body == b"".join(b"%X\r\n%b\r\n" % (len(chunk), chunk) for chunk in BINARY_CHUNKS) + b"0\r\n\r\n"


def test_an_app_failing_mid_stream_cuts_the_connection(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    with serve(format="function-url", **STREAM) as client:
        received = b""
        with client.stream("GET", "broken-stream") as response, pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                received += chunk
        raw = raw_exchange(str(client.base_url), b"GET /broken-stream HTTP/1.1\r\nHost: x\r\n\r\n")
        # The environment is free for the next request.
        assert client.get("hello").text == "hello"

    assert response.status_code == 200 and received == b"partial"
    # The chunk that came, and no last chunk: the server closed the connection instead.
    assert raw.endswith(b"\r\n\r\n7\r\npartial\r\n")
    assert "Exception in ASGI application after the response started; cutting it short" in caplog.text
    assert "RuntimeError: the stream broke" in caplog.text
    assert "The response stream ended with an error; closing the connection without ending its body" in caplog.text


def test_head_gets_the_head_alone(serve: Serve) -> None:
    with serve(format="function-url", **STREAM) as client:
        response = client.head("hello")
        assert client.get("hello").text == "hello"

    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["transfer-encoding"] == "chunked"


def test_a_stream_still_running_at_the_deadline_is_cut(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    margin = {"ADAPTER_RUNTIME_DEADLINE_MARGIN_MS": "300"}
    with serve(format="function-url", timeout=0.6, environment=margin, **STREAM) as client:
        started = time.monotonic()
        with client.stream("GET", "ticks") as response, pytest.raises(httpx.RemoteProtocolError):
            response.read()
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    # adapter.runtime ends the stream at the deadline less its margin, before Lambda would stop the function.
    assert elapsed < 0.6
    assert "(GET /ticks) was still running at the invocation's deadline" in caplog.text
    assert "closing the connection without ending its body" in caplog.text


def test_a_function_timing_out_mid_stream_is_cut(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "adapter.local")
    with serve(format="function-url", timeout=0.4, **STREAM) as client:
        with client.stream("GET", "ticks?stall=0.8") as response, pytest.raises(httpx.RemoteProtocolError):
            response.read()
        # The handler was blocked past its timeout; the next request waits for it.
        assert client.get("hello").text == "hello"

    assert "Task timed out after 0.40 seconds" in caplog.text and "Status: timeout" in caplog.text
    assert "after its 0.40 s timeout; Lambda would have stopped it" in caplog.text


@pytest.mark.parametrize(
    ("options", "path", "status", "body", "logged"),
    [
        pytest.param({"timeout": 0.3}, "0.8", 502, b"Internal Server Error", "Task timed out", id="function-timeout"),
        pytest.param(
            {"timeout": 5, "gateway_timeout": 0.3}, "0.8", 504, b"Gateway Timeout", "integration timeout", id="gateway"
        ),
    ],
)
def test_a_function_that_times_out_before_streaming(
    serve: Serve,
    caplog: pytest.LogCaptureFixture,
    options: dict[str, float],
    path: str,
    status: int,
    body: bytes,
    logged: str,
) -> None:
    with serve("tests.adapter.local.handlers.sleeps", format="function-url", **options, **STREAM) as client:
        response = client.get(path)

    assert (response.status_code, response.content) == (status, body)
    assert logged in caplog.text


def test_a_handler_that_does_not_stream_is_passed_on_as_it_is(serve: Serve) -> None:
    result = {"statusCode": 201, "headers": {"x-a": "1"}, "body": "created"}
    with serve("tests.adapter.local.handlers.raw", format="function-url", **STREAM) as client:
        response = client.post("/", json=result)

    # A streaming Function URL reads a prelude only in the HTTP integration framing; this is plain JSON.
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert response.json() == result


def test_a_handler_that_raises(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    with serve("tests.adapter.local.handlers.raises", format="function-url", **STREAM) as client:
        response = client.get("anything")

    assert (response.status_code, response.text) == (502, "Internal Server Error")
    assert "[ERROR] RuntimeError: the handler failed on purpose" in caplog.text


def test_a_stream_past_the_size_limit_is_cut(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    limits = {"runtime_options": {"stream": True, "max_streamed_bytes": 100_000}}
    with serve(format="function-url", **limits) as client:
        with client.stream("GET", "large?bytes=200000") as response, pytest.raises(httpx.RemoteProtocolError):
            response.read()
        assert client.get("large?bytes=1000").content == b"x" * 1000

    assert "[ERROR] Function.ResponseSizeTooLarge: the streamed response went past 100000 bytes" in caplog.text


def test_a_whole_response_past_the_size_limit(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    limits = {"runtime_options": {"stream": True, "max_streamed_bytes": 1000}}
    with serve("tests.adapter.local.handlers.raw", format="function-url", **limits) as client:
        response = client.post("/", json={"statusCode": 200, "body": "x" * 2000})

    assert (response.status_code, response.text) == (502, "Internal Server Error")
    assert "[ERROR] Function.ResponseSizeTooLarge" in caplog.text


def test_a_prelude_the_url_refuses(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    with serve(format="function-url", **STREAM) as client:
        response = client.get("bad-header")

    assert (response.status_code, response.text) == (502, "Internal Server Error")
    assert "Malformed response prelude: header 'x-injected' has a line break" in caplog.text


def test_a_client_that_leaves_mid_stream(serve: Serve) -> None:
    with serve(format="function-url", **STREAM) as client:
        address = urlsplit(str(client.base_url))
        sock = socket.create_connection((address.hostname, address.port), timeout=10)
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"data: first" not in received:
            received += sock.recv(65536)
        # Closing with a zero linger resets the connection, so the server's next write fails.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        handlers.gates.release.set()
        assert client.get("hello").text == "hello"

    assert handlers.gates.journal == ["released", "feed finished"]


def test_the_event_is_the_function_urls(serve: Serve) -> None:
    with serve(format="function-url", **STREAM) as client:
        echoed = client.post("echo/a?x=1", content=b"body").json()

    assert (echoed["path"], echoed["root_path"], echoed["query"]) == ("/echo/a", "", "x=1")
    assert echoed["function_name"] == "links" and echoed["memory"] == "256"
    assert json.loads(json.dumps(echoed["body"])) == "Ym9keQ=="


def test_a_queued_invocation_past_the_gateway_timeout_never_runs(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "adapter.local")
    with serve(
        "tests.adapter.local.handlers.sleeps", format="function-url", timeout=5, gateway_timeout=0.3, **STREAM
    ) as client:
        results: list[httpx.Response] = []
        blocking = threading.Thread(target=lambda: results.append(client.get("0.7")))
        blocking.start()
        while not any(record.getMessage().startswith("START") for record in caplog.records):
            time.sleep(0.01)
        queued = client.get("0")
        blocking.join()
        time.sleep(0.5)

    assert [response.status_code for response in [*results, queued]] == [504, 504]
    assert sum(record.getMessage().startswith("START") for record in caplog.records) == 1


# ---- the command line and the template ---------------------------------------------------------------------


def test_serve_streams_until_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    previous = signal.getsignal(signal.SIGTERM)
    seen: list[str] = []
    watcher = kill_self_when_answering(f"http://127.0.0.1:{port}/hello", signal.SIGTERM, seen)
    try:
        command = [
            "serve",
            "tests.adapter.local.handlers.handler",
            "--format",
            "function-url",
            "--stream",
            "--port",
            str(port),
        ]
        assert main(command) == 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    watcher.join()

    assert seen == ["hello"]
    assert f"behind a local function-url in RESPONSE_STREAM mode on http://127.0.0.1:{port}/" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--stream"], "error: --stream is a Function URL's RESPONSE_STREAM mode", id="not-a-url"),
        pytest.param(
            ["--format", "function-url", "--stream", "--env", "ADAPTER_RUNTIME_DEADLINE_MARGIN_MS=soon"],
            "error: ADAPTER_RUNTIME_DEADLINE_MARGIN_MS must be a whole number of milliseconds, not 'soon'",
            id="bad-margin",
        ),
    ],
)
def test_serve_refuses(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["serve", "tests.adapter.local.handlers.handler", "--port", str(free_port()), *args]) == 1
    assert message in capsys.readouterr().err


def test_the_templates_streaming_function_url() -> None:
    template = load_template(ROOT / "template.yaml")

    assert FunctionSpec(template, ROOT / "template.yaml", "LinksStreamFunction", "us-east-1").response_stream
    assert not FunctionSpec(template, ROOT / "template.yaml", "LinksFunction", "us-east-1").response_stream


@pytest.fixture
def streaming_sample_app(links_settings: Settings) -> Iterator[str]:
    """The sample app's streaming function from template.yaml behind `serve`, on its own table."""
    with serving_template(links_settings, "/", "--function", "LinksStreamFunction") as url:
        yield url


def test_the_sample_apps_click_feed_streams_through_serve(streaming_sample_app: str, links_settings: Settings) -> None:
    with httpx.Client(base_url=streaming_sample_app, timeout=20) as client:
        code = client.post("links", json={"url": "https://example.com/"}).json()["code"]
        with client.stream("GET", f"links/{code}/clicks", params={"seconds": 2}) as response:
            assert response.headers["transfer-encoding"] == "chunked"
            lines = response.iter_lines()
            first = [next(lines) for _ in range(4)]
            # The feed runs on while this click happens; it reports it in its next event.
            LinkStore(bind(links_settings)).click(code)
            second = [next(lines) for _ in range(3)]

    assert first == ["retry: 1000", "event: clicks", f'data: {{"code": "{code}", "clicks": 0}}', ""]
    assert second == ["event: clicks", f'data: {{"code": "{code}", "clicks": 1}}', ""]


def test_the_local_channel_hands_out_no_invocation_of_its_own() -> None:
    from adapter.local.streaming import Channel
    from adapter.runtime.client import RuntimeAPIError

    with pytest.raises(RuntimeAPIError, match="hands each invocation to the runtime itself"):
        Channel().next()
