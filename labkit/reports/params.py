"""Report parameters: read a notebook's ``parameters`` cell and check values against it.

A notebook's parameters cell is its contract (``name: type = default  # help``). Values come from
``reports.yaml`` (already typed by YAML) or from ``-p NAME=VALUE`` on the command line (text, converted
to the declared type here). Everything is checked before any kernel starts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from labkit.errors import ParameterError

#: Declared types the runner understands; any other annotation accepts any value.
KNOWN_TYPES = ("str", "int", "float", "bool", "list", "dict")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One declared parameter of a report notebook."""

    name: str
    type: str  # "str" | "int" | "float" | "bool" | "list" | "dict" | "" (undeclared)
    default: str  # the default as written in the cell
    help: str

    def describe(self) -> str:
        t = f": {self.type}" if self.type else ""
        h = f"  # {self.help}" if self.help else ""
        return f"{self.name}{t} = {self.default}{h}"


def notebook_params(path: str | os.PathLike[str]) -> dict[str, Param]:
    """The parameters declared in the notebook's cell tagged ``parameters`` (papermill's inspector).

    Raises
    ------
    ParameterError
        If the notebook does not exist or has no ``parameters`` cell.
    """
    import papermill

    p = str(path)
    if not os.path.exists(p):
        raise ParameterError(f"{p}: report notebook not found")
    try:
        raw = papermill.inspect_notebook(p)
    except Exception as exc:  # papermill raises plain exceptions for unreadable notebooks
        raise ParameterError(f"{p}: cannot read the parameters cell: {exc}") from exc
    if not raw:
        raise ParameterError(f"{p}: no cell tagged 'parameters' (every report notebook needs one)")
    out = {}
    for name, d in raw.items():
        t = d.get("inferred_type_name") or ""
        out[name] = Param(name, "" if t == "None" else t, str(d.get("default", "")), str(d.get("help") or ""))
    return out


def listing(params: dict[str, Param]) -> str:
    """Valid parameters, one per line, for error messages and ``labkit report params``."""
    return "\n".join("  " + p.describe() for p in params.values())


def parse_cli_value(text: str, param: Param, where: str) -> Any:
    """Convert the text of ``-p NAME=VALUE`` to the parameter's declared type."""
    t = param.type
    try:
        if t == "str" or t == "":
            return text
        if t == "int":
            return int(text)
        if t == "float":
            return float(text)
        if t == "bool":
            low = text.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(text)
        if t in ("list", "dict"):
            value = json.loads(text)
            check_value(value, param, where)
            return value
    except ValueError:
        raise ParameterError(f"{where}: parameter {param.name!r} must be {_article(t)} ({param.describe()}); "
                             f"got {text!r}") from None
    return text  # an annotation the runner does not know: pass the text through


def check_value(value: Any, param: Param, where: str) -> Any:
    """Check a typed value (from YAML) against the declared type; ints are accepted for floats."""
    t = param.type
    ok = True
    if t == "str":
        ok = isinstance(value, str)
    elif t == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif t == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif t == "bool":
        ok = isinstance(value, bool)
    elif t == "list":
        ok = isinstance(value, list)
    elif t == "dict":
        ok = isinstance(value, dict)
    if not ok:
        raise ParameterError(f"{where}: parameter {param.name!r} must be {_article(t)} ({param.describe()}); "
                             f"got {type(value).__name__} {value!r}")
    return value


def _article(t: str) -> str:
    return {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
            "list": "a JSON list", "dict": "a JSON object"}.get(t, t or "any value")


def resolve(params: dict[str, Param], config_values: dict[str, Any], cli_values: dict[str, str],
            *, notebook: str, report: str) -> dict[str, Any]:
    """Merge config values and ``-p`` overrides into checked values for one report.

    Unknown names are refused with the list of valid parameters. ``cli_values`` names a report's
    parameters only; the caller drops ``-p`` names that the report does not declare when several
    reports run (see :func:`labkit.reports.runner.plan`).
    """
    out: dict[str, Any] = {}
    for source, values, parse in (("reports.yaml", config_values, False), ("-p", cli_values, True)):
        for name, value in values.items():
            if name not in params:
                raise ParameterError(f"report {report!r} ({notebook}): unknown parameter {name!r} (from {source}); "
                                     f"valid parameters:\n{listing(params)}")
            where = f"report {report!r} ({source})"
            out[name] = parse_cli_value(value, params[name], where) if parse else check_value(value, params[name], where)
    return out
