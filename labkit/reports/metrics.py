"""Headline numbers a report notebook hands to the runner.

Every report notebook has a parameter ``metrics_path: str = ""`` and ends with::

    from labkit.reports.metrics import save_metrics
    save_metrics(metrics_path, {"judgements": 12345, "alpha": 0.71})

The runner injects ``metrics_path`` pointing into the run folder, reads the file back after the run and
adds the run status to it (``metrics.json``). Run by hand (``metrics_path`` empty) nothing is written.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labkit._atomic import write_text


def _plain(value: Any, where: str) -> Any:
    """JSON-ready copy of ``value``: numpy scalars to Python, NaN/inf to None, keys to str."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    item = getattr(value, "item", None)  # numpy / pandas scalars
    if callable(item):
        try:
            return _plain(item(), where)
        except (TypeError, ValueError):
            pass
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"metrics value at {where} is a {type(value).__name__}; use numbers, strings, "
                    "lists or dicts")


def save_metrics(metrics_path: str | os.PathLike[str], metrics: Mapping[str, Any]) -> None:
    """Write ``metrics`` as JSON to ``metrics_path`` atomically; do nothing when the path is empty.

    Parameters
    ----------
    metrics_path : str or path
        Where the runner wants the numbers (the notebook's ``metrics_path`` parameter). ``""`` means
        the notebook runs outside the runner: nothing is written.
    metrics : mapping
        Headline numbers by name. Values may be numbers (NumPy scalars included), strings, booleans,
        None, lists or nested dicts. NaN and infinities become ``null``.

    Raises
    ------
    TypeError
        If a value is not representable in JSON (the message names where).

    Examples
    --------
    >>> save_metrics("", {"alpha": 0.7})  # outside the runner: a no-op
    """
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a mapping of name -> value, got {type(metrics).__name__}")
    plain = _plain(dict(metrics), "metrics")
    if not str(metrics_path or ""):
        return
    import json

    # keys in the notebook's order (not sorted): the index shows the first few as the key numbers
    write_text(Path(metrics_path), json.dumps(plain, indent=2, ensure_ascii=False) + "\n")


def load_metrics(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a metrics file written by :func:`save_metrics` (``{}`` if it does not exist)."""
    p = Path(path)
    if not p.exists():
        return {}
    return json.loads(p.read_text(encoding="utf-8"))
