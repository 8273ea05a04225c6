"""template.yaml passes cfn-lint with the serverless rules, `sam validate --lint` and checkov, all offline.

Each finding is either fixed in the template or suppressed there, next to the resource, with its reason.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.template.cfn import CHECKOV_BIN, ROOT, TEMPLATE, tool_env
from tests.template.conftest import require_sam


def run(command: list[str | Path], timeout: float = 300) -> tuple[int, str]:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, (result.stdout + result.stderr).strip()


@pytest.mark.sam
def test_cfn_lint_with_the_serverless_rules_finds_nothing() -> None:
    code, output = run([require_sam() / "cfn-lint", TEMPLATE, "--append-rules", "cfn_lint_serverless.rules"])
    assert (code, output) == (0, "")


@pytest.mark.sam
def test_the_serverless_rules_are_really_applied(tmp_path: Path) -> None:
    # A function without a timeout must trip the serverless rule ES1006, or the test above proves nothing.
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "      Timeout: 10\n" in text
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace("      Timeout: 10\n", ""), encoding="utf-8")
    code, output = run([require_sam() / "cfn-lint", broken, "--append-rules", "cfn_lint_serverless.rules"])
    assert code != 0
    assert "ES1006" in output


@pytest.mark.sam
def test_sam_validate_lint_passes() -> None:
    code, output = run([require_sam() / "sam", "validate", "--lint", "--template-file", TEMPLATE])
    assert code == 0, output
    assert f"{TEMPLATE} is a valid SAM Template" in output


@pytest.mark.checkov
def test_checkov_finds_nothing_unexplained() -> None:
    checkov = CHECKOV_BIN / "checkov"
    if not checkov.exists():
        pytest.skip(f"checkov is not installed in {CHECKOV_BIN.parent}: run ./scripts/install")
    code, output = run(
        [checkov, "--file", TEMPLATE, "--framework", "cloudformation", "--skip-download", "--compact", "--quiet"]
    )
    assert code == 0, output
    assert "Failed checks: 0," in output, output
