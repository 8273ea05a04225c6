"""template.yaml as data, and the environment in which the SAM CLI, cfn-lint and checkov run offline.

Other test packages can read the deployment's facts from here, e.g. `rest_stage_name()`, the REST API stage
that a deployed sample app answers under (the template's `StageName` parameter default).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
MAKEFILE = ROOT / "scripts" / "lambda-build" / "Makefile"
RUNTIME_REQUIREMENTS = ROOT / "requirements" / "runtime.txt"
SAM_BIN = ROOT / ".venv-sam" / "bin"
CHECKOV_BIN = ROOT / ".local" / "checkov" / "bin"
FUNCTION = "LinksFunction"
# The same code behind a Function URL in RESPONSE_STREAM mode, run by adapter.runtime.
STREAM_FUNCTION = "LinksStreamFunction"
REGION = "us-east-1"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short forms as their long forms: `!Ref X` as {"Ref": "X"}, `!GetAtt A.B` as
    {"Fn::GetAtt": ["A", "B"]}, `!Sub s` as {"Fn::Sub": s}, and so on."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - YAML has no fourth kind of node
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}", node.start_mark)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)
    return template


def resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"][logical_id]
    return found


def properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = resource(template, logical_id)["Properties"]
    return found


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: value for name, value in template["Resources"].items() if value["Type"] == kind}


def rest_stage_name(path: Path = TEMPLATE) -> str:
    """The REST API stage a deployment uses unless told otherwise: the `StageName` parameter's default."""
    return str(load_template(path)["Parameters"]["StageName"]["Default"])


def handler_string(path: Path = TEMPLATE) -> str:
    return str(properties(load_template(path), FUNCTION)["Handler"])


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for the SAM CLI, cfn-lint and checkov: no telemetry, a region, dummy credentials and no
    AWS profile, so nothing they run can reach an account; and a PATH without this project's virtual
    environments, so `python3` in the build's Makefile is the user's own interpreter, as in a shell."""
    skip = {(ROOT / ".venv" / "bin").resolve(), SAM_BIN.resolve(), Path(sys.executable).parent.resolve()}
    entries = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    path = os.pathsep.join(p for p in entries if Path(p).resolve() not in skip)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "SAM_", "PYTHON", "VIRTUAL_ENV", "COV_CORE_"))
    }
    env.update(
        PATH=path,
        SAM_CLI_TELEMETRY="0",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


# Runs in the SAM CLI's environment: what CloudFormation's AWS::Serverless transform makes of the template, once
# `sam deploy` has uploaded the artifact (so CodeUri is an S3 location, as in the packaged template).
_TRANSLATE = """
import json, sys
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

with open(sys.argv[1], encoding="utf-8") as stream:
    template = yaml_parse(stream.read())
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://sam-artifacts/function.zip"
translator = Translator(managed_policy_map={}, sam_parser=Parser())
translated = translator.translate(sam_template=template, parameter_values={})
json.dump(translated, sys.stdout)
"""


def translate(sam_python: Path, path: Path = TEMPLATE) -> dict[str, Any]:
    """The CloudFormation template that the AWS::Serverless transform makes of `path` (needs .venv-sam)."""
    result = subprocess.run(
        [str(sam_python), "-c", _TRANSLATE, str(path)],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    translated: dict[str, Any] = json.loads(result.stdout)
    return translated
