"""House checks: the package is lint-clean (ruff) and type-clean (mypy), as configured in pyproject.toml.

They run through the README's test command (pytest), so CI fails when either regresses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_ruff_is_clean() -> None:
    pytest.importorskip("ruff", reason="ruff is in the test extra")
    r = _run("ruff", "check", "labkit")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    pytest.importorskip("mypy", reason="mypy is in the test extra")
    r = _run("mypy")  # files = ["labkit"] in [tool.mypy]
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found" in r.stdout


def test_house_config_is_in_pyproject() -> None:
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert py["tool"]["mypy"]["files"] == ["labkit"]
    assert "select" in py["tool"]["ruff"]["lint"]
    test_extra = {r.split(">")[0].split("=")[0] for r in py["project"]["optional-dependencies"]["test"]}
    assert {"ruff", "mypy"} <= test_extra
