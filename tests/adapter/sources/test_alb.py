from __future__ import annotations

from typing import Any

import pytest

from adapter import MalformedEvent
from adapter.config import build_config
from adapter.sources import ALB, Response
from adapter.sources.alb import _case_mutated
from tests.adapter.builders import make_alb_event
from tests.adapter.conftest import AdapterFactory, responder
from tests.conftest import LambdaContextStub, load_event


def scope_of(event: dict[str, Any]) -> dict[str, Any]:
    scope, _ = ALB.to_request(event, None, build_config())
    return dict(scope)


@pytest.mark.parametrize("multi_value", [True, False])
def test_query_is_joined_without_encoding_it_again(multi_value: bool) -> None:
    # The load balancer passes the query still percent-encoded (aws-lambda-dotnet fixtures, voker capture).
    query = {"redirect": ["https%3A%2F%2Fexample.com%2Fa%2Fb"], "plus": ["a%2Bb"], "space": ["a+b"]}
    scope = scope_of(make_alb_event(query=query, multi_value=multi_value))
    assert scope["query_string"] == b"redirect=https%3A%2F%2Fexample.com%2Fa%2Fb&plus=a%2Bb&space=a+b"


def test_repeated_query_keys_keep_their_order() -> None:
    scope = scope_of(make_alb_event(query={"repeat": ["one", "two"], "x": ["1"]}))
    assert scope["query_string"] == b"repeat=one&repeat=two&x=1"


def test_escaped_percent_and_slash_stay_in_raw_path() -> None:
    scope = scope_of(load_event("aws-lambda-dotnet/alb-path-escaped-percent-and-slash.json"))
    assert (scope["raw_path"], scope["path"]) == (b"/foo%25%2Fbar", "/foo%/bar")


def test_client_is_the_last_forwarded_address_and_scheme_follows_the_listener() -> None:
    event = make_alb_event(headers={"x-forwarded-for": ["10.0.0.1, 198.51.100.7"], "x-forwarded-proto": ["http"]})
    event["multiValueHeaders"]["x-forwarded-port"] = ["80"]
    scope = scope_of(event)
    assert (scope["client"], scope["scheme"], scope["server"][1]) == (("198.51.100.7", 0), "http", 80)


def test_no_forwarded_for_means_no_client() -> None:
    event = make_alb_event()
    del event["multiValueHeaders"]["x-forwarded-for"]
    assert scope_of(event)["client"] is None


@pytest.mark.parametrize(("change", "message"), [({"httpMethod": 7}, "no httpMethod"), ({"path": ""}, "no path")])
def test_malformed_events(change: dict[str, Any], message: str) -> None:
    event = make_alb_event()
    event.update(change)
    with pytest.raises(MalformedEvent, match=message):
        scope_of(event)


COOKIES = [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"set-cookie", b"c=3"), (b"content-type", b"text/html")]


def test_multi_value_response_for_multi_value_request(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub
) -> None:
    assert make_adapter(responder(201, COOKIES, b"<p>"))(make_alb_event(), lambda_context) == {
        "statusCode": 201,
        "statusDescription": "201 Created",
        "multiValueHeaders": {"set-cookie": ["a=1", "b=2", "c=3"], "content-type": ["text/html"]},
        "body": "<p>",
        "isBase64Encoded": False,
    }


def test_single_value_response_keeps_every_cookie_under_another_casing(
    make_adapter: AdapterFactory, lambda_context: LambdaContextStub
) -> None:
    result = make_adapter(responder(200, COOKIES, b"<p>"))(make_alb_event(multi_value=False), lambda_context)
    assert result == {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "headers": {"set-cookie": "a=1", "set-cookiE": "b=2", "set-cookIe": "c=3", "content-type": "text/html"},
        "body": "<p>",
        "isBase64Encoded": False,
    }


def test_case_mutation_runs_out_of_casings_without_losing_values() -> None:
    # "x-1" has one letter, so two casings; the third value travels comma-joined with the second.
    assert _case_mutated({}, {"x-1": ["a", "b", "c"]}) == {"x-1": "a", "X-1": "b, c"}


def test_unknown_status_code_has_a_plain_description() -> None:
    result = ALB.to_response(Response(599, [], b""), make_alb_event(), build_config())
    assert result["statusDescription"] == "599"


def test_cookie_headers_sent_as_several_values_reach_the_app_as_one() -> None:
    scope = scope_of(make_alb_event(headers={"cookie": ["a=1", "b=2"]}))
    assert [value for name, value in scope["headers"] if name == b"cookie"] == [b"a=1; b=2"]
