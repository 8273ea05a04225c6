"""What `sam build` makes of template.yaml: an artifact holding only the runtime code and its pinned
dependencies, whose handler string answers API Gateway events in an interpreter that sees nothing else."""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from sample_app.settings import Settings
from tests.conftest import load_event
from tests.template.cfn import (
    FUNCTION,
    REGION,
    ROOT,
    RUNTIME_REQUIREMENTS,
    STREAM_FUNCTION,
    handler_string,
    load_template,
    properties,
    rest_stage_name,
)
from tests.template.conftest import SamBuild

pytestmark = pytest.mark.sam

CODE_PACKAGES = ("adapter", "sample_app")
# Lambda's limits for a .zip deployment: 50 MB zipped when uploaded directly, 250 MB unzipped.
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024
ELF_MACHINE_AARCH64 = 183


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements() -> dict[str, str]:
    """name -> version of every pin in requirements/runtime.txt."""
    pins = {}
    for line in RUNTIME_REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            pins[normalize(match.group(1))] = match.group(2)
    return pins


def source_files(package: Path) -> dict[str, bytes]:
    return {
        path.relative_to(package.parent).as_posix(): path.read_bytes()
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def artifact_files(artifact: Path) -> Iterator[Path]:
    return (path for path in artifact.rglob("*") if path.is_file())


def test_build_makes_one_artifact_per_function(sam_build: SamBuild) -> None:
    # And the streaming twin's, built by the same Makefile target from the same sources.
    assert sorted(p.name for p in sam_build.build_dir.iterdir()) == [FUNCTION, STREAM_FUNCTION, "template.yaml"]
    built = load_template(sam_build.build_dir / "template.yaml")
    # The built template points at the artifact folders, which `sam deploy` zips and uploads.
    assert built["Resources"][FUNCTION]["Properties"]["CodeUri"] == FUNCTION
    assert built["Resources"][STREAM_FUNCTION]["Properties"]["CodeUri"] == STREAM_FUNCTION
    twin = sam_build.build_dir / STREAM_FUNCTION
    assert {p.relative_to(twin) for p in artifact_files(twin)} == {
        p.relative_to(sam_build.artifact) for p in artifact_files(sam_build.artifact)
    }
    # The exec wrapper the streaming function's AWS_LAMBDA_EXEC_WRAPPER names, executable as Lambda runs it.
    assert (twin / "adapter" / "runtime" / "bootstrap").stat().st_mode & 0o111


def test_artifact_holds_the_code_and_the_pinned_dependencies_only(sam_build: SamBuild) -> None:
    artifact = sam_build.artifact
    pins = pinned_requirements()

    # One .dist-info folder per pin, at the pinned version: nothing unpinned came along.
    installed = {}
    for dist_info in artifact.glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[normalize(name)] = version
    assert installed == pins

    # Every file is the runtime code or listed in a distribution's RECORD.
    recorded: set[str] = set()
    for record in artifact.glob("*.dist-info/RECORD"):
        with record.open(newline="", encoding="utf-8") as stream:
            recorded.update(row[0] for row in csv.reader(stream) if row)
    unexplained = [
        path.relative_to(artifact).as_posix()
        for path in artifact_files(artifact)
        if path.relative_to(artifact).parts[0] not in CODE_PACKAGES
        and path.relative_to(artifact).as_posix() not in recorded
    ]
    assert unexplained == []
    # The RECORD files list console scripts in bin/, which the Makefile drops.
    missing = sorted(r for r in recorded if not (artifact / r).exists() and not r.startswith("../"))
    assert all(path.startswith("bin/") for path in missing), missing

    # The code packages are exactly the repository's, without bytecode.
    for package in CODE_PACKAGES:
        assert source_files(artifact / package) == source_files(ROOT / package), package

    names = {path.name for path in artifact.rglob("*")}
    assert not {"tests", "scripts", "requirements", ".venv", ".venv-sam", ".local", "pyproject.toml"} & {
        path.name for path in artifact.iterdir()
    }
    assert "__pycache__" not in names
    assert not [path for path in artifact.rglob("*.pyc")]
    assert not (artifact / "bin").exists()


def test_compiled_extensions_are_built_for_lambda_arm64(sam_build: SamBuild) -> None:
    extensions = sorted(sam_build.artifact.rglob("*.so"))
    for extension in extensions:
        header = extension.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", extension
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64, extension
        assert "x86_64" not in extension.name, extension


def test_artifact_fits_lambdas_limits(sam_build: SamBuild, tmp_path: Path) -> None:
    files = list(artifact_files(sam_build.artifact))
    unzipped = sum(path.stat().st_size for path in files)
    archive = tmp_path / "artifact.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for path in files:
            zipped.write(path, path.relative_to(sam_build.artifact).as_posix())
    assert unzipped < MAX_UNZIPPED
    assert archive.stat().st_size < MAX_ZIPPED


# ---- The handler, loaded from the artifact alone --------------------------------------------------------

# Runs in `python -I -S`: no site-packages, no PYTHONPATH, no current directory; only the standard library and
# the artifact folder. It calls the handler with each event and writes the answers, the DynamoDB operations
# botocore made (from botocore's own debug log) and any module loaded from outside the artifact.
DRIVER = textwrap.dedent(
    """
    import importlib, json, logging, os, socket, sys, sysconfig, time, uuid

    artifact, handler_string, events_file, results_file = sys.argv[1:]
    sys.path.insert(0, artifact)

    # Where Lambda's X-Ray daemon would listen (AWS_XRAY_DAEMON_ADDRESS): segments sent there are collected.
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.setblocking(False)
    os.environ["AWS_XRAY_DAEMON_ADDRESS"] = "127.0.0.1:%d" % daemon.getsockname()[1]

    operations = []

    class BotocoreRequests(logging.Handler):
        def emit(self, record):
            if str(record.msg).startswith("Making request for"):
                model, params = record.args
                body = params.get("body") or b"{}"
                operations.append({"name": model.name, "body": json.loads(body)})

    endpoint_log = logging.getLogger("botocore.endpoint")
    endpoint_log.setLevel(logging.DEBUG)
    endpoint_log.addHandler(BotocoreRequests())
    endpoint_log.propagate = False

    class Context:
        function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
        memory_limit_in_mb = 512
        aws_request_id = "8f5e4c1e-5d5b-4a8e-9b5e-0f6f8d7c6b5a"
        log_group_name = "/aws/lambda/" + function_name
        log_stream_name = "2026/11/26/[$LATEST]0123456789abcdef"
        identity = None
        client_context = None

        def get_remaining_time_in_millis(self):
            return 9000

    module_name, _, attribute = handler_string.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    assert callable(handler), handler

    with open(events_file, encoding="utf-8") as stream:
        events = json.load(stream)
    responses, trace_ids = [], []
    for event in events:
        # Lambda sets the invocation's trace header in the environment before each invocation.
        trace_ids.append("1-%08x-%s" % (int(time.time()), uuid.uuid4().hex[:24]))
        os.environ["_X_AMZN_TRACE_ID"] = "Root=%s;Parent=%s;Sampled=1" % (trace_ids[-1], uuid.uuid4().hex[:16])
        responses.append(handler(event, Context()))
    segments = []
    while True:
        try:
            segments.append(json.loads(daemon.recv(65536).decode().split("\\n", 1)[1]))
        except BlockingIOError:
            break

    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    foreign = sorted(
        f"{name}: {path}"
        for name, module in list(sys.modules.items())
        if (path := os.path.realpath(getattr(module, "__file__", None) or artifact))
        and not path.startswith(os.path.realpath(artifact) + os.sep)
        and path != os.path.realpath(artifact)
        and not (path.startswith(stdlib + os.sep) and "site-packages" not in path)
    )
    with open(results_file, "w", encoding="utf-8") as stream:
        json.dump(
            {
                "responses": responses,
                "operations": operations,
                "foreign": foreign,
                "path": sys.path,
                "trace_ids": trace_ids,
                "segments": segments,
                "xray_sdk_loaded": "aws_xray_sdk" in sys.modules,
            },
            stream,
        )
    """
)


class Events:
    """API Gateway events for a deployment of template.yaml, made from live captures in tests/events/."""

    def __init__(self) -> None:
        self.stage = rest_stage_name()

    def rest(
        self, method: str, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        event = load_event("voker/rest-v1-live-encoding-probe.json")
        context = event["requestContext"]
        host = context["domainName"]
        resource = "/" if path == "/" else "/{proxy+}"
        all_headers = {
            "Host": host,
            "User-Agent": "curl/8.7.1",
            "X-Forwarded-For": "68.8.83.18",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
            "accept": "*/*",
            **(headers or {}),
        }
        event.update(
            resource=resource,
            path=path,
            httpMethod=method,
            headers=all_headers,
            multiValueHeaders={name: [value] for name, value in all_headers.items()},
            queryStringParameters=None,
            multiValueQueryStringParameters=None,
            pathParameters=None if path == "/" else {"proxy": path[1:]},
            # The template lists every media type as binary, so API Gateway hands the function every body
            # base64-encoded.
            body=None if body is None else base64.b64encode(json.dumps(body).encode()).decode(),
            isBase64Encoded=body is not None,
        )
        context.update(
            httpMethod=method,
            path=f"/{self.stage}{path}",
            resourcePath=resource,
            stage=self.stage,
            requestId=str(uuid.uuid4()),
        )
        return event

    def http(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        event = load_event("voker/http-v2-live-encoding-probe.json")
        context = event["requestContext"]
        text = None if body is None else json.dumps(body)
        all_headers = {
            "accept": "*/*",
            "host": context["domainName"],
            "user-agent": "curl/8.7.1",
            "x-forwarded-for": "68.8.83.18",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **{name.lower(): value for name, value in (headers or {}).items()},
        }
        if text is not None:
            all_headers["content-length"] = str(len(text.encode()))
        event.pop("cookies")
        event.pop("queryStringParameters")
        if query:
            event["queryStringParameters"] = query
        event.update(
            rawPath=path, rawQueryString=urlencode(query or {}), headers=all_headers, body=text, isBase64Encoded=False
        )
        context["http"].update(method=method, path=path)
        context["requestId"] = str(uuid.uuid4())
        return event


def body_of(response: dict[str, Any]) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def json_of(response: dict[str, Any]) -> Any:
    return json.loads(body_of(response))


def header(response: dict[str, Any], name: str) -> str:
    headers = {key.lower(): value for key, value in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(key.lower(), values[-1])
    return str(headers[name.lower()])


def iam_actions(operation: dict[str, Any]) -> set[str]:
    """The IAM actions that authorize one DynamoDB API call: a transaction is authorized item by item.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html"""
    if operation["name"] == "TransactWriteItems":
        per_item = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        return {f"dynamodb:{per_item[kind]}" for item in operation["body"]["TransactItems"] for kind in item}
    if operation["name"] == "TransactGetItems":
        return {"dynamodb:GetItem"}
    return {f"dynamodb:{operation['name']}"}


def granted_table_actions() -> set[str]:
    role = load_template()["Resources"]["LinksFunctionRole"]["Properties"]
    (statement,) = (
        s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "UseLinksTable"
    )
    return set(statement["Action"])


@pytest.mark.dynamodb
def test_handler_answers_api_gateway_events_from_the_artifact_alone(
    sam_build: SamBuild, links_settings: Settings, tmp_path: Path
) -> None:
    events = Events()
    stage = events.stage
    link = {"url": "https://example.com/first", "code": "first"}
    steps = [
        events.rest("GET", "/health"),
        events.http("GET", "/health"),
        events.http("POST", "/links", link, {"Content-Type": "application/json", "Idempotency-Key": "k-1"}),
        events.rest("POST", "/links", {"url": "https://example.com/second"}, {"Content-Type": "application/json"}),
        events.rest("GET", "/links"),
        events.http("GET", "/links", query={"limit": "1"}),
        events.rest("GET", "/r/first"),
        events.http("PATCH", "/links/first", {"url": "https://example.com/third"}, {"If-Match": '"1"'}),
        events.rest("DELETE", "/links/first", headers={"If-Match": '"2"'}),
        events.http("GET", "/links/first"),
        events.rest("GET", "/"),
        # The function's other events (sample_app/triggers.py): an import batch as the Map state sends it, and the
        # expiry schedule's event.
        {
            "Items": [
                {"index": 0, "row": {"url": "https://example.com/imported", "code": "imported", "expires_at": ""}}
            ],
            "BatchInput": {"task": "import-links", "import_id": "artifact"},
        },
        load_event("sam-cli/eventbridge-scheduled.json"),
    ]
    events_file = tmp_path / "events.json"
    events_file.write_text(json.dumps(steps), encoding="utf-8")
    results_file = tmp_path / "results.json"

    env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        # What Lambda sets, and what the template sets (LINKS_TABLE); DYNAMODB_ENDPOINT_URL stands in for AWS.
        "AWS_LAMBDA_FUNCTION_NAME": "links",
        "LAMBDA_TASK_ROOT": str(sam_build.artifact),
        "_HANDLER": handler_string(),
        "AWS_LAMBDA_LOG_FORMAT": properties(load_template(), FUNCTION)["LoggingConfig"]["LogFormat"],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "LINKS_TABLE": links_settings.links_table,
        "DYNAMODB_ENDPOINT_URL": str(links_settings.dynamodb_endpoint_url),
    }
    result = subprocess.run(
        [
            os.path.abspath(sys.executable),
            "-I",
            "-S",
            "-c",
            DRIVER,
            str(sam_build.artifact),
            handler_string(),
            events_file,
            results_file,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(results_file.read_text(encoding="utf-8"))
    assert results["foreign"] == [], results["path"]
    (
        rest_health,
        http_health,
        created_idempotently,
        created,
        rest_list,
        http_list,
        followed,
        patched,
        deleted,
        gone,
        page,
        imported,
        swept,
    ) = results["responses"]

    for health in (rest_health, http_health):
        assert health["statusCode"] == 200, health
        assert json_of(health) == {"status": "ok", "table": {"name": links_settings.links_table, "status": "ACTIVE"}}

    assert created_idempotently["statusCode"] == 201, created_idempotently
    assert json_of(created_idempotently)["short_url"].endswith("/r/first")
    assert created["statusCode"] == 201, created

    # Behind the REST API every URL the app makes carries the stage; behind the HTTP API's $default stage none.
    assert rest_list["statusCode"] == 200, rest_list
    rest_links = {item["code"]: item for item in json_of(rest_list)["links"]}
    rest_host = steps[0]["requestContext"]["domainName"]
    assert rest_links["first"]["short_url"] == f"https://{rest_host}/{stage}/r/first"
    assert len(rest_links) == 2
    assert http_list["statusCode"] == 200, http_list
    (http_link,) = json_of(http_list)["links"]
    http_host = steps[1]["requestContext"]["domainName"]
    assert http_link["short_url"] == f"https://{http_host}/r/{http_link['code']}"

    assert followed["statusCode"] == 307, followed
    assert header(followed, "Location") == "https://example.com/first"
    assert patched["statusCode"] == 200, patched
    assert json_of(patched)["url"] == "https://example.com/third"
    assert deleted["statusCode"] == 204, deleted
    assert gone["statusCode"] == 404, gone

    assert page["statusCode"] == 200, page
    assert header(page, "Content-Type").startswith("text/html")
    assert b"https://example.com/second" in body_of(page)
    assert imported == {"import_id": "artifact", "created": 1, "skipped": 0, "failed": []}
    assert swept is None

    # The role allows exactly the DynamoDB actions the app used, on its table.
    used = set().union(*(iam_actions(operation) for operation in results["operations"]))
    assert used == granted_table_actions()
    tables = {op["body"].get("TableName") for op in results["operations"] if "TableName" in op["body"]}
    # The import's BatchGetItem and BatchWriteItem name their table in RequestItems.
    tables |= {name for op in results["operations"] for name in op["body"].get("RequestItems", {})}
    assert tables == {links_settings.links_table}

    # When the app traces (Tracing: Active makes Lambda set the trace header), its segments reach the daemon and
    # belong to the invocations' traces; when it does not, the X-Ray SDK is not even imported.
    if results["xray_sdk_loaded"]:
        assert results["segments"], "the X-Ray SDK was loaded but sent nothing"
        assert {segment["trace_id"] for segment in results["segments"]} <= set(results["trace_ids"])
    else:
        assert results["segments"] == []
