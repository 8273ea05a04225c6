from __future__ import annotations

from typing import Any

import pytest

from adapter import MalformedEvent
from adapter.config import build_config
from adapter.sources import HTTPAPIV2, Response
from tests.adapter.builders import make_function_url_event, make_http_v2_event
from tests.adapter.conftest import AdapterFactory, responder
from tests.conftest import LambdaContextStub, load_event


def scope_of(event: dict[str, Any], **options: Any) -> dict[str, Any]:
    scope, _ = HTTPAPIV2.to_request(event, None, build_config(**options))
    return dict(scope)


def test_default_stage_has_no_root_path() -> None:
    scope = scope_of(make_http_v2_event(path="/links"))
    assert (scope["root_path"], scope["path"], scope["raw_path"]) == ("", "/links", b"/links")


def test_named_stage_is_in_raw_path_and_becomes_root_path() -> None:
    scope = scope_of(make_http_v2_event(path="/beta/links", stage="beta"))
    assert (scope["root_path"], scope["path"]) == ("/beta", "/beta/links")
    # A stage name that only starts a longer segment is not a prefix.
    assert scope_of(make_http_v2_event(path="/betamax", stage="beta"))["root_path"] == ""


def test_named_stage_behind_custom_domain_falls_back_to_base_path() -> None:
    event = make_http_v2_event(path="/v1/links", stage="beta", host="api.example.com")
    assert scope_of(event, api_gateway_base_path="/v1")["root_path"] == "/v1"
    assert scope_of(event)["root_path"] == ""


def test_literal_space_from_http_api_is_escaped_in_raw_path() -> None:
    # HTTP API decodes %20 in rawPath (live capture in tests/events/voker/); the client sent it escaped.
    scope = scope_of(load_event("voker/http-v2-live-encoding-probe.json"))
    assert (scope["path"], scope["raw_path"]) == ("/capture/space value", b"/capture/space%20value")


def test_encoded_slash_survives_in_raw_path() -> None:
    scope = scope_of(load_event("aws-lambda-dotnet/http-v2-rawpath-encoded-slash.json"))
    assert scope["raw_path"] == b"/api/resourcepath/encoding/a%2Fb"
    assert scope["path"] == "/api/resourcepath/encoding/a/b"


def test_non_ascii_path_and_query_are_percent_encoded_as_bytes() -> None:
    scope = scope_of(make_http_v2_event(path="/caf\u00e9/\u2603", query="q=\u00e9t\u00e9&x=a b"))
    assert scope["raw_path"] == b"/caf%C3%A9/%E2%98%83"
    assert scope["path"] == "/caf\u00e9/\u2603"
    assert scope["query_string"] == b"q=%C3%A9t%C3%A9&x=a%20b"


def test_raw_query_string_is_kept_as_sent() -> None:
    event = load_event("voker/http-v2-live-encoding-probe.json")
    assert scope_of(event)["query_string"] == event["rawQueryString"].encode()


def test_cookies_become_one_cookie_header() -> None:
    scope = scope_of(make_http_v2_event(cookies=["a=1", "b=2"]))
    assert [value for name, value in scope["headers"] if name == b"cookie"] == [b"a=1; b=2"]


def test_function_url_cookie_header_is_not_sent_twice() -> None:
    # A Function URL keeps the Cookie header and also splits it into `cookies` (live capture, aws-lambda-go).
    event = load_event("aws-lambda-go/function-url-live-cookies-dup-headers-text-body.json")
    cookies = [value for name, value in scope_of(event)["headers"] if name == b"cookie"]
    assert cookies == ["; ".join(event["cookies"]).encode()]


def test_function_url_has_no_root_path() -> None:
    event = make_function_url_event(path="/beta/links", stage="beta")
    assert scope_of(event, api_gateway_base_path="/beta")["root_path"] == ""


def test_http_2_and_missing_protocol() -> None:
    event = make_http_v2_event()
    event["requestContext"]["http"]["protocol"] = "HTTP/2.0"
    assert scope_of(event)["http_version"] == "2"
    del event["requestContext"]["http"]["protocol"]
    assert scope_of(event)["http_version"] == "1.1"


@pytest.mark.parametrize(
    ("path", "value"), [(("requestContext", "http", "method"), None), (("rawPath",), "x"), (("rawPath",), None)]
)
def test_malformed_events(path: tuple[str, ...], value: object) -> None:
    event = make_http_v2_event()
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(MalformedEvent, match=r"no requestContext.http.method|no rawPath starting with '/'"):
        scope_of(event)


def test_missing_http_block() -> None:
    event = make_http_v2_event()
    event["requestContext"] = None
    with pytest.raises(MalformedEvent, match=r"no requestContext.http.method"):
        scope_of(event)


def test_response_sends_cookies_apart_and_joins_other_repeated_headers(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub
) -> None:
    app = responder(
        200,
        [(b"set-cookie", b"a=1; Path=/"), (b"vary", b"accept"), (b"set-cookie", b"b=2"), (b"vary", b"cookie")],
        b"{}",
    )
    assert make_adapter(app)(make_http_v2_event(), lambda_context) == {
        "statusCode": 200,
        "headers": {"vary": "accept, cookie"},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": "e30=",
        "isBase64Encoded": True,
    }


def test_response_never_invents_a_content_type() -> None:
    result = HTTPAPIV2.to_response(Response(204, [], b""), make_http_v2_event(), build_config())
    assert result == {"statusCode": 204, "headers": {}, "body": "", "isBase64Encoded": False}


def test_cookies_carry_their_utf_8_bytes() -> None:
    # As every other header: AWS hands over the client's UTF-8 as text, and the app gets the bytes back.
    event = make_http_v2_event()
    event["cookies"] = ["session=abc", "city=\u0141\u00f3d\u017a"]
    cookie = [value for name, value in scope_of(event)["headers"] if name == b"cookie"]
    assert cookie == ["session=abc; city=\u0141\u00f3d\u017a".encode()]
