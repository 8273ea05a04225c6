"""Facts about template.yaml that no linter checks: what the sample app, the adapter and the build rely on."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from sample_app.models import IdempotencyRecord, Link
from sample_app.settings import Settings
from tests.conftest import load_event
from tests.template.cfn import (
    FUNCTION,
    MAKEFILE,
    ROOT,
    SAMCONFIG,
    STREAM_FUNCTION,
    TEMPLATE,
    handler_string,
    load_template,
    properties,
    resource,
    resources_of_type,
    rest_stage_name,
)

# API Gateway's integration timeout for REST and HTTP APIs: a function that runs longer is cut off with a 504.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
API_GATEWAY_INTEGRATION_TIMEOUT = 29


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> dict[str, Any]:
    return properties(template, FUNCTION)


def ref(value: Any) -> str | None:
    """The logical id a `!Ref` or `!GetAtt` points at, else None."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def makefile_variable(name: str) -> str:
    match = re.search(rf"^{name} \?= (\S+)$", MAKEFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{MAKEFILE} sets no {name}"
    return match.group(1)


def test_one_function_with_the_sample_apps_handler(template: dict[str, Any], function: dict[str, Any]) -> None:
    # And its streaming twin: the same code and build, run by adapter.runtime (see the test after this one).
    assert list(resources_of_type(template, "AWS::Serverless::Function")) == [FUNCTION, STREAM_FUNCTION]
    assert not resources_of_type(template, "AWS::Lambda::Function")
    assert handler_string() == "sample_app.handler.handler"
    assert function.get("PackageType", "Zip") == "Zip"


def test_the_streaming_twin_runs_the_same_code_through_adapter_runtime(template: dict[str, Any]) -> None:
    function = properties(template, FUNCTION)
    stream = properties(template, STREAM_FUNCTION)
    for name in ("CodeUri", "Handler", "Runtime", "Architectures", "MemorySize", "Role", "Tracing"):
        assert stream[name] == function[name], name
    assert resource(template, STREAM_FUNCTION)["Metadata"]["BuildMethod"] == "makefile"
    assert f"build-{STREAM_FUNCTION}: build-{FUNCTION}" in MAKEFILE.read_text(encoding="utf-8")
    variables = stream["Environment"]["Variables"]
    # The wrapper ships in the artifact at the path the variable names (the Makefile copies adapter/ to /var/task).
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/var/task/adapter/runtime/bootstrap"
    assert (ROOT / "adapter" / "runtime" / "bootstrap").stat().st_mode & 0o111
    assert variables["ADAPTER_RUNTIME_STREAM"] == "true"
    assert {k: v for k, v in variables.items() if not k.startswith(("AWS_LAMBDA_", "ADAPTER_"))} == function[
        "Environment"
    ]["Variables"]
    assert stream["FunctionUrlConfig"] == {"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"}
    # Longer than the longest feed (25 s), so that a feed ends before the runtime's deadline does.
    assert stream["Timeout"] > 25
    assert "Events" not in stream
    assert template["Outputs"]["StreamingFunctionUrl"]["Value"] == {
        "Fn::GetAtt": [f"{STREAM_FUNCTION}Url", "FunctionUrl"]
    }


def test_runtime_and_architecture_match_the_build_and_the_requirements(function: dict[str, Any]) -> None:
    # The Makefile installs wheels for one Python and one platform, and requirements/runtime.txt is compiled for
    # that Python: all three must say the same thing as the template.
    assert function["Architectures"] == ["arm64"]
    assert makefile_variable("PLATFORM").endswith("_aarch64")
    version = makefile_variable("PYTHON_VERSION")
    assert function["Runtime"] == f"python{version}"
    compile_script = (ROOT / "scripts" / "compile-requirements").read_text(encoding="utf-8")
    assert f"--python-version {version}" in compile_script
    # Lambda's python3.11 runs on Amazon Linux 2 (glibc 2.26); python3.12 and later on Amazon Linux 2023.
    expected_platform = "manylinux2014_aarch64" if version == "3.11" else "manylinux_2_28_aarch64"
    assert makefile_variable("PLATFORM") == expected_platform


def test_build_is_the_makefile_over_the_repository(template: dict[str, Any], function: dict[str, Any]) -> None:
    metadata = resource(template, FUNCTION)["Metadata"]
    assert metadata["BuildMethod"] == "makefile"
    assert (ROOT / metadata["ContextPath"] / "Makefile").resolve() == MAKEFILE
    assert function["CodeUri"] == "."
    assert f"build-{FUNCTION}:" in MAKEFILE.read_text(encoding="utf-8")


def test_timeout_ends_before_api_gateway_gives_up(function: dict[str, Any]) -> None:
    assert isinstance(function["Timeout"], int)
    assert 3 <= function["Timeout"] < API_GATEWAY_INTEGRATION_TIMEOUT
    assert isinstance(function["MemorySize"], int)
    assert 128 <= function["MemorySize"] <= 10240


def test_tracing_is_active_wherever_aws_offers_it(template: dict[str, Any], function: dict[str, Any]) -> None:
    assert function["Tracing"] == "Active"
    for name in resources_of_type(template, "AWS::Serverless::Api"):
        assert properties(template, name)["TracingEnabled"] is True, name
    for name in resources_of_type(template, "AWS::Serverless::StateMachine"):
        assert properties(template, name)["Tracing"] == {"Enabled": True}, name
    # HTTP APIs and Function URLs have no X-Ray setting: requests through them are traced from the function on.
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-vs-rest.html
    for name in resources_of_type(template, "AWS::Serverless::HttpApi"):
        assert "TracingEnabled" not in properties(template, name)


def test_three_front_doors(template: dict[str, Any], function: dict[str, Any]) -> None:
    rest_apis = resources_of_type(template, "AWS::Serverless::Api")
    http_apis = resources_of_type(template, "AWS::Serverless::HttpApi")
    assert len(rest_apis) == len(http_apis) == 1
    (rest_api,) = rest_apis
    (http_api,) = http_apis

    events = function["Events"].values()
    rest_routes = {(e["Properties"]["Path"], e["Properties"]["Method"]) for e in events if e["Type"] == "Api"}
    assert rest_routes == {("/", "ANY"), ("/{proxy+}", "ANY")}
    assert all(ref(e["Properties"]["RestApiId"]) == rest_api for e in events if e["Type"] == "Api")
    (http_event,) = (e["Properties"] for e in events if e["Type"] == "HttpApi")
    # Without Path and Method the event is the $default route, so every path reaches the app.
    assert ref(http_event["ApiId"]) == http_api and "Path" not in http_event and "Method" not in http_event
    assert http_event["PayloadFormatVersion"] == "2.0"
    assert "StageName" not in properties(template, http_api)  # SAM deploys the $default stage

    assert function["FunctionUrlConfig"]["AuthType"] == "NONE"

    outputs = template["Outputs"]
    base = "execute-api.${AWS::Region}.${AWS::URLSuffix}"
    assert outputs["RestApiUrl"]["Value"] == {"Fn::Sub": f"https://${{{rest_api}}}.{base}/${{StageName}}/"}
    assert outputs["HttpApiUrl"]["Value"] == {"Fn::Sub": f"https://${{{http_api}}}.{base}/"}
    assert outputs["FunctionUrl"]["Value"] == {"Fn::GetAtt": [f"{FUNCTION}Url", "FunctionUrl"]}


def test_rest_api_stage_is_named_and_binary_bodies_pass(template: dict[str, Any]) -> None:
    (rest_api,) = resources_of_type(template, "AWS::Serverless::Api")
    api = properties(template, rest_api)
    assert api["StageName"] == {"Ref": "StageName"}
    assert rest_stage_name() == "live"
    # The live capture that the REST tests build their events from was recorded on a stage of that name.
    assert load_event("voker/rest-v1-live-encoding-probe.json")["requestContext"]["stage"] == rest_stage_name()
    # SAM adds a stage called "Stage" unless OpenApiVersion is set.
    assert "OpenApiVersion" in api
    # "*~1*" is "*/*": API Gateway decodes the adapter's base64 bodies for every media type.
    assert "*~1*" in api["BinaryMediaTypes"]


def test_policy_names_its_resources(template: dict[str, Any], function: dict[str, Any]) -> None:
    # An explicit role: SAM adds nothing to it (no AWSLambdaBasicExecutionRole, whose logs actions take "*").
    assert ref(function["Role"]) == "LinksFunctionRole"
    assert "Policies" not in function
    role = properties(template, "LinksFunctionRole")
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    by_sid = {s["Sid"]: s for s in statements}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"]), statement
    # The one exception: X-Ray's write actions have no resource-level permissions, so "*" is all they accept.
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
    wildcards = [s for s in statements if s["Resource"] == "*" or "*" in s["Resource"]]
    assert wildcards == [by_sid["SendTraces"]]
    assert sorted(by_sid["SendTraces"]["Action"]) == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]

    assert [ref(r) for r in by_sid["WriteOwnLogs"]["Resource"]] == [
        "LinksFunctionLogGroup",
        "LinksStreamFunctionLogGroup",
    ]
    assert sorted(by_sid["WriteOwnLogs"]["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]

    table_statement = by_sid["UseLinksTable"]
    assert [ref(r) for r in table_statement["Resource"]] == ["LinksTable"]
    assert all(action.startswith("dynamodb:") for action in table_statement["Action"])
    assert by_sid["PublishClicks"]["Action"] == ["sqs:SendMessage"]
    assert sorted(by_sid["ReceiveClicks"]["Action"]) == [
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]
    assert ref(by_sid["PublishClicks"]["Resource"]) == ref(by_sid["ReceiveClicks"]["Resource"]) == "ClicksQueue"
    assert set(by_sid) == {"SendTraces", "WriteOwnLogs", "UseLinksTable", "PublishClicks", "ReceiveClicks"}


def test_the_import_state_machine_role_names_its_resources(template: dict[str, Any]) -> None:
    machine = properties(template, "ImportStateMachine")
    assert ref(machine["Role"]) == "ImportStateMachineRole"
    assert "Policies" not in machine
    role = properties(template, "ImportStateMachineRole")
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    by_sid = {s["Sid"]: s for s in statements}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"]), statement
    # As for the function, only X-Ray's actions take "*"; S3 and the child executions end in "/*" under one
    # prefix of one bucket, and under this state machine's own executions.
    assert [s["Sid"] for s in statements if s["Resource"] == "*"] == ["SendTraces"]
    assert ref(by_sid["InvokeFunction"]["Resource"]) == FUNCTION
    assert by_sid["InvokeFunction"]["Action"] == ["lambda:InvokeFunction"]
    assert by_sid["ReadImports"]["Resource"] == {"Fn::Sub": "${ImportBucket.Arn}/imports/*"}
    assert by_sid["WriteResults"]["Resource"] == {"Fn::Sub": "${ImportBucket.Arn}/results/*"}
    name = "${AWS::StackName}-import"
    assert machine["Name"] == {"Fn::Sub": name}
    assert by_sid["RunChildExecutions"]["Resource"]["Fn::Sub"].endswith(f":stateMachine:{name}")
    assert by_sid["WatchChildExecutions"]["Resource"]["Fn::Sub"].endswith(f":execution:{name}/*")
    assert set(by_sid) == {
        "InvokeFunction",
        "ReadImports",
        "WriteResults",
        "RunChildExecutions",
        "WatchChildExecutions",
        "SendTraces",
    }


def test_the_clicks_queue_has_a_dead_letter_queue(template: dict[str, Any], function: dict[str, Any]) -> None:
    queue = properties(template, "ClicksQueue")
    assert ref(queue["RedrivePolicy"]["deadLetterTargetArn"]) == "ClicksDeadLetterQueue"
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 3
    # Lambda's advice: a visibility timeout of six times the function's timeout.
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    event = function["Events"]["ClickBatches"]
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert ref(event["Properties"]["Queue"]) == "ClicksQueue"


def test_table_matches_the_models(template: dict[str, Any]) -> None:
    table = properties(template, "LinksTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionProtectionEnabled"] == {"Ref": "TableDeletionProtection"}
    assert "TableName" not in table  # CloudFormation names it, so two stacks can live in one account

    (hash_key,) = (attribute for attribute in Link.get_attributes().values() if attribute.is_hash_key)
    assert table["KeySchema"] == [{"AttributeName": hash_key.attr_name, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": hash_key.attr_name, "AttributeType": "S"}]
    assert hash_key.attr_type == "S"
    assert "GlobalSecondaryIndexes" not in table and "LocalSecondaryIndexes" not in table
    assert not Link._indexes  # the policy names no index either
    assert table["TimeToLiveSpecification"] == {
        "AttributeName": IdempotencyRecord.expires_at.attr_name,
        "Enabled": True,
    }


def test_logs_are_json_in_a_group_with_retention(template: dict[str, Any], function: dict[str, Any]) -> None:
    logging = function["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    group = ref(logging["LogGroup"])
    assert group is not None
    assert properties(template, group)["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    for name in resources_of_type(template, "AWS::Logs::LogGroup"):
        assert properties(template, name)["RetentionInDays"] == {"Ref": "LogRetentionInDays"}, name


def test_environment_is_what_the_settings_read(function: dict[str, Any]) -> None:
    variables = function["Environment"]["Variables"]
    assert variables == {"LINKS_TABLE": {"Ref": "LinksTable"}, "CLICKS_QUEUE_URL": {"Ref": "ClicksQueue"}}
    # DYNAMODB_ENDPOINT_URL and SQS_ENDPOINT_URL stay unset in AWS, and Lambda sets AWS_REGION itself (reserved).
    queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/stack-clicks"
    settings = Settings.from_environ(
        {"LINKS_TABLE": "stack-links", "CLICKS_QUEUE_URL": queue, "AWS_REGION": "eu-west-1"}
    )
    assert settings == Settings(
        links_table="stack-links", dynamodb_endpoint_url=None, aws_region="eu-west-1", clicks_queue_url=queue
    )


def test_every_parameter_has_a_default(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert set(parameters) == {"StageName", "LogRetentionInDays", "TableDeletionProtection"}
    for name, parameter in parameters.items():
        assert "Default" in parameter, name
        assert parameter.get("Description"), name
        if "AllowedValues" in parameter:
            assert parameter["Default"] in parameter["AllowedValues"], name
    assert re.fullmatch(parameters["StageName"]["AllowedPattern"], parameters["StageName"]["Default"])


def test_samconfig_has_safe_defaults() -> None:
    text = SAMCONFIG.read_text(encoding="utf-8")
    config = tomllib.loads(text)
    assert not re.search(r"\b\d{12}\b", text), "an AWS account id does not belong in samconfig.toml"
    defaults = config["default"]
    for command, section in defaults.items():
        assert not {"region", "s3_bucket", "profile"} & set(section["parameters"]), command
    assert defaults["build"]["parameters"]["build_in_source"] is True
    deploy = defaults["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is True
    assert TEMPLATE.parent == SAMCONFIG.parent
