"""The context object handed to the handler, with the attributes and types of the managed Python runtime's
(`awslambdaric/lambda_context.py`): https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


class CognitoIdentity:
    """The Amazon Cognito identity that authorized the request (Mobile SDK invocations)."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, document: dict[str, Any]) -> None:
        self.cognito_identity_id = document.get("cognitoIdentityId")
        self.cognito_identity_pool_id = document.get("cognitoIdentityPoolId")


class Client:
    """The client application of a Mobile SDK invocation."""

    __slots__ = ("app_package_name", "app_title", "app_version_code", "app_version_name", "installation_id")

    def __init__(self, document: dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, document.get(name))


class ClientContext:
    """The client context a Mobile SDK invocation carries: `client`, `custom` and `env`."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, document: dict[str, Any]) -> None:
        client = document.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = document.get("custom")
        self.env = document.get("env")


class InvocationContext:
    """What the handler knows about its invocation and function.

    `memory_limit_in_mb` is a string, as the managed runtime gives it (it reads the environment variable).
    """

    __slots__ = (
        "_deadline_ms",
        "aws_request_id",
        "client_context",
        "function_name",
        "function_version",
        "identity",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
        "tenant_id",
    )

    def __init__(
        self,
        aws_request_id: str,
        deadline_ms: int,
        *,
        invoked_function_arn: str | None = None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        environ = os.environ
        self.aws_request_id = aws_request_id
        self._deadline_ms = deadline_ms
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        client = _json_header(client_context, "Lambda-Runtime-Client-Context")
        self.client_context = ClientContext(client) if client is not None else None
        identity = _json_header(cognito_identity, "Lambda-Runtime-Cognito-Identity")
        self.identity = CognitoIdentity(identity or {})

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return (
            f"InvocationContext(aws_request_id={self.aws_request_id!r}, function_name={self.function_name!r},"
            f" invoked_function_arn={self.invoked_function_arn!r})"
        )


class ContextError(ValueError):
    """A header that should carry a JSON object does not."""


def _json_header(value: str | None, name: str) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        document = json.loads(value)
    except ValueError as error:
        raise ContextError(f"Unable to parse {name} JSON: {error}") from None
    if not isinstance(document, dict):
        raise ContextError(f"{name} must be a JSON object, not {type(document).__name__}")
    return document
