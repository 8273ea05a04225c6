"""The same application in Starlette, FastAPI, Flask and Django (the last two through a2wsgi), run through
LambdaAdapter behind a REST API stage, an HTTP API (default and named stage) and a load balancer (both header
modes): what an application moving to the adapter relies on must hold for every framework and every service."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import pytest
from a2wsgi import WSGIMiddleware
from a2wsgi.wsgi_typing import Environ, StartResponse

from adapter import LambdaAdapter
from adapter.types import LambdaEvent, LambdaResponse
from tests.adapter.builders import (
    make_alb_event_from_client,
    make_http_v2_event_from_client,
    make_rest_event_from_client,
    received_body,
    received_header,
    received_headers,
)
from tests.conftest import LambdaContextStub
from tests.migration.apps import PAYLOAD, REDIRECT_ITEM_ID, SET_COOKIES

FRAMEWORKS = ("starlette", "fastapi", "flask", "django")


@dataclass(frozen=True)
class Shape:
    """One way a request reaches the function."""

    name: str
    build: Callable[..., LambdaEvent]
    # The public prefix of the application's URLs (the ASGI root_path).
    prefix: str = ""
    # Whether every value of a repeated query name reaches the function.
    keeps_repeated_query: bool = True


SHAPES = (
    # REST APIs leave Content-Length out of the event (see voker/rest-v1-live-encoding-probe.json), which the
    # WSGI frameworks need to read a body.
    Shape("rest", partial(make_rest_event_from_client, stage="live"), prefix="/live"),
    Shape("http-v2", make_http_v2_event_from_client),
    Shape("http-v2-named-stage", partial(make_http_v2_event_from_client, stage="beta"), prefix="/beta"),
    Shape("alb-multi-value", partial(make_alb_event_from_client, multi_value=True)),
    # The load balancer keeps only the last value of a repeated query name in single-value mode.
    Shape("alb-single-value", partial(make_alb_event_from_client, multi_value=False), keeps_repeated_query=False),
)


def _app(framework: str) -> Any:
    return importlib.import_module(f"tests.migration.apps.{framework}_app").app


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(params=SHAPES, ids=[shape.name for shape in SHAPES])
def shape(request: pytest.FixtureRequest) -> Shape:
    value: Shape = request.param
    return value


@pytest.fixture
def handler(framework: str) -> Iterator[LambdaAdapter]:
    adapter = LambdaAdapter(_app(framework))
    yield adapter
    adapter.close()


def _json(event: LambdaEvent, response: LambdaResponse) -> Any:
    content_type = received_header(event, response, "content-type") or ""
    assert content_type.startswith("application/json"), content_type
    # JSON must travel as text, not base64, so that the service passes it on untouched.
    assert response["isBase64Encoded"] is False
    return json.loads(received_body(response))


def test_path_parameter_and_query(handler: LambdaAdapter, shape: Shape, lambda_context: LambdaContextStub) -> None:
    # A path parameter with an escaped space and UTF-8; a repeated name; "+" and "&" escaped, a space as "+".
    event = shape.build(
        path="/items/a%20%C3%A9", query=[("tag", "x"), ("tag", "y"), ("q", "1+1 & café")], headers={"accept": "*/*"}
    )

    response = handler(event, lambda_context)

    assert response["statusCode"] == 200, received_body(response)
    assert _json(event, response) == {
        "item_id": "a é",
        "tags": ["x", "y"] if shape.keeps_repeated_query else ["y"],
        "q": "1+1 & café",
    }


def test_json_body_echo(handler: LambdaAdapter, shape: Shape, lambda_context: LambdaContextStub) -> None:
    payload = {"message": "hello from the public internet", "unicode": "lambda-λ", "nested": {"list": [1, 2.5, None]}}
    event = shape.build(
        method="POST",
        path="/echo",
        headers={"content-type": "application/json"},
        body=json.dumps(payload, ensure_ascii=False),
    )

    response = handler(event, lambda_context)

    assert response["statusCode"] == 200, received_body(response)
    assert _json(event, response) == {"received": payload}


def test_cookies_in_and_out(handler: LambdaAdapter, shape: Shape, lambda_context: LambdaContextStub) -> None:
    event = shape.build(path="/cookies", cookies={"session": "abc123", "theme": "dark"})

    response = handler(event, lambda_context)

    assert response["statusCode"] == 200, received_body(response)
    assert _json(event, response) == {"cookies": {"session": "abc123", "theme": "dark"}}
    set_cookies = [value for name, value in received_headers(event, response) if name == "set-cookie"]
    received: dict[str, str] = {}
    for header in set_cookies:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        received.update({name: morsel.value for name, morsel in cookie.items()})
    assert received == SET_COOKIES
    assert len(set_cookies) == len(SET_COOKIES)


def test_redirect_carries_public_prefix(
    handler: LambdaAdapter, shape: Shape, lambda_context: LambdaContextStub
) -> None:
    event = shape.build(path="/go")

    response = handler(event, lambda_context)

    assert response["statusCode"] == 302, received_body(response)
    location = received_header(event, response, "location")
    assert location is not None
    # Starlette and FastAPI build absolute URLs from the Host header; Flask and Django build paths.
    url = urlsplit(location)
    assert url.path == f"{shape.prefix}/items/{REDIRECT_ITEM_ID}"
    if url.netloc:
        request_headers = dict(_request_headers(event))
        assert (url.scheme, url.netloc) == (request_headers["x-forwarded-proto"], request_headers["host"])

    # Following the redirect reaches the item, wherever the prefix came from.
    follow = shape.build(path=url.path.removeprefix(shape.prefix))
    assert _json(follow, handler(follow, lambda_context))["item_id"] == REDIRECT_ITEM_ID


def test_binary_download(handler: LambdaAdapter, shape: Shape, lambda_context: LambdaContextStub) -> None:
    event = shape.build(path="/download")

    response = handler(event, lambda_context)

    assert response["statusCode"] == 200
    assert received_header(event, response, "content-type") == "application/octet-stream"
    assert response["isBase64Encoded"] is True
    assert received_body(response) == PAYLOAD


def _wsgi_environ_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    seen = {
        "SCRIPT_NAME": environ["SCRIPT_NAME"],
        "PATH_INFO": environ["PATH_INFO"],
        "QUERY_STRING": environ["QUERY_STRING"],
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode("latin-1")]


@pytest.mark.parametrize(
    ("build", "base_path", "script_name"),
    [
        (partial(make_rest_event_from_client, stage="live"), "/", "/live"),
        (partial(make_http_v2_event_from_client, stage="beta"), "/", "/beta"),
        (partial(make_rest_event_from_client, domain="api.example.com", base_path="/v1"), "/v1", "/v1"),
        (partial(make_alb_event_from_client, multi_value=True), "/", ""),
    ],
    ids=["rest-stage", "http-v2-named-stage", "rest-custom-domain", "alb"],
)
def test_a2wsgi_splits_root_path_into_script_name_and_path_info(
    build: Callable[..., LambdaEvent], base_path: str, script_name: str, lambda_context: LambdaContextStub
) -> None:
    # ASGI's path includes root_path; WSGI's PATH_INFO does not, and Flask and Django build URLs from
    # SCRIPT_NAME. a2wsgi has to split them, or every URL those frameworks build loses (or doubles) the prefix.
    adapter = LambdaAdapter(WSGIMiddleware(_wsgi_environ_app), api_gateway_base_path=base_path)
    try:
        event = build(path="/items/a%20b/c", query=[("tag", "x y")])
        environ = _json(event, adapter(event, lambda_context))
    finally:
        adapter.close()

    assert environ["SCRIPT_NAME"] == script_name
    # PATH_INFO is decoded, as WSGI (PEP 3333) has it.
    assert environ["PATH_INFO"] == "/items/a b/c"
    assert environ["QUERY_STRING"] == "tag=x+y"


def _request_headers(event: LambdaEvent) -> list[tuple[str, str]]:
    if event.get("multiValueHeaders"):
        return [(name.lower(), value) for name, values in event["multiValueHeaders"].items() for value in values]
    return [(name.lower(), value) for name, value in event["headers"].items()]


# FastAPI's interactive docs: the page must load the schema from the public URL, prefix included.


@pytest.fixture
def fastapi_handler() -> Iterator[LambdaAdapter]:
    adapter = LambdaAdapter(_app("fastapi"))
    yield adapter
    adapter.close()


@pytest.fixture
def fastapi_custom_domain_handler() -> Iterator[LambdaAdapter]:
    adapter = LambdaAdapter(_app("fastapi"), api_gateway_base_path="/live")
    yield adapter
    adapter.close()


def _check_docs(handler: LambdaAdapter, build: Callable[..., LambdaEvent], context: LambdaContextStub) -> None:
    docs_event = build(path="/docs")
    docs = handler(docs_event, context)
    assert docs["statusCode"] == 200
    html = received_body(docs).decode("utf-8")
    assert "url: '/live/openapi.json'" in html

    schema_event = build(path="/openapi.json")
    schema = _json(schema_event, handler(schema_event, context))
    assert schema["info"]["title"] == "Migration matrix"
    assert "/items/{item_id}" in schema["paths"]
    # "Try it out" in the docs page sends requests to the server URLs, so they carry the prefix too.
    assert schema["servers"] == [{"url": "/live"}]


def test_fastapi_docs_behind_rest_stage(fastapi_handler: LambdaAdapter, lambda_context: LambdaContextStub) -> None:
    _check_docs(fastapi_handler, partial(make_rest_event_from_client, stage="live"), lambda_context)


def test_fastapi_docs_behind_http_api_named_stage(
    fastapi_handler: LambdaAdapter, lambda_context: LambdaContextStub
) -> None:
    _check_docs(fastapi_handler, partial(make_http_v2_event_from_client, stage="live"), lambda_context)


@pytest.mark.parametrize(
    "build",
    [
        partial(make_rest_event_from_client, stage="prod", domain="api.example.com", base_path="/live"),
        partial(make_http_v2_event_from_client, domain="api.example.com", base_path="/live"),
    ],
    ids=["rest", "http-v2"],
)
def test_fastapi_docs_behind_custom_domain_base_path(
    fastapi_custom_domain_handler: LambdaAdapter, build: Callable[..., LambdaEvent], lambda_context: LambdaContextStub
) -> None:
    _check_docs(fastapi_custom_domain_handler, build, lambda_context)
