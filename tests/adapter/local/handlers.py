"""Handlers that `serve`, `invoke` and the tests run: a Starlette app behind LambdaAdapter, and raw handlers that
fail in each way a function can."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from adapter import LambdaAdapter

PNG = bytes(range(256)) * 4


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


async def echo(request: Request) -> Response:
    """The request as the application saw it."""
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "root_path": request.scope["root_path"],
            "url": str(request.url),
            "query": request.scope["query_string"].decode(),
            "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in request.scope["headers"]],
            "body": base64.b64encode(body).decode(),
            "client": request.client.host if request.client else None,
            "remaining_ms": request.scope["aws.context"].get_remaining_time_in_millis(),
            "request_id": request.scope["aws.context"].aws_request_id,
            "function_name": request.scope["aws.context"].function_name,
            "memory": request.scope["aws.context"].memory_limit_in_mb,
        }
    )


async def cookies(request: Request) -> Response:
    response = PlainTextResponse("cookies")
    response.set_cookie("first", "1")
    response.set_cookie("second", "2", httponly=True)
    response.set_cookie("third", "3", path="/other")
    return response


async def redirect(request: Request) -> Response:
    return RedirectResponse(request.url_for("hello"), status_code=303)


async def image(request: Request) -> Response:
    return Response(PNG, media_type="image/png")


async def upload(request: Request) -> Response:
    body = await request.body()
    return Response(body[::-1], media_type="application/octet-stream")


async def large(request: Request) -> Response:
    size = int(request.query_params["bytes"])
    return Response(b"x" * size, media_type="application/octet-stream")


async def header_bytes(request: Request) -> Response:
    """The bytes of the request's X-City header: as the body (in hex), and back as a response header."""
    raw = dict(request.scope["headers"]).get(b"x-city", b"")
    response = PlainTextResponse(raw.hex())
    response.raw_headers.append((b"x-city", raw))
    return response


class Gates:
    """What the streaming routes wait for, and what they note down as they go (reset by the tests that use them)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.journal: list[str] = []


gates = Gates()


async def events(request: Request) -> Response:
    """Server-sent events: the first at once, the second only once the test releases it."""

    async def produce() -> AsyncIterator[str]:
        yield "data: first\n\n"
        released = await asyncio.to_thread(gates.release.wait, 10)
        gates.journal.append("released" if released else "never released")
        yield "data: second\n\n"
        gates.journal.append("feed finished")

    return StreamingResponse(produce(), media_type="text/event-stream")


# NUL bytes (the prelude's delimiter), CRLFs and what looks like the last chunk: the body must come through as is.
BINARY_CHUNKS = [b"\0" * 8, bytes(range(256)), b"\r\n0\r\n\r\n", b"\0" * 8 + b"end"]


async def binary(request: Request) -> Response:
    async def produce() -> AsyncIterator[bytes]:
        for chunk in BINARY_CHUNKS:
            yield chunk

    return StreamingResponse(produce(), media_type="application/octet-stream")


async def broken_stream(request: Request) -> Response:
    async def produce() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("the stream broke")

    return StreamingResponse(produce(), media_type="text/plain")


async def ticks(request: Request) -> Response:
    """A tick every 50 ms, for ever (or `?stall=SECONDS`: one tick, then the event loop blocked that long)."""
    stall = float(request.query_params.get("stall", 0))

    async def produce() -> AsyncIterator[bytes]:
        while True:
            yield b"tick\n"
            if stall:
                time.sleep(stall)
            await asyncio.sleep(0.05)

    return StreamingResponse(produce(), media_type="text/plain")


async def bad_header(request: Request) -> Response:
    return PlainTextResponse("bad", headers={"x-injected": "one\r\nx-other: two"})


app = Starlette(
    routes=[
        Route("/hello", hello, name="hello"),
        Route("/echo/{rest:path}", echo, methods=["GET", "POST", "PUT", "DELETE", "HEAD"]),
        Route("/cookies", cookies),
        Route("/header-bytes", header_bytes),
        Route("/redirect", redirect),
        Route("/image.png", image),
        Route("/upload", upload, methods=["POST"]),
        Route("/large", large),
        Route("/events", events),
        Route("/binary", binary),
        Route("/broken-stream", broken_stream),
        Route("/ticks", ticks),
        Route("/bad-header", bad_header),
    ]
)

handler = LambdaAdapter(app, lifespan="off")


def raises(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("the handler failed on purpose")


def returns_garbage(event: dict[str, Any], context: Any) -> Any:
    """Each path returns another kind of result that the services refuse."""
    path = event.get("path") or event.get("rawPath") or ""
    kind = path.rstrip("/").rsplit("/", 1)[-1]
    results: dict[str, Any] = {
        "string": "just a string",
        "no-status": {"body": "no statusCode"},
        "bad-status": {"statusCode": "two hundred", "body": ""},
        "dict-body": {"statusCode": 200, "body": {"not": "a string"}},
        "bad-headers": {"statusCode": 200, "headers": ["not", "an", "object"]},
        "bad-multi": {"statusCode": 200, "multiValueHeaders": {"x-a": "not a list"}},
        "bad-header-value": {"statusCode": 200, "headers": {"x-a": {"nested": 1}}},
        "header-injection": {"statusCode": 200, "headers": {"x-a": "one\r\nx-b: two"}},
        "bad-base64": {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
        "bad-cookies": {"statusCode": 200, "cookies": "a=1"},
        "bad-description": {"statusCode": 200, "statusDescription": 200},
        "not-json": {"statusCode": 200, "body": b"bytes are not JSON"},
        "huge": {"statusCode": 200, "body": "x" * (6 * 1024 * 1024 + 100)},
        "over-1-mb": {"statusCode": 200, "body": "x" * 1_100_000},
    }
    return results.get(kind, {"statusCode": 200, "body": json.dumps(sorted(results))})


def raw(event: dict[str, Any], context: Any) -> Any:
    """Returns, as its result, the JSON body of the request (so that tests choose the result)."""
    body = event.get("body") or "null"
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


def sleeps(event: dict[str, Any], context: Any) -> dict[str, Any]:
    path = event.get("path") or event.get("rawPath") or ""
    seconds = float(path.rstrip("/").rsplit("/", 1)[-1] or 0)
    time.sleep(seconds)
    return {"statusCode": 200, "body": f"slept {seconds}"}


def echo_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Returns the event it received, as JSON."""
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}


not_callable = 42
