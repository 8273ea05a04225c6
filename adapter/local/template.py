"""The function and the API in front of it, read from a SAM template: handler, timeout, memory, environment,
routes, stage and binary media types.

YAML templates need PyYAML (`pip install pyyaml`), which the adapter does not depend on; JSON templates need
nothing. CloudFormation's short forms (`!Ref`, `!Sub`, `!GetAtt`...) are read as their long forms, and the
values a local run can know are resolved: parameters' defaults and pseudo parameters. A variable that names a
resource (a table's `!Ref`, a queue's URL) is left unset, with a warning, so that the app falls back on its local
default; `--env` or the shell can set it.
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from adapter.local.events import APIRoute

FUNCTION_TYPE = "AWS::Serverless::Function"
PSEUDO = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


class TemplateError(Exception):
    """The template cannot be read, or says nothing usable about the function; the message says what."""


def load_template(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateError(f"cannot read the template {str(path)!r}: {error.strerror}") from None
    if path.suffix == ".json":
        try:
            template: Any = json.loads(text)
        except ValueError as error:
            raise TemplateError(f"{path} is not valid JSON: {error}") from None
    else:
        template = _load_yaml(text, path)
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path} is not a CloudFormation template: it has no Resources section")
    return template


def _load_yaml(text: str, path: Path) -> Any:
    try:
        import yaml
    except ImportError:
        raise TemplateError("reading a YAML template needs PyYAML: pip install pyyaml") from None

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if suffix in ("Ref", "Condition"):
            return {suffix: value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError as error:
        raise TemplateError(f"{path} is not valid YAML: {error}") from None


class Resolver:
    """Values of the intrinsic functions that a local run can know; `Unresolved` for the others."""

    def __init__(self, template: dict[str, Any], region: str) -> None:
        parameters = template.get("Parameters") or {}
        self.values: dict[str, Any] = {name: (spec or {}).get("Default") for name, spec in parameters.items()}
        self.values.update(PSEUDO)
        self.values["AWS::Region"] = region
        self.resources = template["Resources"]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key.startswith("Fn::"):
                raise Unresolved(f"{key} is not resolved locally")
        return value

    def _ref(self, name: object) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.resources:
            # A resource's name or URL exists only once deployed; unset, the variable leaves the app its default.
            raise Unresolved(f"!Ref {name} names a resource, which has no value outside AWS")
        raise Unresolved(f"!Ref {name} names no parameter or resource")

    def _sub(self, argument: object) -> str:
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            extra = {key: self.resolve(item) for key, item in (argument[1] or {}).items()}
            text = argument[0]
        elif isinstance(argument, str):
            extra, text = {}, argument
        else:
            raise Unresolved("!Sub takes a string or [string, variables]")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)


class Unresolved(Exception):
    pass


def _has_api_event(resource: dict[str, Any]) -> bool:
    events = (resource.get("Properties") or {}).get("Events") or {}
    return any(isinstance(event, dict) and event.get("Type") in ("Api", "HttpApi") for event in events.values())


class FunctionSpec:
    """What the template says about one function and the APIs that invoke it."""

    def __init__(self, template: dict[str, Any], path: Path, logical_id: str | None, region: str) -> None:
        resources: dict[str, Any] = template["Resources"]
        functions = [name for name, resource in resources.items() if (resource or {}).get("Type") == FUNCTION_TYPE]
        if logical_id is None:
            # With several functions, the one behind the template's APIs, when one alone is (template.yaml's
            # streaming twin has only a Function URL).
            behind_apis = [name for name in functions if _has_api_event(resources[name])]
            candidates = functions if len(functions) == 1 else behind_apis
            if len(candidates) != 1:
                found = ", ".join(functions) or "none"
                raise TemplateError(f"choose the function with --function: the template's functions are {found}")
            logical_id = candidates[0]
        elif logical_id not in functions:
            raise TemplateError(f"the template has no {FUNCTION_TYPE} {logical_id!r} (it has {', '.join(functions)})")
        self.logical_id = logical_id
        self.resolver = Resolver(template, region)
        self.resources = resources
        globals_ = ((template.get("Globals") or {}).get("Function")) or {}
        properties = {**globals_, **(resources[logical_id].get("Properties") or {})}
        self.properties = properties
        handler = properties.get("Handler")
        if not isinstance(handler, str):
            raise TemplateError(f"{logical_id} has no Handler (an image function cannot run locally)")
        self.handler = handler
        self.timeout = float(self._number("Timeout", 3))
        self.memory = int(self._number("MemorySize", 128))
        code_uri = properties.get("CodeUri", ".")
        self.code_dir = (path.parent / (code_uri if isinstance(code_uri, str) else ".")).resolve()
        self.environment, self.unresolved = self._environment(globals_)
        self.events: dict[str, Any] = {
            name: event for name, event in (properties.get("Events") or {}).items() if isinstance(event, dict)
        }
        url = properties.get("FunctionUrlConfig")
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-url.html#cfn-lambda-url-invokemode
        self.response_stream = isinstance(url, dict) and url.get("InvokeMode") == "RESPONSE_STREAM"

    def _number(self, key: str, default: int) -> float:
        value = self.resolver.resolve(self.properties.get(key, default))
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TemplateError(f"{self.logical_id}'s {key} must be a number, not {value!r}") from None

    def _environment(self, globals_: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
        variables = {
            **(((globals_.get("Environment") or {}).get("Variables")) or {}),
            **(
                ((self.resources[self.logical_id].get("Properties") or {}).get("Environment") or {}).get("Variables")
                or {}
            ),
        }
        environment: dict[str, str] = {}
        unresolved: list[str] = []
        for name, value in variables.items():
            try:
                resolved = self.resolver.resolve(value)
            except Unresolved as error:
                unresolved.append(f"{name} ({error})")
                continue
            if resolved is not None:
                environment[name] = str(resolved).lower() if isinstance(resolved, bool) else str(resolved)
        return environment, unresolved

    def default_format(self) -> str:
        kinds = [event.get("Type") for event in self.events.values()]
        if "Api" in kinds:
            return "rest"
        if "HttpApi" in kinds:
            versions = {
                str(self.resolver.resolve((event.get("Properties") or {}).get("PayloadFormatVersion", "2.0")))
                for event in self.events.values()
                if event.get("Type") == "HttpApi"
            }
            return "http-v1" if versions == {"1.0"} else "http-v2"
        if "FunctionUrlConfig" in self.properties:
            return "function-url"
        return "rest"

    def api(self, format: str) -> dict[str, Any]:
        """Keyword arguments of `Gateway` for `format`: routes, stage and binary media types."""
        if format == "rest":
            return self._rest_api()
        if format in ("http-v1", "http-v2"):
            return self._http_api(format)
        return {}

    def _api_resource(self, properties: dict[str, Any], key: str) -> dict[str, Any]:
        reference = properties.get(key)
        if isinstance(reference, dict) and "Ref" in reference and reference["Ref"] in self.resources:
            return self.resources[reference["Ref"]].get("Properties") or {}
        return {}

    def _rest_api(self) -> dict[str, Any]:
        routes: list[APIRoute] = []
        api: dict[str, Any] = {}
        for event in self.events.values():
            if event.get("Type") != "Api":
                continue
            properties = event.get("Properties") or {}
            method = str(properties.get("Method", "ANY")).upper()
            routes.append(
                APIRoute("ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method, properties["Path"])
            )
            api = self._api_resource(properties, "RestApiId") or api
        if not routes:
            return {}
        # Without RestApiId, SAM makes an implicit API whose stage is "Prod", with no binary media types.
        stage = self.resolver.resolve(api.get("StageName", "Prod"))
        # "~1" escapes "/" in binary media types: "*~1*" is "*/*".
        types = [str(self.resolver.resolve(item)).replace("~1", "/") for item in api.get("BinaryMediaTypes") or []]
        return {"routes": routes, "stage": str(stage), "binary_media_types": types}

    def _http_api(self, format: str) -> dict[str, Any]:
        routes: list[APIRoute] = []
        api: dict[str, Any] = {}
        for event in self.events.values():
            if event.get("Type") != "HttpApi":
                continue
            properties = event.get("Properties") or {}
            path = properties.get("Path")
            routes.append(APIRoute(str(properties.get("Method", "ANY")), path) if path else APIRoute("ANY", "$default"))
            api = self._api_resource(properties, "ApiId") or api
        if not routes:
            return {}
        stage = self.resolver.resolve(api.get("StageName", "$default"))
        return {"routes": routes, "stage": str(stage)}
