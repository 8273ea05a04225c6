"""The function and its API read from SAM templates: the repository's, and small ones for each case."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from adapter.local.template import FunctionSpec, TemplateError, load_template

ROOT = Path(__file__).resolve().parents[3]


def spec_of(tmp_path: Path, template: dict[str, Any], function: str | None = None) -> FunctionSpec:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    return FunctionSpec(load_template(path), path, function, "eu-west-1")


def function(**properties: Any) -> dict[str, Any]:
    return {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app.handler", **properties}}


def test_the_repositorys_template() -> None:
    path = ROOT / "template.yaml"
    spec = FunctionSpec(load_template(path), path, None, "us-east-1")
    assert (spec.logical_id, spec.handler, spec.timeout, spec.memory) == (
        "LinksFunction",
        "sample_app.handler.handler",
        10.0,
        512,
    )
    # Variables naming resources have no value outside AWS: the app's local defaults apply.
    assert spec.environment == {}
    assert "LINKS_TABLE (!Ref LinksTable names a resource, which has no value outside AWS)" in spec.unresolved
    assert spec.code_dir == ROOT
    assert spec.default_format() == "rest"
    rest = spec.api("rest")
    assert (rest["stage"], rest["binary_media_types"]) == ("live", ["*/*"])
    assert sorted((route.method, route.path) for route in rest["routes"]) == [("ANY", "/"), ("ANY", "/{proxy+}")]
    http = spec.api("http-v2")
    assert (http["stage"], [route.path for route in http["routes"]]) == ("$default", ["$default"])
    assert spec.api("function-url") == {}


def test_globals_intrinsics_and_environment(tmp_path: Path) -> None:
    template: dict[str, Any] = {
        "Parameters": {"Stage": {"Default": "v2"}, "Debug": {"Default": True}, "Memory": {"Default": "1024"}},
        "Globals": {
            "Function": {"Timeout": 20, "Environment": {"Variables": {"FROM_GLOBALS": "g", "OVERRIDDEN": "g"}}}
        },
        "Resources": {
            "Fn": function(
                MemorySize={"Ref": "Memory"},
                Environment={
                    "Variables": {
                        "OVERRIDDEN": "f",
                        "REGION": {"Fn::Sub": "${AWS::Region}-${Stage}"},
                        "ARN": {
                            "Fn::Sub": [
                                "arn:${Partition}:${Name}",
                                {"Partition": {"Ref": "AWS::Partition"}, "Name": "x"},
                            ]
                        },
                        "ATTR": {"Fn::GetAtt": ["Table", "Arn"]},
                        "ATTR_STRING": {"Fn::GetAtt": "Table.Arn"},
                        "DEBUG": {"Ref": "Debug"},
                        "NOTHING": {"Ref": "AWS::NoValue"},
                        "CONDITIONAL": {"Fn::If": ["IsProd", "a", "b"]},
                        "UNKNOWN": {"Ref": "Nowhere"},
                        "BAD_SUB": {"Fn::Sub": 42},
                        "PLAIN": {"Key": "v"},
                        "TABLE_NAME": {"Fn::Sub": "${Table}"},
                    }
                },
                Events={
                    "Get": {
                        "Type": "HttpApi",
                        "Properties": {
                            "Path": "/links/{code}",
                            "Method": "get",
                            "ApiId": {"Ref": "Api"},
                            "PayloadFormatVersion": "1.0",
                        },
                    }
                },
            ),
            "Table": {"Type": "AWS::DynamoDB::Table"},
            "Api": {"Type": "AWS::Serverless::HttpApi", "Properties": {"StageName": {"Ref": "Stage"}}},
        },
    }
    spec = spec_of(tmp_path, template, "Fn")
    assert (spec.timeout, spec.memory) == (20.0, 1024)
    assert spec.environment == {
        "FROM_GLOBALS": "g",
        "OVERRIDDEN": "f",
        "REGION": "eu-west-1-v2",
        "ARN": "arn:aws:x",
        "DEBUG": "true",
        "PLAIN": "{'Key': 'v'}",
    }
    assert spec.unresolved == [
        "ATTR (Fn::GetAtt is not resolved locally)",
        "ATTR_STRING (Fn::GetAtt is not resolved locally)",
        "CONDITIONAL (Fn::If is not resolved locally)",
        "UNKNOWN (!Ref Nowhere names no parameter or resource)",
        "BAD_SUB (!Sub takes a string or [string, variables])",
        "TABLE_NAME (!Ref Table names a resource, which has no value outside AWS)",
    ]
    assert spec.default_format() == "http-v1"
    api = spec.api("http-v1")
    assert (api["stage"], [(route.method, route.path) for route in api["routes"]]) == ("v2", [("GET", "/links/{code}")])


def test_implicit_rest_api_and_default_formats(tmp_path: Path) -> None:
    rest = spec_of(
        tmp_path,
        {
            "Resources": {
                "Fn": function(
                    Events={
                        "Any": {
                            "Type": "Api",
                            "Properties": {"Path": "/{proxy+}", "Method": "x-amazon-apigateway-any-method"},
                        },
                        "Get": {"Type": "Api", "Properties": {"Path": "/", "Method": "get"}},
                        "Queue": {"Type": "SQS", "Properties": {}},
                    }
                )
            }
        },
    )
    api = rest.api("rest")
    assert (api["stage"], api["binary_media_types"]) == ("Prod", [])
    assert [(route.method, route.path) for route in api["routes"]] == [("ANY", "/{proxy+}"), ("GET", "/")]
    assert rest.api("http-v2") == {}
    http = spec_of(tmp_path, {"Resources": {"Fn": function(Events={"Http": {"Type": "HttpApi"}})}})
    assert (http.default_format(), http.api("rest")) == ("http-v2", {})
    url = spec_of(tmp_path, {"Resources": {"Fn": function(FunctionUrlConfig={"AuthType": "NONE"})}})
    assert url.default_format() == "function-url"
    bare = spec_of(tmp_path, {"Resources": {"Fn": function(CodeUri="src")}})
    assert (bare.default_format(), bare.code_dir) == ("rest", (tmp_path / "src").resolve())


def test_of_several_functions_the_one_behind_the_apis_is_chosen(tmp_path: Path) -> None:
    resources = {
        "Url": function(FunctionUrlConfig={"AuthType": "NONE"}),
        "Api": function(Events={"Queue": {"Type": "SQS"}, "Rest": {"Type": "Api"}}),
    }
    assert spec_of(tmp_path, {"Resources": resources}).logical_id == "Api"


@pytest.mark.parametrize(
    ("resources", "function_id", "message"),
    [
        ({}, None, "choose the function with --function: the template's functions are none"),
        ({"A": function(), "B": function()}, None, "the template's functions are A, B"),
        (
            {"A": function(Events={"Api": {"Type": "Api"}}), "B": function(Events={"Http": {"Type": "HttpApi"}})},
            None,
            "the template's functions are A, B",
        ),
        ({"A": function()}, "B", "the template has no AWS::Serverless::Function 'B' (it has A)"),
        (
            {"A": {"Type": "AWS::Serverless::Function", "Properties": {"PackageType": "Image"}}},
            None,
            "A has no Handler",
        ),
        ({"A": function(Timeout="soon")}, None, "A's Timeout must be a number, not 'soon'"),
    ],
)
def test_templates_without_a_usable_function(
    tmp_path: Path, resources: dict[str, Any], function_id: str | None, message: str
) -> None:
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        spec_of(tmp_path, {"Resources": resources}, function_id)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("t.json", "{oops", "is not valid JSON"),
        ("t.yaml", "a: [b", "is not valid YAML"),
        ("t.yaml", "- just a list", "is not a CloudFormation template"),
        ("t.yaml", "Resources: [a]\n", "is not a CloudFormation template"),
    ],
)
def test_unreadable_templates(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TemplateError, match=message):
        load_template(path)


def test_yaml_short_forms(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n  A:\n    Properties:\n      X: !GetAtt B.Arn\n      Y: !Join [',', [a, b]]\n"
        "      Z: !Transform {Name: x}\n      C: !Condition Prod\n"
    )
    properties = load_template(path)["Resources"]["A"]["Properties"]
    assert properties == {
        "X": {"Fn::GetAtt": ["B", "Arn"]},
        "Y": {"Fn::Join": [",", ["a", "b"]]},
        "Z": {"Fn::Transform": {"Name": "x"}},
        "C": {"Condition": "Prod"},
    }


def test_yaml_needs_pyyaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("Resources: {}\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(TemplateError, match="reading a YAML template needs PyYAML: pip install pyyaml"):
        load_template(path)
