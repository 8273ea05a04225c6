"""`serve`'s gateway over real HTTP on a loopback port: each format, stages, cookies, redirects, binary bodies,
the services' limits, and handlers that fail, return garbage or run past their timeout."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.adapter.local.conftest import Serve
from tests.adapter.local.handlers import PNG

FORMATS = ["rest", "http-v1", "http-v2", "function-url", "alb"]


@pytest.mark.parametrize("format", FORMATS)
def test_each_format_reaches_the_app(serve: Serve, format: str) -> None:
    with serve(format=format) as client:
        assert client.get("hello").text == "hello"
        echoed = client.post("echo/a%20b?x=1&x=2", content=b"body").json()
    prefix = "/live" if format == "rest" else ""
    assert echoed["path"] == f"{prefix}/echo/a b"
    assert echoed["root_path"] == prefix
    # Without multi-value headers, a load balancer keeps the last value of a repeated key.
    assert echoed["query"] == ("x=2" if format == "alb" else "x=1&x=2")
    assert echoed["client"] == "127.0.0.1"
    assert json.loads(json.dumps(echoed["body"])) == "Ym9keQ=="
    assert echoed["function_name"] == "links" and echoed["memory"] == 256
    assert 0 < echoed["remaining_ms"] <= 3000


def test_rest_stage_prefix_and_missing_routes(serve: Serve) -> None:
    with serve() as client:
        echoed = client.get("echo/x").json()
        assert urlsplit(echoed["url"]).path == "/live/echo/x"
        outside = client.get(f"http://{client.base_url.host}:{client.base_url.port}/hello")
    assert (outside.status_code, outside.json()) == (403, {"message": "Missing Authentication Token"})


def test_http_api_named_stage(serve: Serve) -> None:
    with serve(format="http-v2", gateway_options={"stage": "beta"}) as client:
        assert client.get("echo/x").json()["root_path"] == "/beta"
        missing = client.get(f"http://{client.base_url.host}:{client.base_url.port}/echo/x")
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})


def test_redirects_keep_the_stage(serve: Serve) -> None:
    with serve() as client:
        redirect = client.get("redirect")
        assert redirect.status_code == 303
        assert urlsplit(redirect.headers["location"]).path == "/live/hello"
        assert client.get("redirect", follow_redirects=True).text == "hello"


@pytest.mark.parametrize("format", FORMATS)
def test_several_set_cookie_headers(serve: Serve, format: str) -> None:
    options = {"gateway_options": {"multi_value_headers": True}} if format == "alb" else {}
    with serve(format=format, **options) as client:
        response = client.get("cookies")
    cookies = response.headers.get_list("set-cookie")
    assert [cookie.split(";")[0] for cookie in cookies] == ["first=1", "second=2", "third=3"]


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("city", ["S\u00e3o Paulo", "\u0141\u00f3d\u017a"])
def test_non_ascii_header_bytes_reach_the_app_and_the_client_unchanged(serve: Serve, format: str, city: str) -> None:
    # UTF-8 from the client is text in the event and the same bytes in the scope; the app's UTF-8 header goes back
    # out as it was sent.
    with serve(format=format) as client:
        response = client.get("header-bytes", headers={b"x-city": city.encode()})
    assert response.text == city.encode().hex()
    assert dict(response.headers.raw)[b"x-city"] == city.encode()


@pytest.mark.parametrize("format", FORMATS)
def test_binary_upload_and_download(serve: Serve, format: str) -> None:
    upload = bytes(range(256)) * 16
    with serve(format=format) as client:
        image = client.get("image.png")
        reversed_ = client.post("upload", content=upload, headers={"content-type": "application/octet-stream"})
    assert (image.headers["content-type"], image.content) == ("image/png", PNG)
    assert reversed_.content == upload[::-1]


def test_head_sends_no_body(serve: Serve) -> None:
    with serve() as client:
        response = client.head("echo/x")
    assert response.status_code == 200 and response.content == b"" and int(response.headers["content-length"]) > 0


def test_chunked_request_body(serve: Serve) -> None:
    with serve() as client:
        echoed = client.post("echo/x", content=iter([b"one ", b"two"])).json()
    assert echoed["body"] == "b25lIHR3bw=="


def test_start_end_and_report_lines(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "adapter.local")
    with serve() as client:
        client.get("hello")
        client.get("hello")
    lines = [record.getMessage() for record in caplog.records if record.name == "adapter.local"]
    assert [line.split(" ")[0] for line in lines] == ["START", "END", "REPORT", "START", "END", "REPORT"]
    request_id = lines[0].split()[2]
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert lines[1] == f"END RequestId: {request_id}"
    fields = lines[2].split("\t")
    assert fields[0] == f"REPORT RequestId: {request_id}"
    assert [field.split(":")[0] for field in fields[1:-1]] == [
        "Duration",
        "Billed Duration",
        "Memory Size",
        "Max Memory Used",
        "Init Duration",
    ]
    assert fields[3] == "Memory Size: 256 MB"
    assert "Init Duration" not in lines[5]


# ---- limits ----------------------------------------------------------------------------------------------


def test_request_event_over_6_mb_is_413(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    # 4.8 MB of body is 6.4 MB once REST has base64-encoded it into the event.
    with serve() as client:
        response = client.post("upload", content=b"x" * 4_800_000)
        assert client.get("hello").text == "hello"
    assert (response.status_code, response.json()) == (413, {"message": "Request Too Long"})
    assert "over Lambda's 6291456 byte limit" in caplog.text


def raw_exchange(url: str, request: bytes) -> bytes:
    """Sends `request` as is on a new connection and returns everything the server answers before closing."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_body_over_10_mb_is_refused_before_it_is_sent(serve: Serve) -> None:
    with serve() as client:
        url = str(client.base_url)
        answer = raw_exchange(url, b"POST /live/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10485761\r\n\r\n")
        expecting = raw_exchange(
            url, b"POST /live/upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 20000000\r\n\r\n"
        )
    # The reason phrase is the server's own (Python 3.13's http.server says "Content Too Large").
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(b'{"message":"Request Too Long"}')
    assert b"Connection: close" in answer
    assert expecting.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in expecting


def test_expect_continue_within_the_limit(serve: Serve) -> None:
    with serve() as client:
        address = urlsplit(str(client.base_url))
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(b"POST /live/upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
            sock.sendall(b"abc")
            answer = b""
            while not answer.endswith(b"cba"):
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 OK")


def test_chunked_body_over_the_limit(serve: Serve) -> None:
    with serve(format="alb") as client:
        chunk = b"x" * 600_000
        request = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        request += b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2 + b"0\r\n\r\n"
        answer = raw_exchange(str(client.base_url), request)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"<title>413 Request Entity Too Large</title>" in answer


def test_alb_body_over_1_mb_is_413(serve: Serve) -> None:
    with serve(format="alb") as client:
        response = client.post("upload", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413 and response.headers["server"] == "awselb/2.0"


@pytest.mark.parametrize(
    ("request_bytes", "detail"),
    [
        (b"POST /live/upload HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", "Content-Length must be a number"),
        (b"POST /live/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size line"),
        (
            b"POST /live/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "chunked body ended early",
        ),
        (
            b"POST /live/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
            "the body ended after 2 of the 5 bytes",
        ),
        (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", "request target must be a path"),
        (b"POST /live/upload HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: x\r\n\r\n", "Content-Length must"),
    ],
)
def test_bad_http_gets_a_400_problem(serve: Serve, request_bytes: bytes, detail: str) -> None:
    with serve() as client:
        address = urlsplit(str(client.base_url))
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(request_bytes)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request") and b"application/problem+json" in head
    problem = json.loads(body)
    assert problem["status"] == 400 and detail in problem["detail"]


def test_response_over_6_mb_is_502(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    with serve("tests.adapter.local.handlers.returns_garbage") as client:
        response = client.get("huge")
    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})
    assert "Function.ResponseSizeTooLarge" in caplog.text


def test_alb_response_over_1_mb_is_502(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    with serve("tests.adapter.local.handlers.returns_garbage", format="alb") as client:
        response = client.get("over-1-mb")
    assert response.status_code == 502 and b"502 Bad Gateway" in response.content
    assert "over the load balancer's 1048576 byte limit" in caplog.text


def test_the_adapter_answers_500_itself_past_the_load_balancers_limit(serve: Serve) -> None:
    with serve(format="alb") as client:
        response = client.get("large?bytes=1100000")
    assert (response.status_code, response.text) == (500, "Response too large for AWS Lambda")


def test_the_adapter_answers_500_itself_past_lambdas_limit(serve: Serve) -> None:
    with serve() as client:
        response = client.get("large?bytes=7000000")
    assert (response.status_code, response.text) == (500, "Response too large for AWS Lambda")


# ---- failing handlers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("format", "status", "body"),
    [
        ("rest", 502, b'{"message":"Internal server error"}'),
        ("http-v2", 500, b'{"message":"Internal Server Error"}'),
        ("function-url", 502, b"Internal Server Error"),
        ("alb", 502, b"<center><h1>502 Bad Gateway</h1></center>"),
    ],
)
def test_a_handler_that_raises(
    serve: Serve, caplog: pytest.LogCaptureFixture, format: str, status: int, body: bytes
) -> None:
    with serve("tests.adapter.local.handlers.raises", format=format) as client:
        response = client.get("anything")
    assert response.status_code == status and body in response.content
    assert "[ERROR] RuntimeError: the handler failed on purpose" in caplog.text
    assert "Traceback (most recent call last)" in caplog.text


@pytest.mark.parametrize(
    ("kind", "status", "logged"),
    [
        ("string", 502, "the result is a JSON string, not an object with a statusCode"),
        ("no-status", 502, "statusCode must be an HTTP status code (an integer from 100 to 599), not missing"),
        ("bad-status", 502, "not 'two hundred'"),
        ("dict-body", 502, "body must be a string, not a JSON object"),
        ("bad-headers", 502, "headers must be an object"),
        ("bad-multi", 502, "multiValueHeaders['x-a'] must be a list"),
        ("bad-header-value", 502, "header 'x-a' must have a string value"),
        ("header-injection", 502, "header 'x-a' has a line break"),
        ("bad-base64", 500, "isBase64Encoded is true but the body is not valid base64"),
        (
            "not-json",
            502,
            "Runtime.MarshalError: Unable to marshal response: Object of type bytes is not JSON serializable",
        ),
    ],
)
def test_a_handler_that_returns_garbage(
    serve: Serve, caplog: pytest.LogCaptureFixture, kind: str, status: int, logged: str
) -> None:
    with serve("tests.adapter.local.handlers.returns_garbage") as client:
        response = client.get(kind)
    assert (response.status_code, response.json()) == (status, {"message": "Internal server error"})
    assert logged in caplog.text
    if kind != "not-json":
        assert "Malformed Lambda proxy response: " in caplog.text
        assert f"answering {status}" in caplog.text


def test_http_api_takes_a_bare_string_as_a_json_body(serve: Serve) -> None:
    with serve("tests.adapter.local.handlers.returns_garbage", format="http-v2") as client:
        response = client.get("string")
        cookies = client.get("bad-cookies")
    assert (response.status_code, response.json()) == (200, "just a string")
    assert (cookies.status_code, cookies.json()) == (500, {"message": "Internal Server Error"})


def test_the_handlers_result_as_the_test_gives_it(serve: Serve) -> None:
    result = {"statusCode": 202, "multiValueHeaders": {"x-a": ["1", "2"]}, "headers": {"x-a": "3"}, "body": "ok"}
    with serve("tests.adapter.local.handlers.raw") as client:
        response = client.post("/live/", json=result)
    assert (response.status_code, response.text, response.headers.get_list("x-a")) == (202, "ok", ["1", "2", "3"])


def test_function_timeout_is_a_function_error(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "adapter.local")
    with serve("tests.adapter.local.handlers.sleeps", timeout=0.3) as client:
        response = client.get("0.8")
        # The environment is busy until the handler returns; the next request waits for it.
        assert client.get("0").text == "slept 0.0"
    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})
    assert "Task timed out after 0.30 seconds" in caplog.text
    assert "Status: timeout" in caplog.text
    assert "returned 0.5" in caplog.text and "after its 0.30 s timeout; Lambda would have stopped it" in caplog.text


@pytest.mark.parametrize(
    ("format", "status", "message"),
    [("rest", 504, "Endpoint request timed out"), ("http-v2", 503, "Service Unavailable")],
)
def test_gateway_timeout(
    serve: Serve, caplog: pytest.LogCaptureFixture, format: str, status: int, message: str
) -> None:
    with serve("tests.adapter.local.handlers.sleeps", format=format, timeout=5, gateway_timeout=0.3) as client:
        started = time.monotonic()
        first = client.get("0.6")
        elapsed = time.monotonic() - started
    assert (first.status_code, first.json()) == (status, {"message": message})
    assert elapsed < 0.6
    assert "integration timeout of 0.30 s" in caplog.text


def test_a_queued_invocation_that_times_out_never_runs(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "adapter.local")
    with serve("tests.adapter.local.handlers.sleeps", timeout=5, gateway_timeout=0.3) as client:
        results: list[httpx.Response] = []
        queued = threading.Thread(target=lambda: results.append(client.get("0")))
        blocking = threading.Thread(target=lambda: results.append(client.get("0.7")))
        blocking.start()
        time.sleep(0.1)
        queued.start()
        queued.join()
        blocking.join()
        time.sleep(0.7)
    assert sorted(response.status_code for response in results) == [504, 504]
    assert sum(record.getMessage().startswith("START") for record in caplog.records) == 1


def test_chunked_trailers_and_a_garbled_request_line(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "adapter.local")
    with serve() as client:
        url = str(client.base_url)
        request = b"POST /live/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        answer = raw_exchange(url, request + b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n")
        garbled = raw_exchange(url, b"NONSENSE\r\n\r\n")
    assert answer.endswith(b"cba")
    assert b"Error code: 400" in garbled
    assert "Bad request syntax" in caplog.text


def test_a_client_that_leaves_before_the_answer(serve: Serve) -> None:
    import struct

    with serve("tests.adapter.local.handlers.sleeps") as client:
        address = urlsplit(str(client.base_url))
        sock = socket.create_connection((address.hostname, address.port), timeout=10)
        sock.sendall(b"GET /live/0.3 HTTP/1.1\r\nHost: x\r\n\r\n")
        # Closing with a zero linger resets the connection, so the server's write fails.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        time.sleep(0.5)
        assert client.get("0").text == "slept 0.0"
