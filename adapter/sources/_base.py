"""What every event source provides, and the response the application produced."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from adapter.config import Config
from adapter.sources._encoding import decode_path, encode_body, is_text
from adapter.types import Headers, LambdaContext, LambdaEvent, LambdaResponse, Scope


class Response:
    """What the application answered: status, headers as it sent them, and the whole body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class PreparedResponse:
    """A response reduced to what every Lambda response shape needs."""

    __slots__ = ("body", "headers", "is_base64", "status")

    def __init__(self, status: int, headers: dict[str, list[str]], body: str, is_base64: bool) -> None:
        self.status = status
        # Header names (lower-cased) to their values, in the order the application sent them.
        self.headers = headers
        self.body = body
        self.is_base64 = is_base64


class EventSource:
    """One shape of Lambda event: recognises it, turns it into an ASGI request, and shapes the response."""

    name: ClassVar[str]

    @classmethod
    def matches(cls, event: LambdaEvent) -> bool:
        raise NotImplementedError

    @classmethod
    def to_request(cls, event: LambdaEvent, context: LambdaContext | None, config: Config) -> tuple[Scope, bytes]:
        raise NotImplementedError

    @classmethod
    def to_response(cls, response: Response, event: LambdaEvent, config: Config) -> LambdaResponse:
        raise NotImplementedError


def prepare_response(response: Response, config: Config) -> PreparedResponse:
    headers: dict[str, list[str]] = {}
    content_type = content_encoding = None
    exclude = config.exclude_headers
    for name, value in response.headers:
        lowered = name.lower()
        if lowered == b"content-type":
            content_type = value
        elif lowered == b"content-encoding":
            content_encoding = value
        if lowered in exclude:
            continue
        key = lowered.decode("latin-1")
        text_value = value.decode("latin-1")
        if key in headers:
            headers[key].append(text_value)
        else:
            headers[key] = [text_value]
    body, is_base64 = encode_body(response.body, is_text(content_type, content_encoding, config))
    return PreparedResponse(response.status, headers, body, is_base64)


def base_scope(
    *,
    event: LambdaEvent,
    context: LambdaContext | None,
    method: str,
    raw: bytes,
    root_path: str,
    query_string: bytes,
    headers: Headers,
    scheme: str,
    server: tuple[str, int] | None,
    client_ip: str | None,
    http_version: str,
) -> Scope:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": http_version,
        "method": method,
        "scheme": scheme,
        "path": decode_path(raw),
        "raw_path": raw,
        "root_path": root_path,
        "query_string": query_string,
        "headers": headers,
        "server": server,
        "client": (client_ip, 0) if client_ip else None,
        "aws.event": event,
        "aws.context": context,
    }
    return scope
