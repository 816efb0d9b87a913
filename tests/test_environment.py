"""environment.yml must list the same packages with the same ranges as pyproject.toml."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"matplotlib": "matplotlib-base"}

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject() -> None:
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {CONDA_NAMES.get(n, n): spec for n, spec in map(_split, py["project"]["dependencies"])}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"][0] == "conda-forge"
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    listed = dict(map(_split, deps))
    python = listed.pop("python")
    assert python == ">=" + py["project"]["requires-python"].lstrip(">=")
    listed.pop("pip", None)
    assert listed == wanted


def test_python_floor_is_310() -> None:
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert py["project"]["requires-python"] == ">=3.10"
    assert py["project"]["scripts"]["labkit"] == "labkit.cli:main"
