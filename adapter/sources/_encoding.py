"""Pure helpers shared by the event sources: body decoding, the text-or-base64 decision, paths and headers."""

from __future__ import annotations

import binascii
import re
from urllib.parse import quote, unquote

from adapter.config import Config
from adapter.exceptions import MalformedEvent
from adapter.types import Headers

# The printable ASCII characters clients send as they are: all but those a browser escapes (the WHATWG URL
# standard's path and query percent-encode sets, https://url.spec.whatwg.org/#path-percent-encode-set), so that
# "[", "]", "|" and "^" reach raw_path and query_string as sent. Anything else, such as the literal space HTTP API
# puts in `rawPath` where the client sent %20, was escaped on the wire and is escaped again.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~[]|^\\"
_PATH_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9/%:@!$&'()*+,;=\-._~\[\]|^\\]").search
_QUERY_SAFE = "/%:@!$&'()*+,;=-._~?[]|^\\`{}"
_QUERY_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9/%:@!$&'()*+,;=\-._~?\[\]|^\\`{}]").search
# The same test for an ASCII query, in one pass in C: translate() maps every byte that _QUERY_NEEDS_QUOTING
# matches (controls, space, '"', "#", "<", ">" and DEL) to another byte and the rest to themselves, so the query
# comes back unchanged exactly when nothing needs escaping. The regular expression costs about five times as much
# per character: on a query of a hundred parameters, more than all the rest the adapter adds to an invocation.
_QUERY_ESCAPED = bytes(range(0x21)) + b'"#<>\x7f'
_QUERY_UNCHANGED = bytes.maketrans(_QUERY_ESCAPED, b"\x80" * len(_QUERY_ESCAPED))

TEXT_MIME_TYPES = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/ecmascript",
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/graphql",
        "application/x-yaml",
        "application/yaml",
        "image/svg+xml",
    }
)


def decode_body(body: object, is_base64: object, source: str) -> bytes:
    """The request body as bytes; `null` or absent is empty (REST console tests send `"body": null`)."""
    if body is None or body == "":
        return b""
    if not isinstance(body, str):
        raise MalformedEvent(f"{source} event has a body of type {type(body).__name__}; expected a string or null")
    if is_base64:
        try:
            # strict_mode rejects anything that is not base64, in C (b64decode(validate=True) runs a regex first).
            return binascii.a2b_base64(body, strict_mode=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedEvent(
                f"{source} event says isBase64Encoded but its body is not valid base64: {exc}"
            ) from None
    return body.encode("utf-8")


def raw_path(path: str) -> bytes:
    """`path` as the client sent it: escapes are kept, characters that cannot travel raw are escaped."""
    if _PATH_NEEDS_QUOTING(path) is None:
        return path.encode("ascii")
    return quote(path, safe=_PATH_SAFE).encode("ascii")


def split_path(path: str) -> tuple[bytes, str]:
    """The scope's `raw_path` and `path` for a path as the event carries it."""
    if _PATH_NEEDS_QUOTING(path) is None:
        return path.encode("ascii"), unquote(path) if "%" in path else path
    raw = quote(path, safe=_PATH_SAFE).encode("ascii")
    return raw, decode_path(raw)


def raw_query(query: str) -> bytes:
    """`query` as the client sent it: escapes are kept, characters that cannot travel raw are escaped."""
    if query.__class__ is str and query.isascii():  # isascii() reads a flag of the string, whatever its length
        encoded = query.encode("ascii")
        if encoded.translate(_QUERY_UNCHANGED) == encoded:
            return encoded
    # Something to escape, text beyond ASCII, or not a plain str (a subclass): the test that held before.
    if _QUERY_NEEDS_QUOTING(query) is None:
        return query.encode("ascii")
    return quote(query, safe=_QUERY_SAFE + "=&").encode("ascii")


def decode_path(raw: bytes) -> str:
    path = raw.decode("ascii")
    return unquote(path) if "%" in path else path


def root_path_for(raw: bytes, prefix: str) -> str:
    """`prefix` when the raw public path starts with it as whole segments, else ""."""
    if not prefix:
        return ""
    encoded = raw_path(prefix)
    if raw == encoded or raw.startswith(encoded + b"/"):
        return prefix
    return ""


def http_api_root_path(raw: bytes, stage: object, base_path: str) -> str:
    """The public prefix of an HTTP API request: a named stage (which HTTP API keeps in the path) or else the
    custom-domain base path."""
    if isinstance(stage, str) and stage and stage != "$default":
        root_path = root_path_for(raw, f"/{stage}")
        if root_path:
            return root_path
    return root_path_for(raw, base_path)


# Header names repeat from one invocation to the next, so their lower-cased bytes are kept (bounded, so that
# a client sending random names cannot grow it without end). On this path, run for every header of every
# invocation, a dictionary lookup costs less than lower() and encode().
_NAMES: dict[str, bytes] = {}
_NAMES_MAX = 1024


def _name(name: str) -> bytes:
    encoded = name.lower().encode("utf-8", "replace")
    if len(_NAMES) < _NAMES_MAX:
        _NAMES[name] = encoded
    return encoded


# API Gateway, Function URLs and ALB put the bytes of each header into the event's JSON as they came: a client's
# UTF-8 is text there (a header of "Srīperumbūdūr" arrives as that string, https://github.com/honojs/hono/issues/4432),
# and bytes that are not UTF-8 break the event (https://github.com/awslabs/aws-lambda-rust-runtime/issues/509).
# Encoding the strings as UTF-8 gives the application the bytes the client sent, as uvicorn would, and is what
# Mangum does. What UTF-8 cannot hold (a lone surrogate from a JSON escape) becomes "?" rather than an error.
def _value(value: str) -> bytes:
    return value.encode("utf-8", "replace")


def headers_from_single(headers: dict[str, str]) -> Headers:
    """ASGI headers from a `{"Name": "value"}` mapping: names lower-cased, everything bytes."""
    names = _NAMES.get
    try:
        return [(names(name) or _name(name), value.encode()) for name, value in headers.items()]
    except (UnicodeEncodeError, AttributeError):
        return [(_name(name), _value(str(value))) for name, value in headers.items()]


def headers_from_multi(headers: dict[str, list[str]]) -> Headers:
    """ASGI headers from a `{"Name": ["value", ...]}` mapping: one pair per value, in order."""
    names = _NAMES.get
    try:
        return [
            (names(name) or _name(name), value.encode())
            for name, values in headers.items()
            for value in (values if values.__class__ is list else _values(name, values))
        ]
    except (UnicodeEncodeError, AttributeError):
        return [
            (_name(name), _value(str(value)))
            for name, values in headers.items()
            for value in (values if values.__class__ is list else _values(name, values))
        ]


def join_cookie_headers(headers: Headers) -> Headers:
    """One Cookie header for several: frameworks read only the first, and RFC 9113 8.2.3 joins them with "; "."""
    cookies = [value for name, value in headers if name == b"cookie"]
    if len(cookies) < 2:
        return headers
    joined = [pair for pair in headers if pair[0] != b"cookie"]
    joined.append((b"cookie", b"; ".join(cookies)))
    return joined


def _values(name: str, values: object) -> list[str]:
    if values is None:
        return []
    raise MalformedEvent(f"multi-value header {name!r} must map to a list of strings, not {type(values).__name__}")


def server_and_scheme(host: str | None, port: str | None, proto: str | None) -> tuple[tuple[str, int] | None, str]:
    """`scope["server"]` and `scope["scheme"]` from the Host, X-Forwarded-Port and X-Forwarded-Proto headers.

    API Gateway, Function URLs and ALB terminate TLS in front of Lambda and say so in the forwarding headers.
    """
    if proto is None or proto == "https":
        scheme = "https"
        if port == "443" and host and ":" not in host:  # nearly every request: no parsing needed
            return (host, 443), scheme
    else:
        scheme = proto.split(",", 1)[0].strip().lower()
        if scheme != "https" and scheme != "http":
            scheme = "https"
    if not host:
        return None, scheme
    host_port = ""
    if ":" in host and not host.endswith("]"):  # "[::1]" is an IPv6 address without a port
        host, _, host_port = host.rpartition(":")
    port_text = port.split(",", 1)[0].strip() if port else host_port
    # isdigit() alone admits characters such as "²" that int() refuses.
    if port_text.isascii() and port_text.isdigit():
        return (host, int(port_text)), scheme
    return (host, 443 if scheme == "https" else 80), scheme


def server_and_scheme_from(
    lookup: dict[bytes, bytes], proto_header: bytes = b"x-forwarded-proto"
) -> tuple[tuple[str, int] | None, str]:
    """`server_and_scheme` for headers already turned into ASGI pairs (names lower-cased)."""
    host = lookup.get(b"host")
    port = lookup.get(b"x-forwarded-port")
    proto = lookup.get(proto_header)
    # The pairs hold the UTF-8 of the event's strings (see _value), so decoding them gives those strings back.
    if port == b"443" and (proto is None or proto == b"https") and host and b":" not in host:
        return (host.decode(), 443), "https"  # nearly every request
    return server_and_scheme(
        host.decode() if host else None,
        port.decode() if port else None,
        proto.decode() if proto else None,
    )


# An application sends the same few content types again and again: for each, its mime type and whether that is
# text without any `text_mime_types` (bounded).
_MIME_TYPES: dict[str, tuple[str, bool]] = {}
_MIME_TYPES_MAX = 256


def is_text(content_type: str | None, content_encoding: str | None, config: Config) -> bool:
    """Whether a response body can travel as text in the Lambda response rather than base64."""
    # A compressed body is binary whatever its type (API Gateway would otherwise mangle the bytes).
    if content_encoding is not None and content_encoding.strip().lower() not in ("", "identity"):
        return False
    if content_type is None:
        return False
    known = _MIME_TYPES.get(content_type)
    if known is None:
        mime_type = content_type.split(";", 1)[0].strip().lower()
        known = (
            mime_type,
            mime_type.startswith("text/") or mime_type in TEXT_MIME_TYPES or mime_type.endswith(("+json", "+xml")),
        )
        if len(_MIME_TYPES) < _MIME_TYPES_MAX:
            _MIME_TYPES[content_type] = known
    return known[1] or known[0] in config.text_mime_types
