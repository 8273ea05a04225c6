"""Pure helpers shared by the event sources: body decoding, the text-or-base64 decision, paths and headers."""

from __future__ import annotations

import binascii
import re
from base64 import b64decode, b64encode
from collections.abc import Iterable
from urllib.parse import quote, unquote

from adapter.config import Config
from adapter.exceptions import MalformedEvent
from adapter.types import Headers

# Characters a client may send unescaped in a path (RFC 3986 pchar plus "/" and "%"): anything else, such as
# the literal space that HTTP API puts in `rawPath`, was escaped on the wire and is escaped again for raw_path.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_PATH_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9/%:@!$&'()*+,;=\-._~]").search
_QUERY_SAFE = "/%:@!$&'()*+,;=-._~?"
_QUERY_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9/%:@!$&'()*+,;=\-._~?]").search

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
            return b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MalformedEvent(
                f"{source} event says isBase64Encoded but its body is not valid base64: {exc}"
            ) from None
    return body.encode("utf-8")


def raw_path(path: str) -> bytes:
    """`path` as the client sent it: escapes are kept, characters that cannot travel raw are escaped."""
    if _PATH_NEEDS_QUOTING(path) is None:
        return path.encode("ascii")
    return quote(path, safe=_PATH_SAFE).encode("ascii")


def raw_query(query: str) -> bytes:
    if _QUERY_NEEDS_QUOTING(query) is None:
        return query.encode("ascii")
    return quote(query, safe=_QUERY_SAFE + "=&").encode("ascii")


def decode_path(raw: bytes) -> str:
    return unquote(raw.decode("ascii"))


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


def header_pairs(headers: Iterable[tuple[str, str]]) -> Headers:
    # ASGI wants lower-cased names and bytes; header values are latin-1 on the wire (RFC 9110 5.5), and API
    # Gateway hands us str, so anything outside latin-1 is carried as UTF-8 rather than failing the request.
    pairs: Headers = []
    for name, value in headers:
        try:
            encoded = value.encode("latin-1")
        except UnicodeEncodeError:
            encoded = value.encode("utf-8")
        pairs.append((name.lower().encode("latin-1"), encoded))
    return pairs


def server_and_scheme(host: str | None, port: str | None, proto: str | None) -> tuple[tuple[str, int] | None, str]:
    scheme = proto.split(",", 1)[0].strip().lower() if proto else "https"
    if not host:
        return None, scheme
    name, _, host_port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    port_text = port.split(",", 1)[0].strip() if port else host_port
    return (name, int(port_text) if port_text.isdigit() else (443 if scheme == "https" else 80)), scheme


def is_text(content_type: bytes | None, content_encoding: bytes | None, config: Config) -> bool:
    """Whether a response body can travel as text in the Lambda response rather than base64."""
    # A compressed body is binary whatever its type (API Gateway would otherwise mangle the bytes).
    if content_encoding is not None and content_encoding.strip().lower() not in (b"", b"identity"):
        return False
    if content_type is None:
        return False
    mime_type = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
    return (
        mime_type.startswith("text/")
        or mime_type in TEXT_MIME_TYPES
        or mime_type.endswith(("+json", "+xml"))
        or mime_type in config.text_mime_types
    )


def encode_body(body: bytes, text: bool) -> tuple[str, bool]:
    """The body for the Lambda response and whether it is base64; text that is not UTF-8 falls back to base64."""
    if not body:
        return "", False
    if text:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return b64encode(body).decode("ascii"), True
