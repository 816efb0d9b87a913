"""``reports.yaml``: which reports exist, their notebooks and default parameters.

.. code-block:: yaml

    out: reports_out            # output folder (``--out`` overrides), relative to this file
    timeout: 900                # seconds any one cell may run (``--timeout`` overrides)
    parameters:                 # shared defaults, given to every report that declares the name
      labels: sample/label_studio_export.json:sample/labels.csv
    reports:
      quality_report:
        title: Quality report
        notebook: notebooks/quality_report.ipynb
        parameters: {since: ""}  # this report's own values (an undeclared name is refused)
      annotator_feedback:
        notebook: notebooks/annotator_feedback.ipynb
        for_each: annotator     # one page per annotator (pseudonymized)
        annotators: 20          # only the 20 with the most judgements; or all, or [id, A-1234abcd, ...]

Relative paths (notebooks, output folder) are relative to the folder holding the file; the kernel
runs there too, so relative data paths in parameters resolve the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.errors import ParameterError

FOR_EACH = ("annotator",)
_REPORT_KEYS = {"title", "notebook", "parameters", "for_each", "description", "annotators"}


def parse_annotators(value: Any, where: str) -> int | list[str] | None:
    """``N`` (the N annotators with the most judgements), ``all`` (None) or ids/pseudonyms (a list, or
    one string joined by commas). Refuses anything else, naming ``where``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "all")):
        return None
    if isinstance(value, bool):
        raise ParameterError(f"{where}: expected N, 'all' or a list of annotators, got {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        n = int(value)
        if n <= 0:
            raise ParameterError(f"{where}: the number of annotators must be positive, got {n}")
        return n
    if isinstance(value, str):
        ids = [x.strip() for x in value.split(",") if x.strip()]
    elif isinstance(value, list) and all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in value):
        ids = [str(x).strip() for x in value if str(x).strip()]
    else:
        raise ParameterError(f"{where}: expected N, 'all' or a list of annotators, got {value!r}")
    if not ids:
        raise ParameterError(f"{where}: no annotator given")
    return ids
_TOP_KEYS = {"out", "timeout", "parameters", "reports"}


@dataclass(frozen=True)
class ReportSpec:
    name: str
    notebook: Path
    title: str
    parameters: dict[str, Any] = field(default_factory=dict)
    for_each: str | None = None
    description: str = ""
    annotators: int | list[str] | None = None  # per-annotator runs: N, None (all) or these ids/pseudonyms


@dataclass(frozen=True)
class ReportsConfig:
    path: Path
    root: Path
    out: Path
    timeout: float | None
    shared: dict[str, Any]
    reports: dict[str, ReportSpec]


def load_config(path: str | os.PathLike[str]) -> ReportsConfig:
    """Read and check ``reports.yaml``; every problem names the file and the key."""
    import yaml

    p = Path(path)
    if not p.exists():
        raise ParameterError(f"{p}: reports config not found (pass --config)")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ParameterError(f"{p}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ParameterError(f"{p}: expected a mapping with 'reports'")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ParameterError(f"{p}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(_TOP_KEYS))})")
    root = p.resolve().parent
    reports_raw = data.get("reports")
    if not isinstance(reports_raw, dict) or not reports_raw:
        raise ParameterError(f"{p}: 'reports' must map report names to their settings")
    shared = data.get("parameters") or {}
    if not isinstance(shared, dict):
        raise ParameterError(f"{p}: 'parameters' must be a mapping name -> value")
    reports = {}
    for name, r in reports_raw.items():
        where = f"{p}: reports.{name}"
        if not isinstance(r, dict) or "notebook" not in r:
            raise ParameterError(f"{where}: needs at least 'notebook'")
        bad = set(r) - _REPORT_KEYS
        if bad:
            raise ParameterError(f"{where}: unknown key(s) {', '.join(sorted(bad))} (known: {', '.join(sorted(_REPORT_KEYS))})")
        if not str(name).replace("_", "").replace("-", "").isalnum():
            raise ParameterError(f"{where}: report names use letters, digits, '_' and '-' only")
        fe = r.get("for_each")
        if fe is not None and fe not in FOR_EACH:
            raise ParameterError(f"{where}.for_each: must be one of {', '.join(FOR_EACH)}, got {fe!r}")
        params = r.get("parameters") or {}
        if not isinstance(params, dict):
            raise ParameterError(f"{where}.parameters: must be a mapping name -> value")
        reports[str(name)] = ReportSpec(name=str(name), notebook=(root / str(r["notebook"])),
                                        title=str(r.get("title") or str(name).replace("_", " ").capitalize()),
                                        parameters=dict(params), for_each=fe,
                                        description=str(r.get("description") or ""),
                                        annotators=parse_annotators(r.get("annotators"), f"{where}.annotators"))
    timeout = data.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0):
        raise ParameterError(f"{p}: timeout must be a positive number of seconds, got {timeout!r}")
    return ReportsConfig(path=p, root=root, out=root / str(data.get("out") or "reports_out"),
                         timeout=float(timeout) if timeout else None, shared=dict(shared), reports=reports)
