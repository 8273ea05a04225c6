from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.template.cfn import FUNCTION, ROOT, SAM_BIN, tool_env, translate


@dataclass(frozen=True)
class SamBuild:
    build_dir: Path
    artifact: Path
    output: str


def require_sam() -> Path:
    """The SAM CLI environment's bin folder; the test is skipped, saying why, when it is not installed."""
    if not (SAM_BIN / "sam").exists():
        pytest.skip(f"the SAM CLI is not installed in {SAM_BIN.parent}: run ./scripts/install")
    return SAM_BIN


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    """`sam build` of template.yaml, run once per session as a user would (samconfig.toml applies), into a
    temporary folder."""
    sam = require_sam() / "sam"
    build_dir = tmp_path_factory.mktemp("sam-build")
    result = subprocess.run(
        [str(sam), "build", "--build-dir", str(build_dir)],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"sam build failed:\n{output}"
    return SamBuild(build_dir=build_dir, artifact=build_dir / FUNCTION, output=output)


@pytest.fixture(scope="session")
def translated() -> dict[str, Any]:
    """template.yaml as CloudFormation deploys it, after the AWS::Serverless transform."""
    return translate(require_sam() / "python")
