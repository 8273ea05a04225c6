"""`sample_app.handler.handler(event, context)`, as Lambda calls it, behind a REST API stage, an HTTP API named
stage and a Function URL: the same app, whose URLs carry each one's stage prefix without knowing it."""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import pytest

from sample_app.settings import Settings
from tests.conftest import LambdaContextStub, load_event
from tests.sample_app.conftest import unique

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
EventBuilder = Callable[..., dict[str, Any]]

BROWSER_HEADERS = {"accept": "*/*", "user-agent": "curl/8.7.1", "x-forwarded-proto": "https", "x-forwarded-port": "443"}


def rest_event(
    method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A REST API request on the execute-api host of the stage `live`, from a live capture."""
    event = load_event("voker/rest-v1-live-encoding-probe.json")
    all_headers = {"Host": event["headers"]["Host"], **BROWSER_HEADERS, **(headers or {})}
    event.update(
        httpMethod=method,
        path=path,
        pathParameters={"proxy": path.lstrip("/")} if path != "/" else None,
        resource="/{proxy+}" if path != "/" else "/",
        headers=all_headers,
        multiValueHeaders={name: [value] for name, value in all_headers.items()},
        queryStringParameters=None,
        multiValueQueryStringParameters=None,
        body=body,
        isBase64Encoded=False,
    )
    event["requestContext"].update(httpMethod=method, path=f"/live{path}")
    return event


def http_api_event(
    method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) request on its named stage `beta`."""
    event = load_event("aws-lambda-dotnet/http-v2-named-stage-beta.json")
    event.update(
        rawPath=f"/beta{path}",
        rawQueryString="",
        headers={"host": event["headers"]["host"], **BROWSER_HEADERS, **(headers or {})},
        body=body,
        isBase64Encoded=False,
    )
    event["requestContext"]["http"].update(method=method, path=f"/beta{path}")
    return event


def function_url_event(
    method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A Function URL request, from a live capture."""
    event = load_event("voker/function-url-live-encoding-probe.json")
    del event["cookies"]
    event.update(
        rawPath=path,
        rawQueryString="",
        queryStringParameters=None,
        headers={"host": event["headers"]["host"], **BROWSER_HEADERS, **(headers or {})},
        body=body,
        isBase64Encoded=False,
    )
    event["requestContext"]["http"].update(method=method, path=path)
    return event


SOURCES = {
    "rest-api-stage": (rest_event, "https://5h7pqvr9u4.execute-api.us-west-2.amazonaws.com/live"),
    "http-api-named-stage": (http_api_event, "https://uzdrcy3wk7.execute-api.us-east-1.amazonaws.com/beta"),
    "function-url": (function_url_event, "https://2cxn22odiwguak4feg4jtt7cwm0ziblr.lambda-url.us-west-2.on.aws"),
}


@pytest.fixture(scope="module")
def handler(module_links_settings: Settings) -> Iterator[Handler]:
    """`sample_app.handler.handler`, imported as in a cold start: with the environment set first."""
    saved = dict(os.environ)
    os.environ["LINKS_TABLE"] = module_links_settings.links_table
    assert module_links_settings.dynamodb_endpoint_url is not None
    os.environ["DYNAMODB_ENDPOINT_URL"] = module_links_settings.dynamodb_endpoint_url
    for name in ("sample_app.handler", "sample_app.app"):
        sys.modules.pop(name, None)
    module = importlib.import_module("sample_app.handler")
    try:
        yield module.handler
    finally:
        module.handler.close()
        for name in ("sample_app.handler", "sample_app.app"):
            sys.modules.pop(name, None)
        os.environ.clear()
        os.environ.update(saved)


def invoke(handler: Handler, event: dict[str, Any], context: LambdaContextStub) -> tuple[int, dict[str, str], str]:
    """Status, headers (lower-cased names) and body text of the Lambda response."""
    response = handler(event, context)
    headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(values)
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], headers, body


class Urls(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in {"href", "action"} and value is not None]


@pytest.mark.parametrize("source", SOURCES)
def test_create_get_redirect_and_page_carry_the_stage(
    handler: Handler, lambda_context: LambdaContextStub, source: str
) -> None:
    build, base = SOURCES[source]
    json_headers = {"content-type": "application/json"}
    code = unique(source)

    status, headers, body = invoke(
        handler,
        build("POST", "/links", json.dumps({"url": "https://example.com/x", "code": code}), json_headers),
        lambda_context,
    )
    assert status == 201, body
    assert headers["location"] == f"{base}/links/{code}"
    assert headers["etag"] == '"1"'
    assert json.loads(body)["short_url"] == f"{base}/r/{code}"

    status, headers, body = invoke(handler, build("GET", f"/links/{code}"), lambda_context)
    assert (status, headers["etag"], json.loads(body)["url"]) == (200, '"1"', "https://example.com/x")

    status, headers, _ = invoke(handler, build("GET", f"/r/{code}"), lambda_context)
    assert (status, headers["location"]) == (307, "https://example.com/x")
    assert json.loads(invoke(handler, build("GET", f"/links/{code}"), lambda_context)[2])["clicks"] == 1

    status, headers, body = invoke(handler, build("GET", "/"), lambda_context)
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    urls = Urls(body).urls
    assert f"{base}/r/{code}" in urls
    assert f"{base}/links/{code}" in urls
    assert all(url.startswith(f"{base}/") for url in urls), urls

    form = urlencode({"url": "https://example.com/form", "code": f"{code}-form"})
    status, headers, _ = invoke(
        handler, build("POST", "/", form, {"content-type": "application/x-www-form-urlencoded"}), lambda_context
    )
    assert (status, headers["location"]) == (303, f"{base}/")


@pytest.mark.parametrize("source", SOURCES)
def test_errors_are_problems_in_lambda_too(handler: Handler, lambda_context: LambdaContextStub, source: str) -> None:
    build, _ = SOURCES[source]

    status, headers, body = invoke(
        handler, build("POST", "/links", "{not json", {"content-type": "application/json"}), lambda_context
    )

    assert (status, headers["content-type"]) == (400, "application/problem+json")
    assert json.loads(body)["detail"].startswith("The request body is not valid JSON")
    status, headers, body = invoke(handler, build("GET", f"/links/{unique('absent')}"), lambda_context)
    assert (status, headers["content-type"], json.loads(body)["status"]) == (404, "application/problem+json", 404)
