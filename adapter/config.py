"""Options of `LambdaAdapter`, validated and normalised once, when the adapter is built."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from adapter.exceptions import ConfigurationError
from adapter.types import LifespanMode

LIFESPAN_MODES: tuple[LifespanMode, ...] = ("auto", "on", "off")


class Config(NamedTuple):
    """The adapter's options, checked and normalised (a NamedTuple: immutable, and cheap to define at import)."""

    lifespan: LifespanMode = "auto"
    # Normalised to "" or "/segment[/segment...]" without a trailing slash.
    api_gateway_base_path: str = ""
    text_mime_types: frozenset[str] = frozenset()
    # Lower-cased names.
    exclude_headers: frozenset[str] = frozenset()


def build_config(
    *,
    lifespan: object = "auto",
    api_gateway_base_path: object = "/",
    text_mime_types: object = None,
    exclude_headers: object = None,
) -> Config:
    if lifespan not in LIFESPAN_MODES:
        raise ConfigurationError(f"lifespan must be one of 'auto', 'on' or 'off', not {lifespan!r}")
    return Config(
        lifespan=lifespan,
        api_gateway_base_path=_base_path(api_gateway_base_path),
        text_mime_types=frozenset(_mime_type(value) for value in _strings("text_mime_types", text_mime_types)),
        exclude_headers=frozenset(_header_name(value) for value in _strings("exclude_headers", exclude_headers)),
    )


def _base_path(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigurationError(f"api_gateway_base_path must be a string, not {type(value).__name__}")
    if any(char in value for char in "?#") or any(ord(char) < 0x21 for char in value):
        raise ConfigurationError(f"api_gateway_base_path must be a plain path such as '/v1', not {value!r}")
    stripped = value.strip("/")
    return f"/{stripped}" if stripped else ""


def _strings(name: str, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ConfigurationError(f"{name} must be a list of strings, not {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ConfigurationError(f"{name} must be a list of non-empty strings; {item!r} is not one")
    return items


def _mime_type(value: str) -> str:
    mime_type = value.split(";", 1)[0].strip().lower()
    if "/" not in mime_type:
        raise ConfigurationError(f"text_mime_types entries must look like 'type/subtype', not {value!r}")
    return mime_type


def _header_name(value: str) -> str:
    name = value.strip().lower()
    if not name.isascii() or any(char in name for char in ' \t:"(),/;<=>?@[\\]{}'):
        raise ConfigurationError(f"exclude_headers entries must be header names, not {value!r}")
    return name
