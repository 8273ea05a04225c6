"""Every Python block in README.md runs in a test.

The "Migrating" blocks are modules of tests/migration/readme_snippets/ (tests/migration/test_readme_snippets.py),
the "Tracing with X-Ray" blocks are the snippets tests/adapter/tracing/test_tracing_readme.py runs; the others run here,
each in a fresh interpreter, as a reader would paste them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adapter.runtime import test_readme as test_runtime_readme
from tests.adapter.tracing import test_tracing_readme
from tests.adapter.triggers import test_readme as test_triggers_readme

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

_SECTIONS = re.compile(r"^## (.+?)\n(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
_PYTHON = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
_TESTED_ELSEWHERE = ("Migrating", "Tracing with X-Ray", "Queues, streams", "Lambda runtime mode")


def python_blocks() -> list[tuple[str, str]]:
    return [
        (title, block)
        for title, body in _SECTIONS.findall(README)
        for block in _PYTHON.findall(body)
        if not title.startswith(_TESTED_ELSEWHERE)
    ]


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert "./scripts/dev" in first_block and "./scripts/test" in first_block


def test_tracing_blocks_are_the_ones_the_tracing_tests_run() -> None:
    [(_, section)] = [(title, body) for title, body in _SECTIONS.findall(README) if title == "Tracing with X-Ray"]
    snippets = {
        snippet.strip()
        for snippet in (test_tracing_readme.APP, test_tracing_readme.TESTING, test_tracing_readme.TRACER)
    }
    assert {block.strip() for block in _PYTHON.findall(section)} == snippets


def test_trigger_blocks_are_the_ones_the_trigger_tests_run() -> None:
    [section] = [body for title, body in _SECTIONS.findall(README) if title.startswith("Queues, streams")]
    for language, snippets in test_triggers_readme.SNIPPETS.items():
        blocks = re.findall(rf"^```{language}\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
        assert [block.strip() for block in blocks] == [snippet.strip() for snippet in snippets]


def test_runtime_blocks_are_the_ones_the_runtime_tests_run() -> None:
    for section in [body for title, body in _SECTIONS.findall(README) if title == test_runtime_readme.SECTION]:
        for language, snippets in test_runtime_readme.SNIPPETS.items():
            blocks = re.findall(rf"^```{language}\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
            assert [block.strip() for block in blocks] == [snippet.strip() for snippet in snippets]


@pytest.mark.parametrize(("title", "code"), python_blocks(), ids=[title for title, _ in python_blocks()])
def test_block_runs(title: str, code: str, dynamodb_local: str) -> None:
    environ = {**os.environ, "DYNAMODB_ENDPOINT_URL": dynamodb_local, "LINKS_TABLE": "readme", "PYTHONPATH": str(ROOT)}
    check = "\nassert callable(handler)\nhandler.close()\n"
    result = subprocess.run(
        [sys.executable, "-c", code + check], capture_output=True, text=True, cwd=ROOT, env=environ, timeout=60
    )
    assert result.returncode == 0, result.stderr
