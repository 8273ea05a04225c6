"""requirements/*.txt are generated from pyproject.toml by scripts/compile-requirements, never edited by hand:
these tests fail when the two no longer agree, and say which command puts them right."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
COMPILE = ROOT / "scripts" / "compile-requirements"
FIX = "run ./scripts/compile-requirements and commit the result"


def compiled_groups() -> dict[str, Path]:
    """group -> requirement file, as scripts/compile-requirements pairs them (`for group in sample:runtime ...`)."""
    match = re.search(r"^for group in (.+); do$", COMPILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{COMPILE} no longer lists its groups in one `for group in ...` line"
    pairs = (item.split(":") for item in match.group(1).split())
    return {group: REQUIREMENTS / f"{name}.txt" for group, name in pairs}


def group_requirements(groups: dict[str, list[Any]], name: str) -> list[Requirement]:
    requirements = []
    for item in groups[name]:
        if isinstance(item, dict):
            requirements.extend(group_requirements(groups, item["include-group"]))
        else:
            requirements.append(Requirement(item))
    return requirements


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def without_hashes(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if not line.strip().startswith("--hash=")]


def test_every_group_has_its_file_and_every_file_its_group() -> None:
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["dependency-groups"]
    compiled = compiled_groups()
    assert set(compiled) <= set(groups)
    assert sorted(REQUIREMENTS.glob("*.txt")) == sorted(compiled.values())


@pytest.mark.parametrize("group", list(compiled_groups()))
def test_every_direct_requirement_is_pinned_within_its_range(group: str) -> None:
    # Offline and instant: catches a requirement added to or narrowed in pyproject.toml without a recompile.
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["dependency-groups"]
    path = compiled_groups()[group]
    pinned = pins(path)
    for requirement in group_requirements(groups, group):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} (group {group}) is not in {path.name}: {FIX}"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{path.name} pins {name}=={pinned[name]}, outside {requirement} (group {group}): {FIX}"
        )
    # Each line is hashed, so installs (`uv pip sync --require-hashes`, the Lambda build's pip) verify them.
    text = path.read_text(encoding="utf-8")
    pin_lines = re.findall(r"^[A-Za-z0-9][^\n]*==", text, re.MULTILINE)
    assert len(re.findall(r"^[A-Za-z0-9][^\n]*== *[^\n]*\\\n\s+--hash=sha256:", text, re.MULTILINE)) == len(pin_lines)


def test_recompiling_changes_no_pin(tmp_path: Path) -> None:
    """The same command as scripts/compile-requirements, into a copy seeded with the current files (uv keeps
    their pins where pyproject.toml still allows them): any difference is drift. Hashes are left out of the
    comparison, since an index may add a wheel to a release that is already pinned."""
    for path in REQUIREMENTS.glob("*.txt"):
        shutil.copy(path, tmp_path / path.name)
    result = subprocess.run(
        ["sh", str(COMPILE)],
        cwd=ROOT,
        env={**os.environ, "REQUIREMENTS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in REQUIREMENTS.glob("*.txt"))
    for path in sorted(REQUIREMENTS.glob("*.txt")):
        current, fresh = without_hashes(path), without_hashes(tmp_path / path.name)
        diff = "\n".join(difflib.unified_diff(current, fresh, f"requirements/{path.name}", "recompiled", lineterm=""))
        assert current == fresh, f"requirements/{path.name} has drifted from pyproject.toml ({FIX}):\n{diff}"
