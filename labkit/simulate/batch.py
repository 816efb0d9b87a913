"""Run a policies file on a model file and write the results (``labkit simulate run``).

Outputs (atomic writes): ``runs.csv`` (one row per policy and seed), ``summary.csv`` (per policy, means
with 95% intervals over seeds) and ``metrics.json``. The same model, policies, seeds and item count give
byte-identical files: nothing in them depends on the clock or the machine.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError
from labkit.simulate.engine import run_batch, summarize
from labkit.simulate.model import load_model
from labkit.simulate.policies import load_policies

__all__ = ["run_file", "metrics_of", "DEFAULT_ITEMS"]

DEFAULT_ITEMS = 10000


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return None if x != x else round(x, 10)
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_round(v) for v in x]
    if isinstance(x, (np.floating,)):
        return _round(float(x))
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def metrics_of(summary: pd.DataFrame, *, seeds: int, n_items: int, source: str, fitted_at: str, task: str,
               assumptions: dict[str, Any]) -> dict[str, Any]:
    return _round({"task": task, "seeds": seeds, "n_items": n_items, "fitted_on": source, "fitted_at": fitted_at,
                   "assumptions": assumptions,
                   "policies": [{k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in r.items()}
                                for r in summary.to_dict("records")]})


def run_file(model_path: str | os.PathLike[str], policies_path: str | os.PathLike[str], *, seeds: int = 20,
             n_items: int | None = None, task: str | None = None, out: str | os.PathLike[str] | None = None,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Load, run, summarize and (with ``out``) write; returns runs, summary and metrics."""
    from labkit._atomic import write_text
    from labkit.simulate.hooks import available_hooks

    model = load_model(model_path)
    tm = model.task(task)
    policies, file_items = load_policies(policies_path)
    n = int(n_items or file_items or DEFAULT_ITEMS)
    if n < 1:
        raise ParameterError(f"items per run must be a positive integer, got {n}")
    runs = run_batch(tm, policies, seeds, n, progress=progress, **available_hooks(policies))
    summary = summarize(runs)
    assumptions = {"durations": tm.info.get("durations", ""), "review_time": tm.info.get("review_time", ""),
                   "drift": tm.info.get("drift", ""),
                   "reward_response": {p.name: {"scheme": p.reward.scheme, "skill_shift": p.reward.skill_shift,
                                                "time_factor": p.reward.time_factor}
                                       for p in policies if p.reward is not None}}
    metrics = metrics_of(summary, seeds=seeds, n_items=n, source=model.source, fitted_at=model.fitted_at,
                         task=tm.task, assumptions=assumptions)
    if out is not None:
        folder = Path(out)
        if folder.exists() and not folder.is_dir():
            raise ParameterError(f"--out {folder} is a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in (("runs.csv", runs), ("summary.csv", summary)):
            buf = io.StringIO()
            frame.to_csv(buf, index=False, float_format="%.10g")
            write_text(folder / name, buf.getvalue())
        write_text(folder / "metrics.json", json.dumps(metrics, sort_keys=True, indent=2) + "\n")
    return {"runs": runs, "summary": summary, "metrics": metrics, "n_items": n, "source": model.source,
            "fitted_at": model.fitted_at}
