"""The sample app's non-HTTP events through its Lambda handler, against DynamoDB Local: clicks from the queue,
the expiry schedule, and bulk import batches as the Step Functions Map state sends them."""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from adapter import InvalidPayload, LambdaAdapter
from sample_app.app import create_app
from sample_app.clicks import click_message
from sample_app.links import LinkStore
from sample_app.models import bind
from sample_app.settings import Settings
from sample_app.triggers import triggers
from tests.adapter.builders import make_http_v2_event
from tests.conftest import LambdaContextStub, load_event
from tests.dynamodb import fresh_table

UTC = datetime.UTC


@pytest.fixture
def store(links_settings: Settings) -> LinkStore:
    return LinkStore(bind(links_settings))


@pytest.fixture
def invoke(links_settings: Settings) -> Iterator[Any]:
    handler = LambdaAdapter(create_app(links_settings), triggers=triggers)
    yield lambda event: handler(event, LambdaContextStub())
    handler.close()


def sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS batch of these message bodies, from the recorded event in tests/events/."""
    template = load_event("aws-lambda-web-adapter/sqs-event.json")["Records"][0]
    records = []
    for n, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record.update(messageId=f"message-{n}", body=body, md5OfBody=hashlib.md5(body.encode()).hexdigest())
        records.append(record)
    return {"Records": records}


def clicks(store: LinkStore, code: str) -> int:
    return int(store.get(code).clicks)


def new_link(store: LinkStore, code: str, expires_at: datetime.datetime | None = None) -> None:
    link = store.Link(code=code, url=f"https://example.com/{code}", created_at=datetime.datetime.now(UTC))
    link.expires_at = expires_at
    link.save()


# ---- clicks from the queue ---------------------------------------------------------------------------------


def test_a_batch_with_one_poison_message_reports_exactly_it(store: LinkStore, invoke: Any) -> None:
    new_link(store, "a")
    new_link(store, "b")
    bodies = [click_message("a") for _ in range(6)] + [click_message("b") for _ in range(3)]
    bodies.insert(4, '{"code": "a"}')  # no click id: never countable
    event = sqs_event(*bodies)

    assert invoke(event) == {"batchItemFailures": [{"itemIdentifier": "message-4"}]}
    assert (clicks(store, "a"), clicks(store, "b")) == (6, 3)

    # SQS delivers the batch again (the function timed out, say): nothing is counted twice, and the poison
    # message is reported again, until the queue moves it to the dead-letter queue.
    assert invoke(event) == {"batchItemFailures": [{"itemIdentifier": "message-4"}]}
    assert (clicks(store, "a"), clicks(store, "b")) == (6, 3)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1]",
        json.dumps({"id": "x y", "code": "a", "at": "2026-01-01T00:00:00+00:00"}),
        json.dumps({"id": "c1", "code": "no spaces", "at": "2026-01-01T00:00:00+00:00"}),
        json.dumps({"id": "c1", "code": "a", "at": "yesterday"}),
        json.dumps({"id": "c1", "code": "a", "at": "2026-01-01T00:00:00"}),
    ],
)
def test_messages_that_are_not_clicks_are_poison(store: LinkStore, invoke: Any, body: str) -> None:
    new_link(store, "a")
    assert invoke(sqs_event(body)) == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    assert clicks(store, "a") == 0


def test_a_click_on_a_deleted_or_expired_link_is_dropped(store: LinkStore, invoke: Any) -> None:
    new_link(store, "old", expires_at=datetime.datetime.now(UTC) - datetime.timedelta(minutes=1))
    assert invoke(sqs_event(click_message("gone"), click_message("old"))) == {"batchItemFailures": []}


def test_concurrent_clicks_on_one_link_all_count(store: LinkStore, invoke: Any) -> None:
    new_link(store, "hot")
    assert invoke(sqs_event(*(click_message("hot") for _ in range(10)))) == {"batchItemFailures": []}
    assert clicks(store, "hot") == 10


def test_lifespan_starts_once_for_requests_and_queue_batches(
    links_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sample_app")
    handler = LambdaAdapter(create_app(links_settings), triggers=triggers)
    store = LinkStore(bind(links_settings))
    new_link(store, "a")
    assert handler(make_http_v2_event(path="/health"), LambdaContextStub())["statusCode"] == 200
    assert handler(sqs_event(click_message("a")), LambdaContextStub()) == {"batchItemFailures": []}
    assert handler(load_event("sam-cli/eventbridge-scheduled.json"), LambdaContextStub()) is None
    assert handler(make_http_v2_event(path="/links/a"), LambdaContextStub())["statusCode"] == 200
    handler.close()
    startups = [record for record in caplog.records if record.getMessage().startswith("DynamoDB table")]
    assert len(startups) == 1


# ---- clicks published by the redirect -------------------------------------------------------------------------


class SQSEndpoint:
    """An HTTP server on 127.0.0.1 that answers SQS's SendMessage (its JSON protocol) and keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert self.headers["X-Amz-Target"] == "AmazonSQS.SendMessage"
                endpoint.sent.append(request)
                body = json.dumps(
                    {
                        "MessageId": str(uuid.uuid4()),
                        "MD5OfMessageBody": hashlib.md5(request["MessageBody"].encode()).hexdigest(),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def sqs_endpoint() -> Iterator[SQSEndpoint]:
    endpoint = SQSEndpoint()
    yield endpoint
    endpoint.close()


def test_a_redirect_publishes_the_click_and_the_queue_handler_counts_it(
    dynamodb_local: str, sqs_endpoint: SQSEndpoint
) -> None:
    queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/clicks"
    with fresh_table(dynamodb_local) as table:
        settings = Settings(
            links_table=table.links_table,
            dynamodb_endpoint_url=dynamodb_local,
            aws_region=table.aws_region,
            clicks_queue_url=queue_url,
            sqs_endpoint_url=sqs_endpoint.url,
        )
        store = LinkStore(bind(settings))
        new_link(store, "q")
        handler = LambdaAdapter(create_app(settings), triggers=triggers)
        response = handler(make_http_v2_event(path="/r/q"), LambdaContextStub())
        assert (response["statusCode"], response["headers"]["location"]) == (307, "https://example.com/q")
        # The redirect counted nothing itself: the click is in the queue.
        assert clicks(store, "q") == 0
        [sent] = sqs_endpoint.sent
        assert sent["QueueUrl"] == queue_url
        assert json.loads(sent["MessageBody"])["code"] == "q"

        event = sqs_event(sent["MessageBody"])
        assert handler(event, LambdaContextStub()) == {"batchItemFailures": []}
        assert handler(event, LambdaContextStub()) == {"batchItemFailures": []}
        assert clicks(store, "q") == 1
        assert handler(make_http_v2_event(path="/r/nope"), LambdaContextStub())["statusCode"] == 404
        assert len(sqs_endpoint.sent) == 1
        handler.close()


def test_a_queue_that_is_down_is_a_503_and_one_log_line(
    dynamodb_local: str, links_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    closed = SQSEndpoint()
    closed.close()  # nothing listens on its port any more
    settings = Settings(
        links_table=links_settings.links_table,
        dynamodb_endpoint_url=dynamodb_local,
        aws_region=links_settings.aws_region,
        clicks_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/clicks",
        sqs_endpoint_url=closed.url,
    )
    new_link(LinkStore(bind(settings)), "q")
    handler = LambdaAdapter(create_app(settings), triggers=triggers)
    response = handler(make_http_v2_event(path="/r/q"), LambdaContextStub())
    handler.close()
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["detail"] == "The click could not be recorded right now; retry in a moment."
    [line] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert line.getMessage().startswith("SQS queue https://sqs.us-east-1.amazonaws.com/123456789012/clicks did not")


# ---- the expiry schedule -------------------------------------------------------------------------------------


def test_the_schedule_removes_expired_links_only(store: LinkStore, invoke: Any) -> None:
    now = datetime.datetime.now(UTC)
    new_link(store, "expired", expires_at=now - datetime.timedelta(seconds=1))
    new_link(store, "later", expires_at=now + datetime.timedelta(days=1))
    new_link(store, "forever")
    # Expired is gone for the app at once, though TTL has not deleted it yet.
    assert invoke(make_http_v2_event(path="/links/expired"))["statusCode"] == 404
    assert invoke(make_http_v2_event(path="/r/expired"))["statusCode"] == 404
    listed = json.loads(invoke(make_http_v2_event(path="/links"))["body"])["links"]
    assert sorted(link["code"] for link in listed) == ["forever", "later"]

    assert invoke(load_event("aws-lambda-dotnet/eventbridge-scheduled.json")) is None
    assert sorted(link.code for link in store.Link.scan()) == ["forever", "later"]
    assert invoke(load_event("aws-lambda-dotnet/eventbridge-scheduled.json")) is None


# ---- bulk import ---------------------------------------------------------------------------------------------

BATCH = 500


def map_batches(rows: list[dict[str, str]], import_id: str) -> list[dict[str, Any]]:
    """The payloads the Distributed Map sends: its ItemSelector makes {"index", "row"} items, its ItemBatcher
    puts up to 500 in `Items` with the BatchInput (template.yaml)."""
    items = [{"index": index, "row": row} for index, row in enumerate(rows)]
    return [
        {"Items": items[start : start + BATCH], "BatchInput": {"task": "import-links", "import_id": import_id}}
        for start in range(0, len(items), BATCH)
    ]


def test_ten_thousand_links_are_stored_exactly_once(store: LinkStore, invoke: Any) -> None:
    rows = [
        {"url": f"https://example.com/{n}", "code": f"imp-{n}" if n % 2 else "", "expires_at": ""}
        for n in range(10_000)
    ]
    invalid = {
        3001: {"url": "ftp://example.com/x", "code": "", "expires_at": ""},
        3002: {"url": "https://example.com/y", "code": "bad code", "expires_at": ""},
        3003: {"url": "https://example.com/z", "code": "", "expires_at": "tomorrow"},
        3004: {"url": "https://example.com/w", "code": "imp-3005", "expires_at": ""},
    }
    for index, row in invalid.items():
        rows[index] = row
    batches = map_batches(rows, "import-1")

    summaries = [invoke(batch) for batch in batches]
    # The Map state retries a batch whose invocation timed out: the batch arrives again, after it was written.
    again = invoke(batches[3])

    # Rows 3001-3003 are invalid; 3004 takes the code that row 3005 gives again, and 3005 fails for it.
    refused = {3001, 3002, 3003, 3005}
    assert sum(summary["created"] for summary in summaries) == 10_000 - len(refused)
    assert sum(summary["skipped"] for summary in summaries) == 0
    failed = [failure for summary in summaries for failure in summary["failed"]]
    assert [failure["line"] for failure in failed] == [3003, 3004, 3005, 3007]
    assert failed[0]["error"].startswith("the URL ")
    assert failed[1]["error"] == "the code 'bad code' is not 1 to 64 letters, digits, '-' or '_'"
    assert failed[2]["error"] == "expires_at 'tomorrow' is not an ISO 8601 time with a UTC offset"
    assert failed[3]["error"] == "the code 'imp-3005' is on line 3006 too"
    assert (again["created"], again["skipped"], again["failed"]) == (0, BATCH, [])

    stored = {link.code: link.url for link in store.Link.scan()}
    assert len(stored) == 10_000 - len(refused)
    for n, row in enumerate(rows):
        if n not in refused and row["code"]:
            assert stored[row["code"]] == row["url"]
    assert sorted(stored.values()) == sorted(row["url"] for n, row in enumerate(rows) if n not in refused)


def test_an_import_never_overwrites_a_link(store: LinkStore, invoke: Any) -> None:
    new_link(store, "taken")
    [batch] = map_batches(
        [
            {"url": "https://example.com/other", "code": "taken", "expires_at": ""},
            {"url": "https://example.com/taken", "code": "taken-2", "expires_at": "2030-01-01T00:00:00+00:00"},
        ],
        "import-2",
    )
    summary = invoke(batch)
    assert summary == {
        "import_id": "import-2",
        "created": 1,
        "skipped": 0,
        "failed": [{"line": 2, "error": "the code 'taken' is taken"}],
    }
    assert store.get("taken").url == "https://example.com/taken"
    assert store.get("taken-2").expires_at == datetime.datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"Items": "x", "BatchInput": {"task": "import-links", "import_id": "i"}}, "Items must be a list of objects"),
        ({"Items": [], "BatchInput": {"task": "import-links"}}, "BatchInput.import_id must name the import"),
        ({"Items": [{}] * 1001, "BatchInput": {"task": "import-links", "import_id": "i"}}, "at most 1000 rows"),
    ],
)
def test_a_payload_that_is_not_a_batch_is_invalid(invoke: Any, payload: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        invoke(payload)


def test_items_that_are_not_rows_are_reported(invoke: Any) -> None:
    payload = {
        "Items": [{"index": "1", "row": {}}, {"index": 4, "row": {"code": "c"}}],
        "BatchInput": {"task": "import-links", "import_id": "i"},
    }
    assert invoke(payload)["failed"] == [
        {"line": None, "error": "item 0 is not {'index': n, 'row': {...}}"},
        {"line": 6, "error": "the URL must be a non-empty string"},
    ]
