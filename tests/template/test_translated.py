"""What CloudFormation deploys: template.yaml after the AWS::Serverless transform, run offline with the SAM
translator of the SAM CLI's environment. The SAM shorthands must come out as the stack the README describes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.template.cfn import FUNCTION, properties, resources_of_type

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
            "AWS::Lambda::Function",
            "AWS::Lambda::Url",
            # The Function URL's two (lambda:InvokeFunctionUrl, and lambda:InvokeFunction via the URL), the HTTP
            # API's, and one per REST API route.
            *["AWS::Lambda::Permission"] * 5,
            "AWS::IAM::Role",
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


def test_function_url_is_public_and_buffered(translated: dict[str, Any]) -> None:
    url = only(translated, "AWS::Lambda::Url")
    assert url["AuthType"] == "NONE"
    assert url.get("InvokeMode", "BUFFERED") == "BUFFERED"
    permissions = [p["Properties"] for p in resources_of_type(translated, "AWS::Lambda::Permission").values()]
    public = sorted(p["Action"] for p in permissions if p["Principal"] == "*")
    assert public == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    from_apis = [p for p in permissions if p["Principal"] == "apigateway.amazonaws.com"]
    assert len(from_apis) == 3
    assert all("SourceArn" in p for p in from_apis)
