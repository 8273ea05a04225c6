"""What CloudFormation deploys: template.yaml after the AWS::Serverless transform, run offline with the SAM
translator of the SAM CLI's environment. The SAM shorthands must come out as the stack the README describes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.template.cfn import FUNCTION, STREAM_FUNCTION, properties, resources_of_type

pytestmark = pytest.mark.sam


def only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    found = resources_of_type(template, kind)
    assert len(found) == 1, f"{kind}: {sorted(found)}"
    (resource,) = found.values()
    props: dict[str, Any] = resource["Properties"]
    return props


def test_the_stack_has_exactly_these_resources(translated: dict[str, Any]) -> None:
    kinds = sorted(resource["Type"] for resource in translated["Resources"].values())
    assert kinds == sorted(
        [
            # The function, and its streaming twin with a Function URL of its own.
            "AWS::Lambda::Function",
            "AWS::Lambda::Function",
            "AWS::Lambda::Url",
            "AWS::Lambda::Url",
            # Each Function URL's two (lambda:InvokeFunctionUrl, and lambda:InvokeFunction via the URL), the HTTP
            # API's, one per REST API route, and the expiry schedule's.
            *["AWS::Lambda::Permission"] * 8,
            # The function's and the import state machine's.
            "AWS::IAM::Role",
            "AWS::IAM::Role",
            # Clicks: the queue, its dead-letter queue, and the mapping that hands its batches to the function.
            "AWS::SQS::Queue",
            "AWS::SQS::Queue",
            "AWS::Lambda::EventSourceMapping",
            # The hourly expiry schedule.
            "AWS::Events::Rule",
            # Bulk import: the bucket of uploaded files and reports, and the state machine.
            "AWS::S3::Bucket",
            "AWS::StepFunctions::StateMachine",
            "AWS::Logs::LogGroup",
            "AWS::Logs::LogGroup",
            "AWS::Logs::LogGroup",
            "AWS::DynamoDB::Table",
            "AWS::ApiGateway::RestApi",
            "AWS::ApiGateway::Deployment",
            "AWS::ApiGateway::Stage",
            "AWS::ApiGatewayV2::Api",
            "AWS::ApiGatewayV2::Stage",
        ]
    )


def test_the_function_as_deployed(translated: dict[str, Any]) -> None:
    function = properties(translated, FUNCTION)
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "sample_app.handler.handler"
    assert function["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": {"Ref": "LinksFunctionLogGroup"}}
    # SAM made no role of its own: the function runs with the template's.
    assert function["Role"] == {"Fn::GetAtt": ["LinksFunctionRole", "Arn"]}


def test_one_rest_stage_named_by_the_parameter(translated: dict[str, Any]) -> None:
    stage = only(translated, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == {"Ref": "StageName"}
    assert stage["TracingEnabled"] is True
    api = only(translated, "AWS::ApiGateway::RestApi")
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert api["Body"]["x-amazon-apigateway-binary-media-types"] == ["*/*"]
    assert set(api["Body"]["paths"]) == {"/", "/{proxy+}"}
    for path in api["Body"]["paths"].values():
        integration = path["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy"


def test_http_api_default_stage_and_payload_2(translated: dict[str, Any]) -> None:
    stage = only(translated, "AWS::ApiGatewayV2::Stage")
    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True
    api = only(translated, "AWS::ApiGatewayV2::Api")
    (route,) = api["Body"]["paths"].values()
    integration = route["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
    assert integration["payloadFormatVersion"] == "2.0"
    assert integration["type"] == "aws_proxy"


def test_function_urls_are_public_one_buffered_one_streaming(translated: dict[str, Any]) -> None:
    urls = {
        url["Properties"]["TargetFunctionArn"]["Ref"]: url["Properties"]
        for url in resources_of_type(translated, "AWS::Lambda::Url").values()
    }
    assert sorted(urls) == [FUNCTION, STREAM_FUNCTION]
    assert all(url["AuthType"] == "NONE" for url in urls.values())
    assert urls[FUNCTION].get("InvokeMode", "BUFFERED") == "BUFFERED"
    assert urls[STREAM_FUNCTION]["InvokeMode"] == "RESPONSE_STREAM"
    permissions = [p["Properties"] for p in resources_of_type(translated, "AWS::Lambda::Permission").values()]
    public = sorted(p["Action"] for p in permissions if p["Principal"] == "*")
    assert public == [
        "lambda:InvokeFunction",
        "lambda:InvokeFunction",
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunctionUrl",
    ]
    from_apis = [p for p in permissions if p["Principal"] == "apigateway.amazonaws.com"]
    assert len(from_apis) == 3
    assert all("SourceArn" in p for p in from_apis)
    [from_schedule] = [p for p in permissions if p["Principal"] == "events.amazonaws.com"]
    assert "SourceArn" in from_schedule


def test_the_queue_mapping_reports_batch_item_failures(translated: dict[str, Any]) -> None:
    mapping = only(translated, "AWS::Lambda::EventSourceMapping")
    # Without it Lambda deletes a batch whose invocation returned, failed messages included.
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ClicksQueue", "Arn"]}
    assert mapping["BatchSize"] == 10


def test_the_schedule_invokes_the_function_hourly(translated: dict[str, Any]) -> None:
    rule = only(translated, "AWS::Events::Rule")
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    assert "Input" not in target  # the function gets EventBridge's "Scheduled Event", which the adapter routes


def test_the_import_state_machine_hands_batches_to_the_function(translated: dict[str, Any]) -> None:
    machine = only(translated, "AWS::StepFunctions::StateMachine")
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["RoleArn"] == {"Fn::GetAtt": ["ImportStateMachineRole", "Arn"]}
    # The transform writes the definition as a JSON string, joined from its lines.
    definition = json.loads("\n".join(machine["DefinitionString"]["Fn::Join"][1]))
    rows = definition["States"][definition["StartAt"]]
    assert rows["ItemReader"]["ReaderConfig"] == {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}
    assert rows["ItemSelector"] == {"index.$": "$$.Map.Item.Index", "row.$": "$$.Map.Item.Value"}
    # What sample_app/triggers.py's import handler matches and reads.
    assert rows["ItemBatcher"]["BatchInput"] == {"task": "import-links", "import_id.$": "$$.Execution.Name"}
    assert rows["ItemBatcher"]["MaxItemsPerBatch"] <= 1000
    processor = rows["ItemProcessor"]
    task = processor["States"][processor["StartAt"]]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke"
    assert task["Parameters"]["FunctionName"] == "${FunctionArn}"
    assert machine["DefinitionSubstitutions"]["FunctionArn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    # A batch that the function refused as invalid is not tried again.
    retried = {error for retry in task["Retry"] for error in retry["ErrorEquals"]}
    assert "InvalidPayload" not in retried and "States.ALL" not in retried
