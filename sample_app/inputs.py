"""Request input turned into checked values, or into a Problem that says what is wrong with it."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from sample_app.problems import Problem

CODE_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_CODE = re.compile(CODE_PATTERN)
MAX_URL_LENGTH = 2048
# Requests carry a URL and a code: 16 KiB is plenty.
MAX_BODY_SIZE = 16 * 1024
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class NewLink:
    url: str
    code: str | None


def is_code(value: str) -> bool:
    return _CODE.fullmatch(value) is not None


async def read_body(request: Request) -> bytes:
    """The request body, refused with a 413 past MAX_BODY_SIZE (before reading it, when Content-Length says so)."""
    too_large = Problem(413, f"The request body is over {MAX_BODY_SIZE // 1024} KiB: a link needs far less.")
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY_SIZE:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_SIZE:
            raise too_large
    return bytes(body)


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Problem(400, f"The request body is not valid JSON: {error}.") from None
    if not isinstance(document, dict):
        raise Problem(422, "The request body must be a JSON object.")
    return document


def new_link(fields: dict[str, Any]) -> NewLink:
    """The members of a create: `url`, and an optional `code`."""
    errors = _unknown_members(fields, {"url", "code"})
    url = _url_member(fields, errors)
    code = fields.get("code")
    if code is not None and not (isinstance(code, str) and is_code(code)):
        errors.append(
            {
                "pointer": "/code",
                "detail": "must be 1 to 64 letters, digits, '-' or '_' (or be left out for a random one)",
            }
        )
    _raise_if_any(errors)
    assert url is not None
    return NewLink(url=url, code=code)


def link_patch(fields: dict[str, Any]) -> str:
    """The members of a PATCH: only `url` can change (the code is the link's key; clicks count themselves)."""
    errors = _unknown_members(fields, {"url"})
    url = _url_member(fields, errors)
    _raise_if_any(errors)
    assert url is not None
    return url


def url_error(url: object) -> str | None:
    """Why `url` cannot be a link's target, or None if it can."""
    if not isinstance(url, str) or not url:
        return "must be a non-empty string"
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters long"
    if not url.isascii():
        # The URL goes out in a Location header, which carries ASCII only (RFC 9110, 5.5).
        return "must be ASCII: percent-encode other characters, and write a domain name in its xn-- form"
    if any(character.isspace() or not character.isprintable() for character in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (it raises ValueError for a port that is not a number from 0 to 65535)
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if parts.scheme.lower() not in {"http", "https"}:
        return "must be an http or https URL"
    if not parts.hostname:
        return "must name a host, as in https://example.com/page"
    return None


def _url_member(fields: dict[str, Any], errors: list[dict[str, str]]) -> str | None:
    if "url" not in fields:
        errors.append({"pointer": "/url", "detail": "is required"})
        return None
    url = fields["url"]
    problem = url_error(url)
    if problem is not None:
        errors.append({"pointer": "/url", "detail": problem})
        return None
    assert isinstance(url, str)
    return url


def _unknown_members(fields: dict[str, Any], known: set[str]) -> list[dict[str, str]]:
    return [
        {"pointer": f"/{_escape_pointer(name)}", "detail": "is not a known member"}
        for name in fields
        if name not in known
    ]


def _escape_pointer(name: str) -> str:
    # JSON Pointer escapes (RFC 6901, 3).
    return name.replace("~", "~0").replace("/", "~1")


def _raise_if_any(errors: list[dict[str, str]]) -> None:
    if errors:
        summary = "; ".join(f"{error['pointer'][1:]} {error['detail']}" for error in errors)
        raise Problem(422, f"The request body is not a valid link: {summary}.", errors=errors)


# ---- headers ----------------------------------------------------------------------------------------------

_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def etag(version: int) -> str:
    """A link's entity tag: its version, which every edit increments. A click does not (the counter changes on
    its own), so following a link never makes someone's PATCH fail with 412."""
    return f'"{version}"'


def if_match_versions(value: str) -> frozenset[int] | None:
    """The versions an If-Match header accepts: None for `*` (any), else those of its strong entity tags.

    A weak tag (W/"3") never matches: If-Match uses the strong comparison (RFC 9110, 13.1.1).
    """
    if value.strip() == "*":
        return None
    versions: set[int] = set()
    for item in value.split(","):
        match = _ENTITY_TAG.fullmatch(item)
        if match is None:
            raise Problem(400, 'If-Match must be * or entity tags with their quotes, such as "3", as sent in ETag.')
        weak, tag = match.groups()
        if not weak and tag.isdigit():
            versions.add(int(tag))
    return frozenset(versions)


def idempotency_key(value: str | None) -> str | None:
    """The Idempotency-Key header, as in https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
    (a quoted string there; the bare form that Stripe's clients send is accepted too)."""
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if _IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise Problem(400, "Idempotency-Key must be 1 to 255 visible ASCII characters, such as a UUID.")
    return key


# ---- pagination -------------------------------------------------------------------------------------------


def page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise Problem(400, f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return int(value)


def encode_cursor(after: str) -> str:
    """An opaque cursor for the page after the code `after`."""
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The code a cursor from `encode_cursor` resumes after. A cursor only says where the scan resumes, and a
    forged one can show nothing the list does not, so it is checked rather than signed."""
    if cursor is None:
        return None
    try:
        document = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True))
    except (binascii.Error, ValueError):
        document = None
    if (
        not isinstance(document, dict)
        or document.keys() != {"after"}
        or not isinstance(document["after"], str)
        or not is_code(document["after"])
    ):
        raise Problem(400, "cursor is not one this API returned: use the next_cursor of the previous page as is.")
    after: str = document["after"]
    return after
