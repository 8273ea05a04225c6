"""The vocabulary shared by the adapter's modules: ASGI callables, the Lambda context, an HTTP response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Literal, Protocol, TypeAlias

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

LambdaEvent: TypeAlias = dict[str, Any]
LambdaResponse: TypeAlias = dict[str, Any]
Headers: TypeAlias = list[tuple[bytes, bytes]]
LifespanMode: TypeAlias = Literal["auto", "on", "off"]


class LambdaContext(Protocol):
    """The parts of the Lambda context object the adapter reads.

    See https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
    """

    @property
    def aws_request_id(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


class Response:
    """An HTTP response as the application answered it: status, headers as it sent them, and the whole body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
