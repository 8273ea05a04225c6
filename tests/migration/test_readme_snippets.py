"""The code of README.md's "## Migrating" section: each Python block there is a module of
tests/migration/readme_snippets/, word for word, and each of those modules' handler answers a request."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapter import LambdaAdapter, UnsupportedEvent
from adapter.types import LambdaEvent
from tests.adapter.builders import (
    make_alb_event_from_client,
    make_http_v2_event_from_client,
    make_rest_event_from_client,
    received_body,
)
from tests.conftest import LambdaContextStub

README = Path(__file__).resolve().parents[2] / "README.md"
SNIPPETS = Path(__file__).parent / "readme_snippets"
SNIPPET_NAMES = sorted(path.stem for path in SNIPPETS.glob("*.py") if path.stem != "__init__")

_SECTION = re.compile(r"^## Migrating\b.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def migrating_blocks(markdown: str) -> list[str] | None:
    """The Python code blocks of the "## Migrating" section, or None when there is no such section."""
    section = _SECTION.search(markdown)
    if section is None:
        return None
    return [block.strip() for block in _PYTHON_BLOCK.findall(section.group(0))]


def snippet_source(name: str) -> str:
    return (SNIPPETS / f"{name}.py").read_text(encoding="utf-8").strip()


def _readme_blocks() -> list[str]:
    blocks = migrating_blocks(README.read_text(encoding="utf-8")) if README.exists() else None
    if blocks is None:
        pytest.skip("README.md has no '## Migrating' section yet, so there is nothing to hold the snippets to")
    return blocks


@pytest.mark.parametrize("name", SNIPPET_NAMES)
def test_snippet_is_in_readme(name: str) -> None:
    blocks = _readme_blocks()

    assert snippet_source(name) in blocks, f"README.md's Migrating section has no code block identical to {name}.py"


def test_every_readme_block_is_a_snippet() -> None:
    blocks = _readme_blocks()

    sources = {snippet_source(name) for name in SNIPPET_NAMES}
    untested = [block for block in blocks if block not in sources]
    assert not untested, f"code blocks with no module in tests/migration/readme_snippets/: {untested}"


def test_migrating_blocks_reads_only_the_migrating_section() -> None:
    markdown = "# Title\n```python\nbefore\n```\n## Migrating\n```python\na = 1\n```\n### Sub\n```python\nb = 2\n```\n"
    markdown += "```sh\nnot python\n```\n## Next\n```python\nafter\n```\n"

    assert migrating_blocks(markdown) == ["a = 1", "b = 2"]
    assert migrating_blocks("# Title\n## Usage\n") is None


# Each snippet's handler, given a request the snippet's application answers.
SNIPPET_REQUESTS: dict[str, tuple[Callable[..., LambdaEvent], dict[str, Any], Any]] = {
    "starlette_handler": (make_http_v2_event_from_client, {"path": "/hello", "query": [("name", "λ")]}, {"hello": "λ"}),
    "fastapi_handler": (make_rest_event_from_client, {"path": "/hello", "query": [("name", "λ")]}, {"hello": "λ"}),
    "flask_handler": (make_alb_event_from_client, {"path": "/hello", "query": [("name", "λ")]}, {"hello": "λ"}),
    # Served by the Django settings of the migration matrix (see below).
    "django_handler": (make_http_v2_event_from_client, {"path": "/items/42"}, {"item_id": "42", "tags": [], "q": None}),
    "mangum_options_handler": (
        make_rest_event_from_client,
        {"path": "/v1/hello", "domain": "api.example.com"},
        {"hello": "world"},
    ),
    "sources_handler": (make_alb_event_from_client, {"path": "/hello", "multi_value": False}, {"hello": "world"}),
}


def _snippet_handler(name: str) -> LambdaAdapter:
    if name == "django_handler":
        # Django's settings belong to the process: the migration matrix's Django app configures them (with its
        # URLconf) before the snippet runs, so the snippet's DJANGO_SETTINGS_MODULE default is not used.
        importlib.import_module("tests.migration.apps.django_app")
    handler = importlib.import_module(f"tests.migration.readme_snippets.{name}").handler
    assert isinstance(handler, LambdaAdapter)
    return handler


def test_every_snippet_has_a_request() -> None:
    assert sorted(SNIPPET_REQUESTS) == SNIPPET_NAMES


@pytest.mark.parametrize("name", sorted(SNIPPET_REQUESTS))
def test_snippet_handler_answers(name: str, lambda_context: LambdaContextStub) -> None:
    build, request, expected = SNIPPET_REQUESTS[name]
    handler = _snippet_handler(name)
    try:
        response = handler(build(**request), lambda_context)
    finally:
        handler.close()

    assert response["statusCode"] == 200, received_body(response)
    assert json.loads(received_body(response)) == expected


def test_sources_snippet_refuses_other_events(lambda_context: LambdaContextStub) -> None:
    handler = _snippet_handler("sources_handler")
    try:
        with pytest.raises(UnsupportedEvent):
            handler(make_rest_event_from_client(path="/hello"), lambda_context)
    finally:
        handler.close()
