"""Expectation suites as reviewable JSON files, and the run-time parameters they refer to.

A suite file in ``expectations/`` holds one GX 1.x suite: ``name``, ``meta`` and ``expectations``,
each ``{"type", "kwargs", "meta": {"severity", "why", "rule"}}``, written with sorted keys and an
indent of 2 (:func:`dump_suite`) so a diff reads line by line. Guideline-derived values are not
copied into the files: the kwargs say ``{"$PARAMETER": "guideline_allowed_labels"}`` and
:func:`run_parameters` supplies them from ``guidelines/`` when the suite runs (GX suite parameters).

Nothing here imports Great Expectations.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labkit._atomic import write_text
from labkit.errors import InputRefused
from labkit.guidelines.model import Guidelines
from labkit.validation.checks import guideline_parameters

SEVERITIES = ("critical", "warning")
META_KEYS = ("severity", "why", "rule")


@dataclass(frozen=True)
class Suite:
    """One suite file: its name, path and the expectations as plain dicts."""

    name: str
    path: str
    expectations: tuple[dict[str, Any], ...]
    meta: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "meta": dict(self.meta), "expectations": [dict(e) for e in self.expectations]}


def default_suite_dir() -> Path:
    """``expectations/`` beside the package (a source checkout), else in the working directory."""
    here = Path(__file__).resolve().parents[2] / "expectations"
    return here if here.is_dir() else Path.cwd() / "expectations"


def default_suite_paths() -> list[Path]:
    d = default_suite_dir()
    paths = sorted(d.glob("*.json"))
    if not paths:
        raise InputRefused(str(d), "no expectation suites found (expected *.json); pass --suite FILE")
    return paths


def load_suite(path: str | os.PathLike[str]) -> Suite:
    """Read and check one suite file; errors name the file, the expectation index and the field."""
    p = str(path)
    try:
        data = json.loads(Path(p).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputRefused(p, "no such suite file") from None
    except json.JSONDecodeError as exc:
        raise InputRefused(p, f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not isinstance(data.get("expectations"), list):
        raise InputRefused(p, "a suite file is an object with a string 'name' and a list 'expectations'")
    for i, exp in enumerate(data["expectations"]):
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str):
            raise InputRefused(p, "each expectation needs a 'type'", record=f"expectations[{i}]", field="type")
        if not isinstance(exp.get("kwargs", {}), dict):
            raise InputRefused(p, "'kwargs' must be an object", record=f"expectations[{i}]", field="kwargs")
        meta = exp.get("meta")
        if not isinstance(meta, dict):
            raise InputRefused(p, "'meta' must be an object with severity, why and rule", record=f"expectations[{i}]",
                               field="meta")
        for key in META_KEYS:
            if not isinstance(meta.get(key), str) or not meta[key].strip():
                raise InputRefused(p, f"meta.{key} must be a non-empty string", record=f"expectations[{i}] ({exp['type']})",
                                   field=f"meta.{key}")
        if meta["severity"] not in SEVERITIES:
            raise InputRefused(p, f"meta.severity must be one of {', '.join(SEVERITIES)}, got {meta['severity']!r}",
                               record=f"expectations[{i}] ({exp['type']})", field="meta.severity")
    return Suite(data["name"], p, tuple(data["expectations"]), dict(data.get("meta") or {}))


def load_suites(paths: list[str | os.PathLike[str]] | None = None) -> list[Suite]:
    """Load the given suite files, or every ``*.json`` in :func:`default_suite_dir`."""
    suites = [load_suite(p) for p in (paths if paths else default_suite_paths())]
    names = [s.name for s in suites]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputRefused(", ".join(s.path for s in suites if s.name in dup), f"suite name {dup[0]!r} appears twice")
    return suites


def dump_suite(suite: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a suite in the house format (sorted keys, indent 2, trailing newline), atomically."""
    return write_text(path, json.dumps(suite, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def retire_grace_days(guidelines_root: str | os.PathLike[str]) -> float:
    """``retire_grace_days`` from ``<guidelines>/governance.yaml`` (0 when the file or key is absent)."""
    p = Path(guidelines_root) / "governance.yaml"
    if not p.exists():
        return 0.0
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputRefused(str(p), f"not valid YAML ({exc})") from None
    value = data.get("retire_grace_days", 0)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputRefused(str(p), f"retire_grace_days must be a number of days, got {value!r}",
                           field="retire_grace_days") from None


def run_parameters(guidelines: Guidelines, grace_days: float, now: dt.datetime | None = None) -> dict[str, Any]:
    """The suite parameters a run supplies: ``now`` plus the guideline-derived parameters."""
    import pandas as pd

    params: dict[str, Any] = guideline_parameters(guidelines, grace_days)
    params["now"] = pd.Timestamp(now if now is not None else dt.datetime.now(dt.timezone.utc))
    if params["now"].tzinfo is None:
        params["now"] = params["now"].tz_localize("UTC")
    return params
