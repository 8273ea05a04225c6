"""What every event source provides."""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from typing import Any, ClassVar

from adapter.config import Config
from adapter.http import header_pairs
from adapter.sources._encoding import is_text
from adapter.types import Headers, LambdaContext, LambdaEvent, LambdaResponse, Scope
from adapter.types import Response as Response  # where the sources take it from

# The most a synchronous invocation may return, after base64 and JSON encoding; beyond it Lambda fails the
# invocation and the client sees an opaque 502: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024


def largest_safe_body(limit: int) -> int:
    """The largest body that cannot take a response over `limit`: JSON writes a byte as at most six characters
    (a control character as \\u0001), and 64 KiB are left for the status and headers."""
    return max(0, (limit - 64 * 1024) // 6)


class EventSource:
    """One shape of Lambda event: recognises it, turns it into an ASGI request, and shapes the response."""

    name: ClassVar[str]
    # The most the service takes back from the function (see `response_limit`), and the body size up to which a
    # response cannot be over it, so that its size is not worked out.
    response_bytes: ClassVar[int] = LAMBDA_RESPONSE_BYTES
    small_body_bytes: ClassVar[int] = largest_safe_body(LAMBDA_RESPONSE_BYTES)

    @classmethod
    def response_limit(cls, event: LambdaEvent) -> int:
        """The most the service takes back for this event, in bytes of the JSON response."""
        return cls.response_bytes

    @classmethod
    def matches(cls, event: LambdaEvent) -> bool:
        raise NotImplementedError

    @classmethod
    def to_request(cls, event: LambdaEvent, context: LambdaContext | None, config: Config) -> tuple[Scope, bytes]:
        raise NotImplementedError

    @classmethod
    def to_response(cls, response: Response, event: LambdaEvent, config: Config) -> LambdaResponse:
        raise NotImplementedError


# The (string) header names of the responses, by the bytes the application sends: a few constants such as
# b"content-type", so a lookup replaces decoding and lower-casing them on every response (bounded).
_NAMES: dict[bytes, str] = {}
_NAMES_MAX = 256


def _name(name: bytes) -> str:
    key = name.decode("latin-1").lower()
    if len(_NAMES) < _NAMES_MAX:
        _NAMES[name] = key
    return key


def _byte_pairs(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    pairs = []
    for name, value in header_pairs(headers):
        try:
            value.decode()
        except UnicodeDecodeError:
            # Not UTF-8: read as Latin-1 (every byte a character, RFC 9110 5.5), re-encoded so the UTF-8 reading
            # of response_parts gives those characters.
            value = value.decode("latin-1").encode()
        pairs.append((name, value))
    return pairs


def response_parts(response: Response, config: Config) -> tuple[dict[str, str], dict[str, list[str]], str, bool]:
    """What every Lambda response shape is made of: `single` maps the (lower-cased) names the application sent
    once to their value, `multi` those it sent more than once to all their values in order; then the body as
    text or base64, and whether it is base64.

    Names sent once are nearly all of them, and every shape has a plain `{name: value}` form for those; this is
    one pass over the headers, run for every response. Values are read as UTF-8, the encoding AWS reads request
    header bytes into the event with (see `_encoding._value`): a header the application echoes goes back as it
    came.
    """
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    names = _NAMES.get
    try:
        for name, value in response.headers:
            key = names(name) or _name(name)
            if key in single:
                if key in multi:
                    multi[key].append(value.decode())
                else:
                    multi[key] = [single[key], value.decode()]
            else:
                single[key] = value.decode()
    except (TypeError, AttributeError, ValueError):
        # ASGI header names and values are byte strings; a bytes-like one (bytearray, memoryview) is read as
        # its bytes, one that is not UTF-8 as Latin-1, and anything else raises InvalidResponse.
        return response_parts(Response(response.status, _byte_pairs(response.headers), response.body), config)
    content_type = single.get("content-type")
    content_encoding = single.get("content-encoding")
    if multi:
        for key in multi:
            del single[key]
        if "content-type" in multi:
            content_type = multi["content-type"][0]
        if "content-encoding" in multi:
            content_encoding = multi["content-encoding"][0]
    if config.exclude_headers:
        for key in config.exclude_headers:
            single.pop(key, None)
            multi.pop(key, None)
    body = response.body
    if not body:
        return single, multi, "", False
    if is_text(content_type, content_encoding, config):
        try:
            return single, multi, body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # text that is not UTF-8 travels as base64
    return single, multi, binascii.b2a_base64(body, newline=False).decode("ascii"), True


def base_scope(
    *,
    event: LambdaEvent,
    context: LambdaContext | None,
    method: str,
    path: str,
    raw_path: bytes,
    root_path: str,
    query_string: bytes,
    headers: Headers,
    scheme: str,
    server: tuple[str, int] | None,
    client_ip: str | None,
    http_version: str,
) -> Scope:
    """The ASGI HTTP scope: `path` is percent-decoded and includes `root_path`; `raw_path` is as the client sent
    it (https://asgi.readthedocs.io/en/latest/specs/www.html#http-connection-scope)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": http_version,
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path,
        "root_path": root_path,
        "query_string": query_string,
        "headers": headers,
        "server": server,
        "client": (client_ip, 0) if client_ip else None,
        "aws.event": event,
        "aws.context": context,
    }
    return scope
