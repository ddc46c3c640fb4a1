"""The architecture and style rules, enforced by the test suite itself."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.timeout(300)
def test_import_contracts_hold():
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_layers_contract_and_no_exception_for_a_simulator():
    """The daemon's layers are one contract; no contract lets any module import a simulator."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    assert [c["containers"] for c in contracts if c["type"] == "layers"] == [["labctl"]]
    simulator = re.compile(r"->\s*drivers\.(_sim|\w+\.(sim|backdoor))\b")
    excused = [i for c in contracts for i in c.get("ignore_imports", []) if simulator.search(i)]
    assert excused == []


@pytest.mark.timeout(300)
def test_ruff_is_clean():
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(600)
def test_mypy_strict_is_clean():
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr
